"""Pareto/GGG: the closed forms against direct integration, the exact lifetime draw, the
vectorised slice sampler and the population update, and the whole sampler by simulation."""

import mpmath
import numpy as np
import pytest
from scipy import integrate, special, stats

from clvmodels._math import pggg
from hypothesis import HealthCheck, given, settings, strategies as st

from clvmodels.models.latent import (AdaptiveWalk, CustomerStreams, SharedStream,
                                     corrected_slice_update, customer_keys,
                                     draw_gamma_population, shift_populations, slice_update)
from clvmodels.models.pareto_ggg import POPULATION, ParetoGGG, sample_customers, simulate_pareto_ggg

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
        state = slice_update(logf, state, SharedStream(rng, state.size), 1.0)
    ranks = special.gammainc(shape, np.exp(state))
    assert stats.kstest(ranks, "uniform").pvalue > 0.001


def test_a_corrected_slice_update_leaves_the_whole_target_invariant():
    """Targets ``Gamma(a_i, 1)`` in log value times ``sigmoid(3 (v - a_i))`` (a factor <= 1,
    the 'costly part'): slices on the Gamma part alone, corrected by the factor, give draws of
    the product (their ranks under its distribution function, by quadrature, are uniform); the
    Gamma part alone would not (checked, so the test can fail)."""
    rng = np.random.default_rng(6)
    shape = rng.choice([0.7, 3.0, 9.0], 12_000)

    def logf(log_value, rows):
        return shape[rows] * log_value - np.exp(log_value)

    def factor(log_value):
        return -np.logaddexp(0.0, -3.0 * (np.exp(log_value) - shape))

    state = np.zeros(shape.size)
    corrected, uncorrected = state.copy(), state.copy()
    stream = SharedStream(rng, state.size)
    for _ in range(40):
        corrected, _, _ = corrected_slice_update(
            logf, factor, corrected, stream, 1.0, logf(corrected, slice(None)),
            factor(corrected))
        uncorrected = slice_update(logf, uncorrected, stream, 1.0)

    def ranks(log_values):
        out = np.empty(log_values.size)
        for a in np.unique(shape):
            def density(v, a=a):
                return stats.gamma(a).pdf(v) / (1.0 + np.exp(-3.0 * (v - a)))
            total = integrate.quad(density, 0, np.inf, limit=200)[0]
            grid = np.concatenate([np.geomspace(1e-12, 1.0, 4_000),  # the pole at 0
                                   np.linspace(1.0, 60.0, 24_000)[1:]])
            cdf = integrate.cumulative_trapezoid(density(grid), grid, initial=0) / total
            rows = shape == a
            out[rows] = np.interp(np.exp(log_values[rows]), grid, cdf)
        return out

    assert stats.kstest(ranks(corrected), "uniform").pvalue > 0.001
    assert stats.kstest(ranks(uncorrected), "uniform").pvalue < 1e-6


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


PRIORS = ((4, 2), (3, 1))  # Gamma priors of a population's shape and of its rate
MOVES = {  # the proposal's factor on (log shape, log rate) of one population
    "rate": [[0.0, 0.0], [0.0, 0.8]],
    "spread": [[0.8, 0.0], [0.8, 0.0]],
    "any": [[0.6, 0.0], [-0.3, 0.5]],
}


