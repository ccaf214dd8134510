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

import pandas as pd

from .batch import atomic_table_writer
from .data import RFM_COLUMNS, _as_day, _check_freq, check_rows, rfm_from_rows
from .exceptions import DataError
from .scoring import ModelPair, spend_fit_rows


def _require_dask():
    try:
        import dask.dataframe as dd
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise DataError('the dask engine needs dask: pip install "clvmodels[dask]"') from err
    return dd


def read_transactions(path, columns: list[str], blocksize: str = "64MB"):
    """A dask DataFrame of the named columns of a Parquet or CSV file."""
    dd = _require_dask()
    path = str(path)
    if path.lower().endswith((".parquet", ".pq")):
        return dd.read_parquet(path, columns=columns)
    return dd.read_csv(path, usecols=columns, blocksize=blocksize)


def _partition_rfm(frame, customer, date, amount, end_day, freq, time_unit, date_format):
    ids, day, money, _ = check_rows(frame.reset_index(drop=True), customer=customer, date=date,
                                    amount=amount, last_day=end_day, date_format=date_format)
    if len(day) == 0:
        return _empty_rfm(amount is not None)
    out = rfm_from_rows(ids, day, money, freq=freq, time_unit=time_unit, end_day=end_day,
                        excluded={})
    return out.reset_index().astype({"customer_id": frame[customer].dtype})


def _empty_rfm(with_amount: bool) -> pd.DataFrame:
    columns = {"customer_id": pd.Series([], dtype="int64"),
               "frequency": pd.Series([], dtype="int64"),
               "recency": pd.Series([], dtype="float64"), "T": pd.Series([], dtype="float64")}
    if with_amount:
        columns["monetary_value"] = pd.Series([], dtype="float64")
    return pd.DataFrame(columns)


def rfm_summary(transactions, *, observation_end, customer="customer_id", date="date",
                amount="amount", freq="D", time_unit=None, date_format=None):
    """The RFM frame of a dask DataFrame of transactions, as a dask DataFrame with a
    ``customer_id`` column (one row per customer, partitioned by customer). Equal to the local
    ``clvmodels.rfm_summary``; transactions after ``observation_end`` are left out."""
    freq, time_unit = _check_freq(freq, time_unit)
    end_day = _as_day(observation_end, "observation_end")
    columns = [customer, date] + ([amount] if amount is not None else [])
    missing = [c for c in columns if c not in transactions.columns]
    if missing:
        raise DataError(f"missing column(s) {missing} in the transactions; columns present: "
                        f"{list(transactions.columns)}")
    meta = _empty_rfm(amount is not None).astype({"customer_id": transactions[customer].dtype})
    shuffled = transactions[columns].shuffle(on=customer)
    return shuffled.map_partitions(_partition_rfm, customer, date, amount, end_day, freq,
                                   time_unit, date_format, meta=meta)


def _unique_histories(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(list(RFM_COLUMNS), sort=False).size().rename("count").reset_index()


def fit(rfm, *, time_unit: str, penalizer: float = 0.0) -> ModelPair:
    """Fit BG/NBD + Gamma-Gamma (maximum likelihood) on a dask RFM frame."""
    from .models import BetaGeo, GammaGamma

    meta = pd.DataFrame({"frequency": pd.Series([], dtype=rfm["frequency"].dtype),
                         "recency": pd.Series([], dtype="float64"),
                         "T": pd.Series([], dtype="float64"),
                         "count": pd.Series([], dtype="int64")})
    histories = rfm.map_partitions(_unique_histories, meta=meta)
    repeat = rfm[rfm["frequency"] > 0][["frequency", "monetary_value"]]
    import dask

    histories, repeat = dask.compute(histories, repeat)
    histories = _unique_histories_sum(histories)
    histories.attrs["time_unit"] = time_unit
    repeat.attrs["time_unit"] = time_unit
    purchases = BetaGeo(penalizer).fit(histories, weights=histories["count"])
    return ModelPair(purchases, GammaGamma(penalizer).fit(spend_fit_rows(repeat)))


def _unique_histories_sum(histories: pd.DataFrame) -> pd.DataFrame:
    return histories.groupby(list(RFM_COLUMNS), sort=False)["count"].sum().reset_index()


def score(pair: ModelPair, rfm, **options):
    """``pair.score`` partition by partition of a dask RFM frame (``customer_id`` column)."""
    def one(frame):
        frame = frame.set_index("customer_id")
        frame.attrs["time_unit"] = pair.purchases.time_unit_
        return pair.score(frame, **options).reset_index()

    example = pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0],
                            "monetary_value": [10.0]})  # one valid history: the output's columns
    example.insert(0, "customer_id", rfm._meta["customer_id"].iloc[:0].reindex([0]))
    return rfm.map_partitions(one, meta=one(example).iloc[:0])


def write_scores(scores, out, client, progress=None) -> int:
    """Compute the partitions of ``scores`` on the cluster and stream them into ``out`` as they
    finish (atomically: no file unless complete). Returns the number of customers written."""
    from distributed import as_completed

    parts = scores.to_delayed()
    futures = client.compute(parts)
    written = 0
    with atomic_table_writer(out) as write:
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
        return Client(scheduler)
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address=":0", processes=True, silence_logs=logging.ERROR)
    return Client(cluster)

