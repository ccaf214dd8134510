"""The Pareto/NBD with correlated rates (Sarmanov; CLVTools' pnbd(use.cor=TRUE); issue 22,
item 3): its likelihood is the definition integrated numerically, its predictions the
posterior expectations integrated numerically, omega = 0 is the Pareto/NBD exactly, and the
parameters are recovered from simulated customers."""

import numpy as np
import pytest
from scipy import stats

import clvmodels
from clvmodels._math import pnbd, pnbd_cor
from clvmodels.models.correlated import CorrelatedParetoNBD, on_bound, simulate_correlated

R, ALPHA, S, BETA = 1.5, 3.0, 1.2, 4.0
HISTORIES = [(0, 0.0, 20.0), (3, 12.0, 20.0), (6, 19.5, 20.0)]


def density(lam, mu, omega):
    """The Sarmanov density of the rates, from its definition."""
    ca, cb = (ALPHA / (ALPHA + 1)) ** R, (BETA / (BETA + 1)) ** S
    return (stats.gamma.pdf(lam, R, scale=1 / ALPHA) * stats.gamma.pdf(mu, S, scale=1 / BETA)
            * (1 + omega * (np.exp(-lam) - ca) * (np.exp(-mu) - cb)))


def individual(lam, mu, x, t_x, T):
    """A customer's likelihood given her rates (alive at T, or dead in (t_x, T])."""
    return lam ** x * (np.exp(-(lam + mu) * T)
                       + mu / (lam + mu) * (np.exp(-(lam + mu) * t_x) - np.exp(-(lam + mu) * T)))


NODES, WEIGHTS = np.polynomial.legendre.leggauss(400)
LOG_LO, LOG_HI = np.log(1e-12), np.log(60.0)  # the rates' whole mass, on a log scale


def integral(function):
    """``int int function(mu, lambda)`` over the rates: Gauss-Legendre in log(rate) (the
    Gamma densities are smooth there; below 1e-12 and above 60 they have no mass)."""
    half = (LOG_HI - LOG_LO) / 2
    rates = np.exp(LOG_LO + half * (NODES + 1))
    w = WEIGHTS * half * rates  # d rate = rate d log(rate)
    lam, mu = np.meshgrid(rates, rates, indexing="ij")
    return float(w @ function(mu, lam) @ w)


@pytest.mark.parametrize("omega", [-0.9, 2.5])
def test_the_likelihood_and_p_alive_are_their_definitions(omega):
    lo, hi = pnbd_cor.omega_bounds(R, ALPHA, S, BETA)
    assert lo < omega < hi
    for x, t_x, T in HISTORIES:
        direct = integral(lambda m, l: individual(l, m, x, t_x, T) * density(l, m, omega))
        ours = pnbd_cor.loglik(R, ALPHA, S, BETA, omega, np.float64(x), t_x, T)
        assert float(ours) == pytest.approx(np.log(direct), rel=1e-8)
        alive = integral(lambda m, l: l ** x * np.exp(-(l + m) * T) * density(l, m, omega))
        assert float(pnbd_cor.probability_alive(R, ALPHA, S, BETA, omega, np.float64(x), t_x,
                                                T)) == pytest.approx(alive / direct, rel=1e-7)


def test_the_correlation_is_the_densitys():
    omega = 2.5
    mean = integral(lambda m, l: l * m * density(l, m, omega))
    cov = mean - (R / ALPHA) * (S / BETA)
    rho = cov / (np.sqrt(R) / ALPHA * np.sqrt(S) / BETA)
    assert pnbd_cor.correlation(R, ALPHA, S, BETA, omega) == pytest.approx(rho, rel=1e-7)
    assert integral(lambda m, l: density(l, m, omega)) == pytest.approx(1.0, rel=1e-9)