@pytest.mark.parametrize("move", list(MOVES))
@pytest.mark.parametrize("carry", ["all", "some"])
@pytest.mark.parametrize("exposed", [False, True])
def test_population_moves_leave_the_hierarchy_invariant(move, carry, exposed):
    """Without data (a flat likelihood), start 3,000 replicates exactly at the prior (shape ~
    Gamma(4, 2), rate ~ Gamma(3, 1), 6 members ~ Gamma(shape, rate)) and make one move each,
    carrying all members or the first three only, each keeping her place in the population
    or (``exposed``) in her own conditional Gamma(shape, rate + exposure): the moved shape and
    rate are still distributed as their priors, and so is every member given them (each
    member's probability integral transform is uniform), which needs the move's Jacobians (a
    move without them fails this test)."""
    rng = np.random.default_rng(21)
    carried = None if carry == "all" else np.arange(6) < 3
    exposures = {"v": np.array([0.0, 0.5, 8.0, 2.0, 30.0, 1.0])} if exposed else None
    moved, places = [], []
    for _ in range(3000):
        shape, rate = rng.gamma(4, 1 / 2), rng.gamma(3, 1.0)
        members = rng.gamma(shape, 1 / rate, 6)
        populations, new_members, *_ = shift_populations(
            {"v": members}, {"v": (shape, rate)}, {"v": carried}, lambda m: 0.0, 0.0, rng,
            {"v": PRIORS}, np.array(MOVES[move]), exposures)
        shape, rate = populations["v"]
        moved.append((shape, rate))
        places.append(stats.gamma.cdf(new_members["v"], shape, scale=1 / rate))
    shapes, rates = np.transpose(moved)
    assert stats.kstest(shapes, stats.gamma(4, scale=1 / 2).cdf).pvalue > 0.001
    assert stats.kstest(rates, stats.gamma(3, scale=1.0).cdf).pvalue > 0.001
    places = np.array(places)
    for column in (0, 2, 5):  # carried (with and without exposure); left where she was
        assert stats.kstest(places[:, column], "uniform").pvalue > 0.001


def test_a_joint_move_of_two_populations_leaves_both_invariant():
    """Two populations moved together by a correlated proposal, half of each one's members
    carried: still distributed as the priors (no data)."""
    rng = np.random.default_rng(5)
    factor = np.array([[0.5, 0, 0, 0], [0.3, 0.4, 0, 0], [0, 0.2, 0.5, 0], [0.1, 0, 0.3, 0.4]])
    carried = {"a": np.arange(4) < 2, "b": np.arange(4) >= 2}
    moved = []
    for _ in range(3000):
        populations = {name: (rng.gamma(4, 1 / 2), rng.gamma(3, 1.0)) for name in "ab"}
        members = {name: rng.gamma(shape, 1 / rate, 4) for name, (shape, rate) in
                   populations.items()}
        new, *_ = shift_populations(members, populations, carried, lambda m: 0.0, 0.0, rng,
                                    {name: PRIORS for name in "ab"}, factor)
        moved.append([*new["a"], *new["b"]])
    moved = np.transpose(moved)
    for values, (shape, rate) in zip(moved, [*PRIORS, *PRIORS]):
        assert stats.kstest(values, stats.gamma(shape, scale=1 / rate).cdf).pvalue > 0.001


def test_a_spread_move_keeps_the_population_mean_and_moves_along_it():
    """The spread move changes shape and rate by one factor (their ratio, the mean, kept) and
    is accepted where the data are flat in it; members left out stay where they are."""
    rng = np.random.default_rng(3)
    members = rng.gamma(0.5, 1 / 8.0, 5000)
    carried = np.arange(5000) < 4000
    populations, new_members, _, accepted = shift_populations(
        {"mu": members}, {"mu": (0.5, 8.0)}, {"mu": carried}, lambda m: 0.0, 0.0, rng,
        {"mu": ((1e-3, 1e-3), (1e-3, 1e-3))}, np.array([[0.01, 0.0], [0.01, 0.0]]))
    shape, rate = populations["mu"]
    assert shape / rate == pytest.approx(0.5 / 8.0)
    assert accepted and shape != 0.5
    new_members = new_members["mu"]
    assert np.all(np.argsort(new_members[carried]) == np.argsort(members[carried]))
    assert np.array_equal(new_members[~carried], members[~carried])


