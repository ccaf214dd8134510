"""The (M)BG/CNBD-k formulas (clvmodels._math.cnbd): at k = 1 they are the MBG/NBD and BG/NBD
ones; the likelihood equals a direct numerical integration of its definition; and the exact
conditional predictions average, over a simulated cohort, to what the cohort then does."""

import numpy as np
import pytest
from scipy import integrate, special

from clvmodels._math import bgnbd, cnbd, mbgnbd

PARAMS = dict(r=0.8, alpha=4.0, a=0.9, b=3.5)
HISTORIES = dict(x=np.array([0.0, 1.0, 3.0, 7.0, 2.0]), t_x=np.array([0.0, 5.0, 20.0, 38.0, 9.0]),
                 T=np.array([10.0, 30.0, 30.0, 40.0, 9.0]))


@pytest.mark.parametrize("mbg,family", [(True, mbgnbd), (False, bgnbd)], ids=["mbg", "bg"])
def test_k_1_is_the_nbd_model(mbg, family):
    p, h = PARAMS, HISTORIES
    args = (p["r"], p["alpha"], p["a"], p["b"], h["x"], h["t_x"], h["T"])
    litt = np.zeros_like(h["x"])
    np.testing.assert_allclose(cnbd.loglik(1, *args, litt, mbg=mbg), family.loglik(*args),
                               rtol=1e-12)
    np.testing.assert_allclose(cnbd.probability_alive(1, *args, mbg=mbg),
                               family.probability_alive(*args), rtol=1e-12)
    for t in (1.0, 10.0, 52.0):
        np.testing.assert_allclose(cnbd.expected_purchases(1, *args, t, mbg=mbg),
                                   family.expected_purchases(*args, t), rtol=1e-9)
        for n in (0, 1, 3):
            np.testing.assert_allclose(
                cnbd.conditional_probability_of_purchases(1, *args, n, t, mbg=mbg),
                family.conditional_probability_of_purchases(*args, float(n), t),
                rtol=1e-9, atol=1e-14)
    t = np.array([1.0, 10.0, 52.0])
    np.testing.assert_allclose(cnbd.expected_purchases_new(1, *args[:4], t, mbg=mbg),
                               family.expected_purchases_new(*args[:4], t), rtol=1e-9)


def direct_loglik(k, r, alpha, a, b, x, t_x, T, gaps, mbg):
    """The likelihood from its definition: Erlang-k gaps at rate lambda and no purchase in the
    s = T - t_x since the last (fewer than k phases: a Poisson count), death after each repeat
    purchase (and at time 0 for the MBG) with probability p ~ Beta(a, b) (integrated in closed
    form: Beta functions), integrated numerically over lambda ~ Gamma(r, alpha)."""
    m = 1 if mbg else 0
    alive = np.exp(special.betaln(a, b + x + m) - special.betaln(a, b))
    dead = (np.exp(special.betaln(a + 1, b + x - 1 + m) - special.betaln(a, b))
            if (x > 0 or mbg) else 0.0)
    s = T - t_x

    def integrand(lam):
        log_gaps = (x * (k * np.log(lam) - special.gammaln(k))
                    + (k - 1) * np.log(gaps).sum() - lam * t_x) if x else 0.0
        quiet = sum(np.exp(-lam * s + i * np.log(lam * s) - special.gammaln(i + 1)) if s > 0
                    else float(i == 0) for i in range(k))
        prior = np.exp(r * np.log(alpha) + (r - 1) * np.log(lam) - alpha * lam
                       - special.gammaln(r))
        return np.exp(log_gaps) * prior * (alive * quiet + dead)

    value, _ = integrate.quad(integrand, 0, np.inf, epsabs=0, epsrel=1e-12, limit=500)
    return np.log(value)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("mbg", [True, False], ids=["mbg", "bg"])
def test_the_likelihood_is_its_definition_integrated(k, mbg):
    r, alpha, a, b = 1.5, 6.0, 1.2, 2.5
    for gaps, T in (([], 8.0), ([4.0], 9.0), ([2.0, 3.5, 1.0], 12.0)):
        gaps = np.asarray(gaps)
        x, t_x = len(gaps), float(gaps.sum())
        litt = float(np.log(gaps).sum()) if x else 0.0
        ours = cnbd.loglik(k, r, alpha, a, b, float(x), t_x, T, litt, mbg=mbg)
        assert ours == pytest.approx(direct_loglik(k, r, alpha, a, b, x, t_x, T, gaps, mbg),
                                     rel=1e-10), (gaps, T)


