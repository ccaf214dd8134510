"""Bayesian BG/NBD and Gamma-Gamma. The NUTS fits are marked slow (they still run in CI)."""


import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels._math import bgnbd, gamma_gamma
from clvmodels._math import pytensor_namespace
from clvmodels.models.bayesian import ConvergenceWarning
from clvmodels.models.purchase import Histories

from . import reference


def histories(frame):
    return clvmodels.BetaGeo().prepare(frame)


def test_pytensor_and_numpy_logliks_agree(cdnow_calibration):
    import pytensor
    import pytensor.tensor as pt

    xp = pytensor_namespace()
    h = histories(cdnow_calibration)
    x, t_x, T, x_levels, time_levels = h.x, h.t_x, h.T, h.x_levels, h.time_levels
    theta = pt.dvector("theta")
    bg = pytensor.function([theta], bgnbd.loglik(theta[0], theta[1], theta[2], theta[3], x, t_x,
                                                 T, xp=xp, x_levels=x_levels,
                                                 time_levels=time_levels))
    for params in ([0.24, 4.4, 0.79, 2.4], [1.3, 0.2, 0.3, 0.6], [0.05, 30.0, 5.0, 100.0]):
        np.testing.assert_allclose(bg(params), bgnbd.loglik(*params, x, t_x, T), rtol=1e-10, atol=1e-10)
    stats = clvmodels.GammaGamma().prepare(cdnow_calibration).stats
    gg = pytensor.function([theta], gamma_gamma.loglik(
        theta[0], theta[1], theta[2], stats.x, stats.m, xp=xp,
        x_levels=(stats.levels, stats.level_index)))
    for params in ([6.25, 3.74, 15.44], [0.5, 1.5, 100.0]):
        np.testing.assert_allclose(gg(params), gamma_gamma.loglik(*params, stats.x, stats.m),
                                   rtol=1e-10)


def test_compressed_and_uncompressed_models_have_the_same_density(cdnow_calibration):
    x, t_x, T = (cdnow_calibration[c].to_numpy(float) for c in ["frequency", "recency", "T"])
    model = clvmodels.BayesianBetaGeo()
    compressed = model.pymc_model(histories(cdnow_calibration))
    everyone = model.pymc_model(Histories(x, t_x, T, np.ones_like(x)))
    assert len(histories(cdnow_calibration).x) < len(x) / 1.5  # it does compress
    logp_c, logp_u = compressed.compile_logp(), everyone.compile_logp()
    rng = np.random.default_rng(0)
    for _ in range(5):
        point = {f"log_{k}": rng.normal(0, 1) for k in model.param_names}
        assert logp_c(point) == pytest.approx(logp_u(point), rel=1e-10)


def test_priors_are_configurable_and_checked(cdnow_calibration):
    data = histories(cdnow_calibration)
    defaults = clvmodels.BayesianBetaGeo().prior_parameters(data)
    assert defaults["r"] == (0.0, 2.0)
    assert defaults["alpha"][0] == pytest.approx(np.log(cdnow_calibration["T"].mean()))
    custom = clvmodels.BayesianBetaGeo(priors={"r": (-1.0, 0.5)}).prior_parameters(data)
    assert custom["r"] == (-1.0, 0.5) and custom["a"] == defaults["a"]
    with pytest.raises(ValueError, match="unknown parameters"):
        clvmodels.BayesianBetaGeo(priors={"rho": (0, 1)}).prior_parameters(data)
    with pytest.raises(ValueError, match="sigma > 0"):
        clvmodels.BayesianBetaGeo(priors={"r": (0, -1)}).prior_parameters(data)