def test_a_conditional_move_of_the_rate_scales_each_member_by_her_exposure():
    """With exposures, a move of the rate alone scales a member by ``(rate + e) / (rate' +
    e)``: one without exposure moves with the population, one with a long exposure hardly;
    a member left out stays bit-identical."""
    rng = np.random.default_rng(6)
    members = np.array([0.2, 0.1, 0.05, 0.3])
    exposure = np.array([0.0, 4.0, 50.0, 4.0])
    carried = np.array([True, True, True, False])
    populations, new_members, _, accepted = shift_populations(
        {"mu": members}, {"mu": (0.5, 4.0)}, {"mu": carried}, lambda m: 0.0, 0.0, rng,
        {"mu": ((1e-3, 1e-3), (1e-3, 1e-3))}, np.array([[0.0, 0.0], [0.0, 0.3]]),
        {"mu": exposure})
    shape, rate = populations["mu"]
    assert accepted and shape == 0.5 and rate != 4.0
    expected = members * (4.0 + exposure) / (rate + exposure)
    assert new_members["mu"][:3] == pytest.approx(expected[:3], rel=1e-12)
    assert new_members["mu"][3] == members[3]


def test_a_move_the_data_refuse_is_rejected_and_changes_nothing():
    rng = np.random.default_rng(4)
    members = rng.gamma(2.0, 1.0, 50)
    populations, new_members, loglik, accepted = shift_populations(
        {"v": members}, {"v": (2.0, 1.0)}, {"v": None}, lambda m: -np.inf, -3.0, rng,
        {"v": PRIORS}, np.array([[0.1, 0.0], [0.0, 0.1]]))
    assert not accepted and loglik == -3.0 and populations["v"] == (2.0, 1.0)
    assert new_members["v"] is members


def test_the_adaptive_walk_learns_the_posterior_shape_in_the_warm_up_and_then_stays():
    """Fed draws from a correlated normal, the walk's proposal takes its covariance at half
    the warm-up and is fixed after it."""
    rng = np.random.default_rng(0)
    covariance = np.array([[1.0, -0.8], [-0.8, 1.0]])
    walk = AdaptiveWalk(2, tune=1000)
    before = walk.factor.copy()
    for step in range(1000):
        walk.update(step, rng.multivariate_normal([0, 0], covariance), step % 3 == 0)
    learned = walk.factor @ walk.factor.T
    assert not np.allclose(before, walk.factor)
    assert learned[0, 1] / np.sqrt(learned[0, 0] * learned[1, 1]) == pytest.approx(-0.8, abs=0.1)
    after = walk.factor.copy()
    walk.update(1000, [5.0, 5.0], True)
    assert np.array_equal(after, walk.factor)


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
    predicted = model.expected_purchases(rfm, 52)
    actual = rfm["frequency_holdout"]
    assert predicted.sum() == pytest.approx(actual.sum(), rel=0.15)
    assert np.corrcoef(predicted, actual)[0, 1] > 0.6
    alive = model.probability_alive(rfm)
    assert alive[actual > 0].mean() > alive[actual == 0].mean() + 0.2


@pytest.fixture(scope="module")
def short_fit():
    """A short fit (behaviour, not accuracy) and its frame."""
    rfm = simulate_pareto_ggg(300, T=52, seed=2, t=10.0, gamma=2.0, r=4.0, alpha=8.0, s=0.5,
                              beta=8.0)
    with pytest.warns(UserWarning, match="may not have converged"):
        model = ParetoGGG(draws=60, tune=20, chains=2, customer_draws=30, customer_tune=20,
                          random_state=1).fit(rfm)
    return model, rfm


def test_a_total_over_customers_carries_the_uncertainty_they_share(short_fit):
    """Draw d of every customer is given the same population draw, so the per-draw sums of a
    total vary with the population as well as with each customer: their variance is well
    above the sum of the customers' own (the sum alone, were each customer's draws from a
    chain of her own); the mean is still the sum of the predictions."""
    import clvmodels

    model, rfm = short_fit
    table = clvmodels.total(model.expected_purchases, rfm, 26)
    assert table.loc["all", "mean"] == pytest.approx(model.expected_purchases(rfm, 26).sum())
    draws = model.expected_purchases(rfm, 26, return_draws=True).to_numpy()
    sums = clvmodels.total(model.expected_purchases, rfm, 26, return_draws=True).to_numpy()[0]
    assert sums == pytest.approx(draws.sum(axis=0))
    assert sums.var() > 1.25 * draws.var(axis=1).sum()  # 1.65 here; 0.85 unaligned


