"""Scale-out on Dask: the RFM summary and scoring run partition-wise on the cluster; the fit
runs at the client on what the likelihoods need, gathered small.

- :func:`rfm_summary` shuffles the transactions by customer, so each customer's rows meet in one
  partition, then builds each partition's RFM frame with the same code as the local engine.
- :func:`fit` gathers, for BG/NBD, the unique (frequency, recency, T) rows with their counts
  (one partition-wise count, then a sum), and for Gamma-Gamma the (frequency, monetary value)
  pairs of repeat customers; the models fit on these exactly as on the customers themselves.
- :func:`score` maps ``ModelPair.score`` over the partitions; :func:`write_scores` streams the
  finished partitions into one file, written atomically, each partition once (Dask reruns the
  tasks of a worker that dies).

Needs ``pip install "clvmodels[dask]"``.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from .covariates import join_customers, read_customers
from .columns import SAMPLE, RowNames, as_day, ids_are_integers, normalize_ids, parse_dates
from .data import (AT_PURCHASES, FIRST_PURCHASE, HISTORY, RFM_COLUMNS, check_statistics,
                   rfm_from_rows)
from .exceptions import DataError
from .interface import arg, given
from .files import (
    atomic_table_writer,
    check_input_file,
    csv_separator,
    require_columns,
    table_columns,
    table_kind,
)
from .periods import check_freq
from .scoring import ModelPair, spend_fit_rows
from .transactions import COLUMN_ARGUMENTS, check_rows, warn_excluded

__all__ = ["read_transactions", "read_rfm", "rfm_from_file", "rfm_summary", "fit",
           "score", "write_scores", "start_client"]

EXCLUSIONS = ("negative_amount", "after_observation_end")


def _require_dask():
    try:
        import dask.dataframe as dd
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise DataError('the dask engine needs dask: pip install "clvmodels[dask]"') from err
    return dd


def read_transactions(path, columns: list[str], *, sep: str | None = None, text_columns=(),
                      blocksize: str = "64MB"):
    """A dask DataFrame of the named columns of a Parquet or CSV file (read as
    :func:`clvmodels.files.read_table` reads: ``text_columns`` stay text, only empty fields are
    missing); a DataError for a missing file or column."""
    dd = _require_dask()
    path = check_input_file(path, "file")
    require_columns(table_columns(path, sep), columns, repr(path),
                    dict(zip(columns, COLUMN_ARGUMENTS)))
    if table_kind(path) == "parquet":
        frame = dd.read_parquet(path, columns=columns)
        return frame.reset_index() if frame.index.name in columns else frame
    return dd.read_csv(path, usecols=columns, blocksize=blocksize, sep=csv_separator(path, sep),
                       dtype={c: str for c in text_columns}, keep_default_na=False,
                       na_values={c: [""] for c in columns})


def read_rfm(path, *, sep: str | None = None):
    """A dask DataFrame of an RFM table (``customer_id`` column), its ids decided for the
    whole file as the local engine does (integers only if every id is one)."""
    frame = read_transactions(path, ["customer_id", *RFM_COLUMNS, "monetary_value"], sep=sep,
                              text_columns=["customer_id"])
    integer = bool(frame["customer_id"].map_partitions(
        lambda ids: pd.Series([ids_are_integers(normalize_ids(ids, "customer_id"))]),
        meta=("integer", bool)).all().compute())
    if integer:
        return frame.astype({"customer_id": "int64"})
    return frame


def rfm_from_file(path, *, observation_end=None, freq="D", time_unit=None, customer="customer_id",
                  date="date", amount="amount", date_format=None, sep=None,
                  negative_amounts="raise", statistics=None, covariates_over_time=None):
    """The RFM frame of a transaction file on the cluster, and the counts of what was left
    out: :func:`rfm_summary` of :func:`read_transactions`."""
    columns = [customer, date] + ([amount] if amount is not None else [])
    tx = read_transactions(path, columns, sep=sep, text_columns=columns[:2])
    excluded: dict = {}
    frame = rfm_summary(tx, observation_end=observation_end, customer=customer, date=date,
                        amount=amount, freq=freq, time_unit=time_unit, date_format=date_format,
                        negative_amounts=negative_amounts, excluded=excluded,
                        source=os.fspath(path), statistics=statistics,
                        covariates_over_time=covariates_over_time)
    return frame, excluded


def _rows(source: str, partition_info) -> RowNames:
    number = (partition_info or {}).get("number")
    where = source if number is None else f"{source} (Dask partition {number})"
    return RowNames("index", source=where)


def _check(frame, customer, date, amount, end_day, date_format, negative_amounts, rows):
    return check_rows(frame.reset_index(drop=True), customer=customer, date=date,
                      amount=amount, last_day=end_day, date_format=date_format,
                      negative_amounts=negative_amounts, rows=rows)


def _survey(frame, customer, date, amount, end_day, date_format, negative_amounts, source,
            partition_info=None):
    """One row per partition: its last day, whether its ids are all integers, what it left out."""
    checked = _check(frame, customer, date, amount, end_day, date_format, negative_amounts,
                     _rows(source, partition_info))
    return pd.DataFrame({
        "max_day": [int(checked.day.max()) if len(checked.day) else np.iinfo(np.int64).min],
        "integer": [ids_are_integers(checked.ids)],
        "rows": [len(frame)],
        **{k: [checked.excluded.get(k, 0)] for k in EXCLUSIONS},
    })


def _partition_rfm(frame, customer, date, amount, end_day, freq, time_unit, date_format,
                   negative_amounts, integer, source, statistics=(), over_time=None,
                   partition_info=None):
    checked = _check(frame, customer, date, amount, end_day, date_format, negative_amounts,
                     _rows(source, partition_info))
    if len(checked.day) == 0:
        return _empty_rfm(amount is not None, integer, statistics, over_time)
    ids = checked.ids.astype(np.int64) if integer else checked.ids
    out = rfm_from_rows(ids, checked.day, checked.amount, freq=freq, time_unit=time_unit,
                        end_day=end_day, excluded={}, statistics=statistics,
                        over_time=over_time)
    return out.reset_index()


def _empty_rfm(with_amount: bool, integer: bool = True, statistics=(),
               over_time=None) -> pd.DataFrame:
    columns = {"customer_id": pd.Series([], dtype="int64" if integer else object),
               "frequency": pd.Series([], dtype="int64"),
               "recency": pd.Series([], dtype="float64"), "T": pd.Series([], dtype="float64"),
               **{name: pd.Series([], dtype="float64") for name in statistics}}
    if over_time is not None:  # the order rfm_from_rows gives them
        columns[FIRST_PURCHASE] = pd.Series([], dtype="datetime64[ns]")
        for column in over_time.columns:
            columns[AT_PURCHASES + column] = pd.Series([], dtype="float64")
            columns[HISTORY + column] = pd.Series([], dtype="float64")
    if with_amount:
        columns["monetary_value"] = pd.Series([], dtype="float64")
    return pd.DataFrame(columns)


def rfm_summary(transactions, *, observation_end=None, customer="customer_id", date="date",
                amount="amount", freq="D", time_unit=None, date_format=None,
                negative_amounts="raise", excluded: dict | None = None,
                source: str = "the transactions", statistics=None, covariates_over_time=None):
    """The RFM frame of a dask DataFrame of transactions, as a dask DataFrame with a
    ``customer_id`` column (one row per customer, partitioned by customer). Equal to the local
    ``clvmodels.rfm_summary`` with the same arguments; a table of covariates over time
    (:func:`clvmodels.read_covariates_over_time`) goes to every partition once, as one node of
    the graph.

    A first pass over the partitions checks every row (a DataError names the first bad value),
    finds the last day (the default ``observation_end``), decides whether the ids are all
    integers, and counts what is left out into ``excluded`` (a dict, if given); the format of
    date text is settled on the first rows, as the streaming engine does on its first chunk."""
    freq, time_unit = check_freq(freq, time_unit)
    statistics = check_statistics(statistics)
    end_day = None if observation_end is None else as_day(observation_end, "observation_end")
    columns = [customer, date] + ([amount] if amount is not None else [])
    require_columns(transactions.columns, columns, source, dict(zip(columns, COLUMN_ARGUMENTS)))
    transactions = transactions[columns]
    if date_format is None:
        head = transactions[date].head(SAMPLE, npartitions=-1)
        if len(head) == 0:
            raise DataError(f"{source} has no transactions")
        date_format = parse_dates(head, date, None, RowNames("index", source=source))[1]
    meta = pd.DataFrame({"max_day": pd.Series([], dtype="int64"),
                         "integer": pd.Series([], dtype=bool), "rows": pd.Series([], dtype="int64"),
                         **{k: pd.Series([], dtype="int64") for k in EXCLUSIONS}})
    survey = transactions.map_partitions(_survey, customer, date, amount, end_day, date_format,
                                         negative_amounts, source, meta=meta).compute()
    if survey["rows"].sum() == 0:
        raise DataError(f"{source} has no transactions")
    if survey["max_day"].max() == np.iinfo(np.int64).min:
        raise DataError("no transactions are left after the exclusions")
    end_day = int(survey["max_day"].max()) if end_day is None else end_day
    counts = {k: int(survey[k].sum()) for k in EXCLUSIONS if survey[k].sum()}
    if excluded is not None:
        excluded.update(counts)
    warn_excluded(counts)
    integer = bool(survey["integer"].all())
    shuffled = transactions.shuffle(on=customer)
    over_time = covariates_over_time
    if over_time is not None:
        from .over_time import CovariatesOverTime

        if not isinstance(over_time, CovariatesOverTime):
            raise DataError(f"{arg('covariates_over_time')} must be a table read by "
                            "clvmodels.read_covariates_over_time, not "
                            f"{type(over_time).__name__}")
    return shuffled.map_partitions(_partition_rfm, customer, date, amount, end_day, freq,
                                   time_unit, date_format, negative_amounts, integer, source,
                                   statistics, _one_node(over_time),
                                   meta=_empty_rfm(amount is not None, integer, statistics,
                                                   over_time))


def _one_node(value):
    """A large argument of every partition's task as one node of the graph (not a copy in
    each task); None stays None."""
    if value is None:
        return None
    import dask

    return dask.delayed(value, pure=True)


def _unique_histories(frame: pd.DataFrame, columns=RFM_COLUMNS) -> pd.DataFrame:
    return frame.groupby(list(columns), sort=False).size().rename("count").reset_index()


def fit(rfm, *, time_unit: str, penalizer: float = 0.0, purchases: str = "bgnbd",
        spend: str = "gg") -> ModelPair:
    """Fit a registered purchase and spend model (maximum likelihood) on a dask RFM frame: the
    purchase model on the unique (frequency, recency, T) rows with their counts, the spend model
    on the repeat customers' (frequency, monetary value) pairs, gathered at the client; the
    histories are unique in every statistic the purchase model declares (``litt`` for the
    regularity models too)."""
    from .models.registry import MODELS

    entry = MODELS.get(purchases)  # an unknown name is refused by ModelPair.fit below
    # what the purchase model declares it reads: its predictions' columns, its fit's statistics
    columns = [*(entry.spec.columns if entry else RFM_COLUMNS),
               *(entry.statistics if entry else ())]
    missing = [c for c in columns if c not in rfm.columns]
    if missing:
        raise DataError(f"the RFM frame lacks {missing}, which {purchases} reads: build it with "
                        f"{arg('statistics')}{missing}")
    meta = pd.DataFrame({"frequency": pd.Series([], dtype=rfm["frequency"].dtype),
                         **{c: pd.Series([], dtype="float64") for c in columns[1:]},
                         "count": pd.Series([], dtype="int64")})
    histories = rfm.map_partitions(_unique_histories, columns, meta=meta)
    repeat = rfm[rfm["frequency"] > 0][["frequency", "monetary_value"]]
    import dask

    histories, repeat = dask.compute(histories, repeat)
    repeat = repeat.reset_index(drop=True)  # partitions each number their rows from 0
    histories = _unique_histories_sum(histories, columns)
    histories.attrs["time_unit"] = time_unit
    repeat.attrs["time_unit"] = time_unit
    return ModelPair.fit(histories, purchases=purchases, spend=spend,
                         penalizer=penalizer, weights=histories["count"],
                         spend_rfm=spend_fit_rows(repeat))


def _unique_histories_sum(histories: pd.DataFrame, columns=RFM_COLUMNS) -> pd.DataFrame:
    return histories.groupby(list(columns), sort=False)["count"].sum().reset_index()


def score(pair: ModelPair, rfm, customers=None, covariates_over_time=None, **options):
    """``pair.score`` partition by partition of a dask RFM frame (``customer_id`` column).

    A pair with covariates reads them from ``customers``, the customer table (a DataFrame or
    the path of a CSV or Parquet file, as :func:`clvmodels.covariates.read_customers` reads it),
    joined to each partition on the customer id with the checks of the local engine (every
    customer scored has exactly one row). A pair with covariates over time scores with
    ``covariates_over_time``, the table covering each customer's history and the horizon, on
    a frame built with it (:func:`rfm_summary`); the table goes to every partition once."""
    table = None if customers is None else read_customers(customers)
    over_time = covariates_over_time
    if over_time is not None:
        if not hasattr(pair.purchases, "with_covariates_over_time"):
            raise DataError(f"{arg('covariates_over_time')} is for a model fitted with "
                            f"covariates over time; this pair's {type(pair.purchases).__name__} "
                            "has none: leave it out")
        missing = [c for c in (FIRST_PURCHASE, *(HISTORY + c for c in over_time.columns))
                   if c not in rfm.columns]
        if missing:
            raise DataError(f"the RFM frame lacks {missing[0]!r}: build it with "
                            f"{arg('covariates_over_time')} (dask_engine.rfm_summary)")

    def one(frame, over_time=None):
        frame = frame.set_index("customer_id")
        frame.attrs["time_unit"] = pair.purchases.time_unit_
        if table is not None:
            frame = join_customers(frame, table)
        scoring = pair if over_time is None else ModelPair(
            pair.purchases.with_covariates_over_time(over_time), pair.spend)
        return scoring.score(frame, **options).reset_index()

    example = pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0],
                            "monetary_value": [10.0]})  # one valid history: the output's columns
    for column in getattr(pair.purchases, "columns", ()):  # a statistic it reads (litt)
        if column not in example:
            example[column] = 0.0
    kind = rfm._meta["customer_id"].dtype
    first = table.index[0] if table is not None and len(table) else (
        0 if kind.kind in "iu" else "0")
    example.insert(0, "customer_id", pd.Series([first], dtype=kind))
    if over_time is None:
        meta = one(example).iloc[:0]
    else:  # the columns of any pair's scores (a history alone cannot be scored over time)
        meta = pd.DataFrame({"customer_id": pd.Series([], dtype=kind), **{
            c: pd.Series([], dtype="int64" if c == "frequency" else "float64")
            for c in (*RFM_COLUMNS, "monetary_value", "expected_purchases",
                      "probability_alive", "expected_spend", "clv")}})
    return rfm.map_partitions(one, _one_node(over_time), meta=meta)


def write_scores(scores, out, client, progress=None, attrs: dict | None = None) -> int:
    """Compute the partitions of ``scores`` on the cluster and stream them into ``out`` as they
    finish (atomically: no file unless complete). Returns the number of customers written."""
    from distributed import as_completed

    parts = scores.to_delayed()
    futures = client.compute(parts)
    written = 0
    with atomic_table_writer(out, attrs) as write:
        for done, future in enumerate(as_completed(futures), start=1):
            frame = future.result()
            if len(frame):
                write(frame)
                written += len(frame)
            future.release()
            if progress is not None:
                progress(done)
    return written


def start_client(scheduler: str | None = None, n_workers: int = 2):
    """A client of ``scheduler``, or of a new ``LocalCluster`` on the loopback interface."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DataError(f"cannot reach the Dask scheduler at {given('scheduler', scheduler)} "
                            f"({reason}): is it running, and is the address right? Leave "
                            f"{arg('scheduler').rstrip('=')} out for a local cluster") from err
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address=":0", processes=True, silence_logs=logging.ERROR)
    return Client(cluster)

