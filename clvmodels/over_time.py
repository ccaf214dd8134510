"""Covariates over time: a per-customer (or calendar-wide), per-period table of covariates that
change over time (a season, a campaign, a price), read, checked and cut into the pieces a
time-varying model integrates over.

The table is long: one row per customer and period, with the period's first day and the
covariate values that hold throughout it (Bachmann, Meierer & Naef 2021; CLVTools'
``SetDynamicCovariates``). Without a customer column it is one path shared by every customer.
Everything that would make a path ambiguous is refused with the column, the rule, the first
offender and the fix: a date that does not start a period of ``freq``, a customer with two rows
for one period (an overlap) or without a row for a period between its first and last (a gap),
a missing or non-numeric value. Coverage (a row for every period a customer's history, or a
forecast, touches) is checked where the windows are known: :meth:`CovariatesOverTime.pieces`.

Times: a customer's time starts at her first purchase (``t = 0``) and is measured in the model's
time unit, which must have a fixed length in days (days or weeks); a calendar day ``d`` is the
instant ``(d - first purchase day) / days per unit``, and it lies in the period that holds the
day.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .columns import RowNames, integer_ids, normalize_ids, parse_dates
from .exceptions import DataError
from .covariates import read_side_file
from .files import check_input_file, table_columns
from .interface import arg, given, show
from .periods import FREQUENCIES, period_of_day, period_start_day
from .units import days_per_unit

__all__ = ["CovariatesOverTime", "Pieces", "read_covariates_over_time", "unit_days"]

HISTORY_BLOCK = 50_000  # customers whose pieces are held at once
FIXED_UNITS = ("D", "W")  # time units of a fixed number of days
PERIOD_NAMES = {"D": "day", "W": "week (Monday to Sunday)", "M": "calendar month",
                "Q": "calendar quarter", "Y": "calendar year"}


def unit_days(time_unit, setting: str = "time_unit") -> float:
    """Days in ``time_unit`` if it has a fixed length (days, weeks); a DataError otherwise:
    months and years differ in days, so a customer's time would not map to one calendar."""
    if time_unit not in FIXED_UNITS:
        raise DataError(f"{given(setting, time_unit)}: covariates over time need a time unit of "
                        f"a fixed number of days, 'D' (days) or 'W' (weeks), so that a "
                        f"customer's time maps to one calendar day; build the RFM frame with "
                        f"time_unit='W' (or 'D')")
    return days_per_unit(time_unit)


@dataclass
class Pieces:
    """A window of each customer's time cut at the periods' boundaries: piece ``j`` belongs to
    customer row ``row[j]`` (non-decreasing), starts at customer time ``lo[j]``, lasts
    ``width[j]`` (> 0) and has the covariates of table row ``source[j]``. ``starts`` has each
    customer row's first piece, and ``len(row)`` at the end."""

    row: np.ndarray
    lo: np.ndarray
    width: np.ndarray
    source: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


def _period_text(period, freq: str) -> str:
    return str(np.datetime64(int(period_start_day(np.array([period]), freq)[0]), "D"))


