"""lifetimes' ``lifetimes.utils`` over the native data layer: the same names, arguments and
columns. The frames come from :func:`clvmodels.rfm_summary` and
:func:`clvmodels.calibration_holdout` (purchase occasions per ``freq`` period, exactly as
lifetimes counts them); what differs is listed in docs/migrating-from-lifetimes.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .hints import pointing
from ...data import calibration_holdout, rfm_summary
from ... import exceptions
from ...exceptions import DataError

__all__ = ["calibration_and_holdout_data", "calculate_alive_path",
           "expected_cumulative_transactions", "summary_data_from_transaction_data"]

# the periods both libraries count alike (lifetimes' "M" divides by numpy's month, which current
# pandas refuses; the native rfm_summary(freq="M", time_unit="M") counts calendar months)
FREQS = ("D", "W")
ConvergenceError = exceptions.ConvergenceError  # lifetimes.utils has it


def check_options(freq: str, include_first_transaction: bool) -> None:
    if freq not in FREQS:
        raise DataError(f"freq={freq!r}: the compatibility layer counts periods of {FREQS} "
                        "(native: clvmodels.rfm_summary(freq=..., time_unit=...))")
    if include_first_transaction:
        raise DataError("include_first_transaction=True is not offered: the models read "
                        "repeat purchases (lifetimes says the same); count the first yourself "
                        "with frequency + 1")


def lifetimes_frame(frame: pd.DataFrame, customer_id_col: str, freq_multiplier: float,
                    time_columns) -> pd.DataFrame:
    out = frame.astype(float)
    for column in time_columns:
        out[column] = out[column] / freq_multiplier
    out.index.name = customer_id_col
    out.attrs = {}
    return out


def summary_data_from_transaction_data(transactions, customer_id_col, datetime_col,
                                       monetary_value_col=None, datetime_format=None,
                                       observation_period_end=None, freq="D", freq_multiplier=1,
                                       include_first_transaction=False):
    """lifetimes' RFM frame (native: ``clvmodels.rfm_summary(transactions, customer=...,
    date=..., amount=..., observation_end=..., freq=freq, time_unit=freq)``).

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T`` (and ``monetary_value``), floats, indexed by
        ``customer_id_col``.
    """
    check_options(freq, include_first_transaction)
    end = observation_period_end
    if end is None:
        end = pd.to_datetime(transactions[datetime_col], format=datetime_format).max()
    frame = rfm_summary(transactions, customer=customer_id_col, date=datetime_col,
                        amount=monetary_value_col, observation_end=end, freq=freq,
                        time_unit=freq, date_format=datetime_format)
    return lifetimes_frame(frame, customer_id_col, freq_multiplier, ("recency", "T"))


def calibration_and_holdout_data(transactions, customer_id_col, datetime_col,
                                 calibration_period_end, observation_period_end=None, freq="D",
                                 freq_multiplier=1, datetime_format=None,
                                 monetary_value_col=None, include_first_transaction=False):
    """lifetimes' calibration and holdout frame (native: ``clvmodels.calibration_holdout``):
    ``frequency_cal``, ``recency_cal``, ``T_cal`` (``monetary_value_cal``),
    ``frequency_holdout`` (``monetary_value_holdout``), ``duration_holdout``.

    ``monetary_value_holdout`` is the mean spend per purchase occasion, as the calibration's
    (lifetimes averages the raw transactions of the holdout instead: the two differ where a
    customer bought twice in one period).
    """
    check_options(freq, include_first_transaction)
    end = observation_period_end
    if end is None:
        end = pd.to_datetime(transactions[datetime_col], format=datetime_format).max()
    frame = calibration_holdout(transactions, customer=customer_id_col, date=datetime_col,
                                amount=monetary_value_col, calibration_end=calibration_period_end,
                                observation_end=end, freq=freq, time_unit=freq,
                                date_format=datetime_format)
    names = {"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal",
             "monetary_value": "monetary_value_cal"}
    frame = frame.rename(columns=names)
    order = [c for c in ("frequency_cal", "recency_cal", "T_cal", "monetary_value_cal",
                         "frequency_holdout", "monetary_value_holdout", "duration_holdout")
             if c in frame.columns]
    return lifetimes_frame(frame[order], customer_id_col, freq_multiplier,
                           ("recency_cal", "T_cal", "duration_holdout"))


def calculate_alive_path(model, transactions, datetime_col, t, freq="D"):
    """P(alive) of one customer on each of ``t + 1`` periods from the first purchase, from the
    history known then (lifetimes' convention: period 0 is the first purchase's; ``model`` a
    fitted purchase fitter of this layer).

    Returns
    -------
    pandas.Series
    """
    dates = pd.to_datetime(transactions[datetime_col])
    periods = dates.dt.to_period(freq)
    offset = np.unique((periods - periods.min()).map(lambda d: d.n).to_numpy())
    age = np.arange(max(int(t) + 1, int(offset.max()) + 1))
    done = np.searchsorted(offset, age, side="right")  # purchase periods up to each period
    frequency = done - 1.0
    recency = offset[done - 1].astype(float)
    return pd.Series(np.asarray(model.conditional_probability_alive(frequency, recency,
                                                                    age.astype(float))))


def expected_cumulative_transactions(model, transactions, datetime_col, customer_id_col, t,
                                     datetime_format=None, freq="D", freq_multiplier=1,
                                     set_index_date=False):
    """Actual and expected cumulative repeat transactions, period by period, in lifetimes'
    convention: in period ``i`` a customer acquired in an earlier period ``s`` is expected to
    have made ``E[X(i - s)]`` repeat purchases (the age counted to the period's start), from
    the fitter's ``expected_number_of_purchases_up_to_time``. The native tracking table
    (:func:`clvmodels.plotting.tracking_table`) counts ages to the end of each day instead.

    Returns
    -------
    pandas.DataFrame
        ``actual`` and ``predicted``.
    """
    dates = pd.to_datetime(transactions[datetime_col], format=datetime_format)
    periods = dates.dt.to_period(freq)
    start = periods.min()
    end = start + t
    keep = (dates.dt.to_period(freq).dt.to_timestamp() <= end.to_timestamp())
    occasions = pd.DataFrame({"customer": transactions[customer_id_col].to_numpy()[keep],
                              "period": (periods[keep] - start).map(lambda d: d.n).to_numpy()})
    occasions = occasions.drop_duplicates().sort_values(["customer", "period"])
    first = occasions.groupby("customer")["period"].transform("min")
    repeat = occasions["period"][occasions["period"] > first].to_numpy()
    firsts = occasions.groupby("customer")["period"].min().value_counts().sort_index()
    actual_per_period = np.bincount(repeat, minlength=t + 1)[: t + 1]
    actual, predicted = [], []
    for i in range(1, t + 1):
        if i % freq_multiplier == 0:
            earlier = firsts[firsts.index < i]
            ages = (i - earlier.index.to_numpy()).astype(float) / freq_multiplier
            expected = np.asarray(model.expected_number_of_purchases_up_to_time(ages))
            predicted.append(float(np.sum(expected * earlier.to_numpy())))
    for j in range(1, t // freq_multiplier + 1):
        actual.append(int(actual_per_period[: j * freq_multiplier].sum()))
    if set_index_date:
        index = pd.period_range(start, periods=t + 1, freq=freq)[
            freq_multiplier - 1: -1: freq_multiplier]
    else:
        index = range(0, t // freq_multiplier)
    return pd.DataFrame({"actual": actual, "predicted": predicted}, index=index)


# each public function names its native equivalent when hints are on
for _name in __all__:
    globals()[_name] = pointing(globals()[_name])
