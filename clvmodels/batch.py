"""Batch jobs: fit on a transaction file, score a whole customer base into one output file.

Both stream the input (``clvmodels.streaming``), write output atomically (a temporary file in
the target folder, renamed when complete) and report progress: a bar on a terminal, a plain log
line every few seconds otherwise, nothing with ``quiet``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterable
from contextlib import closing

import numpy as np
import pandas as pd

from .columns import RowNames, ids_are_integers, normalize_ids
from .covariates import join_customers, read_customers
from .data import RFM_COLUMNS, STATISTICS, check_period_end, check_rfm
from .exceptions import DataError, DataQualityWarning
from .files import (
    atomic_table_writer,
    check_input_file,
    check_output_path,
    count_rows,
    read_chunks,
    table_kind,
)
from .interface import arg, given, show
from .metrics import calibration_table
from .models.registry import pair_names, parse_pair
from .persistence import load
from .scoring import ModelPair
from .streaming import CHUNK_ROWS, StreamStats, stream_rfm
from .units import check_unit, days_per_unit
from .value import check_value_settings

RFM_INPUT_COLUMNS = ["customer_id", *RFM_COLUMNS, "monetary_value"]
FIT_MODELS = tuple(pair_names(discrete=True))


class Progress:
    """Progress of ``total`` units (or the total given with the first update): a bar when
    ``stream`` is a terminal, else a line every ``every`` seconds; silent when ``quiet``."""

    def __init__(self, total: int, what: str, *, quiet: bool = False, stream=None,
                 every: float = 10.0):
        self.total, self.what, self.quiet, self.every = max(total, 1), what, quiet, every
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = self.last = time.monotonic()

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = max(total, 1)
        if self.quiet:
            return
        now = time.monotonic()
        share = min(done / self.total, 1.0)
        if self.tty:
            bar = "#" * int(30 * share)
            self.stream.write(f"\r{self.what} [{bar:<30}] {share:4.0%} {done:,}/{self.total:,} "
                              f"{now - self.start:5.0f} s")
            self.stream.flush()
        elif now - self.last >= self.every or done >= self.total:
            self.stream.write(f"{self.what}: {done:,} of {self.total:,} ({share:.0%}) after "
                              f"{now - self.start:.0f} s\n")
            self.stream.flush()
            self.last = now

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")


class SeenIds:
    """Customer ids met so far in a file read in chunks, as 64-bit hashes: a customer on two
    rows of an RFM table is an error that names the id and its row."""

    def __init__(self):
        self.hashes = np.empty(0, dtype=np.uint64)

    def add(self, ids: pd.Index, rows: RowNames) -> None:
        hashes = pd.util.hash_array(ids.to_numpy())
        if len(self.hashes):
            at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
            again = self.hashes[at] == hashes
            if again.any():
                first = int(np.flatnonzero(again)[0])
                raise DataError(f"customer id {show(ids[first])} on {rows(first)} of {rows.source!r} "
                                "appears on an earlier row too: an RFM table has one row per "
                                "customer")
        self.hashes = np.sort(np.concatenate([self.hashes, hashes]))


def rfm_chunks(path, chunk_rows: int = CHUNK_ROWS, *, time_unit: str | None = None,
               sep: str | None = None) -> Iterable[pd.DataFrame]:
    """An RFM table (customer_id, frequency, recency, T, monetary_value) read in chunks, each
    checked like a frame (and its ids across chunks), each recording ``time_unit``."""
    path = check_input_file(path, "RFM file")
    csv = table_kind(path) == "csv"
    rows = RowNames("line" if csv else "row", source=path)
    integer = True
    # ids become integers only if every one of them is written as one, in a Parquet file as in
    # a CSV (as the transaction logs of both engines): "00001" stays text
    for ids in read_chunks(path, ["customer_id"], chunk_rows, sep=sep,
                           text_columns=["customer_id"]):
        if not ids_are_integers(normalize_ids(ids["customer_id"], "customer_id", rows)):
            integer = False
            break
    seen, offset = SeenIds(), 0
    for chunk in read_chunks(path, RFM_INPUT_COLUMNS, chunk_rows, sep=sep,
                             text_columns=["customer_id"]):
        ids = normalize_ids(chunk["customer_id"], "customer_id", rows.at(offset))
        chunk = chunk.assign(customer_id=ids.astype(np.int64) if integer else ids)
        frame = chunk.set_index("customer_id")
        frame.attrs["time_unit"] = time_unit
        try:
            check_rfm(frame, [*RFM_COLUMNS, "monetary_value"])
        except DataError as err:
            raise DataError(f"{path!r}, rows {offset + 1:,}-{offset + len(chunk):,}: {err}") from err
        seen.add(frame.index, rows.at(offset))
        offset += len(chunk)
        yield frame


def score_attrs(pair, horizon) -> dict:
    """What a scores file records beside its columns (Parquet metadata, read back as
    ``DataFrame.attrs``): the unit of recency and T, and the horizon of the forecasts."""
    return {"time_unit": pair.purchases.time_unit_, "horizon_months": float(horizon)}


def recorded_time_unit(path) -> str | None:
    """The time unit a Parquet RFM table records (pandas keeps ``DataFrame.attrs`` in the file's
    metadata); None for CSV, which records nothing."""
    path = check_input_file(path, "RFM file")
    if table_kind(path) != "parquet":
        return None
    import json

    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
        attrs = json.loads(metadata.get(b"PANDAS_ATTRS", b"{}"))
    except Exception:  # noqa: BLE001 - no readable record is no record
        return None
    unit = attrs.get("time_unit") if isinstance(attrs, dict) else None
    return unit if isinstance(unit, str) else None


def score_file(model, out, *, transactions=None, rfm=None, observation_end=None, freq=None,
               time_unit=None, horizon=12.0, discount_rate=0.01, quiet=False,
               chunk_rows=CHUNK_ROWS, stream_options=None, engine="local",
               scheduler=None, customers=None, covariates_over_time=None,
               over_time_freq: str = "W", over_time_period: str = "period") -> StreamStats:
    """Score every customer of ``transactions`` (or an ``rfm`` table) with ``model`` (a
    ModelPair or the path of one) into ``out`` (.parquet or .csv), one row per customer.

    An ``rfm`` table must be in the model's time unit: a Parquet file written from an RFM frame
    records it; for any other, ``time_unit`` must say which it is. ``stream_options`` go to :func:`clvmodels.streaming.stream_rfm` (column
    names, ``date_format``, ``sep``, ``negative_amounts``...). ``engine="dask"`` runs on the
    cluster at ``scheduler`` (a LocalCluster without one). A pair with covariates needs
    ``customers``, the customer table (or its file) joined to every chunk on the id; one with
    covariates over time needs ``covariates_over_time`` (a table or its file, periods of
    ``over_time_freq``) covering each customer's history and the horizon, and reads the log
    whole (the paths, 20,000 customers at a time)."""
    pair = load(model, role="pair") if isinstance(model, (str, os.PathLike)) else model
    if not isinstance(pair, ModelPair):
        raise DataError("scoring needs a purchase and a spend model: a file written by "
                        "'clvmodels fit' (or ModelPair.save)")
    if (transactions is None) == (rfm is None):
        raise DataError("give exactly one input: transactions or an RFM table")
    check_value_settings(horizon, discount_rate)
    for path in (transactions, rfm):
        if path is not None:
            check_input_file(path, "transactions file" if path is transactions else "RFM file")
    check_output_path(out)
    model_unit = pair.purchases.time_unit_
    if getattr(pair.purchases, "discrete", False) and transactions is not None:
        # the opportunities of the fit: one per period of the model's unit, whole periods
        if freq not in (None, model_unit) or time_unit not in (None, model_unit):
            raise DataError(f"this {type(pair.purchases).__name__} counts one opportunity per "
                            f"period of {model_unit!r}: score with {given('freq', model_unit)} "
                            "(or leave it out)")
        if observation_end is None:
            raise DataError(f"give {arg('observation_end')}: the last day of a period of "
                            f"{model_unit!r}, so that the last opportunity was whole")
        check_period_end(observation_end, model_unit, "observation_end", "freq")
        freq = model_unit
    freq = "D" if freq is None else freq
    if rfm is not None:
        recorded = recorded_time_unit(rfm)
        if recorded is not None and time_unit is not None and recorded != time_unit:
            raise DataError(f"the RFM table records time unit {recorded!r} but "
                            f"{given('time_unit', time_unit)} says otherwise: drop the flag or "
                            "rebuild the table")
        time_unit = time_unit or recorded
        if time_unit is None:
            raise DataError(f"an RFM table records no time unit: give {given('time_unit', model_unit)} "
                            "if its recency and T are in the model's unit "
                            f"({model_unit}), or rebuild it in that unit")
        check_unit(time_unit)
        if time_unit != model_unit:
            raise DataError(f"the RFM table is in {given('time_unit', time_unit)} but the model "
                            f"was fitted in {model_unit!r}: rebuild the table in {model_unit!r}")
    options = dict(stream_options or {})
    # what the purchase model's predictions read beyond RFM (Pareto/GGG: litt)
    statistics = [c for c in getattr(pair.purchases, "columns", ()) if c in STATISTICS]
    needed = sorted({c for m in (pair.purchases, pair.spend) for cols in m.covariates.values()
                     for c in cols})
    table = None
    if needed and customers is None:
        raise DataError(f"the model has covariates {needed}: give {arg('customers')}, the "
                        "customer table with them")
    if customers is not None:
        table = read_customers(customers, options.get("customer", "customer_id"),
                               sep=options.get("sep"))
    if getattr(pair.purchases, "compress_rows", True) is False or covariates_over_time is not None:
        return _score_over_time(pair, out, transactions=transactions, rfm=rfm,
                                observation_end=observation_end, freq=freq,
                                time_unit=time_unit or model_unit, horizon=horizon,
                                discount_rate=discount_rate, options=options, customers=table,
                                engine=engine, over_time=covariates_over_time,
                                over_time_freq=over_time_freq,
                                over_time_period=over_time_period, quiet=quiet,
                                scheduler=scheduler)
    if engine == "dask":
        return _score_on_dask(pair, out, transactions=transactions, rfm=rfm,
                              observation_end=observation_end, freq=freq,
                              time_unit=time_unit or model_unit, horizon=horizon,
                              discount_rate=discount_rate, quiet=quiet, scheduler=scheduler,
                              options=options, customers=table, statistics=statistics)
    if engine != "local":
        raise DataError(f"{given('engine', engine)}: use 'local' or 'dask'")
    stats = StreamStats()
    progress = (Progress(0, "reading transactions", quiet=quiet) if rfm is None  # total: below
                else Progress(count_rows(os.fspath(rfm)), "scoring", quiet=quiet))
    if rfm is None:
        frames = stream_rfm(transactions, observation_end=observation_end, freq=freq,
                            time_unit=time_unit or model_unit, stats=stats,
                            progress=progress, chunk_rows=chunk_rows,
                            statistics=statistics or None, **options)
    else:
        frames = rfm_chunks(rfm, chunk_rows, time_unit=time_unit, sep=options.get("sep"))
    scoring = None
    try:
        with closing(frames), atomic_table_writer(out, score_attrs(pair, horizon)) as write:
            for frame in frames:
                if rfm is None and scoring is None:  # pass 1 is done: now partitions are scored
                    progress.close()
                    scoring = Progress(stats.planned_partitions, "scoring partitions", quiet=quiet)
                if table is not None:
                    frame = join_customers(frame, table)
                scores = pair.score(frame, horizon=horizon, discount_rate=discount_rate)
                write(scores.reset_index())
                if rfm is None:
                    scoring(stats.partitions)
                else:
                    stats.rows += len(frame)
                    stats.customers += len(frame)
                    progress(stats.rows)
    finally:
        (scoring or progress).close()
    stats.time_unit = pair.purchases.time_unit_
    return stats


def _score_over_time(pair, out, *, transactions, rfm, observation_end, freq, time_unit,
                     horizon, discount_rate, options, customers, engine, over_time,
                     over_time_freq, over_time_period, quiet=False,
                     scheduler=None) -> StreamStats:
    """:func:`score_file` for a pair with covariates over time: on the local engine, or on
    Dask (the frame built partition-wise with the table, as the local one)."""
    from .data import rfm_summary

    if not hasattr(pair.purchases, "with_covariates_over_time"):
        raise DataError(f"{arg('covariates_over_time')} is for a model fitted with covariates "
                        "over time ('clvmodels fit --covariates-over-time'); this pair's "
                        f"{type(pair.purchases).__name__} has none: leave it out")
    if over_time is None:
        raise DataError(f"this model has covariates over time: give {arg('covariates_over_time')}"
                        ", the table of them (a model file does not keep it), covering each "
                        "customer's history and the horizon")
    if rfm is not None:
        raise DataError(f"a model with covariates over time scores a transaction log "
                        f"({arg('transactions')}): the frame needs each customer's first "
                        "purchase and her covariates at her purchases")
    table = over_time_table(over_time, options, over_time_freq, over_time_period)
    if engine == "dask":
        return _score_on_dask(pair, out, transactions=transactions, rfm=None,
                              observation_end=observation_end, freq=freq, time_unit=time_unit,
                              horizon=horizon, discount_rate=discount_rate, quiet=quiet,
                              scheduler=scheduler, options=options, customers=customers,
                              over_time=table)
    frame = rfm_summary(transactions, observation_end=observation_end, freq=freq,
                        time_unit=time_unit, covariates_over_time=table,
                        **{k: options[k] for k in ("customer", "date", "amount", "date_format",
                                                   "sep", "negative_amounts") if k in options})
    if customers is not None:
        frame = join_customers(frame, customers)
    scoring = ModelPair(pair.purchases.with_covariates_over_time(table), pair.spend)
    scores = scoring.score(frame, horizon=horizon, discount_rate=discount_rate)
    with atomic_table_writer(out, score_attrs(pair, horizon)) as write:
        write(scores.reset_index())
    stats = StreamStats()
    stats.customers = len(frame)
    stats.excluded = dict(frame.attrs.get("excluded", {}))
    stats.time_unit = pair.purchases.time_unit_
    return stats


def _score_on_dask(pair, out, *, transactions, rfm, observation_end, freq, time_unit, horizon,
                   discount_rate, quiet, scheduler, options, customers=None,
                   over_time=None, statistics=()) -> StreamStats:
    from . import dask_engine

    client = dask_engine.start_client(scheduler)
    try:
        if rfm is not None:
            frame = dask_engine.read_rfm(rfm, sep=options.get("sep"))
            excluded = {}
        else:
            frame, excluded = dask_engine.rfm_from_file(
                transactions, observation_end=observation_end, freq=freq, time_unit=time_unit,
                covariates_over_time=over_time, statistics=list(statistics) or None, **options)
        scores = dask_engine.score(pair, frame, customers, covariates_over_time=over_time,
                                   horizon=horizon, discount_rate=discount_rate)
        progress = Progress(scores.npartitions, "scoring partitions", quiet=quiet)
        written = dask_engine.write_scores(scores, out, client, progress,
                                           score_attrs(pair, horizon))
        progress.close()
    finally:
        cluster = client.cluster
        client.close()
        if scheduler is None and cluster is not None:
            cluster.close()
    return StreamStats(customers=written, partitions=scores.npartitions, excluded=excluded,
                       time_unit=pair.purchases.time_unit_)


def _streamed_rfm(transactions, end, freq, time_unit, quiet, options,
                  statistics=()) -> pd.DataFrame:
    progress = Progress(0, "reading transactions", quiet=quiet)  # stream_rfm gives the total
    try:
        with closing(stream_rfm(transactions, observation_end=end, freq=freq,
                                time_unit=time_unit, progress=progress,
                                statistics=list(statistics) or None, **options)) as parts:
            return pd.concat(list(parts))
    finally:
        progress.close()


def over_time_table(source, options: dict, freq: str = "W", period: str = "period"):
    """The table of covariates over time of ``--covariates-over-time`` (a CovariatesOverTime
    passes through): per customer if it has the log's customer column, else shared."""
    from .files import table_columns
    from .over_time import CovariatesOverTime, read_covariates_over_time

    if isinstance(source, CovariatesOverTime):
        return source
    check_input_file(source, "covariates over time file")
    customer = options.get("customer", "customer_id")
    header = table_columns(os.fspath(source), options.get("sep"))
    return read_covariates_over_time(source, customer=customer if customer in header else None,
                                     period=period, freq=freq, sep=options.get("sep"),
                                     date_format=options.get("date_format"))


