"""Time units: how long each unit is, so horizons and discounting are never ambiguous.

A month is the average Gregorian month, 365.25 / 12 = 30.4375 days (4.348 weeks). lifetimes uses
30 days and 4.345 weeks; the difference in a 12-month CLV is below 0.1 %.
"""

from __future__ import annotations

from .exceptions import DataError
from .interface import given

DAYS_PER_UNIT = {
    "D": 1.0,
    "W": 7.0,
    "M": 365.25 / 12,
    "Q": 365.25 / 4,
    "Y": 365.25,
}
UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months", "Q": "quarters", "Y": "years"}


def check_unit(unit: str, setting: str | None = None) -> str:
    """Return ``unit`` if it is a known time unit, else raise a DataError (a ValueError) listing
    the known ones, naming the argument ``setting`` where given."""
    if not isinstance(unit, str) or unit not in DAYS_PER_UNIT:
        known = ", ".join(f"{k!r} ({v})" for k, v in UNIT_NAMES.items())
        what = f"{given(setting, unit)}: unknown" if setting else f"unknown time unit {unit!r};"
        raise DataError(f"{what} time unit; use one of {known}" if setting else
                        f"{what} use one of {known}")
    return unit


def days_per_unit(unit: str) -> float:
    """Length of one ``unit`` in days."""
    return DAYS_PER_UNIT[check_unit(unit)]

