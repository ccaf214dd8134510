"""Out-of-core RFM: a transaction file of any size, read in chunks, in bounded memory.

Pass 1 reads the file in chunks of ``chunk_rows`` (Parquet record batches, CSV chunks), checks
each chunk and appends its rows to one of ``k`` spill files chosen by a hash of the customer id,
so every transaction of a customer lands in the same spill file whichever chunks it was in.
Pass 2 builds the RFM frame of one spill file at a time. Peak memory is about one chunk plus one
spill partition (``partition_rows`` transactions): ~100 bytes per transaction held, whatever the
size of the file. A log that fits in one partition is never spilled.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .data import (
    _as_day,
    _check_freq,
    _require_columns,
    check_rows,
    rfm_from_rows,
    warn_excluded,
)
from .exceptions import DataError

CHUNK_ROWS = 1_000_000
PARTITION_ROWS = 4_000_000


def _kind(path: str) -> str:
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        return "csv"
    raise DataError(f"unknown file type for {path!r}: use .csv, .csv.gz, .tsv or .parquet")


def count_rows(path: str) -> int:
    """Rows in a Parquet file (from its metadata) or data lines in a CSV file."""
    if _kind(path) == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if path.lower().endswith(".gz"):
        import gzip

        opener = gzip.open
    else:
        opener = open
    lines, last = 0, b"\n"
    with opener(path, "rb") as f:
        while block := f.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines - 1 + (last != b"\n")  # the header; a last line without a newline


def read_chunks(path, columns: list[str], chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The named columns of a CSV or Parquet file, ``chunk_rows`` rows at a time; a DataError
    for a missing file, a missing column or an unreadable file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"file not found: {path!r}")
    try:
        if _kind(path) == "parquet":
            import pyarrow.parquet as pq

            source = pq.ParquetFile(path)
            _require_columns(source.schema_arrow.names, columns, path)
            for batch in source.iter_batches(batch_size=chunk_rows, columns=columns):
                yield batch.to_pandas()
        else:
            sep = "\t" if path.lower().endswith(".tsv") else ","
            _require_columns(pd.read_csv(path, sep=sep, nrows=0).columns, columns, path)
            yield from pd.read_csv(path, sep=sep, usecols=columns, chunksize=chunk_rows)
    except DataError:
        raise
    except Exception as err:  # a corrupt or unreadable file: say which and why
        raise DataError(f"could not read {path!r}: {err}") from err


@dataclass
class StreamStats:
    """What a streaming pass saw: rows read, customers, partitions, and what was left out."""

    rows: int = 0
    customers: int = 0
    partitions: int = 0
    planned_partitions: int = 1
    excluded: dict = field(default_factory=dict)


def stream_rfm(
    path,
    *,
    customer: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    observation_end=None,
    freq: str = "D",
    time_unit: str | None = None,
    negative_amounts: str = "raise",
    date_format: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    partition_rows: int = PARTITION_ROWS,
    stats: StreamStats | None = None,
    progress=None,
    spill_dir=None,
) -> Iterator[pd.DataFrame]:
    """RFM frames of a transaction file, one per partition of its customers; together they are
    exactly ``rfm_summary`` of the whole file (same arguments), each customer in one of them.

    ``stats`` (a :class:`StreamStats`) is filled in as the file is read; ``progress(rows, total)`` is
    called after each chunk of pass 1 (``total``: the rows of the file). Spill files go to a temporary folder in ``spill_dir``
    (default: the system's temporary folder) and are deleted as they are read.
    """
    freq, time_unit = _check_freq(freq, time_unit)
    path = os.fspath(path)
    stats = stats if stats is not None else StreamStats()
    last_day = None if observation_end is None else _as_day(observation_end, "observation_end")
    columns = [customer, date] + ([amount] if amount is not None else [])
    total = count_rows(path) if os.path.exists(path) else 0
    k = stats.planned_partitions = max(1, -(-total // partition_rows))
    with tempfile.TemporaryDirectory(prefix="clvmodels-spill-", dir=spill_dir) as spill:
        held: list = []  # (ids, day, amount) per chunk when nothing is spilled
        max_day = None
        for chunk in read_chunks(path, columns, chunk_rows):
            start = stats.rows
            try:
                ids, day, money, excluded = check_rows(
                    chunk.reset_index(drop=True), customer=customer, date=date, amount=amount,
                    last_day=last_day, negative_amounts=negative_amounts, date_format=date_format)
            except DataError as err:
                raise DataError(f"{path}, rows {start + 1:,}-{start + len(chunk):,} "
                                f"(row numbers below count from {start + 1:,}): {err}") from err
            stats.rows += len(chunk)
            for key, n in excluded.items():
                stats.excluded[key] = stats.excluded.get(key, 0) + n
            if len(day):
                max_day = day.max() if max_day is None else max(max_day, day.max())
                if k == 1:
                    held.append((ids.to_numpy(), day, money))
                else:
                    _spill(spill, stats.rows, ids, day, money, k)
            if progress is not None:
                progress(stats.rows, total)
        if stats.rows == 0:
            raise DataError(f"{path} has no transactions")
        if max_day is None:
            raise DataError("no transactions are left after the exclusions: " + str(stats.excluded))
        warn_excluded(stats.excluded, stacklevel=3)
        end_day = int(max_day) if last_day is None else last_day
        parts = [held] if k == 1 else (_read_spill(spill, p) for p in range(k))
        for part in parts:
            if not part:
                continue
            frame = rfm_from_rows(
                np.concatenate([p[0] for p in part]), np.concatenate([p[1] for p in part]),
                None if amount is None else np.concatenate([p[2] for p in part]),
                freq=freq, time_unit=time_unit, end_day=end_day, excluded=stats.excluded)
            stats.customers += len(frame)
            stats.partitions += 1
            yield frame


def _spill(folder: str, tag: int, ids: pd.Series, day, money, k: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = pd.util.hash_array(ids.to_numpy()) % np.uint64(k)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(k + 1, dtype=np.uint64))
    ids = ids.to_numpy()
    for p in range(k):
        rows = order[bounds[p]:bounds[p + 1]]
        if rows.size:
            table = {"id": pa.array(ids[rows]), "day": day[rows]}
            if money is not None:
                table["amount"] = money[rows]
            pq.write_table(pa.table(table), os.path.join(folder, f"p{p}-{tag}.parquet"),
                           compression="none")


def _read_spill(folder: str, p: int) -> list:
    import pyarrow.parquet as pq

    out = []
    for name in sorted(f for f in os.listdir(folder) if f.startswith(f"p{p}-")):
        table = pq.read_table(os.path.join(folder, name))
        amount = table["amount"].to_numpy() if "amount" in table.column_names else None
        out.append((table["id"].to_numpy(zero_copy_only=False), table["day"].to_numpy(), amount))
        os.unlink(os.path.join(folder, name))
    return out