def test_predictions_align_by_label_and_carry_their_draws(short_fit):
    """Predictions are found by customer label (any order, a subset), their intervals are in
    order, the draws' mean is the plain prediction; an unfitted model says so. (A skewed
    posterior may put its mean outside an equal-tailed interval: one draw in 60 alive pulls
    the mean of P(alive) up.)"""
    import pandas as pd

    import clvmodels

    model, rfm = short_fit
    alive = model.probability_alive(rfm)
    backwards = model.probability_alive(rfm.iloc[::-3])
    pd.testing.assert_series_equal(backwards, alive.loc[backwards.index])
    table = model.probability_alive(rfm, interval=0.9)
    assert ((0 <= table["lower"]) & (table["lower"] <= table["upper"])
            & (table["upper"] <= 1)).all()
    np.testing.assert_allclose(table["mean"], alive, rtol=1e-12)
    draws = model.probability_alive(rfm.iloc[:50], return_draws=True)
    assert draws.shape == (50, 30)
    np.testing.assert_allclose(draws.mean(axis=1), alive.iloc[:50], rtol=1e-12)
    purchases = model.expected_purchases(rfm, 26, interval=0.9)
    again = model.expected_purchases(rfm, 26)
    np.testing.assert_allclose(purchases["mean"], again, rtol=1e-12)
    assert (purchases["lower"] <= purchases["upper"]).all() and (again >= 0).all()
    fewer = model.expected_purchases(rfm, 26, max_draws=10, return_draws=True)
    assert fewer.shape == (300, 10)
    with pytest.raises(clvmodels.NotFittedError):
        ParetoGGG().probability_alive(rfm)
    with pytest.raises(clvmodels.DataError, match="litt"):
        model.probability_alive(rfm.drop(columns="litt"))


def test_customers_outside_the_fit_are_predicted_from_their_history(short_fit):
    """A customer's draws depend on her history alone (her own random numbers): a new
    customer with a fitted customer's history gets the same prediction, a later history of
    the same customer a different one (more silence, less alive), and per-customer horizons
    align by label."""
    import pandas as pd

    model, rfm = short_fit
    new = rfm.iloc[[3, 7]].copy()
    new.index = ["new-a", "new-b"]
    np.testing.assert_array_equal(model.probability_alive(new).to_numpy(),
                                  model.probability_alive(rfm).iloc[[3, 7]].to_numpy())
    later = rfm.iloc[[3]].copy()
    later["T"] += 26
    assert model.probability_alive(later).iloc[0] < model.probability_alive(rfm).iloc[3]
    horizons = pd.Series([10.0, 40.0], index=rfm.index[[7, 3]])
    each = model.expected_purchases(rfm.iloc[[3, 7]], horizons)
    assert each.iloc[0] == model.expected_purchases(rfm.iloc[[3]], 40.0).iloc[0]
    assert each.iloc[1] == model.expected_purchases(rfm.iloc[[7]], 10.0).iloc[0]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_customers_prediction_does_not_depend_on_the_others(short_fit, data):
    """Any subset of the customers, in any order: each customer's prediction is the same to
    the last bit (the draws are hers alone), so scoring in chunks, on Dask or one at a time
    gives one answer."""
    model, rfm = short_fit
    rows = data.draw(st.lists(st.integers(0, len(rfm) - 1), min_size=1, max_size=12,
                              unique=True))
    part = rfm.iloc[rows]
    whole = model.expected_purchases(rfm, 13)
    np.testing.assert_array_equal(model.expected_purchases(part, 13).to_numpy(),
                                  whole.iloc[rows].to_numpy())


