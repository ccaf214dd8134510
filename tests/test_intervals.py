"""Intervals from maximum-likelihood models (the asymptotic normal of the log-parameters): the
point stays the plug-in prediction, the interval is reproducible, and it covers the truth as
often as it says on data simulated from known parameters."""

import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels._math import bgnbd


def test_the_point_is_the_estimate_and_the_interval_brackets_it(cdnow_calibration, fitted):
    bg, gg = fitted
    rfm = cdnow_calibration
    band = bg.expected_purchases(rfm, 52.0, interval=0.94)
    pd.testing.assert_series_equal(band["mean"], bg.expected_purchases(rfm, 52.0),
                                   check_names=False)
    assert (band["lower"] <= band["mean"]).all() and (band["mean"] <= band["upper"]).all()
    assert (band["upper"] > band["lower"]).all()
    again = bg.expected_purchases(rfm, 52.0, interval=0.94)
    pd.testing.assert_frame_equal(band, again)  # seeded: the same call, the same interval
    spend = gg.expected_spend(rfm, interval=0.8)
    pd.testing.assert_series_equal(spend["mean"], gg.expected_spend(rfm), check_names=False)
    value = clvmodels.customer_value(bg, gg, rfm, interval=0.94)
    pd.testing.assert_series_equal(value["mean"], clvmodels.customer_value(bg, gg, rfm),
                                   check_names=False)
    assert (value["lower"] < value["upper"]).all()
    narrow = bg.expected_purchases(rfm, 52.0, interval=0.5)
    assert ((narrow["upper"] - narrow["lower"]) < (band["upper"] - band["lower"])).all()


def simulate_bgnbd_rfm(n, r, alpha, a, b, rng):
    """Exact BG/NBD histories (continuous time, no merging of same-day purchases)."""
    T = rng.uniform(20.0, 60.0, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(arrivals, rng.geometric(p))
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    frame = pd.DataFrame({"frequency": x.astype(float), "recency": t_x, "T": T})
    frame.attrs["time_unit"] = "W"
    return frame


@pytest.mark.slow
def test_the_94_percent_interval_covers_the_truth_94_percent_of_the_time():
    truth = dict(r=0.5, alpha=5.0, a=0.8, b=2.5)
    history = pd.DataFrame({"frequency": [2.0, 0.0, 8.0], "recency": [20.0, 0.0, 35.0],
                            "T": [40.0, 40.0, 40.0]})
    history.attrs["time_unit"] = "W"
    exact = bgnbd.expected_purchases(*truth.values(), history["frequency"].to_numpy(),
                                     history["recency"].to_numpy(), history["T"].to_numpy(), 26.0)
    rng = np.random.default_rng(11)
    covered, runs = np.zeros(3), 300
    for _ in range(runs):
        rfm = simulate_bgnbd_rfm(3000, **truth, rng=rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = clvmodels.BetaGeo().fit(rfm)
        band = model.expected_purchases(history, 26.0, interval=0.94, max_draws=400)
        covered += (band["lower"].to_numpy() <= exact) & (exact <= band["upper"].to_numpy())
    share = covered / runs
    print("coverage of the 94 % interval:", share)
    # 94 % with 300 runs: a standard error of 1.4 points; three of them either side
    assert np.all(np.abs(share - 0.94) < 3 * np.sqrt(0.94 * 0.06 / runs)), share


def test_totals_of_the_base_and_of_segments(cdnow_calibration, fitted):
    bg, gg = fitted
    rfm = cdnow_calibration
    whole = clvmodels.total(bg.expected_purchases, rfm, 39.0)
    assert whole.loc["all", "mean"] == pytest.approx(bg.expected_purchases(rfm, 39.0).sum(),
                                                     rel=1e-12)
    assert whole.loc["all", "lower"] < whole.loc["all", "mean"] < whole.loc["all", "upper"]
    assert whole.loc["all", "customers"] == len(rfm)
    # per segment: the segment totals add up to the base, draw by draw
    segment = pd.Series(np.where(rfm["frequency"] > 0, "repeat", "one-time"), index=rfm.index,
                        name="buyers")
    parts = clvmodels.total(bg.expected_purchases, rfm, 39.0, by=segment)
    assert list(parts.index) == ["one-time", "repeat"] and parts.index.name == "buyers"
    assert parts["mean"].sum() == pytest.approx(whole.loc["all", "mean"], rel=1e-12)
    assert parts["customers"].sum() == len(rfm)
    # customer equity: the sum of customer_value, with an interval from both models' draws
    equity = clvmodels.total(
        lambda part, **k: clvmodels.customer_value(bg, gg, part, horizon=12, **k), rfm)
    assert equity.loc["all", "mean"] == pytest.approx(
        clvmodels.customer_value(bg, gg, rfm, horizon=12).sum(), rel=1e-10)
    assert equity.loc["all", "lower"] < equity.loc["all", "mean"] < equity.loc["all", "upper"]


@pytest.mark.slow
def test_a_posterior_total_is_the_mean_of_draw_sums(cdnow_calibration):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bayes = clvmodels.BayesianBetaGeo(draws=200, tune=200, chains=2, until_converged=False,
                                          random_state=1).fit(cdnow_calibration)
    table = clvmodels.total(bayes.probability_alive, cdnow_calibration, interval=0.9)
    draws = bayes.probability_alive(cdnow_calibration, return_draws=True).sum(axis=0)
    assert table.loc["all", "mean"] == pytest.approx(draws.mean(), rel=1e-10)
    assert table.loc["all", "lower"] == pytest.approx(np.quantile(draws, 0.05), rel=1e-10)


@pytest.mark.slow
def test_the_posterior_predictive_spend_of_a_new_customer(cdnow_calibration, fitted):
    _, gg = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bayes = clvmodels.BayesianGammaGamma(draws=200, tune=200, chains=2, until_converged=False,
                                             random_state=1).fit(cdnow_calibration)
    mixed = bayes.new_customer_spend_quantiles([0.1, 0.5, 0.9], max_draws=200)
    np.testing.assert_allclose(mixed, gg.new_customer_spend_quantiles([0.1, 0.5, 0.9]),
                               rtol=0.05)
    assert mixed.is_monotonic_increasing


def test_an_interval_without_a_covariance_is_refused(cdnow_calibration, fitted):
    bg, _ = fitted
    edited = clvmodels.BetaGeo()
    edited.__dict__.update(bg.__dict__)
    edited.covariance_ = bg.covariance_ * np.nan
    with pytest.raises(clvmodels.DataError, match="no finite covariance.*refit"):
        edited.probability_alive(cdnow_calibration, interval=0.9)
