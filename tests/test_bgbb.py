"""BG/BB: the published donations estimate, lifetimes parity, the predictions against their
defining sums, frames of opportunities from a log, parameter recovery, and the interfaces."""

import warnings

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoBetaBinomFitter
from lifetimes.datasets import load_donations
from scipy import special

import clvmodels
from clvmodels._math import bgbb
from tests.reference import BGBB_DONATIONS, BGBB_DONATIONS_DONORS, BGBB_DONATIONS_LL

PUBLISHED = tuple(BGBB_DONATIONS.values())


@pytest.fixture(scope="module")
def donations():
    return load_donations().rename(columns={"periods": "T"})


@pytest.fixture(scope="module")
def model(donations):
    return clvmodels.BetaGeoBetaBinom().fit(donations, weights=donations["weights"])


def arrays(frame):
    return [frame[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")]


def test_the_published_donations_estimate(model, donations):
    assert donations["weights"].sum() == BGBB_DONATIONS_DONORS
    np.testing.assert_allclose(model.params_, PUBLISHED, atol=5e-4)
    assert round(model.log_likelihood_, 1) == BGBB_DONATIONS_LL
    assert model.n_customers_ == BGBB_DONATIONS_DONORS


def test_lifetimes_estimate_and_predictions(model, donations):
    x, t_x, n = arrays(donations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = BetaGeoBetaBinomFitter().fit(x, t_x, n, donations["weights"].to_numpy())
    np.testing.assert_allclose(model.params_, theirs.params_[list(model.param_names)],
                               rtol=1e-4)
    same = theirs.params_[list(model.param_names)].to_numpy()
    for m in (0, 1, 3):
        np.testing.assert_allclose(bgbb.probability_alive(*same, x, t_x, n, m),
                                   theirs.conditional_probability_alive(m, x, t_x, n),
                                   rtol=1e-10)
    for count in (1, 5, 10):
        np.testing.assert_allclose(
            bgbb.expected_purchases(*same, x, t_x, n, count),
            theirs.conditional_expected_number_of_purchases_up_to_time(count, x, t_x, n),
            rtol=1e-10)
    table = theirs.expected_number_of_transactions_in_first_n_periods(6)
    ours = bgbb.probability_of_purchases(*same, np.arange(7), 6) * BGBB_DONATIONS_DONORS
    np.testing.assert_allclose(ours, table["model"].to_numpy(), rtol=1e-10)


def test_predictions_agree_with_their_defining_sums():
    x, t_x, n = np.array([0.0, 3, 6]), np.array([0.0, 4, 6]), np.array([6.0, 6, 6])
    alpha, beta, gamma, delta = PUBLISHED
    alive = bgbb.probability_alive(*PUBLISHED, x, t_x, n)
    k = np.arange(1, 4000)[:, None]
    per = (alive * (alpha + x) / (alpha + beta + n)
           * np.exp(special.betaln(gamma, delta + n + k) - special.betaln(gamma, delta + n)))
    np.testing.assert_allclose(bgbb.expected_purchases(*PUBLISHED, x, t_x, n, 5),
                               per[:5].sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        bgbb.discounted_expected_residual_transactions(*PUBLISHED, x, t_x, n, 0.1),
        (per / 1.1 ** k).sum(axis=0), rtol=1e-10)
    none = bgbb.conditional_probability_of_purchases(*PUBLISHED, x, t_x, n, 0, 5)
    np.testing.assert_allclose(bgbb.probability_any_purchase(*PUBLISHED, x, t_x, n, 5),
                               1 - none, rtol=1e-12)
    counts = np.arange(6)[:, None]
    dist = bgbb.conditional_probability_of_purchases(*PUBLISHED, x, t_x, n, counts, 5)
    np.testing.assert_allclose(dist.sum(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose((counts * dist).sum(axis=0),
                               bgbb.expected_purchases(*PUBLISHED, x, t_x, n, 5), rtol=1e-12)


def test_gamma_equal_to_one_is_a_limit_not_a_division_by_zero():
    near = [bgbb.expected_purchases_new(1.2, 0.75, g, 2.78, 6) for g in
            (1 - 1e-3, 1 - 1e-6, 1.0, 1 + 1e-6, 1 + 1e-3)]
    assert np.all(np.isfinite(near))
    assert near[2] == pytest.approx((near[1] + near[3]) / 2, rel=1e-10)  # smooth through 1
    for g, value in zip((1 - 1e-3, 1 - 1e-6, 1.0, 1 + 1e-6, 1 + 1e-3), near):
        k = np.arange(1, 7)
        exact = 1.2 / 1.95 * np.exp(special.betaln(g, 2.78 + k) - special.betaln(g, 2.78)).sum()
        assert value == pytest.approx(exact, rel=1e-10)


def test_the_model_methods_take_whole_opportunities(model, donations):
    frame = donations[["frequency", "recency", "T"]]
    expected = model.expected_purchases(frame, 5)
    assert (expected > 0).all() and expected.index.equals(frame.index)
    assert (model.probability_alive_at(frame, 1) <= model.probability_alive(frame)).all()
    dert = model.discounted_expected_residual_transactions(frame, 0.1)
    assert (dert > 0).all() and np.isfinite(dert).all()
    with pytest.raises(clvmodels.DataError, match="whole number"):
        model.expected_purchases(frame, 2.5)


def test_a_continuous_frame_is_refused_with_the_fix(cdnow_calibration):
    with pytest.raises(clvmodels.DataError, match="opportunity_summary"):
        clvmodels.BetaGeoBetaBinom().fit(cdnow_calibration)


def test_opportunity_frames_from_a_log():
    log = pd.DataFrame({"customer_id": [1, 1, 1, 2, 3, 3],
                        "date": pd.to_datetime(["1995-03-01", "1995-05-01", "1997-02-01",
                                                "1995-07-01", "1995-01-09", "2000-12-31"])})
    frame = clvmodels.opportunity_summary(log, period="Y", observation_end="2000-12-31")
    assert frame[["frequency", "recency", "T"]].to_numpy().tolist() == [
        [1, 2, 5], [0, 0, 5], [1, 5, 5]]
    with pytest.raises(clvmodels.DataError, match="2000-12-31"):
        clvmodels.opportunity_summary(log, period="Y", observation_end="2000-06-30")


def test_parameters_are_recovered_from_simulated_data():
    truth = {"alpha": 0.9, "beta": 1.5, "gamma": 0.5, "delta": 3.0}
    tx = clvmodels.simulate_opportunities(40_000, params=truth, opportunities=8, seed=5)
    frame = clvmodels.opportunity_summary(tx, period="Y", observation_end=tx.attrs[
        "observation_end"])
    assert frame["T"].eq(8).all()
    fitted = clvmodels.BetaGeoBetaBinom().fit(frame)
    z = (fitted.params_ - pd.Series(truth)) / fitted.standard_errors_
    assert (z.abs() < 4).all(), z


def test_the_command_line_fits_bgbb_on_yearly_opportunities(tmp_path):
    from clvmodels.cli import main

    tx = clvmodels.simulate_opportunities(3000, seed=2)
    log = tmp_path / "log.csv"
    tx.to_csv(log, index=False)
    assert main(["fit", "--transactions", str(log), "--observation-end",
                 tx.attrs["observation_end"], "--model", "bgbb_gg", "--freq", "Y",
                 "--time-unit", "Y", "--out", str(tmp_path / "m.json"), "--quiet"]) == 0
    assert type(clvmodels.load(tmp_path / "m.json").purchases) is clvmodels.BetaGeoBetaBinom


@pytest.mark.slow
def test_the_bayesian_twin(model, donations):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bayes = clvmodels.BayesianBetaGeoBetaBinom(draws=300, tune=300, chains=2,
                                                   until_converged=False,
                                                   random_state=1).fit(
            donations, weights=donations["weights"])
    se = model.standard_errors_
    assert (np.abs(bayes.params_ - model.params_) < se).all(), (bayes.params_, model.params_, se)
    assert (bayes.summary()["r_hat"] <= 1.01).all()
    band = bayes.expected_purchases(donations, 5, interval=0.9)
    assert (band["lower"] <= band["mean"]).all() and (band["mean"] <= band["upper"]).all()


def test_every_prediction_refuses_a_continuous_frame(model, cdnow_calibration):
    frame = cdnow_calibration.copy()
    frame.attrs = {}
    for ask in (lambda f: model.expected_purchases(f, 5), lambda f: model.probability_alive(f),
                lambda f: model.probability_any_purchase(f, 2),
                lambda f: model.discounted_expected_residual_transactions(f, 0.1)):
        with pytest.raises(clvmodels.DataError, match="opportunity_summary"):
            ask(frame)
