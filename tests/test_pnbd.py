"""Pareto/NBD: the published CDNOW estimate, lifetimes parity at the same parameters, the
hypergeometric terms against arbitrary precision where scipy and lifetimes fail, the
predictions against their defining integrals, parameter recovery, and every interface."""

import warnings

import mpmath
import numpy as np
import pandas as pd
import pytest
from lifetimes import ParetoNBDFitter
from lifetimes.datasets import load_donations

import clvmodels
from clvmodels._math import pnbd
from clvmodels.cli import main
from tests.reference import PNBD_CDNOW, PNBD_CDNOW_LL

PUBLISHED = tuple(PNBD_CDNOW.values())


@pytest.fixture(scope="module")
def model(cdnow_calibration):
    return clvmodels.ParetoNBD().fit(cdnow_calibration)


def arrays(rfm):
    return [rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")]


def test_the_published_cdnow_estimate(model, cdnow_calibration):
    # at the published parameters the data give the published log-likelihood
    assert pnbd.loglik(*PUBLISHED, *arrays(cdnow_calibration)).sum() == pytest.approx(
        PNBD_CDNOW_LL, abs=0.005)
    # our estimate is the published one to its last digit's tolerance, with a higher likelihood
    np.testing.assert_allclose(model.params_, PUBLISHED, rtol=3e-4)
    assert round(model.log_likelihood_, 2) == PNBD_CDNOW_LL
    assert model.log_likelihood_ >= pnbd.loglik(*PUBLISHED, *arrays(cdnow_calibration)).sum()
    np.testing.assert_allclose(model.loglik_grad(model.params_.to_numpy(),
                                                 model.prepare(cdnow_calibration))[1], 0,
                               atol=1e-4)


def test_lifetimes_estimate_and_predictions_at_the_same_parameters(model, cdnow_calibration):
    x, t_x, T = arrays(cdnow_calibration)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # pinned start: lifetimes draws it from numpy's global generator otherwise
        theirs = ParetoNBDFitter().fit(x, t_x, T, initial_params=np.ones(4))
    np.testing.assert_allclose(model.params_, theirs.params_[["r", "alpha", "s", "beta"]],
                               rtol=1e-3)  # lifetimes' Nelder-Mead stops a little earlier
    same = clvmodels.ParetoNBD()
    same.__dict__.update(model.__dict__)
    same.params_ = pd.Series(theirs.params_[["r", "alpha", "s", "beta"]].to_numpy(),
                             index=model.params_.index)
    rfm = cdnow_calibration
    np.testing.assert_allclose(same.probability_alive(rfm),
                               theirs.conditional_probability_alive(x, t_x, T), rtol=1e-10)
    np.testing.assert_allclose(
        same.expected_purchases(rfm, 39.0),
        theirs.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T), rtol=1e-10)
    np.testing.assert_allclose(same.expected_purchases_new_customer([1.0, 39.0, 78.0]),
                               theirs.expected_number_of_purchases_up_to_time(
                                   np.array([1.0, 39.0, 78.0])), rtol=1e-10)
    rows = rfm.iloc[:40]
    for n in (0, 1, 3):
        theirs_n = [theirs.conditional_probability_of_n_purchases_up_to_time(n, 20.0, *v)
                    for v in zip(*arrays(rows))]
        np.testing.assert_allclose(same.conditional_probability_of_purchases(rows, n, 20.0),
                                   theirs_n, rtol=1e-9)


def mp_log_hyp2f1(p, q, z):
    return float(mpmath.log(mpmath.hyp2f1(1, p, p + q, z, maxprec=20000)))


@pytest.mark.parametrize("p, q, z", [
    (5628.078, 1.328, 0.9994325093221175),  # scipy's hyp2f1 returns NaN at all of these
    (7779.582, 7.169, 0.9999999999989214),
    (217.377, 0.2297, 0.9999999999582018),
    (19105.78, 0.1686, 0.9999999998872134),
    (0.0247, 25.655, 0.9999999999999595),
    (12371.51, 0.02964, 0.999974550014808),
    (3.5, 1.6, 0.51), (3.5, 1.6, 0.49), (1e4, 1.6, 0.3), (0.05, 1.05, 0.999),
])
def test_the_hypergeometric_factor_matches_arbitrary_precision(p, q, z):
    assert pnbd.log_hyp2f1_unit(p, q, z) == pytest.approx(mp_log_hyp2f1(p, q, z), rel=1e-9,
                                                          abs=1e-9)