def _fit_over_time(transactions, out, *, end, freq, time_unit, model, penalizer, options,
                   customers, covariates, over_time):
    """:func:`fit_file` with covariates over time: Pareto/NBD with them
    (:class:`clvmodels.TimeVaryingParetoNBD`) and Gamma-Gamma, on the whole log read at once
    (the frame needs each customer's covariates at her purchases)."""
    from .data import rfm_summary
    from .models.gamma_gamma import GammaGamma
    from .models.time_varying import TimeVaryingParetoNBD
    from .scoring import spend_fit_rows

    if model != "pnbd_gg":
        raise DataError(f"{given('model', model)}: covariates over time are a model of "
                        "Pareto/NBD (Bachmann, Meierer & Naef 2021): use --model pnbd_gg")
    given_covariates = {k: v for k, v in (covariates or {}).items() if v}
    extra = sorted(set(given_covariates) - {"purchase_covariates", "dropout_covariates",
                                            "spend_covariates"})
    if extra:
        raise DataError(f"{arg(extra[0])} is not offered with covariates over time")
    rfm = rfm_summary(transactions, observation_end=end, freq=freq, time_unit=time_unit,
                      customers=customers, covariates_over_time=over_time,
                      **{k: options[k] for k in ("customer", "date", "amount", "date_format",
                                                 "sep", "negative_amounts") if k in options})
    purchases = TimeVaryingParetoNBD(
        purchase_covariates=given_covariates.get("purchase_covariates", ()),
        dropout_covariates=given_covariates.get("dropout_covariates", ()),
        penalizer=penalizer).fit(rfm, over_time)
    spend = GammaGamma(penalizer, **({"spend_covariates": given_covariates["spend_covariates"]}
                                     if "spend_covariates" in given_covariates else {}))
    spend.fit(spend_fit_rows(rfm))
    pair = ModelPair(purchases, spend)
    pair.save(out)
    return pair, rfm