def test_omega_zero_is_the_pareto_nbd_exactly():
    x, t_x, T = (np.array(v, dtype=float) for v in zip(*HISTORIES))
    args = (R, ALPHA, S, BETA)
    np.testing.assert_array_equal(pnbd_cor.loglik(*args, 0.0, x, t_x, T),
                                  pnbd.loglik(*args, x, t_x, T))
    for name, extra in (("probability_alive", ()), ("expected_purchases", (10.0,)),
                        ("probability_alive_at", (5.0,)),
                        ("conditional_probability_of_purchases", (2, 10.0)),
                        ("discounted_expected_residual_transactions", (0.01,))):
        np.testing.assert_allclose(getattr(pnbd_cor, name)(*args, 0.0, x, t_x, T, *extra),
                                   getattr(pnbd, name)(*args, x, t_x, T, *extra), rtol=1e-13)
    np.testing.assert_allclose(pnbd_cor.expected_purchases_new(*args, 0.0, 7.0),
                               pnbd.expected_purchases_new(*args, 7.0), rtol=1e-13)


@pytest.fixture(scope="module")
def simulated():
    return simulate_correlated(20_000, r=R, alpha=ALPHA, s=S, beta=BETA, omega=1.5, T=40.0,
                               seed=11)


def test_the_simulation_draws_the_density(simulated):
    rho = pnbd_cor.correlation(R, ALPHA, S, BETA, 1.5)
    assert simulated.attrs["correlation"] == pytest.approx(rho, abs=0.02)


@pytest.mark.slow
def test_simulated_parameters_are_recovered(simulated):
    model = CorrelatedParetoNBD().fit(simulated)
    truth = simulated.attrs["truth"]
    for name, value in truth.items():
        assert abs(model.params_[name] - value) < 2 * model.standard_errors_[name], name
    test = model.correlation_test()
    assert test["df"] == 1 and test["p_value"] < 0.01  # the correlation is detected
    # its predictions are the mixture's, and the files keep the fit
    plain = clvmodels.ParetoNBD().fit(simulated)
    assert model.log_likelihood_ >= plain.log_likelihood_ - 1e-6
    assert model.independent_log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-9)


def test_omega_outside_its_bounds_is_refused():
    lo, hi = pnbd_cor.omega_bounds(R, ALPHA, S, BETA)
    assert np.isneginf(pnbd_cor.loglik(R, ALPHA, S, BETA, hi + 0.1, np.array([1.0]),
                                       np.array([1.0]), np.array([2.0]))).all()
    with pytest.raises(clvmodels.DataError, match="outside"):
        simulate_correlated(10, r=R, alpha=ALPHA, s=S, beta=BETA, omega=lo - 1, T=1.0)


def test_it_is_registered_with_what_it_can_do():
    """Registered (the contract test runs every check on it): maximum likelihood only, no
    covariates yet, intervals, a numerical gradient."""
    from clvmodels.models.registry import MODELS, pair_names

    entry = MODELS["cpnbd"]
    assert entry.mle is CorrelatedParetoNBD and entry.bayesian is None
    assert entry.capabilities == {"mle", "intervals"}
    assert "cpnbd_gg" in pair_names() and "bayes_cpnbd_gg" not in pair_names()


def test_interior_intervals_draw_models_only(simulated):
    """Inside the bounds the intervals draw in coordinates where every draw is a model (log
    r, alpha, s, beta and the logit of omega's place in its range): every draw's omega is
    within its own bounds, and the draws' spread is the delta method's, the standard errors
    within Monte Carlo error (1,000 draws: about 5 %)."""
    model = CorrelatedParetoNBD().fit(simulated)
    assert on_bound(*model.params_) == 0
    draws = np.column_stack([d.ravel() for d in model.parameter_draws(interval=0.9)])
    lo, hi = pnbd_cor.omega_bounds(*draws[:, :4].T)
    assert np.all((draws[:, 4] > lo) & (draws[:, 4] < hi))
    np.testing.assert_allclose(draws[1:].std(axis=0), model.standard_errors_, rtol=0.15)
    band = model.expected_purchases(simulated.head(50), 10.0, interval=0.9)
    point = model.expected_purchases(simulated.head(50), 10.0)
    assert ((band["lower"] <= point) & (point <= band["upper"])).all()


