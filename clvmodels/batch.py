"""Batch jobs: fit on a transaction file, score a whole customer base into one output file.

Both stream the input (``clvmodels.streaming``), write output atomically (a temporary file in
the target folder, renamed when complete) and report progress: a bar on a terminal, a plain log
line every few seconds otherwise, nothing with ``quiet``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from contextlib import contextmanager

import pandas as pd

from .data import RFM_COLUMNS, check_rfm
from .exceptions import DataError, DataQualityWarning
from .metrics import calibration_table
from .persistence import load
from .scoring import ModelPair, spend_fit_rows
from .streaming import CHUNK_ROWS, StreamStats, count_rows, read_chunks, stream_rfm
from .units import days_per_unit

RFM_INPUT_COLUMNS = ["customer_id", *RFM_COLUMNS, "monetary_value"]
FIT_MODELS = ("bgnbd_gg", "bayes_bgnbd_gg")


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


@contextmanager
def atomic_table_writer(path):
    """``write(frame)`` appends rows to a Parquet (``.parquet``) or CSV file that appears at
    ``path`` only when the block ends without error; no output at all otherwise."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DataError(f"the output folder {folder!r} does not exist")
    parquet = path.lower().endswith((".parquet", ".pq"))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    os.close(fd)
    state = {"writer": None, "rows": 0}

    def write(frame: pd.DataFrame) -> None:
        if parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if state["writer"] is None:
                state["writer"] = pq.ParquetWriter(tmp, table.schema)
            state["writer"].write_table(table)
        else:
            frame.to_csv(tmp, mode="a", header=state["rows"] == 0, index=False)
        state["rows"] += len(frame)

    try:
        yield write
        if state["writer"] is not None:
            state["writer"].close()
        os.replace(tmp, path)
    except BaseException:
        if state["writer"] is not None:
            state["writer"].close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def rfm_chunks(path, chunk_rows: int = CHUNK_ROWS) -> Iterable[pd.DataFrame]:
    """An RFM table (customer_id, frequency, recency, T, monetary_value) read in chunks."""
    for chunk in read_chunks(path, RFM_INPUT_COLUMNS, chunk_rows):
        yield check_rfm(chunk.set_index("customer_id"), [*RFM_COLUMNS, "monetary_value"])


def score_file(model, out, *, transactions=None, rfm=None, observation_end=None, freq="D",
               time_unit=None, horizon=12.0, discount_rate=0.01, quiet=False,
               chunk_rows=CHUNK_ROWS, stream_options=None, engine="local",
               scheduler=None) -> StreamStats:
    """Score every customer of ``transactions`` (or an ``rfm`` table) with ``model`` (a
    ModelPair or the path of one) into ``out`` (.parquet or .csv), one row per customer.
    ``engine="dask"`` runs on the cluster at ``scheduler`` (a LocalCluster without one)."""
    pair = load(model) if isinstance(model, (str, os.PathLike)) else model
    if not isinstance(pair, ModelPair):
        raise DataError("scoring needs a purchase and a spend model: a file written by "
                        "'clvmodels fit' (or ModelPair.save)")
    if (transactions is None) == (rfm is None):
        raise DataError("give exactly one input: transactions or an RFM table")
    for path in (transactions, rfm):
        if path is not None and not os.path.exists(path):
            raise DataError(f"file not found: {os.fspath(path)!r}")
    if engine == "dask":
        return _score_on_dask(pair, out, transactions=transactions, rfm=rfm,
                              observation_end=observation_end, freq=freq,
                              time_unit=time_unit or pair.purchases.time_unit_, horizon=horizon,
                              discount_rate=discount_rate, quiet=quiet, scheduler=scheduler)
    if engine != "local":
        raise ValueError(f"engine must be 'local' or 'dask', not {engine!r}")
    stats = StreamStats()
    progress = (Progress(0, "reading transactions", quiet=quiet) if rfm is None  # total: below
                else Progress(count_rows(os.fspath(rfm)), "scoring", quiet=quiet))
    if rfm is None:
        frames = stream_rfm(transactions, observation_end=observation_end, freq=freq,
                            time_unit=time_unit or pair.purchases.time_unit_, stats=stats,
                            progress=progress, chunk_rows=chunk_rows, **(stream_options or {}))
    else:
        frames = rfm_chunks(rfm, chunk_rows)
    scoring = None
    try:
        with atomic_table_writer(out) as write:
            for frame in frames:
                if rfm is None and scoring is None:  # pass 1 is done: now partitions are scored
                    progress.close()
                    scoring = Progress(stats.planned_partitions, "scoring partitions", quiet=quiet)
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
    return stats