def test_a_model_file_loads_back_to_the_same_predictions(short_fit, tmp_path):
    import clvmodels

    model, rfm = short_fit
    model.save(tmp_path / "pggg.json")
    loaded = clvmodels.load(tmp_path / "pggg.json")
    assert repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded.expected_purchases(rfm, 13), model.expected_purchases(
        rfm, 13))
    np.testing.assert_array_equal(loaded.probability_alive(rfm, interval=0.8),
                                  model.probability_alive(rfm, interval=0.8))


@pytest.mark.parametrize("shape", [0.3, 1.0, 4.5])
def test_customer_streams_draw_their_distributions(shape):
    """The counter-based numbers: uniform, and Gamma(shape) by Marsaglia-Tsang (with the
    boost below 1), by Kolmogorov-Smirnov over 20,000 customers; different places give
    different numbers."""
    keys = customer_keys(7, np.arange(20_000.0))
    streams = CustomerStreams(keys)
    everyone = slice(None)
    u = streams.uniform(everyone, 1, 2)
    assert stats.kstest(u, "uniform").pvalue > 0.001
    assert np.corrcoef(u, streams.uniform(everyone, 1, 3))[0, 1] < 0.03
    g = streams.gamma(everyone, np.full(keys.size, shape), 5)
    assert stats.kstest(g, stats.gamma(shape).cdf).pvalue > 0.001


def test_each_customer_draw_follows_its_own_population_row():
    """Histories without information (nothing observed: T = 0) and two population rows far
    apart: each customer's draw d of k, lambda and mu is a draw of row d's Gammas, the second
    after only the iterations given its row (a sampler that mishandles a proposal, a Jacobian
    or the move from one row to the next fails this)."""
    population = np.array([[4.0, 2.0, 2.0, 1.0, 0.5, 2.0], [2.0, 2.0, 3.0, 2.0, 1.0, 1.0]])
    n = 4000
    zeros = np.zeros(n)
    k, lam, mu = sample_customers(population, 1.0, zeros, zeros, zeros, zeros,
                                  customer_keys(3, np.arange(n, dtype=float)), 30, 2)
    for d in (0, 1):
        for j, values in enumerate((k, lam, mu)):
            law = stats.gamma(population[d, 2 * j], scale=1 / population[d, 2 * j + 1])
            assert stats.kstest(values[:, d], law.cdf).pvalue > 0.001, (d, POPULATION[2 * j])


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


@pytest.mark.filterwarnings("ignore:Pareto/GGG. the sampler may not have converged")
def test_compare_puts_pareto_ggg_beside_the_likelihood_models():
    """Named, Pareto/GGG is compared on the holdout with the others (no likelihood of its
    population alone: no AIC); its settings are refused where no sampled model is named."""
    import clvmodels
    from clvmodels.testing import LATENT_SETTINGS

    rfm = simulate_pareto_ggg(400, T=52, holdout=26, seed=5, t=10.0, gamma=2.0, r=4.0,
                              alpha=8.0, s=0.5, beta=8.0)
    table = clvmodels.compare(rfm, ["pnbd", "pggg"], options=LATENT_SETTINGS)
    assert np.isnan(table.loc["pggg", "aic"]) and np.isfinite(table.loc["pnbd", "aic"])
    assert table.loc["pggg", "parameters"] == 6
    assert np.isfinite(table[["holdout_mae", "holdout_rmse"]].to_numpy()).all()
    assert isinstance(table.attrs["fits"]["pggg"], ParetoGGG)
    with pytest.raises(clvmodels.DataError, match="options"):
        clvmodels.compare(rfm, ["pnbd"], options={"draws": 10})


