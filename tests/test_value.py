import numpy as np
import pandas as pd
import pytest

import clvmodels

from .test_models import lifetimes_pair


def test_clv_matches_lifetimes_but_for_the_month_length(fitted, cdnow_calibration):
    """lifetimes counts a month as 4.345 weeks, we as 365.25 / 12 / 7 = 4.348: with its month
    length our formula gives its numbers to rounding, and with ours they differ by what 0.07 %
    more time in each month makes (0.065 % at most on CDNOW)."""
    bg, gg = fitted
    f = cdnow_calibration
    ours = clvmodels.customer_value(bg, gg, f, horizon=12, discount_rate=0.01)
    lbg, lgg = lifetimes_pair(bg, gg)
    theirs = lgg.customer_lifetime_value(lbg, f["frequency"], f["recency"], f["T"],
                                         f["monetary_value"], time=12, discount_rate=0.01, freq="W")
    spend = gg.expected_spend(f)
    at = lambda weeks: bg.expected_purchases(f, weeks) if weeks else 0.0
    lifetimes_month = sum(spend * (at(4.345 * k) - at(4.345 * (k - 1))) / 1.01 ** k
                          for k in range(1, 13))
    np.testing.assert_allclose(lifetimes_month, theirs, rtol=1e-10)
    gap = ours / theirs - 1
    assert 0 < gap.min() and gap.max() < 4.348214 / 4.345 - 1  # more time, never more than that
    assert ours.name == "clv" and ours.index.equals(f.index)


def test_clv_without_discount_is_spend_times_purchases(fitted, cdnow_calibration):
    bg, gg = fitted
    f = cdnow_calibration
    clv = clvmodels.customer_value(bg, gg, f, horizon=6, discount_rate=0.0, margin=0.3)
    weeks = 6 * 365.25 / 12 / 7
    expected = 0.3 * gg.expected_spend(f) * bg.expected_purchases(f, weeks)
    np.testing.assert_allclose(clv, expected, rtol=1e-12)
    quarterly = clvmodels.customer_value(bg, gg, f, horizon=2, period="Q", discount_rate=0.0,
                                         margin=0.3)
    np.testing.assert_allclose(quarterly, expected, rtol=1e-12)


def test_continuous_discounting_is_the_limit_of_fine_periods(fitted, cdnow_calibration):
    bg, gg = fitted
    f = cdnow_calibration.iloc[:300]
    continuous = clvmodels.customer_value(bg, gg, f, horizon=12, discount_rate=0.01,
                                          discounting="continuous")
    # 365.25 daily periods at the equivalent daily rate: half a day of discounting from it
    daily_rate = 1.01 ** (12 / 365.25) - 1
    daily = clvmodels.customer_value(bg, gg, f, horizon=365.25, period="D",
                                     discount_rate=daily_rate)
    np.testing.assert_allclose(continuous, daily, rtol=2e-4)
    assert (continuous > daily).all()
    monthly = clvmodels.customer_value(bg, gg, f, horizon=12, discount_rate=0.01)
    assert (continuous > monthly).all()  # purchases are discounted earlier than month-end


def test_fractional_horizon_keeps_its_last_partial_period(fitted, cdnow_calibration):
    bg, gg = fitted
    f = cdnow_calibration
    value = {h: clvmodels.customer_value(bg, gg, f, horizon=h, discount_rate=0.0) for h in (12, 12.5, 13)}
    assert (value[12] < value[12.5]).all() and (value[12.5] < value[13]).all()


def test_clv_argument_checks(fitted, cdnow_calibration):
    bg, gg = fitted
    with pytest.raises(ValueError, match="discounting"):
        clvmodels.customer_value(bg, gg, cdnow_calibration, discounting="yearly")
    with pytest.raises(ValueError, match="discount_rate"):
        clvmodels.customer_value(bg, gg, cdnow_calibration, discount_rate=-2)


@pytest.mark.parametrize("discounting", ["periodic", "continuous"])
def test_a_future_window_is_the_difference_of_two_windows_from_now(fitted, cdnow_calibration,
                                                                    discounting):
    bg, gg = fitted
    rfm = cdnow_calibration.iloc[:200]

    def value(**k):
        return clvmodels.customer_value(bg, gg, rfm, discount_rate=0.01,
                                        discounting=discounting, **k)

    later = value(horizon=24, start=12)
    np.testing.assert_allclose(later, value(horizon=36) - value(horizon=12), rtol=1e-9)
    pd.testing.assert_series_equal(value(horizon=12, start=0), value(horizon=12))
    # without discounting: spend times the expected purchases in the window
    flat = clvmodels.customer_value(bg, gg, rfm, horizon=6, start=3, discount_rate=0.0)
    weeks = 365.25 / 12 / 7
    expected = (bg.expected_purchases(rfm, 9 * weeks) - bg.expected_purchases(rfm, 3 * weeks))
    np.testing.assert_allclose(flat, expected * gg.expected_spend(rfm), rtol=1e-9)
    with pytest.raises(clvmodels.DataError, match="start"):
        value(horizon=12, start=-1)


def test_value_once_per_distinct_customer_on_threads_is_the_per_customer_value(
        fitted, cdnow_calibration, monkeypatch):
    """The speed-ups of customer_value change no number: customers with the same inputs are
    computed once and the chunks run on threads, yet each customer's value and interval equal
    the value computed for her alone, on one thread (every customer her own frame)."""
    bg, gg = fitted
    rfm = cdnow_calibration.iloc[::7]  # 337 customers, repeated histories among them
    assert rfm[["frequency", "recency", "T", "monetary_value"]].duplicated().sum() > 100
    options = dict(horizon=12, discount_rate=0.01, interval=0.9)
    from clvmodels import draws
    from clvmodels.models import purchase

    monkeypatch.setenv("CLVMODELS_THREADS", "3")  # many small chunks, on three threads
    monkeypatch.setattr(draws, "CHUNK_ELEMENTS", 5000)
    monkeypatch.setattr(purchase, "CHUNK_ELEMENTS", 5000)
    fast = clvmodels.customer_value(bg, gg, rfm, **options)
    monkeypatch.undo()
    monkeypatch.setenv("CLVMODELS_THREADS", "1")
    one_by_one = pd.concat([clvmodels.customer_value(bg, gg, rfm.iloc[[i]], **options)
                            for i in range(len(rfm))])
    pd.testing.assert_frame_equal(fast, one_by_one, rtol=1e-13, atol=0)
    monkeypatch.setenv("CLVMODELS_THREADS", "none")
    with pytest.raises(clvmodels.DataError, match="CLVMODELS_THREADS"):
        clvmodels.customer_value(bg, gg, rfm, **options)