class CovariatesOverTime:
    """A checked table of covariates over time (read it with :func:`read_covariates_over_time`).

    Attributes
    ----------
    freq : str
        The period of a row: ``"D"``, ``"W"`` (Monday-start weeks), ``"M"``, ``"Q"`` or ``"Y"``.
    columns : tuple of str
        The covariates.
    values : numpy.ndarray
        ``(rows, len(columns))``, sorted by customer and period.
    ids : pandas.Index or None
        The customers (None: one path shared by every customer).
    first, count, offset : numpy.ndarray
        Per customer: the first period's ordinal, the number of periods, the first row.
    source : str
        Where the table came from, for messages.
    """

    def __init__(self, freq, columns, values, ids, first, count, offset, source="the table"):
        self.freq, self.columns, self.values = freq, tuple(columns), values
        self.ids, self.first, self.count, self.offset = ids, first, count, offset
        self.source = source

    def __repr__(self) -> str:
        who = "shared by every customer" if self.ids is None else f"{len(self.ids):,} customers"
        return (f"CovariatesOverTime({list(self.columns)}, freq={self.freq!r}, "
                f"{len(self.values):,} rows, {who})")

    # -- lookups --------------------------------------------------------------------------------
    def codes(self, ids: pd.Index, setting: str) -> np.ndarray:
        """The table's customer of each of ``ids`` (0 for a shared path); a DataError naming
        the first customer without rows."""
        if self.ids is None:
            return np.zeros(len(ids), dtype=np.int64)
        table = self.ids
        if ids.dtype.kind not in "iu" and table.dtype.kind in "iu":
            table = table.astype(str)  # the log's ids are text: 7 is "7"
        codes = table.get_indexer(ids)
        missing = codes < 0
        if missing.any():
            why = ""
            if ids.dtype.kind in "iu" and table.dtype.kind not in "iu":
                why = (" (the transactions' ids are whole numbers and the table's text: write "
                       "the ids the same way in both)")
            raise DataError(f"{self.source} ({arg(setting)}) has no rows for "
                            f"{int(missing.sum()):,} customer(s) (first: {show(ids[missing][0])})"
                            f"{why}; add their periods")
        return codes.astype(np.int64)

    def rows_at(self, codes: np.ndarray, days: np.ndarray, ids: pd.Index, who: np.ndarray,
                setting: str, why: str) -> np.ndarray:
        """The table row of each (customer ``codes``, calendar ``days``); a DataError naming the
        first not covered (``ids[who]`` the customer, ``why`` what needed the day)."""
        period = period_of_day(np.floor(days).astype(np.int64), self.freq)
        step = period - self.first[codes]
        bad = (step < 0) | (step >= self.count[codes])
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            c = int(codes[j])
            customer = "every customer" if self.ids is None else f"customer {show(ids[who[j]])}"
            raise DataError(
                f"{self.source} ({arg(setting)}) does not cover {customer} on "
                f"{np.datetime64(int(np.floor(days[j])), 'D')} ({why}): it has the periods "
                f"from {_period_text(int(self.first[c]), self.freq)} to "
                f"{_period_text(int(self.first[c] + self.count[c] - 1), self.freq)}; add rows "
                f"up to the period starting {_period_text(int(period[j]), self.freq)} "
                f"({int(bad.sum()):,} customer-day(s) are not covered)")
        return self.offset[codes] + step

    def pieces(self, ids: pd.Index, origin: np.ndarray, start: np.ndarray, end: np.ndarray,
               unit: float, setting: str, why: str) -> Pieces:
        """Each customer's window ``[start, end)`` of her time (in units of ``unit`` days from
        the calendar day ``origin``) cut at the periods' first days.

        Parameters
        ----------
        ids : pandas.Index
            The customers (rows).
        origin : numpy.ndarray
            Each customer's time 0, a calendar day (her first purchase).
        start, end : numpy.ndarray
            The window in her time; ``end <= start`` gives no pieces.
        unit : float
            Days per time unit.
        setting, why : str
            For messages: the argument that gave the table, what the window is.

        Returns
        -------
        Pieces
        """
        n = len(ids)
        codes = self.codes(ids, setting)
        day_lo = origin + start * unit
        day_hi = origin + end * unit
        has = day_hi > day_lo
        p0 = period_of_day(np.floor(day_lo).astype(np.int64), self.freq)
        p1 = period_of_day(np.ceil(day_hi).astype(np.int64) - 1, self.freq)
        counts = np.where(has, p1 - p0 + 1, 0)
        starts = np.r_[0, np.cumsum(counts)]
        row = np.repeat(np.arange(n), counts)
        period = p0[row] + (np.arange(starts[-1]) - starts[row])
        lo_day = np.maximum(period_start_day(period, self.freq), day_lo[row])
        hi_day = np.minimum(period_start_day(period + 1, self.freq), day_hi[row])
        keep = hi_day > lo_day
        if not keep.all():  # an end on a period's first day: no piece of width 0
            row, period, lo_day, hi_day = row[keep], period[keep], lo_day[keep], hi_day[keep]
            starts = np.searchsorted(row, np.arange(n + 1))
        source = self.rows_at(codes[row], lo_day, ids, row, setting, why)
        return Pieces(row, (lo_day - origin[row]) / unit, (hi_day - lo_day) / unit, source,
                      starts)

    def integrals(self, pieces: Pieces, n: int) -> np.ndarray:
        """Per customer row of ``pieces`` (``n`` rows), the integral of each covariate over her
        pieces: ``(n, columns)``."""
        out = np.zeros((n, len(self.columns)))
        for k in range(len(self.columns)):
            out[:, k] = np.bincount(pieces.row,
                                    weights=pieces.width * self.values[pieces.source, k],
                                    minlength=n)
        return out

    def history(self, ids, origin, T, unit: float, setting: str = "covariates_over_time"
                ) -> np.ndarray:
        """Per customer (``ids``, time 0 on the calendar day ``origin``, ``T`` in units of
        ``unit`` days), the integral of each covariate over her time from 0 to T:
        ``(customers, columns)``, 50,000 customers' pieces at a time."""
        T = np.asarray(T, dtype=np.float64)
        origin = np.asarray(origin, dtype=np.float64)
        ids = pd.Index(ids)
        out = np.zeros((len(T), len(self.columns)))
        for start in range(0, len(T), HISTORY_BLOCK):  # bounded memory: a block's pieces
            block = slice(start, start + HISTORY_BLOCK)
            n = len(T[block])
            pieces = self.pieces(ids[block], origin[block], np.zeros(n), T[block], unit,
                                 setting, "her history, from her first purchase to the end "
                                 "of observation")
            out[block] = self.integrals(pieces, n)
        return out