def test_a_maximum_on_a_smooth_bound_fits_the_four_along_it():
    """4,000 customers of omega = 1 put the maximum on the lower bound (omega's standard
    error is about 2, its range [-2, 15]): the four marginals are fitted along the bound,
    with standard errors; omega has none (it is the bound of the four), and its draws stay on
    that bound."""
    frame = simulate_correlated(4000, r=R, alpha=ALPHA, s=S, beta=BETA, omega=1.0, T=40.0,
                                seed=2)
    with pytest.warns(clvmodels.DataQualityWarning, match="lower bound"):
        model = CorrelatedParetoNBD().fit(frame)
    params = model.params_.to_numpy()
    assert on_bound(*params) == -1
    assert params[4] == pytest.approx(pnbd_cor.omega_bounds(*params[:4])[0], rel=1e-12)
    assert np.isfinite(model.standard_errors_[:4]).all()
    assert np.isnan(model.standard_errors_["omega"])
    assert model.log_likelihood_ >= model.independent_log_likelihood_
    draws = np.column_stack([d.ravel() for d in model.parameter_draws(interval=0.9)])
    np.testing.assert_allclose(draws[:, 4], pnbd_cor.omega_bounds(*draws[:, :4].T)[0],
                               rtol=1e-12)
    # it is the maximum: no point inside or along the bound nearby is higher
    rng = np.random.default_rng(0)
    data = model.prepare(frame, None)
    for _ in range(20):
        four = params[:4] * np.exp(rng.normal(0, 1e-3, 4))
        lo, hi = pnbd_cor.omega_bounds(*four)
        for omega in (lo, lo + rng.uniform(0, 1e-2) * (hi - lo)):
            assert pnbd_cor.total_loglik(*four, omega, data.x, data.t_x, data.T,
                                         data.weights) <= model.log_likelihood_ + 1e-9


def test_cdnow_puts_the_maximum_on_a_corner_of_the_bound(cdnow_calibration):
    """On CDNOW the likelihood rises with omega to its upper bound, whose two curves cross
    at the maximum ((alpha/(alpha+1))^r = (beta/(beta+1))^s): a corner, where the likelihood
    has no Hessian. The estimate is found there (Nelder-Mead along the bound), higher than
    the Pareto/NBD's by 3.3 (the test of zero correlation: p = 0.01); no standard errors,
    intervals refused with the reason, point predictions given."""
    with pytest.warns(clvmodels.DataQualityWarning, match="upper bound"):
        model = CorrelatedParetoNBD().fit(cdnow_calibration)
    r, alpha, s, beta, omega = model.params_.to_numpy()
    assert (alpha / (alpha + 1)) ** r == pytest.approx((beta / (beta + 1)) ** s, rel=1e-6)
    assert omega == pytest.approx(pnbd_cor.omega_bounds(r, alpha, s, beta)[1], rel=1e-12)
    assert model.log_likelihood_ == pytest.approx(-9591.666, abs=2e-3)
    assert model.independent_log_likelihood_ == pytest.approx(-9594.976, abs=2e-3)
    assert model.correlation_test()["p_value"] == pytest.approx(0.0101, abs=5e-4)
    assert model.standard_errors_.isna().all()
    with pytest.raises(clvmodels.DataError, match="corner"):
        model.expected_purchases(cdnow_calibration, 10.0, interval=0.9)
    assert np.isfinite(model.expected_purchases(cdnow_calibration, 10.0)).all()
    # along the bound, nearby, nothing is higher
    rng = np.random.default_rng(1)
    data = model.prepare(cdnow_calibration, None)
    for _ in range(30):
        four = model.params_.to_numpy()[:4] * np.exp(rng.normal(0, 1e-3, 4))
        upper = pnbd_cor.omega_bounds(*four)[1]
        assert pnbd_cor.total_loglik(*four, upper, data.x, data.t_x, data.T,
                                     data.weights) <= model.log_likelihood_ + 1e-9


def test_the_model_file_keeps_the_test_of_zero_correlation(tmp_path):
    """The Pareto/NBD's log-likelihood is saved with the fit and read back as written: files
    read every recorded fact as a whole number, so the test's statistic moved by up to 2
    after a round trip (-10365.84 read as -10365)."""
    frame = simulate_correlated(1500, r=R, alpha=ALPHA, s=S, beta=BETA, omega=1.0, T=40.0,
                                seed=2)
    model = CorrelatedParetoNBD().fit(frame)
    model.save(tmp_path / "m.json")
    loaded = clvmodels.load(tmp_path / "m.json")
    assert loaded.independent_log_likelihood_ == model.independent_log_likelihood_
    assert loaded.correlation_test().equals(model.correlation_test())
    np.testing.assert_array_equal(loaded.expected_purchases(frame, 10.0),
                                  model.expected_purchases(frame, 10.0))
