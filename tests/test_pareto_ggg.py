"""Pareto/GGG: the closed forms against direct integration, the exact lifetime draw, the
vectorised slice sampler and the population update, and the whole sampler by simulation."""

import mpmath
import numpy as np
import pytest
from scipy import integrate, special, stats

from clvmodels._math import pggg
from clvmodels.models.latent import (draw_gamma_population, rescale_population,
                                     reshape_population, slice_update)
from clvmodels.models.pareto_ggg import ParetoGGG, simulate_pareto_ggg

CASES = [  # k, lambda, mu, t_x, T
    (1.0, 0.5, 0.05, 10.0, 40.0),
    (3.5, 0.2, 0.01, 30.0, 52.0),
    (0.4, 2.0, 0.3, 1.0, 5.0),
    (12.0, 1.1, 0.002, 20.0, 104.0),
    (2.0, 0.05, 0.5, 0.0, 30.0),
]


@pytest.mark.parametrize("k, lam, mu, t_x, T", CASES)
def test_probability_alive_is_the_integral_over_the_lifetime(k, lam, mu, t_x, T):
    """P(tau > T) = e^{-mu T} Q(k, c D) / (e^{-mu T} Q(k, c D) + int_{t_x}^T mu e^{-mu tau}
    Q(k, c (tau - t_x)) d tau): BTYDplus's numerical form, against the closed form."""
    c = k * lam
    alive = np.exp(-mu * T) * special.gammaincc(k, c * (T - t_x))
    dead, _ = integrate.quad(lambda tau: mu * np.exp(-mu * tau) * special.gammaincc(
        k, c * (tau - t_x)), t_x, T, epsabs=0, epsrel=1e-12, limit=200)
    expected = alive / (alive + dead)
    got = pggg.probability_alive(np.array(k), np.array(lam), np.array(mu), np.array(t_x),
                                 np.array(T))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_at_k_1_probability_alive_is_the_pareto_nbd_one():
    rng = np.random.default_rng(3)
    lam, mu = rng.gamma(1, 1, 200), rng.gamma(1, 0.1, 200)
    T = rng.uniform(5, 80, 200)
    t_x = rng.uniform(0, 1, 200) * T
    pnbd = (lam + mu) / (lam + mu * np.exp((lam + mu) * (T - t_x)))
    got = pggg.probability_alive(np.ones(200), lam, mu, t_x, T)
    np.testing.assert_allclose(got, pnbd, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("a, z", [(0.5, 900.0), (3.0, 2000.0), (40.0, 1500.0), (1e3, 3e3),
                                  (2.0, 10.0), (0.01, 1e-3)])
def test_log_upper_gamma_where_q_underflows(a, z):
    exact = float(mpmath.log(mpmath.gammainc(a, z, mpmath.inf, regularized=True)))
    assert pggg.log_upper_gamma(a, z) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("k, lam, mu, t_x, T", CASES)
def test_the_lifetime_integrates_out_in_closed_form(k, lam, mu, t_x, T):
    """The silence term of the likelihood (no purchase after t_x, alive or dead) is the
    lifetime's integral of the augmented likelihood: e^{-mu T} Q(k, c D) + int_{t_x}^T mu
    e^{-mu tau} Q(k, c (tau - t_x)) d tau, by adaptive quadrature."""
    c = k * lam
    dead, _ = integrate.quad(lambda tau: mu * np.exp(-mu * tau) * special.gammaincc(
        k, c * (tau - t_x)), t_x, T, epsabs=0, epsrel=1e-12, limit=200)
    expected = np.log(np.exp(-mu * T) * special.gammaincc(k, c * (T - t_x)) + dead)
    got = pggg.silence_loglik(np.array(k), np.array(lam), np.array(mu), np.array(t_x),
                              np.array(T))
    assert got == pytest.approx(expected, rel=1e-10)


def test_at_k_1_the_likelihood_is_the_pareto_nbd_individual_one():
    rng = np.random.default_rng(9)
    lam, mu = rng.gamma(1, 1, 100), rng.gamma(1, 0.1, 100)
    T = rng.uniform(5, 80, 100)
    x = rng.integers(0, 20, 100).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 1, 100) * T, 0.0)
    # Schmittlein et al. (1987): lambda^x / (lambda + mu) [mu e^{-(lambda+mu) t_x} + lambda
    # e^{-(lambda+mu) T}]; litt drops out at k = 1
    expected = (x * np.log(lam) - np.log(lam + mu)
                + np.log(mu * np.exp(-(lam + mu) * t_x) + lam * np.exp(-(lam + mu) * T)))
    got = pggg.loglik(np.ones(100), lam, mu, x, t_x, T, rng.normal(size=100))
    np.testing.assert_allclose(got, expected, rtol=1e-11)


