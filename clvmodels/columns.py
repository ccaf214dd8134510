"""The columns of a transaction log read unambiguously: customer ids, dates and amounts.

Customer ids
    Ids are text unless every id is a whole number. A column of integers stays integers; a
    column of text stays text (``"007"`` keeps its zeros); a column that mixes numbers and text
    (``1`` and ``"1"``) becomes text, so ``1`` and ``"1"`` are one customer. Ids read from a CSV
    file are text, and become integers only when every id in the file is written as a plain
    integer (``7``, not ``07`` or ``+7``). Missing, empty, fractional (``1.5``) or true/false
    ids are refused.

Dates
    A datetime column is used as it is; a time-zone-aware one counts on its local date (the
    date as written), also when the offsets differ from row to row (daylight saving time).
    Text is read by one format for the whole column: ISO 8601 (``2024-01-31``, with or without
    a time and an offset), ``20240131``, ``2024/01/31``, or day and month in either order
    (``31/01/2024``, ``01/31/2024``) when some day in the column is above 12 and says which; a
    column whose every value reads both ways (``05/01/1997``) is refused, as is one that mixes
    the two orders. Whole numbers are read as ``yyyymmdd`` (``20240131``); other numbers (epoch
    seconds, spreadsheet serials) are refused. ``date_format=`` (``--date-format``) fixes the
    format, e.g. ``"%d/%m/%Y"``.

Amounts
    Numbers, finite; text that is not a number (``"$12"``, ``"12,50"``) is refused.

Every refusal is a :class:`~clvmodels.DataError` that names the column, the rule, how many rows
break it, the first offender with the row where it is, and the fix.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import DataError
from .interface import arg, given, show

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?$")
COMPACT_DATE = re.compile(r"\d{8}$")
YEAR_FIRST = re.compile(r"(\d{4})([/.])(\d{1,2})\2(\d{1,2})(?:[T ].*)?$")
DAY_MONTH = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?:[T ].*)?$")
# a UTC offset after a time of day ("...T23:30:00-05:00"), to be dropped: the local time stays
UTC_OFFSET = r"(\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
INTEGER_ID = r"0|-?[1-9][0-9]{0,17}"
SAMPLE = 1000  # values that settle the format of a column of text


@dataclass(frozen=True)
class RowNames:
    """How a user finds a row: by line of a CSV file (its header is line 1), by row of a
    Parquet file (the first is row 1), or by index label of a DataFrame.

    ``offset`` counts the rows before this chunk; ``source`` names the file, if any."""

    kind: str = "index"
    offset: int = 0
    source: str = ""
    labels: pd.Index | None = None

    def __call__(self, position: int) -> str:
        if self.kind == "line":
            return f"line {self.offset + position + 2:,}"
        if self.kind == "row":
            return f"row {self.offset + position + 1:,} of the file"
        if self.labels is None or isinstance(self.labels, pd.RangeIndex) and \
                self.labels.start == 0 and self.labels.step == 1:
            return f"row {self.offset + position}"
        return f"index {self.labels[position]!r}"

    def column(self, name: str) -> str:
        return f"column {name!r}" + (f" of {self.source!r}" if self.source else "")

    def at(self, offset: int, labels: pd.Index | None = None) -> "RowNames":
        return RowNames(self.kind, offset, self.source, labels)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _refuse(rows: RowNames, column: str, mask: np.ndarray, values, what: str, fix: str):
    """A DataError: '<column>: <n> <what> (first: <value> at <row>); <fix>'."""
    first = _first(mask)
    value = values.iloc[first] if isinstance(values, pd.Series) else values[first]
    raise DataError(f"{rows.column(column)}: {int(mask.sum()):,} {what} (first: {show(value)} at "
                    f"{rows(first)}); {fix}")


# ---------------------------------------------------------------------------------------------
# customer ids


def normalize_ids(ids: pd.Series, column: str, rows: RowNames = RowNames()) -> pd.Series:
    """Customer ids as int64 (all whole numbers) or as Python strings (anything else).

    Parameters
    ----------
    ids : pandas.Series
        The id column as read.
    column : str
        Its name, for messages.
    rows : RowNames
        How to name the rows in messages.

    Returns
    -------
    pandas.Series
        int64, or object holding ``str``.
    """
    missing = ids.isna().to_numpy()
    if missing.any():
        _refuse(rows, column, missing, ids, "row(s) have no customer id",
                "drop those rows or fill in the ids")
    if isinstance(ids.dtype, pd.CategoricalDtype):  # the categories' values are the ids
        ids = ids.astype(ids.dtype.categories.dtype)
    dtype = ids.dtype
    if dtype.kind == "b" or isinstance(dtype, pd.BooleanDtype):
        raise DataError(f"{rows.column(column)} holds true/false values, not customer ids: "
                        f"is {arg('customer')} the right column?")
    if dtype.kind in "iu":
        if dtype.kind == "u" and len(ids) and ids.max() > np.iinfo(np.int64).max:
            return ids.astype(str).astype(object)
        return ids.astype(np.int64)
    if dtype.kind == "f":
        values = ids.to_numpy(dtype=np.float64)
        fractional = (values != np.round(values)) | (np.abs(values) >= 2.0**53)
        if fractional.any():
            _refuse(rows, column, fractional, ids, "id(s) are not whole numbers",
                    "customer ids must be whole numbers or text: read the column as text "
                    "(fractional ids are usually a spreadsheet's doing)")
        return pd.Series(values.astype(np.int64), index=ids.index, name=ids.name)
    kind = pd.api.types.infer_dtype(ids, skipna=False)
    if kind == "string":
        text = ids.astype(object) if isinstance(dtype, pd.StringDtype) else ids
    elif kind in ("integer", "mixed-integer", "mixed-integer-float", "floating", "mixed"):
        text = ids.map(_id_text, na_action=None)
        bad = text.isna().to_numpy()
        if bad.any():
            _refuse(rows, column, bad, ids, "id(s) are neither text nor whole numbers",
                    "customer ids must be text or whole numbers")
    else:
        raise DataError(f"{rows.column(column)} holds {kind} values, not customer ids: ids must "
                        f"be text or whole numbers (is {arg('customer')} the right column?)")
    empty = (text == "").to_numpy()
    if empty.any():
        _refuse(rows, column, empty, ids, "id(s) are empty text",
                "drop those rows or fill in the ids")
    return text


def _id_text(value):
    """The text of one id in a column that mixes types: whole numbers as plain integers."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and value == round(value):
        return str(int(value))
    return None