def simulate(n, k, r, alpha, a, b, T, horizon, mbg, seed):
    """A cohort acquired at time 0, observed to T, then to T + horizon
    (:func:`clvmodels.models.cnbd.simulate_regular`): (x, t_x, litt) of the calibration and
    the purchases in the holdout."""
    from clvmodels.models.cnbd import simulate_regular

    frame = simulate_regular(n, k=k, r=r, alpha=alpha, a=a, b=b, T=T, holdout=horizon,
                             mbg=mbg, seed=seed)
    return (frame["frequency"].to_numpy(float), frame["recency"].to_numpy(),
            frame["litt"].to_numpy(), frame["frequency_holdout"].to_numpy(float))


@pytest.mark.slow
@pytest.mark.parametrize("k,mbg", [(2, False), (3, True)], ids=["bg-cnbd-2", "mbg-cnbd-3"])
def test_the_exact_forecast_averages_to_what_a_simulated_cohort_does(k, mbg):
    r, alpha, a, b, T, horizon = 1.2, 3.0, 1.0, 4.0, 26.0, 13.0
    x, t_x, litt, future = simulate(60_000, k, r, alpha, a, b, T, horizon, mbg, seed=k)
    expected = cnbd.expected_purchases(k, r, alpha, a, b, x, t_x, np.full_like(x, T), horizon,
                                       mbg=mbg)
    se = future.std() / np.sqrt(len(future))
    assert abs(expected.mean() - future.mean()) < 4 * se, (expected.mean(), future.mean(), se)
    zero = cnbd.conditional_probability_of_purchases(k, r, alpha, a, b, x, t_x,
                                                     np.full_like(x, T), 0, horizon, mbg=mbg)
    share = (future == 0).mean()
    assert abs(zero.mean() - share) < 4 * np.sqrt(share * (1 - share) / len(future))
    # and by calibration frequency, where the regularity shows
    for group in (x == 0, x == 1, (x >= 2) & (x < 6), x >= 6):
        se = future[group].std() / np.sqrt(group.sum()) + 1e-12
        assert abs(expected[group].mean() - future[group].mean()) < 4 * se + 1e-3


@pytest.mark.parametrize("k,mbg", [(1, True), (2, False), (3, True), (5, False)])
def test_the_one_pass_expectation_is_the_sum_of_its_tail_probabilities(k, mbg):
    """E[X(t) | alive] = sum over n of P(X(t) >= n | alive), each an incomplete beta
    (cnbd._at_least), summed directly far into the tail."""
    p, h = PARAMS, HISTORIES
    args = (p["r"], p["alpha"], p["a"], p["b"], h["x"], h["t_x"], h["T"])
    for t in (0.5, 13.0, 104.0):
        direct = sum(cnbd._at_least(k, *args, t, mbg, n) for n in range(1, 4000))
        np.testing.assert_allclose(cnbd.expected_purchases_if_alive(k, *args, t, mbg=mbg),
                                   direct, rtol=1e-10)
    assert (cnbd.expected_purchases_if_alive(k, *args, 0.0, mbg=mbg) == 0).all()