def test_prior_predictive_check_covers_the_data(cdnow_calibration):
    check = clvmodels.BayesianBetaGeo().predictive_check(cdnow_calibration, random_state=0)
    assert list(check.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert check["observed"].sum() == pytest.approx(1.0)
    assert ((check["lower"] <= check["observed"]) & (check["observed"] <= check["upper"])).all()


def test_not_fitted_and_bad_settings(cdnow_calibration):
    with pytest.raises(clvmodels.NotFittedError):
        clvmodels.BayesianBetaGeo().probability_alive(cdnow_calibration)
    with pytest.raises(ValueError, match="method"):
        clvmodels.BayesianBetaGeo(method="gibbs").fit(cdnow_calibration)
    with pytest.raises(ValueError, match="sampler"):
        clvmodels.BayesianBetaGeo(sampler="stan").fit(cdnow_calibration)


@pytest.fixture(scope="module")
def posterior(cdnow_calibration):
    bg = clvmodels.BayesianBetaGeo(random_state=2026).fit(cdnow_calibration)
    gg = clvmodels.BayesianGammaGamma(random_state=2026).fit(cdnow_calibration)
    return bg, gg


@pytest.mark.slow
def test_posterior_means_are_near_the_mle_and_converged(posterior, fitted):
    bg, gg = posterior
    mle_bg, mle_gg = fitted
    for name, tol in {"r": 0.05, "alpha": 0.05, "a": 0.20, "b": 0.20}.items():
        assert bg.params_[name] == pytest.approx(mle_bg.params_[name], rel=tol), name
    for name in ["p", "q", "v"]:  # a skewed posterior's mean sits within a standard error
        assert abs(gg.params_[name] - mle_gg.params_[name]) < mle_gg.standard_errors_[name], name
    for model in posterior:
        table = model.summary()
        assert {"mean", "sd", "hdi_3%", "hdi_97%", "r_hat", "ess_bulk"} <= set(table.columns)
        assert (table["r_hat"] <= 1.01).all() and (table["ess_bulk"] >= 400).all()
        # the defaults, 4 chains x 300 draws, reach the targets in one round here
        assert model.sampling_["rounds"] == 1
        assert model.posterior_draws().shape == (1200, len(model.param_names))
        assert "4 chains x (300 tune + 300 draws)" in table.attrs["sampling"]
    assert gg.n_zero_frequency_ == 2357 - reference.GAMMA_GAMMA_CDNOW_CUSTOMERS


@pytest.mark.slow
def test_predictions_are_posterior_means_with_intervals(posterior, fitted, cdnow_calibration):
    bg, gg = posterior
    f = cdnow_calibration
    mean = bg.expected_purchases(f, 39)
    band = bg.expected_purchases(f, 39, interval=0.94)
    np.testing.assert_allclose(band["mean"], mean)
    assert ((band["lower"] <= band["mean"]) & (band["mean"] <= band["upper"])).all()
    # the posterior mean of the quantity, by hand for one customer from the draws
    draws = bg.posterior_draws()
    one = f.loc[[1]]
    by_hand = bgnbd.expected_purchases(*(draws[k].to_numpy() for k in bg.param_names),
                                       *(one[c].to_numpy(float) for c in ["frequency", "recency", "T"]), 39.0)
    assert mean.loc[1] == pytest.approx(by_hand.mean(), rel=1e-12)
    # close to the maximum-likelihood prediction in total (the holdout purchases)
    assert mean.sum() == pytest.approx(fitted[0].expected_purchases(f, 39).sum(), rel=0.03)
    alive = bg.probability_alive(f, interval=0.5)
    assert ((alive["lower"] >= 0) & (alive["upper"] <= 1)).all()
    spend = gg.expected_spend(f, interval=0.94)
    assert ((spend["lower"] <= spend["mean"]) & (spend["mean"] <= spend["upper"])).all()
    few = bg.probability_alive(f.iloc[:5], return_draws=True)
    assert few.shape == (5, 1200)
    many = pd.concat([f] * 5, ignore_index=True)
    many.attrs = f.attrs
    with pytest.raises(ValueError, match="small sets"):
        bg.probability_alive(many, return_draws=True)
    assert bg.expected_purchases_new_customer(52.0) == pytest.approx(
        fitted[0].expected_purchases_new_customer(52.0), rel=0.05)


@pytest.mark.slow
def test_clv_carries_purchase_and_spend_uncertainty(posterior, fitted, cdnow_calibration):
    bg, gg = posterior
    f = cdnow_calibration
    value = clvmodels.customer_value(bg, gg, f, interval=0.94, max_draws=1000)
    assert list(value.columns) == ["mean", "lower", "upper"]
    assert ((value["lower"] <= value["mean"]) & (value["mean"] <= value["upper"])).all()
    mle = clvmodels.customer_value(*fitted, f)
    assert value["mean"].sum() == pytest.approx(mle.sum(), rel=0.05)
    # spend uncertainty widens the intervals: overall, and for every customer without a repeat
    # purchase, whose expected spend is the (uncertain) population mean
    fixed_spend = clvmodels.GammaGamma()
    fixed_spend.params_, fixed_spend.time_unit_ = gg.params_.copy(), gg.time_unit_
    fixed_spend.covariance_ = pd.DataFrame(0.0, index=gg.params_.index,  # no uncertainty
                                           columns=gg.params_.index)
    purchases_only = clvmodels.customer_value(bg, fixed_spend, f, interval=0.94, max_draws=1000)
    width = value["upper"] - value["lower"]
    width_purchases = purchases_only["upper"] - purchases_only["lower"]
    assert width.sum() > width_purchases.sum()
    new = f["frequency"] == 0
    assert (width[new] > width_purchases[new]).all()
    point = clvmodels.customer_value(bg, gg, f, max_draws=1000)
    np.testing.assert_allclose(point, value["mean"])


@pytest.mark.slow
def test_save_and_load_reproduce_predictions(posterior, cdnow_calibration, tmp_path):
    bg, gg = posterior
    for model in posterior:
        model.save(tmp_path / f"{type(model).__name__}.json")
    loaded_bg = clvmodels.load(tmp_path / "BayesianBetaGeo.json")
    loaded_gg = clvmodels.load(tmp_path / "BayesianGammaGamma.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "BayesianBetaGeo.json", "BayesianBetaGeo.nc", "BayesianGammaGamma.json", "BayesianGammaGamma.nc"]
    f = cdnow_calibration
    pd.testing.assert_frame_equal(loaded_bg.expected_purchases(f, 10, interval=0.9),
                                  bg.expected_purchases(f, 10, interval=0.9))
    pd.testing.assert_series_equal(loaded_gg.expected_spend(f), gg.expected_spend(f))
    (tmp_path / "BayesianBetaGeo.nc").unlink()
    with pytest.raises(clvmodels.ModelFormatError, match="posterior file"):
        clvmodels.load(tmp_path / "BayesianBetaGeo.json")


@pytest.mark.slow
def test_map_advi_and_a_convergence_warning(cdnow_calibration, fitted):
    f = cdnow_calibration
    map_fit = clvmodels.BayesianBetaGeo(method="map", random_state=0).fit(f)
    np.testing.assert_allclose(map_fit.params_, fitted[0].params_, rtol=0.1)
    advi = clvmodels.BayesianBetaGeo(method="advi", draws=500, random_state=0).fit(f)
    np.testing.assert_allclose(advi.params_, fitted[0].params_, rtol=0.1)
    with pytest.warns(ConvergenceWarning, match="may not have converged"):
        clvmodels.BayesianBetaGeo(draws=30, tune=30, chains=2, until_converged=False,
                                  random_state=0).fit(f)


def test_numpy_likelihood_op_equals_the_pytensor_graph(cdnow_calibration):
    """PyMC's own sampler evaluates the likelihood with the MLE's numpy code: same log density
    and gradient as the PyTensor graph of the formula."""
    for model, frame in ((clvmodels.BayesianBetaGeo(), cdnow_calibration),
                         (clvmodels.BayesianGammaGamma(), cdnow_calibration)):
        data = model.prepare(frame)
        graph, native = model.pymc_model(data), model.pymc_model(data, numpy_loglik=True)
        rng = np.random.default_rng(1)
        for _ in range(3):
            point = {f"log_{k}": rng.normal(0.5, 0.5) for k in model.param_names}
            assert native.compile_logp()(point) == pytest.approx(graph.compile_logp()(point),
                                                                 rel=1e-10)
            np.testing.assert_allclose(native.compile_dlogp()(point), graph.compile_dlogp()(point),
                                       rtol=1e-7)


@pytest.mark.slow
def test_a_first_round_that_falls_short_is_followed_by_a_longer_one(cdnow_calibration):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clvmodels.BayesianBetaGeo(draws=20, tune=20, chains=2,
                                          random_state=3).fit(cdnow_calibration)
    assert model.sampling_["rounds"] == 2 and model.sampling_["draws"] == 40
    assert "bulk ESS" in model.sampling_["first_round"]
    assert model.posterior_draws().shape[0] == 80
    assert "second round" in model.summary().attrs["sampling"]
