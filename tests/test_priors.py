"""User priors on the Bayesian models (issue 23, first part): any PyMC distribution by name on
a parameter, checked when given, recorded in model files and refused there when it cannot be
rebuilt; MAP in the parameters themselves (a flat prior gives the maximum-likelihood estimate,
a Gamma prior the mode of likelihood x prior found independently); NUTS on the same free
coordinates as the default priors."""

import json

import numpy as np
import pytest
from scipy import optimize, stats

import clvmodels
from clvmodels import DataError, ModelFormatError, Prior
from clvmodels._math import bgnbd

NAMES = ("r", "alpha", "a", "b")


def test_a_prior_is_checked_when_given():
    with pytest.raises(DataError, match="not a distribution"):
        Prior("Gama", alpha=2, beta=1)
    with pytest.raises(DataError, match="cannot be built"):
        Prior("Gamma", alpha=2, rate=4)
    with pytest.raises(DataError, match="finite number"):
        Prior("Gamma", alpha=float("nan"), beta=1)
    with pytest.raises(DataError, match="finite number"):
        Prior("Normal", mu="0", sigma=1)
    assert Prior("Gamma", alpha=2, beta=4).support == "positive"
    assert Prior("Normal", mu=0, sigma=1).support == "real"
    assert Prior("Uniform", lower=0, upper=3).support == "positive"
    assert Prior("Gamma", alpha=2, beta=4) == Prior.from_dict(Prior("Gamma", alpha=2,
                                                                    beta=4).to_dict())


def test_a_prior_whose_support_is_not_the_parameters_is_refused(cdnow_calibration):
    model = clvmodels.BayesianBetaGeo(method="map", priors={"r": Prior("Normal", mu=0, sigma=1)})
    with pytest.raises(DataError, match=r"priors\['r'\].*positive parameter"):
        model.fit(cdnow_calibration)


def test_map_with_flat_priors_is_the_maximum_likelihood_estimate(cdnow_calibration):
    flat = {k: Prior("HalfFlat") for k in NAMES}
    bayes = clvmodels.BayesianBetaGeo(method="map", priors=flat).fit(cdnow_calibration)
    mle = clvmodels.BetaGeo().fit(cdnow_calibration)
    np.testing.assert_allclose(bayes.params_[list(NAMES)], mle.params_[list(NAMES)], rtol=1e-6)