@pytest.mark.parametrize("mbg,family", [(True, mbgnbd), (False, bgnbd)], ids=["mbg", "bg"])
def test_later_alive_any_purchase_and_a_new_customer_at_k_1(mbg, family):
    p, h = PARAMS, HISTORIES
    args = (p["r"], p["alpha"], p["a"], p["b"], h["x"], h["t_x"], h["T"])
    for t in (0.5, 13.0, 52.0):
        np.testing.assert_allclose(cnbd.probability_alive_at(1, *args, t, mbg=mbg),
                                   family.probability_alive_at(*args, t), rtol=1e-9)
        np.testing.assert_allclose(cnbd.probability_any_purchase(1, *args, t, mbg=mbg),
                                   family.probability_any_purchase(*args, t), rtol=1e-9)
        for n in (0, 1, 4):
            np.testing.assert_allclose(cnbd.probability_of_purchases(1, *args[:4], n, t, mbg=mbg),
                                       family.probability_of_purchases(*args[:4], n, t),
                                       rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("k,mbg", [(2, False), (4, True)])
def test_the_pieces_of_a_forecast_agree_with_each_other(k, mbg):
    """P(X = n) sums to 1 and its mean is E[X]; P(X > 0) is 1 - P(X = 0); P(alive later) falls
    with t from P(alive now)."""
    p, h = PARAMS, HISTORIES
    args = (p["r"], p["alpha"], p["a"], p["b"], h["x"], h["t_x"], h["T"])
    t = 26.0
    pmf = np.array([cnbd.conditional_probability_of_purchases(k, *args, n, t, mbg=mbg)
                    for n in range(400)])
    np.testing.assert_allclose(pmf.sum(axis=0), 1.0, rtol=1e-10)
    np.testing.assert_allclose((np.arange(400)[:, None] * pmf).sum(axis=0),
                               cnbd.expected_purchases(k, *args, t, mbg=mbg), rtol=1e-9)
    np.testing.assert_allclose(cnbd.probability_any_purchase(k, *args, t, mbg=mbg), 1 - pmf[0],
                               rtol=1e-10)
    now = cnbd.probability_alive(k, *args, mbg=mbg)
    later = [cnbd.probability_alive_at(k, *args, s, mbg=mbg) for s in (0.0, 5.0, 26.0, 104.0)]
    np.testing.assert_allclose(later[0], now, rtol=1e-12)
    assert all(np.all(b_ <= a_ + 1e-15) for a_, b_ in zip(later, later[1:]))


@pytest.mark.parametrize("k", [2, 3, 6])
@pytest.mark.parametrize("mbg", [True, False], ids=["mbg", "bg"])
def test_the_analytic_gradient_is_the_derivative(k, mbg):
    from clvmodels.models.cnbd import simulate_regular

    frame = simulate_regular(400, k=k, r=1.1, alpha=2.5, a=0.9, b=3.0, T=40, mbg=mbg, seed=k)
    x, t_x, T, litt = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T", "litt"))
    weights = np.ones(len(x))
    for params in (np.array([1.1, 2.5, 0.9, 3.0]), np.array([0.6, 4.0, 1.7, 1.5])):
        value, grad = cnbd.total_loglik_grad(k, *params, x, t_x, T, litt, weights, mbg=mbg)
        assert value == pytest.approx(cnbd.loglik(k, *params, x, t_x, T, litt, mbg=mbg).sum(),
                                      rel=1e-13)
        numeric = np.empty(4)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-6 * params[i]
            numeric[i] = (cnbd.total_loglik_grad(k, *(params + step), x, t_x, T, litt, weights,
                                                 mbg=mbg)[0]
                          - cnbd.total_loglik_grad(k, *(params - step), x, t_x, T, litt,
                                                   weights, mbg=mbg)[0]) / (2 * step[i])
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("mbg", [True, False], ids=["mbg", "bg"])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_the_pytensor_likelihood_and_its_gradient_are_the_numpy_ones(k, mbg):
    """The PyMC twin's graph (``xp`` = PyTensor) is the numpy likelihood and the analytic
    gradient, on histories with no repeat purchase and with no time since the last one."""
    import pytensor
    import pytensor.tensor as pt

    from clvmodels._math import pytensor_namespace

    h = HISTORIES
    litt = np.where(h["x"] > 0, h["x"] * 0.7, 0.0)
    weights = np.array([3.0, 1.0, 2.0, 1.0, 4.0])
    theta = pt.dvector("theta")
    total = pt.dot(weights, cnbd.loglik(k, theta[0], theta[1], theta[2], theta[3], h["x"],
                                        h["t_x"], h["T"], litt, mbg=mbg,
                                        xp=pytensor_namespace()))
    evaluate = pytensor.function([theta], [total, pt.grad(total, theta)])
    for params in ([0.8, 4.0, 0.9, 3.5], [2.5, 0.7, 0.3, 9.0]):
        value, grad = evaluate(np.array(params))
        expected, expected_grad = cnbd.total_loglik_grad(k, *params, h["x"], h["t_x"], h["T"],
                                                         litt, weights, mbg=mbg)
        assert value == pytest.approx(expected, rel=1e-12)
        # the digamma differences in b cancel to ~1e-10 in either order of summation
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-7, atol=1e-9)
