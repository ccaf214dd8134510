"""A transaction log read and checked: customer ids, days and amounts as arrays, and what was
left out. How each column is read is in :mod:`clvmodels.columns`."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .columns import RowNames, integer_ids, normalize_ids, parse_amounts, parse_dates
from .exceptions import DataError, DataQualityWarning
from .files import read_table, require_columns, table_kind
from .interface import arg, given, name, show

NEGATIVE_AMOUNT_POLICIES = ("raise", "drop")
COLUMN_ARGUMENTS = ("customer", "date", "amount")


# ---------------------------------------------------------------------------------------------
# reading


def read_transactions(source, columns: list[str], *, sep: str | None = None
                      ) -> tuple[pd.DataFrame, RowNames]:
    """The named ``columns`` (customer, date[, amount]) of a pandas or polars DataFrame, or of
    a CSV / Parquet file, and how to name its rows in messages.

    Raises DataError for a missing or unreadable file, an unknown file type or a missing column.
    """
    names = dict(zip(columns, COLUMN_ARGUMENTS))
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        frame = read_table(path, columns, sep=sep, text_columns=columns[:2], names=names)
        rows = RowNames("line" if table_kind(path) == "csv" else "row", source=path)
        return frame, rows
    if isinstance(source, pd.DataFrame):
        require_columns(source.columns, columns, "the transactions", names)
        return source[columns], RowNames("index", labels=source.index)
    if type(source).__module__.split(".")[0] == "polars":
        require_columns(source.columns, columns, "the transactions", names)
        return source.select(columns).to_pandas(), RowNames("index")
    raise DataError(
        f"transactions must be a pandas or polars DataFrame or a path to a CSV or Parquet file, "
        f"not {type(source).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# cleaning


@dataclass
class Transactions:
    """A checked transaction log as arrays: customer codes, days, amounts, and what was excluded."""

    codes: np.ndarray  # int64 index into ids
    ids: pd.Index  # customer ids, sorted where sortable
    day: np.ndarray  # int64 days since 1970-01-01
    amount: np.ndarray | None  # float64
    excluded: dict = field(default_factory=dict)


@dataclass
class CheckedRows:
    """The rows of a log that passed :func:`check_rows` and were kept."""

    ids: pd.Series  # int64, or str objects
    day: np.ndarray  # int64 days since 1970-01-01
    amount: np.ndarray | None
    excluded: dict  # what was left out, counted by reason
    date_format: str | None  # the format that read the dates (text only)


def check_rows(
    frame: pd.DataFrame,
    *,
    customer: str,
    date: str,
    amount: str | None,
    last_day: int | None,
    negative_amounts: str = "raise",
    date_format: str | None = None,
    rows: RowNames = RowNames(),
) -> CheckedRows:
    """Check the rows of a log (ids present, dates and amounts parse, refunds per the policy) and
    leave out rows after ``last_day``. Used whole (``clean_transactions``) or chunk by chunk
    (streaming, Dask); ``rows`` names the rows in messages."""
    if negative_amounts not in NEGATIVE_AMOUNT_POLICIES:
        raise DataError(f"{given('negative_amounts', negative_amounts)}: use one of "
                        f"{NEGATIVE_AMOUNT_POLICIES}")
    ids = normalize_ids(frame[customer], customer, rows)
    day, date_format = parse_dates(frame[date], date, date_format, rows)
    keep = np.ones(len(frame), dtype=bool)
    excluded: dict[str, int] = {}

    money = None
    if amount is not None:
        money = parse_amounts(frame[amount], amount, rows)
        negative = money < 0
        if negative.any():
            first = np.flatnonzero(negative)[0]
            if negative_amounts == "raise":
                raise DataError(
                    f"{rows.column(amount)}: {int(negative.sum()):,} negative amount(s) "
                    f"(first: {show(money[first])} at {rows(first)}); refunds are not purchases: "
                    f"pass {given('negative_amounts', 'drop')} to exclude them (they are "
                    "counted)"
                )
            excluded["negative_amount"] = int(negative.sum())
            keep &= ~negative

    if last_day is not None:
        late = day > last_day
        if late.any():
            excluded["after_observation_end"] = int((late & keep).sum())
            keep &= ~late
    if not keep.all():
        ids, day = ids[keep], day[keep]
        money = money[keep] if money is not None else None
    return CheckedRows(ids, day, money, excluded, date_format)


def warn_excluded(excluded: dict, stacklevel: int = 3) -> None:
    """One DataQualityWarning listing what was left out, if anything."""
    what = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in excluded.items() if n)
    if what:
        warnings.warn(f"excluded transactions: {what}", DataQualityWarning, stacklevel=stacklevel)


def clean_transactions(
    transactions,
    *,
    customer: str,
    date: str,
    amount: str | None,
    last_day: int | None,
    negative_amounts: str = "raise",
    date_format: str | None = None,
    sep: str | None = None,
) -> Transactions:
    """Read and check a transaction log; exclude rows after ``last_day`` (counted, with a warning)."""
    columns = [customer, date] + ([amount] if amount is not None else [])
    if len(set(columns)) < len(columns):
        raise DataError(f"{arg('customer')}, {arg('date')} and {arg('amount')} must name "
                        f"different columns, not {columns}")
    frame, rows = read_transactions(transactions, columns, sep=sep)
    if len(frame) == 0:
        raise DataError("the transaction log is empty: there is nothing to summarise")
    checked = check_rows(
        frame, customer=customer, date=date, amount=amount, last_day=last_day,
        negative_amounts=negative_amounts, date_format=date_format, rows=rows)
    warn_excluded(checked.excluded, stacklevel=4)
    if len(checked.day) == 0:
        what = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in checked.excluded.items())
        raise DataError(f"no transactions are left after the exclusions ({what}): is "
                        f"{name('observation_end')} before the first transaction?")
    ids = integer_ids(checked.ids) if rows.source else checked.ids  # a file's text ids
    codes, uniques = factorize_ids(ids)
    return Transactions(codes, uniques, checked.day, checked.amount, checked.excluded)


def factorize_ids(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of the customer ids and the ids in sorted order. Ids that are already
    sorted are coded by their runs."""
    if ids.is_monotonic_increasing:
        values = ids.to_numpy()
        change = run_starts(values)
        codes = np.cumsum(change, dtype=np.int64)
        codes -= 1
        return codes, pd.Index(values[change], name="customer_id")
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype(np.int64), pd.Index(uniques, name="customer_id")


def run_starts(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows where a run of equal values starts."""
    starts = np.empty(len(values), dtype=bool)
    starts[:1] = True
    np.not_equal(values[1:], values[:-1], out=starts[1:])
    return starts