def test_slice_update_leaves_each_target_invariant():
    """Many independent Gamma(a_i, 1) targets at once: after 30 updates from a bad start the
    draws are Gamma(a_i, 1) (their standardised ranks are uniform)."""
    rng = np.random.default_rng(5)
    shape = rng.uniform(0.5, 20, 20_000)

    def logf(log_value, rows):
        return shape[rows] * log_value - np.exp(log_value)  # Gamma in log(value), Jacobian in

    state = np.zeros(shape.size)
    for _ in range(30):
        state = slice_update(logf, state, rng, 1.0)
    ranks = special.gammainc(shape, np.exp(state))
    assert stats.kstest(ranks, "uniform").pvalue > 0.001


def test_population_update_finds_a_gamma_population():
    rng = np.random.default_rng(8)
    values = rng.gamma(2.5, 1 / 4.0, 20_000)
    shape, rate, draws = 1.0, 1.0, []
    for _ in range(300):
        shape, rate = draw_gamma_population(values, shape, rng, (1e-3, 1e-3), (1e-3, 1e-3))
        draws.append((shape, rate))
    shape_mean, rate_mean = np.mean(draws[100:], axis=0)
    assert shape_mean == pytest.approx(2.5, rel=0.05)
    assert rate_mean == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize("move", ["shape", "rate"])
def test_population_moves_leave_the_hierarchy_invariant(move):
    """Without data (a flat likelihood), start 3,000 replicates exactly at the prior (shape ~
    Gamma(4, 2), rate ~ Gamma(3, 1), 6 members ~ Gamma(shape, rate)) and make one move each: the
    moved shape (rate) is still distributed as its prior, which needs the move's Jacobian (a
    move without it fails this test)."""
    rng = np.random.default_rng(21)
    moved = []
    for _ in range(3000):
        shape, rate = rng.gamma(4, 1 / 2), rng.gamma(3, 1.0)
        members = rng.gamma(shape, 1 / rate, 6)
        if move == "shape":
            shape, *_ = reshape_population(members, shape, rate, lambda v: 0.0, 0.0, rng,
                                           (4, 2), 0.8)
            moved.append(shape)
        else:
            rate, *_ = rescale_population(members, rate, lambda v: 0.0, 0.0, rng, (3, 1), 0.8)
            moved.append(rate)
    prior = stats.gamma(4, scale=1 / 2) if move == "shape" else stats.gamma(3, scale=1.0)
    assert stats.kstest(moved, prior.cdf).pvalue > 0.001


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Pareto/GGG. the sampler may not have converged")
def test_simulated_regularity_is_recovered_and_predicted():
    """2,000 customers with strong regularity (k around 5): the population means within 25 %
    of the truth (k's Gamma by its mean), converged, and P(alive) and the holdout purchases
    track what happened."""
    truth = dict(t=10.0, gamma=2.0, r=4.0, alpha=8.0, s=0.5, beta=8.0)
    rfm = simulate_pareto_ggg(2000, T=52, holdout=52, seed=4, **truth)
    model = ParetoGGG(draws=500, tune=300, chains=2, random_state=1).fit(rfm)
    means = model.params_
    assert means["t"] / means["gamma"] == pytest.approx(truth["t"] / truth["gamma"], rel=0.25)
    assert means["r"] / means["alpha"] == pytest.approx(truth["r"] / truth["alpha"], rel=0.25)
    assert means["s"] / means["beta"] == pytest.approx(truth["s"] / truth["beta"], rel=0.5)
    predicted = model.expected_purchases(rfm, 52, seed=1)
    actual = rfm["frequency_holdout"]
    assert predicted.sum() == pytest.approx(actual.sum(), rel=0.15)
    assert np.corrcoef(predicted, actual)[0, 1] > 0.6
    alive = model.probability_alive(rfm)
    assert alive[actual > 0].mean() > alive[actual == 0].mean() + 0.2