def _read(source, customer, period, sep):
    """The table as a DataFrame, how to name its rows, and where it came from."""
    if isinstance(source, (str, os.PathLike)):
        path = check_input_file(os.fspath(source), "the covariates over time")
        header = table_columns(path, sep)
        text = [c for c in (customer, period) if c is not None and c in header]
        table, rows = read_side_file(path, text, header, sep,
                                     f"the covariates over time {path!r}")
        return table, rows, repr(path)
    if isinstance(source, pd.DataFrame):
        # ids (or periods) in the index are a column like the others, not dropped: dropped,
        # the table would read as one path for every customer
        named = source.index.names
        keep = any(n is not None and n in (customer, period) for n in named)
        return (source.reset_index(drop=not keep), RowNames("index"),
                "the covariates over time")
    if type(source).__module__.split(".")[0] == "polars":
        return source.to_pandas(), RowNames("index"), "the covariates over time"
    raise DataError(f"covariates over time must be a pandas or polars DataFrame or a CSV or "
                    f"Parquet file, not {type(source).__name__}")


def read_covariates_over_time(source, *, customer: str | None = "customer_id",
                              period: str = "period", freq: str = "W", columns=None,
                              date_format: str | None = None, sep: str | None = None
                              ) -> CovariatesOverTime:
    """Read and check a table of covariates over time (see the module docstring).

    Parameters
    ----------
    source : pandas or polars DataFrame, or path to a CSV or Parquet file
        One row per customer and period (long form).
    customer : str or None, default "customer_id"
        The customer id column, read like the transaction log's ids; None for a table without
        one, one path that holds for every customer (a season, a nationwide campaign).
    period : str, default "period"
        The column of each period's first day.
    freq : {"D", "W", "M", "Q", "Y"}, default "W"
        The period of a row: a day, a Monday-to-Sunday week, a calendar month, quarter, year.
    columns : sequence of str, optional
        The covariates (numeric; true/false is read as 1/0); default every other column.
    date_format, sep : str, optional
        As for the transaction log.

    Returns
    -------
    CovariatesOverTime

    Raises
    ------
    DataError
        A missing column, a date that does not start a period, two rows for one customer and
        period, a period missing between a customer's first and last, a missing, infinite or
        non-numeric value: the column, the rule, the first offender and the fix.

    Examples
    --------
    >>> import pandas as pd, clvmodels
    >>> weeks = pd.date_range("2024-01-01", periods=4, freq="W-MON")
    >>> table = pd.DataFrame({"period": weeks, "promo": [0, 1, 1, 0]})
    >>> clvmodels.read_covariates_over_time(table, customer=None, freq="W")
    CovariatesOverTime(['promo'], freq='W', 4 rows, shared by every customer)
    """
    if freq not in FREQUENCIES:
        raise DataError(f"{given('freq', freq)}: the period of a row must be one of "
                        f"{FREQUENCIES} (day, week, month, quarter, year)")
    table, rows, where = _read(source, customer, period, sep)
    present = list(table.columns)
    for setting, column in (("customer", customer), ("period", period)):
        if column is not None and column not in present:
            hint = (" (give customer=None for a table that holds for every customer)"
                    if setting == "customer" else "")
            raise DataError(f"{where} has no {column!r} column ({arg(setting)}); it has "
                            f"{present}{hint}")
    if columns is None:
        columns = [c for c in present if c not in (customer, period)]
    elif isinstance(columns, str):
        columns = [columns]
    columns = list(columns)
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(f"{where} has no covariate column {missing[0]!r} ({arg('columns')}); "
                        f"it has {present}")
    if not columns:
        raise DataError(f"{where} has no covariate columns beside {customer!r} and "
                        f"{period!r}: add the covariates")
    if len(table) == 0:
        raise DataError(f"{where} is empty: give one row per customer and period")
    days, _ = parse_dates(table[period], period, date_format, rows)
    ordinal = period_of_day(days, freq)
    off = period_start_day(ordinal, freq) != days
    if off.any():
        j = int(np.flatnonzero(off)[0])
        raise DataError(f"{rows.column(period)}: {int(off.sum()):,} date(s) do not start a "
                        f"{PERIOD_NAMES[freq]} ({given('freq', freq)}) (first: "
                        f"{np.datetime64(int(days[j]), 'D')} at {rows(j)}, whose period starts "
                        f"{_period_text(int(ordinal[j]), freq)}); give each period's first day")
    values = np.empty((len(table), len(columns)))
    for k, c in enumerate(columns):
        col = table[c]
        if col.dtype.kind == "b":
            col = col.astype(np.float64)
        if col.dtype.kind not in "iuf":
            numbers = pd.to_numeric(col, errors="coerce")
            bad = numbers.isna().to_numpy() & ~col.isna().to_numpy()
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                raise DataError(f"{rows.column(c)}: {int(bad.sum()):,} value(s) are not numbers "
                                f"(first: {show(col.iloc[j])} at {rows(j)}); covariates over "
                                "time are numeric: code a category as 0/1 columns")
            col = numbers
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(v)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise DataError(f"{rows.column(c)}: {int(bad.sum()):,} value(s) are missing or "
                            f"infinite (first: {show(col.iloc[j])} at {rows(j)}); every period "
                            "needs a value: fill them in")
        values[:, k] = v
    if customer is None:
        code, ids = np.zeros(len(table), dtype=np.int64), None
    else:
        raw = normalize_ids(table[customer], customer, rows)
        raw = integer_ids(raw) if rows.source else raw
        code, uniques = pd.factorize(raw, sort=False)
        ids = pd.Index(uniques, name="customer_id")
    order = np.lexsort((ordinal, code))
    code_s, ord_s = code[order], ordinal[order]
    same = code_s[1:] == code_s[:-1]
    step = np.diff(ord_s)

    def who(j):  # the customer of sorted row j, for messages
        return "" if ids is None else f"customer {show(ids[code_s[j]])}: "

    overlap = same & (step == 0)
    if overlap.any():
        j = int(np.flatnonzero(overlap)[0])
        raise DataError(f"{where}: {who(j)}two rows for the period starting "
                        f"{_period_text(int(ord_s[j]), freq)} ({rows(int(order[j]))} and "
                        f"{rows(int(order[j + 1]))}; {int(overlap.sum()):,} such overlap(s)); "
                        "keep one row per customer and period")
    gap = same & (step > 1)
    if gap.any():
        j = int(np.flatnonzero(gap)[0])
        raise DataError(f"{where}: {who(j)}no row for the period starting "
                        f"{_period_text(int(ord_s[j]) + 1, freq)} (between "
                        f"{_period_text(int(ord_s[j]), freq)} and "
                        f"{_period_text(int(ord_s[j + 1]), freq)}; {int(gap.sum()):,} such "
                        "gap(s)); every period from a customer's first row to her last needs a "
                        "row: fill it in")
    starts = np.flatnonzero(np.r_[True, ~same])
    first = ord_s[starts]
    count = np.diff(np.r_[starts, len(ord_s)])
    return CovariatesOverTime(freq, columns, values[order], ids, first, count,
                              starts.astype(np.int64), where)


def over_time_sums(tv: CovariatesOverTime, ids: pd.Index, cust: np.ndarray, day: np.ndarray,
                   first_idx: np.ndarray, setting: str = "covariates_over_time") -> np.ndarray:
    """Per customer, the sum of each covariate over her repeat purchase occasions (sorted by
    customer, one per period of the log's ``freq``, ``day`` each occasion's first day, customer
    ``ids[cust]``): the time-varying model's purchase-time statistic, ``(customers, k)``."""
    repeat = np.ones(len(cust), dtype=bool)
    repeat[first_idx] = False
    who = cust[repeat]
    customer_ids = ids[cust[first_idx]]
    # customer code of each repeat occasion, by position among the customers
    position = np.searchsorted(cust[first_idx], who)
    codes = tv.codes(pd.Index(customer_ids), setting)[position]
    rows = tv.rows_at(codes, day[repeat].astype(np.float64), pd.Index(customer_ids), position,
                      setting, "a repeat purchase")
    values = tv.values[rows]
    return np.column_stack([np.bincount(position, weights=values[:, k], minlength=len(first_idx))
                            for k in range(len(tv.columns))])
