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
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .columns import RowNames, as_day, ids_are_integers
from .data import check_statistics, rfm_from_rows
from .periods import check_freq
from .transactions import COLUMN_ARGUMENTS, check_rows, warn_excluded
from .exceptions import DataError
from .files import count_rows, read_chunks, spill_folder, table_kind

CHUNK_ROWS = 1_000_000
PARTITION_ROWS = 4_000_000


@dataclass
class StreamStats:
    """What a streaming pass saw: rows read, customers, partitions, and what was left out."""

    rows: int = 0
    customers: int = 0
    partitions: int = 0
    planned_partitions: int = 1
    excluded: dict = field(default_factory=dict)
    time_unit: str | None = None  # of recency and T in what was written


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
    sep: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    partition_rows: int = PARTITION_ROWS,
    stats: StreamStats | None = None,
    progress=None,
    spill_dir=None,
    statistics=None,
) -> Iterator[pd.DataFrame]:
    """RFM frames of a transaction file, one per partition of its customers; together they are
    exactly ``rfm_summary`` of the whole file (same arguments), each customer in one of them.

    ``stats`` (a :class:`StreamStats`) is filled in as the file is read; ``progress(rows, total)`` is
    called after each chunk of pass 1 (``total``: the rows of the file). Spill files go to a temporary folder in ``spill_dir``
    (default: the system's temporary folder) and are deleted as they are read.
    """
    freq, time_unit = check_freq(freq, time_unit)
    statistics = check_statistics(statistics)
    path = os.fspath(path)
    stats = stats if stats is not None else StreamStats()
    last_day = None if observation_end is None else as_day(observation_end, "observation_end")
    columns = [customer, date] + ([amount] if amount is not None else [])
    total = count_rows(path)
    k = stats.planned_partitions = max(1, -(-total // partition_rows))
    rows = RowNames("line" if table_kind(path) == "csv" else "row", source=path)
    with spill_folder(spill_dir) as spill:
        held: list = []  # (ids, day, amount) per chunk when nothing is spilled
        max_day = None
        integer = True  # every id so far is a whole number: the file's ids become int64
        for chunk in read_chunks(path, columns, chunk_rows, sep=sep, text_columns=columns[:2],
                                 names=dict(zip(columns, COLUMN_ARGUMENTS))):
            checked = check_rows(
                chunk.reset_index(drop=True), customer=customer, date=date, amount=amount,
                last_day=last_day, negative_amounts=negative_amounts, date_format=date_format,
                rows=rows.at(stats.rows))
            date_format = checked.date_format  # the first chunk's format reads every chunk
            stats.rows += len(chunk)
            for key, n in checked.excluded.items():
                stats.excluded[key] = stats.excluded.get(key, 0) + n
            if len(checked.day):
                integer = integer and ids_are_integers(checked.ids)
                max_day = (checked.day.max() if max_day is None
                           else max(max_day, checked.day.max()))
                if k == 1:
                    held.append((checked.ids.to_numpy(), checked.day, checked.amount))
                else:
                    _spill(spill, stats.rows, checked.ids, checked.day, checked.amount, k)
            if progress is not None:
                progress(stats.rows, total)
        if stats.rows == 0:
            raise DataError(f"{path!r} has no transactions")
        if max_day is None:
            raise DataError("no transactions are left after the exclusions: " + str(stats.excluded))
        warn_excluded(stats.excluded, stacklevel=3)
        end_day = int(max_day) if last_day is None else last_day
        parts = [held] if k == 1 else (_read_spill(spill, p) for p in range(k))
        for part in parts:
            if not part:
                continue
            ids = np.concatenate([p[0] for p in part])
            frame = rfm_from_rows(
                ids.astype(np.int64) if integer else ids, np.concatenate([p[1] for p in part]),
                None if amount is None else np.concatenate([p[2] for p in part]),
                freq=freq, time_unit=time_unit, end_day=end_day, excluded=stats.excluded,
                statistics=statistics)
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
