"""The compiled likelihood passes (clvmodels._math.kernels) against the numpy formulas they
replace: the logarithm to 3 units in the last place, every total and gradient to 1e-11."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from clvmodels._math import bgnbd, gamma_gamma, kernels, mbgnbd


def test_log1p_unit_is_log1p_to_three_units_in_the_last_place():
    e = np.concatenate([np.linspace(0.0, 1.0, 40_001), np.geomspace(1e-310, 1e-3, 2_000),
                        np.nextafter(kernels.SQRT2_MINUS_1, [0.0, 1.0]),
                        [0.0, 5e-324, 2.0 ** -1022, 1.0 - 2.0 ** -53, 1.0]])
    ours = np.array([kernels.log1p_unit(float(v)) for v in e])
    exact = np.log1p(e)
    assert ours[e == 0].tolist() == [0.0] * int((e == 0).sum())
    ulps = np.abs(ours - exact)[e > 0] / np.spacing(exact[e > 0])
    assert ulps.max() <= 3


def histories(draw_x, n, rng):
    x = draw_x(n)
    T = rng.uniform(1.0, 80.0, n).round(2)
    t_x = np.where(x > 0, rng.uniform(0.0, 1.0, n) * T, 0.0).round(2)
    return x.astype(float), t_x, T


@settings(max_examples=40, deadline=None)
@given(r=st.floats(0.01, 20), alpha=st.floats(0.01, 200), a=st.floats(0.01, 20),
       b=st.floats(0.01, 50), seed=st.integers(0, 2**32 - 1), shift=st.sampled_from([0, 1]))
def test_bgnbd_family_totals_are_the_sum_of_the_per_customer_formulas(r, alpha, a, b, seed,
                                                                      shift):
    """The compiled pass of BG/NBD (shift 0) and MBG/NBD (shift 1) gives the weighted sum of
    the per-customer log-likelihoods and gradients of row_loglik_grad (plain numpy)."""
    rng = np.random.default_rng(seed)
    x, t_x, T = histories(lambda n: rng.poisson(rng.uniform(0.1, 30.0), n), 300, rng)
    w = rng.integers(1, 5, x.size).astype(float)
    module = mbgnbd if shift else bgnbd
    total, grad = module.total_loglik_grad(r, alpha, a, b, x, t_x, T, w)
    rows, row_grads = bgnbd.row_loglik_grad_special(r, alpha, a, b, x, t_x, T, shift=shift)
    scale = np.abs(rows) @ w
    assert total == pytest.approx(rows @ w, rel=1e-11, abs=1e-11 * scale)
    for got, want in zip(grad, row_grads):
        assert got == pytest.approx(want @ w, rel=1e-9, abs=1e-10 * (np.abs(want) @ w + 1))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.sampled_from([0, 1]),
       scale=st.floats(0.01, 1e4))
def test_compiled_rows_with_covariates_are_the_special_function_rows(seed, shift, scale):
    """Per-customer parameters (as covariates make them), whole counts up to 300: the
    recurrence of kernels.mixture_rows equals scipy's log-Gamma and digamma formula."""
    rng = np.random.default_rng(seed)
    n = 200
    x, t_x, T = histories(lambda size: rng.integers(0, 300, size), n, rng)
    r, alpha, a, b = (scale * np.exp(rng.normal(0, 1.5, n)) for _ in range(4))
    got, got_grad = bgnbd.row_loglik_grad(r, alpha, a, b, x, t_x, T, shift=shift)
    want, want_grad = bgnbd.row_loglik_grad_special(r, alpha, a, b, x, t_x, T, shift=shift)
    # scipy's difference of two log-Gamma values of size ~ b log b loses ~ b log b * 1e-16
    room = 1e-12 * (1 + np.abs(want) + (b + x) * np.log1p(b + x) + (r + x) * np.log1p(r + x))
    assert np.all(np.abs(got - want) <= room)
    for g, h in zip(got_grad, want_grad):
        assert np.all(np.abs(g - h) <= 1e-10 * (1 + np.abs(h)))


@settings(max_examples=40, deadline=None)
@given(p=st.floats(0.05, 50), q=st.floats(0.05, 50), v=st.floats(1e-3, 1e4),
       seed=st.integers(0, 2**32 - 1))
def test_gamma_gamma_total_is_the_sum_of_the_per_customer_formula(p, q, v, seed):
    """Gamma-Gamma's compiled pass (log(v + x m) as the larger's logarithm plus log1p of the
    ratio, on both sides of v = x m) gives the sum of row_loglik_grad."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 40, 300).astype(float)
    m = np.exp(rng.uniform(math.log(v) - 8, math.log(v) + 8, 300))  # x m on both sides of v
    w = rng.integers(1, 5, 300).astype(float)
    total, grad = gamma_gamma.total_loglik_grad(p, q, v, gamma_gamma.sufficient_statistics(x, m, w))
    rows, row_grads = gamma_gamma.row_loglik_grad(p, q, v, x, m)
    assert total == pytest.approx(rows @ w, rel=1e-11, abs=1e-11 * (np.abs(rows) @ w))
    for got, want in zip(grad, row_grads):
        assert got == pytest.approx(want @ w, rel=1e-9, abs=1e-10 * (np.abs(want) @ w + 1))
