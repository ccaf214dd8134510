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
from clvmodels import BetaPrior, DataError, ModelFormatError, Prior
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


# -- the Beta's shapes through its mean and concentration (PyMC-Marketing's phi and kappa) -----
PEER_PRIORS = {"r": Prior("Weibull", alpha=2, beta=1), "alpha": Prior("Weibull", alpha=2, beta=10),
               "a,b": BetaPrior(Prior("Uniform", lower=0, upper=1),
                                Prior("Pareto", alpha=1, m=1))}


def test_map_with_a_beta_prior_is_the_mode_of_likelihood_times_prior(cdnow_calibration):
    """r, alpha ~ Weibull; (a, b) = (phi kappa, (1 - phi) kappa) with phi ~ Uniform(0, 1),
    kappa ~ Pareto(1, 1) (PyMC-Marketing's BetaGeoModel defaults): MAP equals the mode of the
    closed-form likelihood x scipy's densities of r, alpha, phi and kappa, found by scipy."""
    bayes = clvmodels.BayesianBetaGeo(method="map", priors=PEER_PRIORS).fit(cdnow_calibration)
    x, t_x, T = (cdnow_calibration[c].to_numpy(float) for c in ("frequency", "recency", "T"))

    def negative(log_params):
        r, alpha, a, b = np.exp(log_params)
        prior = (stats.weibull_min.logpdf(r, 2, scale=1) + stats.weibull_min.logpdf(alpha, 2, scale=10)
                 + stats.uniform.logpdf(a / (a + b)) + stats.pareto.logpdf(a + b, 1))
        return -(bgnbd.loglik(r, alpha, a, b, x, t_x, T).sum() + prior)

    start = np.log(clvmodels.BetaGeo().fit(cdnow_calibration).params_[list(NAMES)])
    found = optimize.minimize(negative, start, method="Nelder-Mead",
                              options=dict(xatol=1e-10, fatol=1e-12, maxiter=20_000)).x
    np.testing.assert_allclose(bayes.params_[list(NAMES)], np.exp(found), rtol=1e-4)


def test_a_beta_prior_is_checked_recorded_and_drawn(cdnow_calibration, tmp_path):
    uniform = Prior("Uniform", lower=0, upper=1)
    with pytest.raises(DataError, match="positive"):
        BetaPrior(uniform, Prior("Normal", mu=0, sigma=1))
    with pytest.raises(DataError, match="two priors"):
        clvmodels.BayesianBetaGeo(method="map", priors={**PEER_PRIORS, "a": (0.0, 1.0)}).fit(
            cdnow_calibration)
    with pytest.raises(DataError, match="BetaPrior"):
        clvmodels.BayesianBetaGeo(method="map", priors={"a,b": uniform}).fit(cdnow_calibration)
    model = clvmodels.BayesianBetaGeo(method="map", priors=PEER_PRIORS).fit(cdnow_calibration)
    model.save(tmp_path / "m.json")
    loaded = clvmodels.load(tmp_path / "m.json")
    assert loaded.priors == PEER_PRIORS and loaded.prior_["a,b"] == PEER_PRIORS["a,b"]
    np.testing.assert_array_equal(loaded.probability_alive(cdnow_calibration),
                                  model.probability_alive(cdnow_calibration))
    table = clvmodels.BayesianBetaGeo(priors=PEER_PRIORS).predictive_check(
        cdnow_calibration, kind="prior", draws=200, random_state=1)
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()


# PyMC-Marketing 0.19.2's MAP, BetaGeoModel(model_config={"purchase_covariate_cols": names,
# "dropout_covariate_cols": names}).fit(method="map") with its default priors, on the data of
# `benchmarks/covariates.py map --customers 5000` (run 2026-12-06 with pymc-marketing 0.19.2 in
# its own environment; its printout, rounded to 6 digits)
PEER_MAP = {
    "r": 0.245955, "alpha": 4.308506, "a": 0.937327, "b": 2.726243,
    "alpha:channel_search": 0.158749, "alpha:channel_social": -0.036674,
    "alpha:channel_store": -0.152477, "alpha:age": 0.167312, "alpha:first_order": 0.027292,
    "a:channel_search": 0.146269, "a:channel_social": 0.285993, "a:channel_store": 0.300612,
    "a:age": -0.108635, "a:first_order": 0.106756,
    "b:channel_search": 0.201155, "b:channel_social": 0.180460, "b:channel_store": 0.363188,
    "b:age": -0.396808, "b:first_order": 0.158674,
}