def test_a_coefficient_takes_a_prior_on_the_real_line():
    """Flat priors on BG/NBD's parameters and on a covariate coefficient: MAP is the
    maximum-likelihood estimate of the model with the covariate."""
    import warnings

    customers = clvmodels.simulate_customers(1500, seed=4)
    tx = clvmodels.simulate_transactions(1500, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        rfm = clvmodels.rfm_summary(tx, time_unit="W", customers=customers,
                                    observation_end=tx.attrs["observation_end"])
    mle = clvmodels.BetaGeo(purchase_covariates=["age"]).fit(rfm)
    priors = {k: Prior("HalfFlat") for k in NAMES}
    coefficient = [k for k in mle.params_.index if ":" in k][0]
    priors[coefficient] = Prior("Flat")
    bayes = clvmodels.BayesianBetaGeo(method="map", priors=priors,
                                      purchase_covariates=["age"]).fit(rfm)
    np.testing.assert_allclose(bayes.params_[mle.params_.index], mle.params_, rtol=1e-5,
                               atol=1e-7)
    with pytest.raises(DataError, match="coefficient, any real number"):
        clvmodels.BayesianBetaGeo(method="map", priors={coefficient: Prior("Gamma", alpha=2,
                                                                              beta=1)},
                                  purchase_covariates=["age"]).fit(rfm)


def test_map_with_gamma_priors_is_the_mode_of_likelihood_times_prior(cdnow_calibration):
    """The mode of the BG/NBD likelihood times Gamma densities on r, alpha, a, b (in the
    parameters themselves), found by scipy on the closed-form likelihood and scipy's Gamma
    log densities, equals MAP to 1e-4."""
    shapes = {"r": (2.0, 4.0), "alpha": (3.0, 0.5), "a": (2.0, 2.0), "b": (2.0, 0.5)}
    priors = {k: Prior("Gamma", alpha=a, beta=b) for k, (a, b) in shapes.items()}
    bayes = clvmodels.BayesianBetaGeo(method="map", priors=priors).fit(cdnow_calibration)
    x, t_x, T = (cdnow_calibration[c].to_numpy(float) for c in ("frequency", "recency", "T"))

    def negative(log_params):
        params = np.exp(log_params)
        prior = sum(stats.gamma.logpdf(v, a, scale=1 / b)
                    for v, (a, b) in zip(params, shapes.values()))
        return -(bgnbd.loglik(*params, x, t_x, T).sum() + prior)

    start = np.log(clvmodels.BetaGeo().fit(cdnow_calibration).params_[list(NAMES)])
    found = optimize.minimize(negative, start, method="Nelder-Mead",
                              options=dict(xatol=1e-10, fatol=1e-12, maxiter=20_000)).x
    np.testing.assert_allclose(bayes.params_[list(NAMES)], np.exp(found), rtol=1e-4)
    # the priors moved it: not the maximum-likelihood estimate
    assert abs(bayes.params_["b"] / clvmodels.BetaGeo().fit(cdnow_calibration).params_["b"]
               - 1) > 1e-3


def test_a_lognormal_prior_is_the_default_prior_up_to_a_constant(cdnow_calibration):
    """Prior('LogNormal', mu, sigma) on theta, with the Jacobian of the logarithm, is the
    default log(theta) ~ Normal(mu, sigma): the two PyMC models' log densities differ by the
    same constant at any point of the free coordinates (so NUTS samples the same posterior)."""
    default = clvmodels.BayesianBetaGeo()
    data = default.prepare(cdnow_calibration)
    pairs = default.prior_parameters(data)
    user = clvmodels.BayesianBetaGeo(priors={k: Prior("LogNormal", mu=m, sigma=s)
                                             for k, (m, s) in pairs.items()})
    models = [m.pymc_model(data, numpy_loglik=True) for m in (default, user)]
    logps = [m.compile_logp() for m in models]
    rng = np.random.default_rng(0)
    gaps = []
    for _ in range(5):
        point = {f"log_{k}": rng.normal(0, 1) for k in NAMES}
        gaps.append(logps[1](point) - logps[0](point))
    np.testing.assert_allclose(gaps, gaps[0], atol=1e-8)


def test_model_files_keep_the_priors_and_refuse_what_they_cannot_rebuild(cdnow_calibration,
                                                                         tmp_path):
    priors = {"r": Prior("Gamma", alpha=2, beta=4), "b": (0.5, 1.0)}
    model = clvmodels.BayesianBetaGeo(method="map", priors=priors).fit(cdnow_calibration)
    model.save(tmp_path / "m.json")
    loaded = clvmodels.load(tmp_path / "m.json")
    assert loaded.priors == priors and loaded.prior_["r"] == priors["r"]
    np.testing.assert_array_equal(loaded.expected_purchases(cdnow_calibration, 10),
                                  model.expected_purchases(cdnow_calibration, 10))
    state = json.loads((tmp_path / "m.json").read_text())
    assert state["prior"]["r"] == {"distribution": "Gamma", "alpha": 2.0, "beta": 4.0}
    state["prior"]["r"]["distribution"] = "Gammma"
    (tmp_path / "edited.json").write_text(json.dumps(state))
    (tmp_path / "edited.nc").write_bytes((tmp_path / "m.nc").read_bytes())
    with pytest.raises(ModelFormatError, match="cannot rebuild"):
        clvmodels.load(tmp_path / "edited.json")


def test_a_prior_predictive_check_draws_from_a_users_prior(cdnow_calibration):
    model = clvmodels.BayesianBetaGeo(priors={"r": Prior("Gamma", alpha=2, beta=8)})
    table = model.predictive_check(cdnow_calibration, kind="prior", draws=200, random_state=1)
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()
    with pytest.raises(DataError, match="improper"):
        clvmodels.BayesianBetaGeo(priors={"r": Prior("HalfFlat")}).predictive_check(
            cdnow_calibration, kind="prior", draws=10)