@pytest.mark.parametrize("k, lam, mu, t_x, T", CASES)
def test_probability_of_any_purchase_is_the_integral_over_the_next_gap(k, lam, mu, t_x, T):
    """Alive at the last purchase and the running gap ending in (T, T + t] before death:
    P(tau > t_x + g, T < t_x + g <= T + t | no purchase in (t_x, T]) by quadrature over the
    gap g (density Gamma(k, c)) and the lifetime (integrated: e^{-mu g}); at k = 1 the
    Pareto/NBD's closed form."""
    c, t = k * lam, 13.0
    D = T - t_x
    numerator, _ = integrate.quad(lambda g: np.exp(-mu * g) * stats.gamma(k, scale=1 / c).pdf(g),
                                  D, D + t, epsabs=0, epsrel=1e-12, limit=200)
    denominator = np.exp(pggg.silence_loglik(k, lam, mu, t_x, T) + mu * t_x)
    got = pggg.probability_any_purchase(k, lam, mu, t_x, T, t)
    assert got == pytest.approx(numerator / denominator, rel=1e-8)
    if k == 1.0:
        alive = pggg.probability_alive(k, lam, mu, t_x, T)
        assert got == pytest.approx(alive * lam / (lam + mu) * -np.expm1(-(lam + mu) * t),
                                    rel=1e-10)


def test_probability_of_any_purchase_agrees_with_the_simulated_futures(short_fit):
    """Per customer, P(any purchase in 13 weeks) is at most P(alive); over the customers at
    most the expected purchases (a customer who buys buys at least once); nothing in no time."""
    model, rfm = short_fit
    some = model.probability_any_purchase(rfm, 13)
    alive = model.probability_alive(rfm)
    assert ((0 <= some) & (some <= alive + 1e-12)).all()
    assert some.sum() <= model.expected_purchases(rfm, 13).sum()
    assert model.probability_any_purchase(rfm, 1e-9).max() < 1e-6


@pytest.mark.parametrize("lam, mu, h", [(0.7, 0.05, 20.0), (0.1, 0.3, 52.0), (3.0, 0.01, 8.0)])
def test_expected_purchases_after_the_next_one_are_the_pareto_nbds_at_k_1(lam, mu, h):
    """At k = 1 the next purchase after T is Exp(lambda) away (memoryless); integrating the
    later gaps and the lifetime out, then the next purchase's time by quadrature, gives the
    Pareto/NBD's lambda / mu (1 - e^{-mu h}) for a customer alive at T."""
    def integrand(first):
        value = pggg.expected_purchases_after([1.0], [lam], [mu], [1.0], [first], [[h]])
        return value[0, 0] * lam * np.exp(-lam * first)

    value = integrate.quad(integrand, 0, np.inf, limit=200)[0]
    assert value == pytest.approx(lam / mu * -np.expm1(-mu * h), rel=1e-7)


def test_expected_purchases_after_the_next_one_match_a_simulated_renewal_process():
    """k = 3: the purchases of a simulated renewal process (Gamma(k, k lambda) gaps from the
    next purchase on, until an exponential lifetime ends), counted by two horizons, against
    the sum over later purchases (4 standard errors); alive scales it; a next purchase beyond
    the horizon counts nothing."""
    rng = np.random.default_rng(1)
    k, lam, mu, first, n = 3.0, 0.7, 0.05, 2.0, 200_000
    horizons = np.array([[1.0, 6.0, 20.0]])
    life = rng.exponential(1 / mu, n)
    time, counts = np.full(n, first), np.zeros((n, 3))
    active = np.arange(n)
    while active.size:
        active = active[(time[active] <= horizons[0, -1]) & (time[active] <= life[active])]
        counts[active] += time[active, None] <= horizons
        time[active] += rng.gamma(k, 1 / (k * lam), active.size)
    expected = pggg.expected_purchases_after([k], [lam], [mu], [1.0], [first], horizons)[0]
    assert np.abs(expected - counts.mean(axis=0)).max() < 4 * counts.std(axis=0).max() / np.sqrt(n)
    assert expected[0] == 0.0
    half = pggg.expected_purchases_after([k], [lam], [mu], [0.5], [first], horizons)[0]
    np.testing.assert_allclose(half, expected / 2)