def _score_on_dask(pair, out, *, transactions, rfm, observation_end, freq, time_unit, horizon,
                   discount_rate, quiet, scheduler) -> StreamStats:
    from . import dask_engine

    client = dask_engine.start_client(scheduler)
    try:
        if rfm is not None:
            frame = dask_engine.read_transactions(rfm, RFM_INPUT_COLUMNS)
        else:
            tx = dask_engine.read_transactions(transactions, ["customer_id", "date", "amount"])
            if observation_end is None:
                import dask.dataframe as dd

                observation_end = dd.to_datetime(tx["date"]).max().compute()
            frame = dask_engine.rfm_summary(tx, observation_end=observation_end, freq=freq,
                                            time_unit=time_unit)
        scores = dask_engine.score(pair, frame, horizon=horizon, discount_rate=discount_rate)
        progress = Progress(scores.npartitions, "scoring partitions", quiet=quiet)
        written = dask_engine.write_scores(scores, out, client, progress)
        progress.close()
    finally:
        cluster = client.cluster
        client.close()
        if scheduler is None and cluster is not None:
            cluster.close()
    return StreamStats(customers=written, partitions=scores.npartitions)


def _streamed_rfm(transactions, end, freq, time_unit, quiet) -> pd.DataFrame:
    progress = Progress(0, "reading transactions", quiet=quiet)  # stream_rfm gives the total
    try:
        return pd.concat(list(stream_rfm(transactions, observation_end=end, freq=freq,
                                         time_unit=time_unit, progress=progress)))
    finally:
        progress.close()


def fit_file(transactions, out, *, observation_end, calibration_end=None, freq="D",
             time_unit="W", model="bgnbd_gg", quiet=False, bayes_options=None):
    """Fit BG/NBD + Gamma-Gamma (``model="bgnbd_gg"``) or their Bayesian versions
    (``"bayes_bgnbd_gg"``) on a transaction file and save the pair to ``out`` (JSON).

    With ``calibration_end`` the fit sees only the transactions up to it, and the rest, to
    ``observation_end``, checks it: returns ``(pair, check)`` with ``check`` the mean purchases
    after the calibration end, actual and expected, by calibration frequency (holdout purchases
    are the occasions after it: full-window frequency minus calibration frequency, exact for
    ``freq="D"``). Without it, fits on everything to ``observation_end``; ``check`` is None."""
    from .models import BayesianBetaGeo, BayesianGammaGamma, BetaGeo, GammaGamma

    if model not in FIT_MODELS:
        raise ValueError(f"model must be one of {FIT_MODELS}, not {model!r}")
    end = observation_end
    if calibration_end is not None:
        if pd.Timestamp(calibration_end) >= pd.Timestamp(observation_end):
            raise DataError(f"calibration_end ({calibration_end}) must be before observation_end "
                            f"({observation_end})")
        end = calibration_end
    with warnings.catch_warnings():
        if calibration_end is not None:  # the holdout is left out of the fit on purpose
            warnings.simplefilter("ignore", DataQualityWarning)
        rfm = _streamed_rfm(transactions, end, freq, time_unit, quiet)
    if model == "bgnbd_gg":
        pair = ModelPair(BetaGeo().fit(rfm), GammaGamma().fit(spend_fit_rows(rfm)))
    else:
        settings = dict(bayes_options or {})
        pair = ModelPair(BayesianBetaGeo(**settings).fit(rfm),
                         BayesianGammaGamma(**settings).fit(spend_fit_rows(rfm)))
    pair.save(out)
    if calibration_end is None:
        return pair, None
    full = _streamed_rfm(transactions, observation_end, freq, time_unit, quiet)
    holdout = full["frequency"].reindex(rfm.index) - rfm["frequency"]
    days = (pd.Timestamp(observation_end) - pd.Timestamp(calibration_end)).days
    expected = pair.purchases.expected_purchases(rfm, days / days_per_unit(time_unit))
    return pair, calibration_table(rfm["frequency"], expected, holdout)