def integer_ids(ids: pd.Series) -> pd.Series:
    """Ids read as text, as int64 where every one is written as a plain integer; else as they
    are. Used on whole files (a streamed file decides after its last chunk)."""
    if ids.dtype.kind in "iu":
        return ids
    return ids.astype(np.int64) if ids_are_integers(ids) else ids


def ids_are_integers(ids: pd.Series) -> bool:
    """Whether every id is an integer, or text that writes one plainly (``7``, not ``07``)."""
    if ids.dtype.kind in "iu":
        return True
    if len(ids) == 0:
        return True
    try:
        numbers = pd.to_numeric(ids)
    except (ValueError, TypeError):
        return False
    if numbers.dtype.kind not in "iu":
        return False
    return bool(ids.str.fullmatch(INTEGER_ID).all())


# ---------------------------------------------------------------------------------------------
# dates


def as_day(value, name: str) -> int:
    """A date argument (``observation_end=``...) as whole days since 1970-01-01.

    Takes a date, datetime, ``pd.Timestamp``, ``np.datetime64`` or a daily ``pd.Period``, an ISO 8601 string
    (``"1997-09-30"``, a time may follow) or ``yyyymmdd`` (``"19970930"`` or ``19970930``);
    anything else is a DataError, since ``"05/01/1997"`` reads two ways."""
    stamp = None
    if isinstance(value, str):
        text = value.strip()
        if COMPACT_DATE.match(text):
            stamp = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
        elif ISO_DATE.match(text):
            stamp = pd.to_datetime(re.sub(UTC_OFFSET, r"\1", text), format="ISO8601",
                                   errors="coerce")
    elif isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        stamp = pd.to_datetime(str(int(value)), format="%Y%m%d", errors="coerce")
    elif isinstance(value, pd.Period):
        if value.freqstr != "D":
            raise DataError(f"{given(name, value)} is a period of several days, not a day: give "
                            f"the day itself, e.g. its last, {value.end_time.date()}")
        stamp = value.to_timestamp()
    elif isinstance(value, (datetime.date, np.datetime64)):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_localize(None)
    elif value is None:
        raise DataError(f"{arg(name).rstrip('=')} is missing: give a date such as 1997-09-30")
    if stamp is None or pd.isna(stamp):
        raise DataError(f"{given(name, value)} is not a date: write it as YYYY-MM-DD, e.g. "
                        "1997-09-30")
    return int(np.datetime64(stamp.floor("D").to_datetime64(), "D").astype(np.int64))