def mp_loglik(r, alpha, s, beta, x, t_x, T):
    """FH 2005 note, eq. 19, with the integral by mpmath's quadrature at 30 digits."""
    mpmath.mp.dps = 30
    r, alpha, s, beta, x, t_x, T = (mpmath.mpf(v) for v in (r, alpha, s, beta, x, t_x, T))
    breaks = [t_x] + [t_x + (T - t_x) * mpmath.mpf(2) ** -k for k in range(40, -1, -1)]
    integral = mpmath.quad(lambda u: (alpha + u) ** -(r + x) * (beta + u) ** -(s + 1), breaks)
    value = (mpmath.loggamma(r + x) - mpmath.loggamma(r) + r * mpmath.log(alpha)
             + s * mpmath.log(beta)
             + mpmath.log((alpha + T) ** -(r + x) * (beta + T) ** -s + s * integral))
    mpmath.mp.dps = 15
    return float(value)


@pytest.mark.parametrize("params, history", [
    ((0.5534, 10.5776, 0.6061, 11.6689), (1e4, 9e3, 1e4)),       # frequency and T 1e4
    ((0.5534, 0.01, 0.6061, 1e4), (1e4, 9e3, 1e4)),              # alpha << beta
    ((0.5534, 1e4, 0.6061, 0.01), (1e4, 9.99e3, 1e4)),           # alpha >> beta
    ((2.0, 0.5, 0.3, 500.0), (5e3, 1e4 - 1e-3, 1e4)),            # last purchase at the end
    ((0.05, 3.0, 0.05, 0.001), (0, 0, 1e4)),                      # tiny shapes, no purchases
    ((0.5534, 10.5776, 0.6061, 11.6689), (3, 30.43, 38.86)),
])
def test_the_likelihood_is_finite_and_exact_at_extremes(params, history):
    ours = pnbd.loglik(*params, *(np.array([v]) for v in history))[0]
    assert np.isfinite(ours)
    assert ours == pytest.approx(mp_loglik(*params, *history), rel=1e-9)


def test_lifetimes_fails_where_we_do_not():
    params, history = (0.5534, 0.01, 0.6061, 1e4), (1e4, 9e3, 1e4)
    fitter = ParetoNBDFitter()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = fitter._conditional_log_likelihood(params, *(np.array([v]) for v in history))
    assert not np.isfinite(theirs).all()
    assert np.isfinite(pnbd.loglik(*params, *(np.array([v]) for v in history))).all()


def test_predictions_at_extremes_are_finite():
    x, t_x, T = np.array([1e4, 0, 50.0]), np.array([9e3, 0, 49.0]), np.array([1e4, 1e4, 52.0])
    for params in [(0.5534, 0.01, 0.6061, 1e4), (0.5534, 1e4, 0.6061, 0.01)]:
        for value in (pnbd.probability_alive(*params, x, t_x, T),
                      pnbd.expected_purchases(*params, x, t_x, T, 52.0),
                      pnbd.probability_any_purchase(*params, x, t_x, T, 52.0),
                      pnbd.discounted_expected_residual_transactions(*params, x, t_x, T, 0.003)):
            assert np.all(np.isfinite(value)) and np.all(value >= 0)


def test_probability_of_purchases_is_a_distribution_matching_its_integral():
    r, alpha, s, beta = PUBLISHED
    assert pnbd.probability_of_purchases(*PUBLISHED, np.arange(500), 39.0).sum() == (
        pytest.approx(1.0, abs=1e-10))

    def nb(n, tau):
        return mpmath.exp(mpmath.loggamma(r + n) - mpmath.loggamma(r) - mpmath.loggamma(n + 1)
                          ) * (alpha / (alpha + tau)) ** r * (tau / (alpha + tau)) ** n

    for n, t in [(0, 39.0), (3, 39.0), (10, 100.0), (1, 0.5)]:
        exact = nb(n, t) * (beta / (beta + t)) ** s + mpmath.quad(
            lambda tau: s * beta ** s / (beta + tau) ** (s + 1) * nb(n, tau), [0, 1, t])
        assert pnbd.probability_of_purchases(*PUBLISHED, n, t) == pytest.approx(float(exact),
                                                                                 rel=1e-10)