@settings(max_examples=40, deadline=None)
@given(k=st.floats(3e-4, 0.0099), lam=st.floats(0.01, 3.0), mu=st.floats(1e-4, 0.5),
       first=st.floats(0.0, 20.0), h=st.floats(0.1, 104.0))
def test_irregular_customers_expected_purchases_sum_their_tail_as_an_integral(k, lam, mu, first,
                                                                              h):
    """Below k = 0.01 the sum needs about mu h / k terms (millions at k = 1e-6) and most are
    summed as an integral (Euler-Maclaurin): it equals the sum term by term (1e-6 relative;
    1.5e-7 the largest seen, at k near 0.01, and smaller as k falls)."""
    args = ([k], [lam], [mu], [1.0], [first], [[first + h]])
    fast = pggg.expected_purchases_after(*args)[0, 0]
    previous = pggg.SMALL_K
    pggg.SMALL_K = 0.0  # every term, one by one
    try:
        slow = pggg.expected_purchases_after(*args)[0, 0]
    finally:
        pggg.SMALL_K = previous
    assert fast == pytest.approx(slow, rel=1e-6)


def test_expected_purchases_of_a_nearly_bursting_customer_are_finite():
    """k = 1e-9 (a burst: nearly every gap 0) would take billions of terms one by one; the
    integral gives a finite number that grows as k falls."""
    values = [pggg.expected_purchases_after([k], [0.1], [0.05], [1.0], [1.0], [[52.0]])[0, 0]
              for k in (1e-3, 1e-6, 1e-9)]
    assert np.all(np.isfinite(values)) and values[0] < values[1] < values[2]


@pytest.mark.filterwarnings("ignore:Pareto/GGG. the sampler may not have converged")
def test_the_backtest_runs_it_with_paired_intervals(cdnow):
    """Named, the pair bayes_pggg_gg is backtested on CDNOW beside the Pareto/NBD: scored on
    the same customers, with the paired bootstrap difference of every metric."""
    from clvmodels.backtesting import backtest
    from clvmodels.testing import LATENT_SETTINGS

    result = backtest(cdnow, calibration_end="1997-09-30", observation_end="1998-06-30",
                      methods=["pnbd_gg", "bayes_pggg_gg"], bayes_options=LATENT_SETTINGS)
    table = result.metrics.set_index("method")
    assert np.isfinite(table.loc["bayes_pggg_gg", ["purchases_mae", "alive_auc"]]).all()
    assert result.predictions.groupby("method").size().nunique() == 1
    difference = result.difference("purchases_mae", "bayes_pggg_gg", "pnbd_gg", draws=50)
    assert difference["lower"] <= difference["estimate"] <= difference["upper"]


def test_a_bayesian_pair_gives_each_model_its_own_settings(cdnow_calibration):
    """``options`` reach the models that take them (Pareto/GGG's customer_draws, not
    Gamma-Gamma); one that neither takes is refused by name before anything is fitted."""
    import clvmodels

    with pytest.raises(clvmodels.DataError, match=r"neither pggg nor gg takes \['nonsense'\]"):
        clvmodels.ModelPair.fit(cdnow_calibration, purchases="pggg", bayesian=True,
                                options={"nonsense": 1, "customer_draws": 5})


def _blas_threads(_job):
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_each_chain_process_runs_one_blas_thread():
    """The latent models' chains run in processes of their own, one per core: a BLAS thread
    pool in each only fights the others (Abe's CDNOW fit took twice as long with them)."""
    from clvmodels.models.latent_model import run_chains

    pools = run_chains(_blas_threads, [0, 1], cores=2)
    assert all(threads and set(threads) == {1} for threads in pools), pools  # numpy's, scipy's