def _days(stamps: pd.Series) -> np.ndarray:
    """Whole days since the epoch of a datetime Series (local dates where zone-aware)."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    values = stamps.to_numpy()
    unit, count = np.datetime_data(values.dtype)
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(count, unit))
    return values.view(np.int64) // per_day  # floor division: whole days, also before 1970


def parse_dates(values: pd.Series, column: str, date_format: str | None = None,
                rows: RowNames = RowNames()) -> tuple[np.ndarray, str | None]:
    """Whole days since 1970-01-01 of a date column, and the format used to read text.

    Parameters
    ----------
    values : pandas.Series
        The date column as read.
    column : str
        Its name, for messages.
    date_format : str, optional
        A ``strftime`` format for every value; inferred unambiguously when not given (see the
        module docstring), else a DataError.
    rows : RowNames
        How to name rows in messages.

    Returns
    -------
    days : numpy.ndarray of int64
    date_format : str or None
        The format that read the text (pass it to the next chunk of the same file), or None.
    """
    if date_format is not None and not isinstance(date_format, str):
        raise DataError(f"{given('date_format', date_format)}: give the layout of the dates as "
                        "text, e.g. '%d/%m/%Y'")
    missing = values.isna().to_numpy()
    if missing.any():
        _refuse(rows, column, missing, values, "row(s) have no date",
                "drop those rows or fill them in")
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), date_format
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _days(values), date_format
    if dtype.kind in "iuf":
        return _number_dates(values, column, date_format, rows), date_format
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind in ("datetime", "date", "datetime64"):
        return _object_dates(values, column, rows), date_format
    if kind != "string":
        raise DataError(f"{rows.column(column)} holds {kind} values, not dates: is "
                        f"{arg('date')} the right column?")
    text = values.astype(object) if isinstance(dtype, pd.StringDtype) else values
    if date_format is None:
        date_format = infer_date_format(text, column, rows)
    return _text_dates(text, column, date_format, rows), date_format


def _number_dates(values: pd.Series, column: str, date_format, rows) -> np.ndarray:
    numbers = values.to_numpy(dtype=np.float64)
    whole = np.isfinite(numbers) & (numbers == np.round(numbers)) & (np.abs(numbers) < 1e15)
    if not whole.all():
        _refuse(rows, column, ~whole, values, "value(s) are not whole numbers, so not dates",
                "write the dates as YYYY-MM-DD")
    text = pd.Series(numbers.astype(np.int64).astype(str), index=values.index)
    if date_format is None:
        compact = text.str.fullmatch(r"\d{8}").to_numpy()
        if not compact.all():
            _refuse(rows, column, ~compact, values, "value(s) are numbers but not yyyymmdd dates",
                    "numbers are read only as yyyymmdd (20240131); convert other numbers "
                    "(epoch seconds, spreadsheet serial days) to dates first, or pass "
                    f"{arg('date_format')} for the digits' layout")
        date_format = "%Y%m%d"
    return _text_dates(text, column, date_format, rows)


def _object_dates(values: pd.Series, column: str, rows) -> np.ndarray:
    """Python dates and datetimes, their zones possibly differing: each on its local date."""
    try:
        return _days(pd.Series(pd.to_datetime(values)))
    except (ValueError, TypeError):
        local = values.map(lambda v: pd.Timestamp(v).tz_localize(None)
                           if pd.Timestamp(v).tzinfo is not None else pd.Timestamp(v))
        return _days(pd.Series(pd.to_datetime(local)))


def infer_date_format(text: pd.Series, column: str, rows: RowNames = RowNames()) -> str:
    """The one format that reads a column of date text, from its shape; a DataError where the
    text reads two ways (day and month) or has no recognised shape."""
    sample = text.iloc[:SAMPLE]
    first = str(sample.iloc[0]).strip()
    if ISO_DATE.match(first):
        return "ISO8601"
    if COMPACT_DATE.match(first):
        return "%Y%m%d"
    match = YEAR_FIRST.match(first)
    if match:
        sep = match.group(2)
        return f"%Y{sep}%m{sep}%d"
    match = DAY_MONTH.match(first)
    if match:
        return _day_month_order(text, column, match.group(2), len(match.group(4)), rows)
    guess = pd.tseries.api.guess_datetime_format(first)
    if guess is None:
        raise DataError(f"{rows.column(column)}: {first!r} (on {rows(0)}) is not a date format "
                        f"clvmodels recognises; pass {arg('date_format')} with its layout, e.g. "
                        "'%d %b %Y'")
    return guess


def _day_month_order(text: pd.Series, column: str, sep: str, year_digits: int, rows) -> str:
    """``%d/%m/%Y`` or ``%m/%d/%Y``, settled by a value above 12 in one of the two places."""
    parts = text.str.extract(r"^\s*(\d{1,2})\D(\d{1,2})\D")
    first = pd.to_numeric(parts[0], errors="coerce").to_numpy()
    second = pd.to_numeric(parts[1], errors="coerce").to_numpy()
    day_first, month_first = first > 12, second > 12
    year = "%Y" if year_digits == 4 else "%y"
    fix = (f"pass {arg('date_format')} '%d{sep}%m{sep}{year}' (day first) or "
           f"'%m{sep}%d{sep}{year}' (month first)")
    if day_first.any() and month_first.any():
        a, b = _first(day_first), _first(month_first)
        raise DataError(f"{rows.column(column)} mixes day-first and month-first dates "
                        f"({text.iloc[a]!r} on {rows(a)}, {text.iloc[b]!r} on {rows(b)}); "
                        f"make them one format and {fix}")
    if day_first.any():
        return f"%d{sep}%m{sep}{year}"
    if month_first.any():
        return f"%m{sep}%d{sep}{year}"
    raise DataError(f"{rows.column(column)}: dates such as {text.iloc[0]!r} (on {rows(0)}) read "
                    f"both as day/month and as month/day, and no value settles which; {fix}")


def _text_dates(text: pd.Series, column: str, date_format: str, rows) -> np.ndarray:
    stripped = text.str.strip()
    if date_format == "ISO8601":
        try:
            parsed = pd.to_datetime(stripped, format="ISO8601", errors="coerce")
        except (ValueError, TypeError):  # offsets that differ: each on its local date
            parsed = None
        if parsed is None or parsed.dtype == object:
            parsed = pd.to_datetime(stripped.str.replace(UTC_OFFSET, r"\1", regex=True),
                                    format="ISO8601", errors="coerce")
    else:
        if "%H" not in date_format and "%z" not in date_format:  # a time after the date: its day
            stripped = stripped.str.split(r"[T ]", n=1, regex=True).str[0]
        try:
            parsed = pd.to_datetime(stripped, format=date_format, errors="coerce")
        except (ValueError, TypeError) as err:
            raise DataError(f"{rows.column(column)}: {given('date_format', date_format)} cannot "
                            f"read these dates ({err})") from err
    parsed = pd.Series(parsed, index=text.index)
    bad = parsed.isna().to_numpy()
    if bad.any():
        shown = "ISO 8601 (YYYY-MM-DD)" if date_format == "ISO8601" else repr(date_format)
        _refuse(rows, column, bad, text, "value(s) could not be parsed as dates in the format "
                f"{shown} of this column", f"fix them, or pass {arg('date_format')} if the "
                "format is another")
    return _days(parsed)


# ---------------------------------------------------------------------------------------------
# amounts


def parse_amounts(values: pd.Series, column: str, rows: RowNames = RowNames()) -> np.ndarray:
    """Amounts as float64; a DataError for missing, non-numeric, true/false or infinite ones."""
    if values.dtype.kind == "b" or isinstance(values.dtype, pd.BooleanDtype):
        raise DataError(f"{rows.column(column)} holds true/false values, not amounts: is "
                        f"{arg('amount')} the right column?")
    numeric = pd.to_numeric(values, errors="coerce")
    amount = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(amount)
    if bad.any():
        _refuse(rows, column, bad, values, "amount(s) are missing, not numbers, or infinite",
                "amounts must be plain numbers (no currency signs or thousands separators): "
                "fix or drop those rows")
    return amount