def test_pymc_marketings_map_with_its_own_priors_is_reproduced():
    """The same priors given as Prior and BetaPrior (coefficients Normal(0, 1)) on the same
    data reproduce PyMC-Marketing's MAP to 1 % for every parameter (measured: 0.5 % at most,
    a:age; its find_MAP stops at scipy's default tolerances, ours runs to the mode)."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks",
                        "covariates.py")
    spec = importlib.util.spec_from_file_location("covariates_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rfm = bench.simulated(5000, "bgnbd")
    names, matrix = bench.design(rfm)
    data = rfm[["frequency", "recency", "T"]].copy()
    for j, name in enumerate(names):
        data[name] = (matrix[:, j] - matrix[:, j].mean()) / matrix[:, j].std()
    data.attrs["time_unit"] = "W"
    priors = {"r": Prior("Weibull", alpha=2, beta=1), "alpha": Prior("Weibull", alpha=2, beta=10),
              "a,b": BetaPrior(Prior("Uniform", lower=0, upper=1), Prior("Pareto", alpha=1, m=1))}
    priors.update({f"{p}:{n}": Prior("Normal", mu=0, sigma=1)
                   for p in ("alpha", "a", "b") for n in names})
    model = clvmodels.BayesianBetaGeo(method="map", priors=priors, purchase_covariates=names,
                                      dropout_covariates=names).fit(data)
    for name, value in PEER_MAP.items():
        assert model.params_[name] == pytest.approx(value, rel=0.01), name


def test_bg_bb_takes_beta_priors_on_both_of_its_pairs():
    """BG/BB's two Betas, each through its mean (Uniform(0, 1)) and a flat concentration:
    MAP is the maximum-likelihood estimate (the densities are constant there, and MAP has no
    Jacobian)."""
    log = clvmodels.simulate_opportunities(3000, seed=2)
    opp = clvmodels.opportunity_summary(log, period="Y",
                                        observation_end=log.attrs["observation_end"])
    flat = {k: BetaPrior(Prior("Uniform", lower=0, upper=1), Prior("HalfFlat"))
            for k in ("alpha,beta", "gamma,delta")}
    bayes = clvmodels.BayesianBetaGeoBetaBinom(method="map", priors=flat).fit(opp)
    mle = clvmodels.BetaGeoBetaBinom().fit(opp)
    np.testing.assert_allclose(bayes.params_[mle.params_.index], mle.params_, rtol=1e-6)


@pytest.mark.slow
def test_nuts_samples_with_user_priors(cdnow_calibration):
    """NUTS with a Gamma prior and a Beta prior (PyMC-Marketing's defaults) on CDNOW: the
    sampler starts from the maximum-likelihood fit in the same free coordinates, converges
    (r_hat <= 1.01, bulk ESS >= 400), and its posterior means sit within two posterior SDs of
    the MAP with the same priors."""
    priors = {"r": Prior("Gamma", alpha=2, beta=4), **{k: v for k, v in PEER_PRIORS.items()
                                                       if k != "r"}}
    model = clvmodels.BayesianBetaGeo(priors=priors, draws=500, tune=500, chains=2,
                                      random_state=3).fit(cdnow_calibration)
    summary = model.summary()
    assert (summary["r_hat"] <= 1.01).all() and (summary["ess_bulk"] >= 400).all()
    mode = clvmodels.BayesianBetaGeo(method="map", priors=priors).fit(cdnow_calibration)
    for name in NAMES:
        assert abs(model.params_[name] - mode.params_[name]) < 2 * summary.loc[name, "sd"], name
