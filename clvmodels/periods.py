"""Periods of time: purchase occasions (one per customer and period), period ordinals and the
time between them in a unit."""

from __future__ import annotations

import numpy as np

from .exceptions import DataError
from .interface import given
from .transactions import Transactions, run_starts
from .units import days_per_unit

FREQUENCIES = ("D", "W", "M", "Q", "Y")


def period_of_day(day: np.ndarray, freq: str) -> np.ndarray:
    """Ordinal of the period (day, Monday-start week, month, quarter, year) holding each day."""
    if freq == "D":
        return day
    if freq == "W":
        return (day + 3) // 7  # 1970-01-01 was a Thursday
    months = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return {"M": months, "Q": months // 3, "Y": months // 12}[freq]


def period_start_day(period: np.ndarray, freq: str) -> np.ndarray:
    if freq == "D":
        return period
    if freq == "W":
        return period * 7 - 3
    months = {"M": period, "Q": period * 3, "Y": period * 12}[freq]
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def elapsed(start: np.ndarray, end: np.ndarray, freq: str, time_unit: str) -> np.ndarray:
    """Time between two period ordinals in ``time_unit`` (exact period counts when they agree)."""
    if time_unit == freq:
        return (end - start).astype(np.float64)
    days = period_start_day(end, freq) - period_start_day(start, freq)
    return days / days_per_unit(time_unit)


def check_freq(freq: str, time_unit: str | None) -> tuple[str, str]:
    """``freq`` and ``time_unit`` (default: ``freq``) if both are known periods; a DataError
    otherwise."""
    if freq not in FREQUENCIES:
        raise DataError(f"{given('freq', freq)}: freq must be one of {FREQUENCIES} (the period "
                        "of a purchase occasion)")
    unit = time_unit or freq
    if unit not in FREQUENCIES:
        raise DataError(f"{given('time_unit', unit)}: the time unit must be one of "
                        f"{FREQUENCIES} (days, weeks, months, quarters, years)")
    return freq, unit


def occasions(tx: Transactions, freq: str):
    """Distinct (customer, period) purchase occasions, sorted, with amounts summed.

    A log already ordered by customer and date (a common export) skips the sort.
    """
    period = period_of_day(tx.day, freq)
    pmin = period.min()
    span = int(period.max() - pmin) + 1
    key = tx.codes * span
    key += period
    key -= pmin
    amount = tx.amount
    if not np.all(key[1:] >= key[:-1]):
        key, order = _sort_with_order(key)
        amount = None if amount is None else amount[order]
    starts = np.flatnonzero(run_starts(key))
    occ_key = key[starts]
    occ_amount = None if amount is None else np.add.reduceat(amount, starts)
    return occ_key // span, occ_key % span + pmin, occ_amount


def _sort_with_order(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted non-negative keys and the order that sorts them. The row number rides in the low
    bits of the key where it fits, since a plain sort is several times faster than argsort."""
    bits = max(int(len(key) - 1).bit_length(), 1)
    if int(key.max()) >= 1 << (63 - bits):
        order = np.argsort(key)
        return key[order], order
    packed = key << bits
    packed |= np.arange(len(key))
    packed.sort()
    order = packed & ((1 << bits) - 1)
    packed >>= bits
    return packed, order