def test_conditional_predictions_agree_with_each_other():
    history = (np.array([2.0, 0.0]), np.array([30.43, 0.0]), np.array([38.86, 38.86]))
    alive = pnbd.probability_alive(*PUBLISHED, *history)
    some = pnbd.probability_any_purchase(*PUBLISHED, *history, 10.0)
    none = pnbd.conditional_probability_of_purchases(*PUBLISHED, *history, 0, 10.0)
    np.testing.assert_allclose(some, 1 - none, rtol=1e-12)
    np.testing.assert_allclose(pnbd.probability_alive_at(*PUBLISHED, *history, 0.0), alive)
    counts = np.arange(400)[:, None]
    mean = (counts * pnbd.conditional_probability_of_purchases(*PUBLISHED, *history, counts,
                                                               10.0)).sum(axis=0)
    np.testing.assert_allclose(mean, pnbd.expected_purchases(*PUBLISHED, *history, 10.0),
                               rtol=1e-8)


@pytest.mark.parametrize("delta", [0.0028, 0.05])
def test_dert_is_the_discounted_integral_of_future_purchases(delta):
    r, alpha, s, beta = PUBLISHED
    x, t_x, T = 2.0, 30.43, 38.86
    alive = pnbd.probability_alive(*PUBLISHED, x, t_x, T)
    rate = mpmath.quad(lambda u: mpmath.exp(-delta * u) * (r + x) / (alpha + T)
                       * ((beta + T) / (beta + T + u)) ** s, [0, 100, mpmath.inf])
    assert pnbd.discounted_expected_residual_transactions(*PUBLISHED, x, t_x, T, delta) == (
        pytest.approx(alive * float(rate), rel=1e-9))


def test_the_model_methods(model, cdnow_calibration):
    rfm = cdnow_calibration
    dert = model.discounted_expected_residual_transactions(rfm, np.log(1.15) / 52)
    assert dert.index.equals(rfm.index) and (dert > 0).all()
    later = model.probability_alive_at(rfm, 52.0)
    assert (later <= model.probability_alive(rfm) + 1e-15).all()
    p1 = model.conditional_probability_of_purchases(rfm, 1, 39.0)
    assert ((p1 >= 0) & (p1 <= 1)).all()
    with pytest.raises(clvmodels.DataError, match="discount_rate"):
        model.discounted_expected_residual_transactions(rfm, 0.0)
    with pytest.raises(clvmodels.DataError, match="n= must be"):
        model.conditional_probability_of_purchases(rfm, -1, 39.0)


def test_parameters_are_recovered_from_simulated_data():
    truth = {"r": 0.8, "alpha": 8.0, "s": 0.5, "beta": 10.0}
    tx = clvmodels.simulate_transactions(40_000, bgnbd=truth, seed=3, model="pnbd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        rfm = clvmodels.rfm_summary(tx, observation_end=tx.attrs["observation_end"],
                                    time_unit="W", freq="D")
    fitted = clvmodels.ParetoNBD().fit(rfm)
    z = (fitted.params_ - pd.Series(truth)) / fitted.standard_errors_
    assert (z.abs() < 4).all(), z
    assert clvmodels.BetaGeo().fit(rfm).log_likelihood_ < fitted.log_likelihood_


def test_the_command_line_backtest_and_files_take_the_model(cdnow, tmp_path):
    log = tmp_path / "log.parquet"
    cdnow.to_parquet(log)
    assert main(["fit", "--transactions", str(log), "--observation-end", "1998-06-30",
                 "--model", "pnbd_gg", "--out", str(tmp_path / "m.json"), "--quiet"]) == 0
    pair = clvmodels.load(tmp_path / "m.json")
    assert type(pair.purchases) is clvmodels.ParetoNBD
    assert main(["score", "--model", str(tmp_path / "m.json"), "--transactions", str(log),
                 "--out", str(tmp_path / "s.parquet"), "--quiet"]) == 0
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert len(scores) == 2357 and np.isfinite(scores.select_dtypes("number")).all().all()
    result = clvmodels.backtest(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30",
                                methods=["bgnbd_gg", "pnbd_gg"])
    table = result.summary()
    assert table.loc["pnbd_gg", "purchases_rmse"] == pytest.approx(
        table.loc["bgnbd_gg", "purchases_rmse"], rel=0.05)