@pytest.mark.filterwarnings("ignore:Pareto/GGG. the sampler may not have converged")
def test_predictions_align_by_label_and_carry_their_draws():
    """A short fit: predictions are found by customer label (any order, a subset), their
    intervals are probabilities in order, the draws' mean is the plain prediction, and a
    customer not in the fit is refused by name. (A skewed posterior may put its mean outside
    an equal-tailed interval: one draw in 60 alive pulls the mean of P(alive) up.)"""
    import pandas as pd

    import clvmodels

    rfm = simulate_pareto_ggg(300, T=52, seed=2, t=10.0, gamma=2.0, r=4.0, alpha=8.0, s=0.5,
                              beta=8.0)
    model = ParetoGGG(draws=60, tune=20, chains=2, customer_draws=30, random_state=1).fit(rfm)
    alive = model.probability_alive(rfm)
    backwards = model.probability_alive(rfm.iloc[::-3])
    pd.testing.assert_series_equal(backwards, alive.loc[backwards.index])
    table = model.probability_alive(rfm, interval=0.9)
    assert ((0 <= table["lower"]) & (table["lower"] <= table["upper"])
            & (table["upper"] <= 1)).all()
    np.testing.assert_allclose(table["mean"], alive, rtol=1e-12)
    draws = model.probability_alive(rfm.iloc[:50], return_draws=True)
    assert draws.shape == (50, 60)
    np.testing.assert_allclose(draws.mean(axis=1), alive.iloc[:50], rtol=1e-12)
    purchases = model.expected_purchases(rfm, 26, interval=0.9, seed=3)
    again = model.expected_purchases(rfm, 26, seed=3)
    np.testing.assert_allclose(purchases["mean"], again, rtol=1e-12)
    assert (purchases["lower"] <= purchases["upper"]).all() and (again >= 0).all()
    with pytest.raises(clvmodels.DataError, match="not in the fit"):
        model.probability_alive(pd.Index([10_000]))
    later = rfm.copy()
    later.loc[5, "T"] += 4  # the same customer, observed longer: not the sampled history
    with pytest.raises(clvmodels.DataError, match="customer 5 has T 56 here but 52 in the fit"):
        model.expected_purchases(later, 26)
    with pytest.raises(clvmodels.NotFittedError):
        ParetoGGG().probability_alive(rfm)


def test_priors_are_gamma_priors_given_as_prior_or_pair():
    import clvmodels

    model = ParetoGGG(priors={"r": clvmodels.Prior("Gamma", alpha=2, beta=3), "s": (1, 4)})
    priors = model._priors()
    assert priors["r"] == (2.0, 3.0) and priors["s"] == (1.0, 4.0)
    assert priors["t"] == (1e-3, 1e-3)
    with pytest.raises(clvmodels.DataError, match="takes Gamma priors"):
        ParetoGGG(priors={"r": clvmodels.Prior("LogNormal", mu=0, sigma=1)})._priors()
    with pytest.raises(clvmodels.DataError, match="population parameters are"):
        ParetoGGG(priors={"k": (1, 1)})._priors()
