"""GGompertz/NBD's formulas (issue 22, item 2; the estimator: tests/test_ggompertz.py): the death
integral against adaptive quadrature, the Pareto/NBD limit b -> 0 with beta = b beta_p, and the
distributions of the number of purchases (they sum to 1; their mean is the expected
purchases)."""

from __future__ import annotations

import numpy as np
from scipy import integrate

from clvmodels._math import ggomnbd, pnbd


def test_the_death_integral_equals_adaptive_quadrature():
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(120):
        r, alpha, s = rng.uniform(0.1, 3), 10 ** rng.uniform(-1, 2), rng.uniform(0.1, 3)
        b, beta = 10 ** rng.uniform(-4, 0), 10 ** rng.uniform(-3, 2)
        T = rng.uniform(1, 100)
        x = int(rng.integers(0, 30))
        t_x = rng.uniform(0, T) if x else 0.0

        def f(tau):
            return (b * s * beta ** s * np.exp(b * tau)
                    * np.exp(-(s + 1) * ggomnbd.log_gompertz_term(beta, b, tau))
                    * (alpha + tau) ** -(r + x))

        value = integrate.quad(f, t_x, T, epsabs=0, epsrel=1e-13, limit=500)[0]
        ours = np.exp(ggomnbd.log_dead(r, alpha, b, s, beta, x, t_x, T))
        if value > 0:
            worst = max(worst, abs(ours / value - 1))
    assert worst < 1e-10


def test_b_to_zero_is_pareto_nbd():
    r, alpha, s, beta_p = 0.6, 8.0, 0.7, 30.0
    x, t_x, T = np.array([0, 2, 10.0]), np.array([0, 10, 30.0]), np.array([40, 40, 40.0])
    n = np.array([0, 1, 3.0])
    for b in (1e-6, 1e-8):  # the gap shrinks like b
        gg = (r, alpha, b, s, b * beta_p)
        p = (r, alpha, s, beta_p)
        tol = 1e-3 * b / 1e-6 * 0.1
        np.testing.assert_allclose(ggomnbd.loglik(*gg, x, t_x, T), pnbd.loglik(*p, x, t_x, T),
                                   atol=tol)
        np.testing.assert_allclose(ggomnbd.expected_purchases(*gg, x, t_x, T, 20),
                                   pnbd.expected_purchases(*p, x, t_x, T, 20), atol=tol)
        np.testing.assert_allclose(ggomnbd.probability_any_purchase(*gg, x, t_x, T, 20),
                                   pnbd.probability_any_purchase(*p, x, t_x, T, 20), atol=tol)
        np.testing.assert_allclose(ggomnbd.probability_of_purchases(*gg, n, 20),
                                   pnbd.probability_of_purchases(*p, n, 20), atol=tol)
        np.testing.assert_allclose(
            ggomnbd.conditional_probability_of_purchases(*gg, x, t_x, T, 2, 20),
            pnbd.conditional_probability_of_purchases(*p, x, t_x, T, 2, 20), atol=tol)


def test_the_distributions_of_purchases_sum_to_one_with_the_expected_mean():
    n = np.arange(0, 200.0)
    params = (0.6, 8.0, 0.05, 0.7, 2.0)
    new = ggomnbd.probability_of_purchases(*params, n, 30)
    assert abs(new.sum() - 1) < 1e-12
    assert abs((n * new).sum() - ggomnbd.expected_purchases_new(*params, 30)) < 1e-10
    given = ggomnbd.conditional_probability_of_purchases(*params, 5, 20, 40, n, 30)
    assert abs(given.sum() - 1) < 1e-12
    assert abs((n * given).sum() - ggomnbd.expected_purchases(*params, 5, 20, 40, 30)) < 1e-10
    alive = ggomnbd.probability_alive(*params, 5, 20, 40)
    assert 0 < ggomnbd.probability_alive_at(*params, 5, 20, 40, 10) < alive < 1


def test_customers_alike_in_their_dropout_keep_every_digit():
    """s in the millions (beta with it: the Gompertz scale nearly the same for everyone, the
    limit the fit runs towards on simulated data of 3,000 customers): the death integral and
    the alive term against adaptive quadrature of the density written with log1p, to 1e-10.
    Written as s log(beta) - (s + 1) log(beta + e^{b tau} - 1), the terms lost 8 digits there
    (and the panels ran to their maximum: 0.35 s an evaluation instead of 4 ms)."""
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(60):
        r, alpha = rng.uniform(0.1, 3), 10 ** rng.uniform(-1, 2)
        s, eta, b = 10 ** rng.uniform(0, 7), 10 ** rng.uniform(-2, 1), 10 ** rng.uniform(-3, -1)
        beta = s / eta
        T = rng.uniform(1, 100)
        x = int(rng.integers(0, 30))
        t_x = rng.uniform(0, T) if x else 0.0

        def f(tau):
            return np.exp(np.log(b * s) + b * tau - np.log(beta + np.expm1(b * tau))
                          - s * np.log1p(np.expm1(b * tau) / beta) - (r + x) * np.log(alpha + tau))

        value = integrate.quad(f, t_x, T, epsabs=0, epsrel=1e-13, limit=500)[0]
        ours = np.exp(ggomnbd.log_dead(r, alpha, b, s, beta, x, t_x, T))
        if value > 1e-300:
            worst = max(worst, abs(ours / value - 1))
        alive = np.exp(-s * np.log1p(np.expm1(b * T) / beta))
        ours_alive = np.exp(-s * ggomnbd.log_gompertz_ratio(beta, b, T))
        worst = max(worst, abs(ours_alive / alive - 1))
    assert worst < 1e-10