def fit_file(transactions, out, *, observation_end, calibration_end=None, freq="D",
             time_unit=None, model="bgnbd_gg", quiet=False, bayes_options=None,
             penalizer: float = 0.0, stream_options=None, customers=None,
             covariates: dict | None = None, covariates_over_time=None,
             over_time_freq: str = "W", over_time_period: str = "period"):
    """Fit a registered model pair (``model="bgnbd_gg"``: BG/NBD + Gamma-Gamma by maximum
    likelihood; ``"bayes_bgnbd_gg"`` their Bayesian twins; any name of
    :func:`clvmodels.models.registry.pair_names`) on a transaction file and save it to ``out``.

    With ``calibration_end`` the fit sees only the transactions up to it, and the rest, to
    ``observation_end``, checks it: returns ``(pair, check)`` with ``check`` the mean purchases
    after the calibration end, actual and expected, by calibration frequency (holdout purchases
    are the occasions after it: full-window frequency minus calibration frequency, exact for
    ``freq="D"``). Without it, fits on everything to ``observation_end``; ``check`` is None.
    ``penalizer`` goes to the maximum-likelihood models, ``bayes_options`` to the Bayesian
    ones, ``stream_options`` to :func:`clvmodels.streaming.stream_rfm` (column names,
    ``date_format``, ``sep``, ``negative_amounts``). ``customers`` (a customer table or its
    file) is joined on the customer id and ``covariates`` (``{"purchase_covariates": [...],
    ...}``) name its columns for the models. ``time_unit`` (of recency, T and the
    parameters) defaults to ``freq``, as in :func:`clvmodels.rfm_summary`."""
    from .columns import as_day

    if model not in FIT_MODELS:
        raise DataError(f"{given('model', model)}: use one of {FIT_MODELS}")
    if "discrete" in parse_pair(model)[0].capabilities:
        # one opportunity per period of freq: the frame counts whole periods
        if time_unit not in (None, freq):
            raise DataError(f"{given('model', model)} counts one opportunity per period of "
                            f"{given('freq', freq)}, in those periods: drop "
                            f"{given('time_unit', time_unit)} or make it {freq!r}")
        for setting, day in (("observation_end", observation_end),
                             ("calibration_end", calibration_end)):
            if day is not None:
                check_period_end(day, freq, setting, "freq")
    time_unit = freq if time_unit is None else time_unit

    if model not in FIT_MODELS:
        raise DataError(f"{given('model', model)}: use one of {FIT_MODELS}")
    purchases, spend, bayesian = parse_pair(model)
    check_output_path(out)
    options = dict(stream_options or {})
    if any((covariates or {}).values()) and customers is None and covariates_over_time is None:
        raise DataError(f"covariates need a customer table: give {arg('customers')}")
    table = None if customers is None else read_customers(
        customers, options.get("customer", "customer_id"), sep=options.get("sep"))
    end = observation_end
    end_day = as_day(observation_end, "observation_end")
    if calibration_end is not None:
        if as_day(calibration_end, "calibration_end") >= end_day:
            raise DataError(f"{given('calibration_end', calibration_end)} must be before "
                            f"{given('observation_end', observation_end)}")
        end = calibration_end
    if covariates_over_time is not None:
        over_time = over_time_table(covariates_over_time, options, over_time_freq,
                                    over_time_period)
        with warnings.catch_warnings():
            if calibration_end is not None:
                warnings.simplefilter("ignore", DataQualityWarning)
            pair, rfm = _fit_over_time(transactions, out, end=end, freq=freq,
                                       time_unit=time_unit, model=model, penalizer=penalizer,
                                       options=options, customers=table, covariates=covariates,
                                       over_time=over_time)
    else:
        with warnings.catch_warnings():
            if calibration_end is not None:  # the holdout is left out of the fit on purpose
                warnings.simplefilter("ignore", DataQualityWarning)
            rfm = _streamed_rfm(transactions, end, freq, time_unit, quiet, options,
                                purchases.statistics)
        if table is not None:
            rfm = join_customers(rfm, table)
        pair = ModelPair.fit(rfm, purchases=purchases.name, spend=spend.name,
                             bayesian=bayesian, penalizer=penalizer, options=bayes_options,
                             covariates=covariates)
        pair.save(out)
    if calibration_end is None:
        return pair, None
    full = _streamed_rfm(transactions, observation_end, freq, time_unit, quiet, options)
    holdout = full["frequency"].reindex(rfm.index) - rfm["frequency"]
    days = end_day - as_day(calibration_end, "calibration_end")
    expected = pair.purchases.expected_purchases(rfm, days / days_per_unit(time_unit))
    return pair, calibration_table(rfm["frequency"], expected, holdout)
