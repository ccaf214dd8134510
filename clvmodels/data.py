"""The RFM frame: from a transaction log to one row per customer, the calibration/holdout split,
the frame's checks, and its compression to unique rows.

The RFM frame (``docs/``) is indexed by customer, has the columns ``frequency`` (repeat purchase
occasions), ``recency`` (first to last occasion), ``T`` (first occasion to the end of observation)
and ``monetary_value`` (mean amount of the repeat occasions, 0 without any), and records its time
unit in ``frame.attrs["time_unit"]``. Ends of windows are inclusive whole days. How ids, dates and
amounts are read is in :mod:`clvmodels.columns`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import as_day
from .covariates import join_customers
from .over_time import CovariatesOverTime, over_time_sums, unit_days
from .exceptions import DataError
from .files import require_columns
from .interface import arg, given, show
from .periods import check_freq, elapsed, occasions, period_of_day, period_start_day
from .units import days_per_unit
from .transactions import Transactions, clean_transactions, factorize_ids, run_starts

RFM_COLUMNS = ("frequency", "recency", "T")
HOLDOUT_COLUMNS = ("frequency_holdout", "monetary_value_holdout", "duration_holdout")
# what the data layer computes from a log: a customer's history, never a covariate of it
HISTORY_COLUMNS = RFM_COLUMNS + ("monetary_value", "litt", "first_purchase") + HOLDOUT_COLUMNS


# ---------------------------------------------------------------------------------------------
# RFM


# per-customer statistics beyond the RFM columns, computed on request (``statistics=``): a
# model that needs one declares it, and the data layer is the one place that knows how
STATISTICS = {
    "litt": "the sum of the logarithms of a customer's inter-purchase times, in the time unit "
            "(0 without repeat purchases): the regularity models' extra statistic (Platzer & "
            "Reutterer 2016; BTYDplus elog2cbs)",
}


def check_statistics(statistics) -> tuple[str, ...]:
    """``statistics`` as a tuple of known names (:data:`STATISTICS`); a DataError otherwise."""
    if statistics is None:
        return ()
    names = (statistics,) if isinstance(statistics, str) else tuple(statistics)
    unknown = [s for s in names if s not in STATISTICS]
    if unknown:
        raise DataError(f"{given('statistics', unknown[0])}: unknown statistic; the data layer "
                        f"computes {sorted(STATISTICS)} beyond the RFM columns")
    return names


def log_interpurchase_times(cust: np.ndarray, period: np.ndarray, first_idx: np.ndarray,
                            freq: str, time_unit: str) -> np.ndarray:
    """Per customer, the sum of log(t_j - t_(j-1)) over her purchase occasions (sorted by
    customer and period, one per period of ``freq``: same-day purchases are one occasion), the
    times in ``time_unit``; 0 for a customer without repeat purchases."""
    same = cust[1:] == cust[:-1]
    gaps = elapsed(period[:-1], period[1:], freq, time_unit)
    logs = np.zeros(len(cust), dtype=np.float64)
    with np.errstate(divide="ignore"):
        logs[1:] = np.where(same, np.log(np.where(same, gaps, 1.0)), 0.0)
    return np.add.reduceat(logs, first_idx) if len(first_idx) else np.zeros(0)


def _rfm_arrays(tx: Transactions, freq: str, time_unit: str, end_day: int,
                statistics=(), over_time=None) -> dict:
    cust, period, amount = occasions(tx, freq)
    first_idx = np.flatnonzero(run_starts(cust))
    last_idx = np.r_[first_idx[1:], len(cust)] - 1
    frequency = (last_idx - first_idx).astype(np.int64)
    first, last = period[first_idx], period[last_idx]
    end = period_of_day(np.array([end_day]), freq)[0]
    out = {
        "customer": cust[first_idx],
        "frequency": frequency,
        "recency": elapsed(first, last, freq, time_unit),
        "T": elapsed(first, np.full_like(first, end), freq, time_unit),
    }
    if "litt" in statistics:
        out["litt"] = log_interpurchase_times(cust, period, first_idx, freq, time_unit)
    if over_time is not None:
        out.update(over_time_statistics(over_time, tx.ids, cust, period, first_idx, freq,
                                        time_unit, out["T"]))
    if amount is not None:
        repeat = amount.copy()
        repeat[first_idx] = 0.0
        with np.errstate(over="ignore"):  # an overflow is refused just below
            total = np.add.reduceat(repeat, first_idx)
        out["monetary_value"] = np.divide(
            total, frequency, out=np.zeros_like(total), where=frequency > 0
        )
        overflow = ~np.isfinite(out["monetary_value"])
        if overflow.any():
            raise DataError(
                f"the amounts of {int(overflow.sum()):,} customer(s) add up beyond the largest "
                f"number a float holds (first: {show(tx.ids[out['customer'][overflow][0]])}); "
                "express the amounts in a larger currency unit"
            )
    return out


FIRST_PURCHASE = "first_purchase"
AT_PURCHASES = "at_purchases:"  # + a covariate over time: its sum over the repeat purchases
HISTORY = "history:"  # + a covariate over time: its integral over the customer's (0, T]


def over_time_statistics(over_time, ids, cust, period, first_idx, freq, time_unit, T) -> dict:
    """The statistics a model with covariates over time reads: each customer's first purchase
    (her time 0, the first day of her first occasion's period), per covariate its sum over
    her repeat purchase occasions (``at_purchases:<column>``) and its integral over her time
    from 0 to T (``history:<column>``: what a model checks a later table against, so that a
    forecast's table cannot silently change the history the frame was built with)."""
    if not isinstance(over_time, CovariatesOverTime):
        raise DataError(f"{arg('covariates_over_time')} must be a table read by "
                        f"clvmodels.read_covariates_over_time, not {type(over_time).__name__}")
    unit_days(time_unit)
    day = period_start_day(period, freq)
    out = {FIRST_PURCHASE: day[first_idx].astype("datetime64[D]").astype("datetime64[ns]")}
    sums = over_time_sums(over_time, ids, cust, day, first_idx)
    history = over_time.history(ids[cust[first_idx]], day[first_idx].astype(np.float64), T,
                                days_per_unit(time_unit))
    for k, column in enumerate(over_time.columns):
        out[AT_PURCHASES + column] = sums[:, k]
        out[HISTORY + column] = history[:, k]
    return out


def _frame(arrays: dict, ids: pd.Index, time_unit: str, excluded: dict, **attrs) -> pd.DataFrame:
    index = ids[arrays.pop("customer")]
    frame = pd.DataFrame(arrays, index=index)
    frame.index.name = "customer_id"
    frame.attrs.update(time_unit=time_unit, excluded=dict(excluded), **attrs)
    return frame


def rfm_from_rows(ids, day: np.ndarray, money: np.ndarray | None, *, freq: str, time_unit: str,
                  end_day: int, excluded: dict, statistics=(), over_time=None) -> pd.DataFrame:
    """The RFM frame of checked rows (``check_rows`` output) holding every transaction of their
    customers: what the streaming and Dask engines build per partition (with the statistics of
    a table of covariates over time, ``over_time``, as :func:`rfm_summary` adds them)."""
    codes, uniques = factorize_ids(pd.Series(ids))
    arrays = _rfm_arrays(Transactions(codes, uniques, day, money), freq, time_unit, end_day,
                         check_statistics(statistics), over_time)
    return _frame(arrays, uniques, time_unit, excluded, freq=freq,
                  observation_end=str(np.datetime64(end_day, "D")))


def rfm_summary(
    transactions,
    *,
    customer: str = "customer_id",
    date: str = "date",
    amount: str | None = None,
    observation_end=None,
    freq: str = "D",
    time_unit: str | None = None,
    negative_amounts: str = "raise",
    date_format: str | None = None,
    sep: str | None = None,
    customers=None,
    statistics=None,
    covariates_over_time=None,
) -> pd.DataFrame:
    """Summarise a transaction log into the RFM frame, one row per customer.

    Parameters
    ----------
    transactions : pandas or polars DataFrame, or path to a CSV or Parquet file
    customer, date, amount : str
        Column names; without ``amount`` there is no ``monetary_value`` column.
    observation_end : date-like, optional
        Last day observed (inclusive); defaults to the last transaction date. Later transactions
        are excluded and counted in ``frame.attrs["excluded"]``, with a DataQualityWarning.
    freq : {"D", "W", "M", "Q", "Y"}
        Period of a purchase occasion: purchases in one period are one occasion, amounts summed.
    time_unit : {"D", "W", "M", "Q", "Y"}, optional
        Unit of ``recency`` and ``T``; defaults to ``freq``. Recorded in ``frame.attrs``.
    negative_amounts : {"raise", "drop"}
        Refunds raise a DataError unless dropped (then counted).
    date_format : str, optional
        ``strftime`` layout of date text (``"%d/%m/%Y"``); inferred where unambiguous, else a
        DataError asks for it (:mod:`clvmodels.columns`).
    sep : str, optional
        Field separator of a CSV file (default ``,``; a tab for ``.tsv``).
    customers : DataFrame or path, optional
        A customer table (covariates such as the acquisition channel) joined on the customer
        id: indexed by it, or with a column named like ``customer`` (or ``customer_id``); a
        CSV or Parquet file likewise. Every customer of the log needs one row.
    statistics : sequence of str, optional
        Per-customer statistics beyond the RFM columns (:data:`STATISTICS`): ``"litt"``, the
        sum of the logarithms of the inter-purchase times (of the purchase occasions, in
        ``time_unit``) that the regularity models need.
    covariates_over_time : CovariatesOverTime, optional
        A table of covariates over time (:func:`clvmodels.read_covariates_over_time`): adds
        the statistics a model with them reads, ``first_purchase`` (each customer's time 0)
        and, per covariate, ``at_purchases:<column>`` (its sum over the repeat purchases).
        Needs a ``time_unit`` of days or weeks.

    Returns
    -------
    pandas.DataFrame
        One row per customer, indexed by ``customer_id`` (int64 when every id is a whole
        number, else text), with ``frequency``, ``recency``, ``T`` (and ``monetary_value``),
        the ``statistics`` asked for, the statistics of ``covariates_over_time``, and the
        columns of ``customers``.

    Raises
    ------
    DataError
        A missing column or file, an unreadable date, id or amount, a refund, an empty log;
        the message names the column, the rule, the first offender and its row.

    Examples
    --------
    >>> import clvmodels
    >>> tx = clvmodels.load_cdnow()
    >>> rfm = clvmodels.rfm_summary(tx[tx.date <= "1997-09-30"], observation_end="1997-09-30",
    ...                             freq="D", time_unit="W", amount="amount")
    >>> rfm.loc[1, ["frequency", "recency", "T"]].round(2).tolist()
    [2.0, 30.43, 38.86]
    """
    freq, time_unit = check_freq(freq, time_unit)
    statistics = check_statistics(statistics)
    last_day = None if observation_end is None else as_day(observation_end, "observation_end")
    tx = clean_transactions(
        transactions, customer=customer, date=date, amount=amount, last_day=last_day,
        negative_amounts=negative_amounts, date_format=date_format, sep=sep,
    )
    end_day = int(tx.day.max()) if last_day is None else last_day
    arrays = _rfm_arrays(tx, freq, time_unit, end_day, statistics, covariates_over_time)
    frame = _frame(
        arrays, tx.ids, time_unit, tx.excluded,
        freq=freq, observation_end=str(np.datetime64(end_day, "D")),
    )
    return frame if customers is None else join_customers(frame, customers,
                                                          id_column=customer, sep=sep)


def check_period_end(observation_end, period: str, setting: str = "observation_end",
                     period_setting: str = "period") -> int:
    """``observation_end`` as a day number if it is the last day of a ``period`` (so that the
    last of a model's discrete opportunities was whole); a DataError naming both settings and
    the nearest period ends otherwise."""
    end_day = as_day(observation_end, setting)
    next_day = np.array([end_day + 1])
    if period_of_day(next_day, period)[0] == period_of_day(next_day - 1, period)[0]:
        current = period_of_day(np.array([end_day]), period)
        last = period_start_day(current + 1, period)[0] - 1
        before = period_start_day(current, period)[0] - 1
        raise DataError(
            f"{given(setting, observation_end)} falls inside a period of "
            f"{given(period_setting, period)}, so the last opportunity was not whole: end the "
            f"observation on the last day of a period ({np.datetime64(int(last), 'D')}, or "
            f"{np.datetime64(int(before), 'D')})")
    return end_day


def opportunity_summary(
    transactions,
    *,
    period: str = "Y",
    observation_end,
    customer: str = "customer_id",
    date: str = "date",
    amount: str | None = None,
    negative_amounts: str = "raise",
    date_format: str | None = None,
    sep: str | None = None,
) -> pd.DataFrame:
    """Summarise a transaction log into BG/BB's frame of discrete opportunities, one per
    ``period`` (Fader, Hardie & Shang 2010): ``frequency`` (x) is the number of periods after
    the first with a transaction, ``recency`` (t_x) the last of them (0 without any), and ``T``
    (n) the periods after the first up to the observation end, all whole numbers.

    Parameters
    ----------
    transactions : pandas or polars DataFrame, or path to a CSV or Parquet file
    period : {"D", "W", "M", "Q", "Y"}
        One opportunity per period (a yearly appeal: ``"Y"``).
    observation_end : date-like
        The last day observed, which must end a period (so that the last opportunity was
        whole).
    customer, date, amount, negative_amounts, date_format, sep
        As :func:`rfm_summary`.

    Returns
    -------
    pandas.DataFrame
        As :func:`rfm_summary`, in opportunities (``attrs["time_unit"]`` is ``period``).

    Examples
    --------
    >>> import clvmodels
    >>> tx = clvmodels.load_cdnow()
    >>> opp = clvmodels.opportunity_summary(tx, period="M", observation_end="1998-06-30")
    >>> opp.loc[1, ["frequency", "recency", "T"]].tolist()
    [2.0, 11.0, 17.0]
    """
    freq, _ = check_freq(period, period)
    check_period_end(observation_end, freq)
    return rfm_summary(transactions, customer=customer, date=date, amount=amount,
                       observation_end=observation_end, freq=freq, time_unit=freq,
                       negative_amounts=negative_amounts, date_format=date_format, sep=sep)


def calibration_holdout(
    transactions,
    *,
    calibration_end,
    observation_end,
    customer: str = "customer_id",
    date: str = "date",
    amount: str | None = None,
    freq: str = "D",
    time_unit: str | None = None,
    negative_amounts: str = "raise",
    date_format: str | None = None,
    sep: str | None = None,
    customers=None,
    statistics=None,
    covariates_over_time=None,
) -> pd.DataFrame:
    """RFM frame of the calibration window plus what each customer did in the holdout window.

    Calibration is every transaction up to ``calibration_end`` (inclusive); holdout is
    (``calibration_end``, ``observation_end``]. Customers whose first purchase falls in the holdout
    are not in the frame; their number is in ``frame.attrs["excluded"]``. Added columns:
    ``frequency_holdout`` (purchase occasions in the holdout), ``monetary_value_holdout`` (their
    mean amount, 0 without any; only with ``amount``) and ``duration_holdout`` (holdout length in
    ``time_unit``).

    Parameters
    ----------
    transactions : pandas or polars DataFrame, or path to a CSV or Parquet file
    calibration_end, observation_end : date-like
        Inclusive last days of the calibration and the holdout (YYYY-MM-DD).
    customer, date, amount, freq, time_unit, negative_amounts, date_format, sep, customers
    statistics, covariates_over_time
        As :func:`rfm_summary` (of the calibration window).

    Returns
    -------
    pandas.DataFrame
        The calibration RFM frame with the three holdout columns.
    """
    freq, time_unit = check_freq(freq, time_unit)
    statistics = check_statistics(statistics)
    cal_day = as_day(calibration_end, "calibration_end")
    end_day = as_day(observation_end, "observation_end")
    if end_day <= cal_day:
        raise DataError(f"{given('observation_end', observation_end)} must be after "
                        f"{given('calibration_end', calibration_end)}")
    tx = clean_transactions(
        transactions, customer=customer, date=date, amount=amount, last_day=end_day,
        negative_amounts=negative_amounts, date_format=date_format, sep=sep,
    )
    in_cal = tx.day <= cal_day
    if not in_cal.any():
        raise DataError(f"no transactions on or before {given('calibration_end', calibration_end)}"
                        f" (the first is on {np.datetime64(int(tx.day.min()), 'D')})")

    cal = Transactions(tx.codes[in_cal], tx.ids, tx.day[in_cal], _take(tx.amount, in_cal))
    arrays = _rfm_arrays(cal, freq, time_unit, cal_day, statistics, covariates_over_time)
    known = np.zeros(len(tx.ids), dtype=bool)
    known[arrays["customer"]] = True

    hold_rows = ~in_cal & known[tx.codes]
    new_customers = int(np.unique(tx.codes[~in_cal & ~known[tx.codes]]).size)
    hold = Transactions(tx.codes[hold_rows], tx.ids, tx.day[hold_rows], _take(tx.amount, hold_rows))
    count = np.zeros(len(tx.ids), dtype=np.int64)
    spend = np.zeros(len(tx.ids), dtype=np.float64)
    if hold_rows.any():
        h_cust, _, h_amount = occasions(hold, freq)
        count += np.bincount(h_cust, minlength=len(tx.ids))
        if h_amount is not None:
            spend += np.bincount(h_cust, weights=h_amount, minlength=len(tx.ids))
    rows = arrays["customer"]
    arrays["frequency_holdout"] = count[rows]
    if amount is not None:
        arrays["monetary_value_holdout"] = np.divide(
            spend[rows], count[rows], out=np.zeros(len(rows)), where=count[rows] > 0
        )
    cal_period, end_period = period_of_day(np.array([cal_day, end_day]), freq)
    duration = elapsed(np.array([cal_period]), np.array([end_period]), freq, time_unit)[0]
    arrays["duration_holdout"] = np.full(len(rows), duration)
    excluded = dict(tx.excluded, first_purchase_in_holdout=new_customers)
    frame = _frame(
        arrays, tx.ids, time_unit, excluded, freq=freq,
        calibration_end=str(np.datetime64(cal_day, "D")),
        observation_end=str(np.datetime64(end_day, "D")),
    )
    return frame if customers is None else join_customers(frame, customers,
                                                          id_column=customer, sep=sep)


def _take(values: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[mask]


# ---------------------------------------------------------------------------------------------
# checks on an RFM frame, and compression to unique rows


def check_rfm(rfm, columns=RFM_COLUMNS) -> pd.DataFrame:
    """Check an RFM frame; raise DataError naming the rule and the first offender."""
    if not isinstance(rfm, pd.DataFrame):
        raise DataError(
            f"expected an RFM DataFrame (see clvmodels.rfm_summary), not {type(rfm).__name__}"
        )
    require_columns(rfm.columns, list(columns), "the RFM frame")
    if len(rfm) == 0:
        raise DataError("the RFM frame has no customers")
    if rfm.index.hasnans:
        raise DataError("the RFM frame's index (the customer ids) has missing values: every "
                        "row must be one identified customer")
    if not rfm.index.is_unique:
        repeated = rfm.index[rfm.index.duplicated()]
        raise DataError(
            f"the RFM frame has {len(repeated):,} repeated customer id(s) (first: "
            f"{show(repeated[0])}): one row per customer is the rule; build it with "
            "clvmodels.rfm_summary, or drop the duplicates (e.g. "
            "rfm[~rfm.index.duplicated()]) after checking which row is right"
        )

    def offenders(mask, rule):
        if mask.any():
            first = rfm.index[np.flatnonzero(mask)[0]]
            raise DataError(f"{rule}; {int(mask.sum())} customer(s) violate this (first: "
                            f"{show(first)})")

    values = {}
    for col in columns:
        v = pd.to_numeric(rfm[col], errors="coerce").to_numpy(dtype=np.float64)
        offenders(~np.isfinite(v), f"{col} must be a finite number")
        offenders(v < 0, f"{col} must be >= 0")
        values[col] = v
    if "frequency" in values:
        f = values["frequency"]
        offenders(f != np.round(f), "frequency must be a whole number of repeat purchases")
    if "recency" in values and "T" in values:
        offenders(values["recency"] > values["T"] * (1 + 1e-12), "recency must be <= T")
        if "frequency" in values:
            offenders((values["frequency"] == 0) & (values["recency"] > 0),
                      "recency must be 0 where frequency is 0")
    return rfm


def rfm_time_unit(rfm: pd.DataFrame) -> str | None:
    """The time unit a frame records, if any."""
    return rfm.attrs.get("time_unit")


def unique_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compress rows to their unique values, listed in sorted (lexicographic) order, so results do
    not depend on the order of the customers.

    Returns ``(first, inverse, counts)``: ``first`` indexes one row of each unique combination,
    ``inverse`` maps every row to its unique row, ``counts`` is how many rows each stands for.
    Each column is factorised with sorted codes and the codes are combined in mixed radix, so the
    order of the combined key is the lexicographic order of the rows.
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    size = 1
    for col in columns:
        codes, uniques = pd.factorize(col, sort=True, use_na_sentinel=False)  # NaN: its own
        if size * len(uniques) >= 2**62:  # re-number the key so far before it could overflow
            key, kept = pd.factorize(key, sort=True)
            size = len(kept)
        key = key * len(uniques) + codes
        size *= len(uniques)
    inverse, kept = pd.factorize(key, sort=True)
    n_unique = len(kept)
    first = np.empty(n_unique, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
    return first, inverse.astype(np.int64), np.bincount(inverse, minlength=n_unique)