@pytest.mark.slow
def test_the_bayesian_twin(cdnow_calibration, model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bayes = clvmodels.BayesianParetoNBD(draws=200, tune=200, chains=2,
                                            until_converged=False,
                                            random_state=2).fit(cdnow_calibration)
    # the posteriors of s and beta are wide and skewed (standard errors 31 % and 53 %): the
    # posterior means lie within two standard errors of the estimate
    gap = (bayes.params_ - model.params_).abs() / model.standard_errors_
    assert (gap < 2).all(), gap
    assert (bayes.summary()["r_hat"] < 1.05).all()
    band = bayes.discounted_expected_residual_transactions(cdnow_calibration.iloc[:50], 0.0027,
                                                          interval=0.9)
    assert (band["lower"] <= band["mean"]).all() and (band["mean"] <= band["upper"]).all()


def test_the_dask_engine_and_the_plots_take_the_model(cdnow, cdnow_calibration, model):
    import dask.dataframe as dd
    import matplotlib

    matplotlib.use("Agg")
    from clvmodels import dask_engine, plotting

    frame = dd.from_pandas(cdnow[cdnow["date"] <= "1997-09-30"], npartitions=4)
    rfm = dask_engine.rfm_summary(frame, observation_end="1997-09-30", time_unit="W")
    pair = dask_engine.fit(rfm, time_unit="W", purchases="pnbd")
    np.testing.assert_allclose(pair.purchases.params_, model.params_, rtol=1e-6)
    scores = dask_engine.score(pair, rfm).compute().set_index("customer_id").sort_index()
    local = clvmodels.rfm_summary(cdnow[cdnow["date"] <= "1997-09-30"], amount="amount",
                                  time_unit="W", observation_end="1997-09-30")
    pd.testing.assert_frame_equal(scores, pair.score(local), check_dtype=False, rtol=1e-9)
    plotting.plot_probability_alive_matrix(model)
    plotting.plot_frequency_recency_matrix(model, t=10)
    ax = plotting.plot_calibration_purchases(model, cdnow_calibration)
    assert ax.get_lines()


def test_the_hessian_behind_the_standard_errors(model, cdnow_calibration):
    """Second differences of the likelihood agree with differences of its gradient."""
    data = model.prepare(cdnow_calibration)
    params = model.params_.to_numpy()
    hessian = model.loglik_hessian(params, data)
    numeric = np.empty((4, 4))
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-3 * params[j]
        numeric[:, j] = (model.loglik_grad(params + step, data)[1]
                         - model.loglik_grad(params - step, data)[1]) / (2 * step[j])
    np.testing.assert_allclose(hessian, (numeric + numeric.T) / 2, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(model.standard_errors_,
                               np.sqrt(np.diag(np.linalg.inv(-hessian))), rtol=1e-6)


@pytest.mark.parametrize("model_class", [clvmodels.ParetoNBD, clvmodels.BetaGeoBetaBinom])
def test_degenerate_frames_are_refused_clearly(model_class):
    one = pd.DataFrame({"frequency": [2], "recency": [5.0], "T": [10.0]})
    with pytest.raises(clvmodels.ConvergenceError, match="do not identify"):
        model_class().fit(one, time_unit="W")
    with pytest.raises(clvmodels.DataError, match="frequency must be a finite number"):
        model_class().fit(pd.DataFrame({"frequency": [2, np.nan], "recency": [5.0, 0],
                                        "T": [10.0, 8]}))
    with pytest.raises(clvmodels.DataError, match="no customer made a repeat purchase"):
        model_class().fit(pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0],
                                        "T": [10.0, 8]}), time_unit="W")


def test_the_predictive_interval_of_purchases(model, cdnow_calibration):
    rows = cdnow_calibration.iloc[:30]
    band = model.purchase_interval(rows, 39.0, mass=0.9)
    x, t_x, T = arrays(rows)
    for i in range(len(rows)):
        p = pnbd.conditional_probability_of_purchases(*model.params_.to_numpy(), x[i], t_x[i],
                                                      T[i], np.arange(200), 39.0)
        cdf = np.cumsum(p)
        assert band["upper"].iloc[i] == np.searchsorted(cdf, 0.95 - 1e-12)
        assert band["lower"].iloc[i] == np.searchsorted(cdf, 0.05 - 1e-12)
    assert (band["lower"] <= band["median"]).all() and (band["median"] <= band["upper"]).all()
    # the same for BG/BB, in opportunities
    donations = load_donations().rename(columns={"periods": "T"})
    bgbb = clvmodels.BetaGeoBetaBinom().fit(donations, weights=donations["weights"])
    band = bgbb.purchase_interval(donations, 5, mass=0.8)
    assert band["upper"].max() <= 5 and (band["lower"] <= band["upper"]).all()
