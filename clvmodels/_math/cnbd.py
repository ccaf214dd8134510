r"""(M)BG/CNBD-k formulas: the BG/NBD family with Erlang-k inter-purchase times (Platzer &
Reutterer 2016, "Ticking Away the Moments: Timing Regularity Helps to Better Predict Customer
Activity", Marketing Science 35(5); the likelihood as in BTYDplus, ``xbgcnbd.LL``).

While alive, a customer's purchases are a renewal process whose inter-purchase times are
Erlang-k with rate ``lambda`` (``k = 1``: Poisson, the BG/NBD); ``lambda ~ Gamma(r, alpha)``
across customers. After each repeat purchase she drops out with probability ``p ~ Beta(a, b)``;
in the MBG variant (``mbg=True``) also right after the first purchase, at time 0. A history is
``x`` repeat purchases, the last at ``t_x``, observed to ``T``, and ``litt``, the sum of the
logarithms of the ``x`` inter-purchase times (:func:`clvmodels.data.log_interpurchase_times`).

The predictions here are exact, where BTYDplus approximates the conditional expectation by a
BG/NBD with a rescaled ``alpha`` and a cohort-wide bias correction (which makes a customer's
forecast depend on who else is scored). Alive now, the ``s = T - t_x`` since her last purchase
have completed ``i < k`` of the Erlang phases of her next one; jointly with ``lambda`` the
posterior puts weight

.. math:: w_i \propto \frac{(r + kx)_i}{i!} \Big(\frac{s}{\alpha + T}\Big)^i, \qquad
          \lambda \mid i \sim \mathrm{Gamma}(r + kx + i, \alpha + T)

on them (the terms of the likelihood's alive part), and ``p ~ Beta(a, b + x + m)`` with ``m = 1``
for the MBG, 0 for the BG. Her ``n``-th future purchase comes after ``k - i + (n - 1) k``
phases, a Gamma time whose probability of falling within ``t``, averaged over ``lambda``, is the
regularized incomplete beta :math:`I_{t/(t + \alpha + T)}(k - i + (n-1)k,\, r + kx + i)`; she
makes it if she survived the ``n - 1`` purchases before it, with probability
:math:`B(a, b' + n - 1) / B(a, b')`. So

.. math:: P(X(t) \ge n \mid \text{history}) = P(\text{alive}) \sum_i w_i
          \frac{B(a, b' + n - 1)}{B(a, b')} I_{t/(t+\alpha+T)}(k - i + (n-1)k, r + kx + i)

and :math:`E[X(t)] = \sum_{n \ge 1} P(X(t) \ge n)`, summed until the terms vanish. A customer
just acquired is the case ``x = 0``, ``t_x = T = 0`` (the MBG: alive with probability
``b / (a + b)``).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import NUMPY

MAX_PURCHASES = 100_000  # the series in n stops before this many future purchases
TOLERANCE = 1e-13  # ... or where a block of terms adds less than this, relative


def survival_terms(k, r, alpha, x, t_x, T):
    """log of the terms ``j = 0 .. k-1`` of the likelihood's alive part, each
    ``(r + kx)_j (T - t_x)^j / (j! (alpha + T)^j)``: shape ``(k,) + broadcast shape``."""
    rk = r + k * x
    s = np.asarray(T - t_x, dtype=float)
    log_ratio = np.log(np.where(s > 0, s, 1.0)) - np.log(alpha + T)
    shape = np.broadcast(rk, log_ratio).shape
    terms = np.zeros((k,) + shape)
    running = np.zeros(shape)
    for j in range(1, k):  # log (r + kx)_j / j! by its recurrence: no log-Gamma per term
        running = running + np.log(rk + (j - 1)) - np.log(j) + log_ratio
        terms[j] = np.where(s > 0, running, -np.inf)
    return terms


def log_sum_terms(terms):
    """``log(sum(exp(terms), axis=0))`` and the shares ``exp(terms) / sum``: the first term is
    0, so the largest is finite."""
    top = terms.max(axis=0)
    scaled = np.exp(terms - top)
    total = scaled.sum(axis=0)
    return top + np.log(total), scaled / total


def log_a_over_b(a, b, x, mbg):
    """``log(a / (b + x - 1 + m))``, the dead part's dropout factor (``m = 1`` for the MBG)."""
    m = 1.0 if mbg else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a) - np.log(np.maximum(b + x - 1 + m, 1e-300))


def log_dead_over_alive(k, r, alpha, a, b, x, t_x, T, mbg, log_s2, known=None):
    """log(S1 / S2): the dead part of the likelihood over its alive part (-inf where a BG
    customer without repeat purchases cannot have dropped out). ``known``: ``(rk,
    log_a_over_b, log(alpha + T), log(alpha + t_x))`` per row where the caller has them."""
    if known is None:
        known = (r + k * x, log_a_over_b(a, b, x, mbg), np.log(alpha + T), np.log(alpha + t_x))
    rk, log_dropout, log_alpha_T, log_alpha_tx = known
    log_s1 = log_dropout + rk * (log_alpha_T - log_alpha_tx)
    if not mbg:
        log_s1 = np.where(np.asarray(x) > 0, log_s1, -np.inf)
    return log_s1 - log_s2


def total_loglik_grad(k, r, alpha, a, b, x, t_x, T, litt, weights, mbg=True, x_levels=None):
    """Weighted total of :func:`loglik` over customers and its analytic gradient in (r, alpha,
    a, b): with ``w`` the posterior probability of having dropped out and ``pi_j`` the
    posterior over the phases completed since the last purchase (if alive), each derivative is
    the common part's, plus ``1 - w`` times the alive part's (``sum_j pi_j du_j``), plus ``w``
    times the dead part's. The special functions of ``x`` alone run once per distinct ``x``
    where ``x_levels`` (:func:`clvmodels._math.levels` of ``x``) is given."""
    m = 1.0 if mbg else 0.0
    psi = special.digamma
    ux, ix = (np.asarray(x, dtype=float), slice(None)) if x_levels is None else x_levels
    urk = r + k * ux
    # per distinct x: the log-Gamma, Beta and digamma terms
    common_x = (special.betaln(a, b + ux + m) + special.gammaln(urk) - ux * special.gammaln(k))
    d_r_x = psi(urk)
    d_a_x = psi(a + b) - psi(a + b + ux + m)
    d_b_x = psi(b + ux + m) - psi(a + b + ux + m) - psi(b) + psi(a + b)
    inv_b_x = 1.0 / np.maximum(b + ux - 1 + m, 1e-300)
    rk = urk[ix]
    log_s2, share = log_sum_terms(survival_terms(k, r, alpha, x, t_x, T))
    log_alpha_T, log_alpha_tx = np.log(alpha + T), np.log(alpha + t_x)
    # the x-terms once per distinct x, then looked up
    ratio = log_dead_over_alive(k, r, alpha, a, b, x, t_x, T, mbg, log_s2, known=(
        rk, log_a_over_b(a, b, ux, mbg)[ix], log_alpha_T, log_alpha_tx))
    dead = special.expit(ratio)
    ll = ((k - 1) * litt + common_x[ix] - special.betaln(a, b) - special.gammaln(r)
          + r * np.log(alpha) - rk * log_alpha_T + log_s2 + np.logaddexp(0.0, ratio))
    # sum_j pi_j d/dr log (rk)_j = sum_j pi_j sum_{i<j} 1 / (rk + i); d/dalpha: -j / (alpha + T)
    d_phases, mean_j, running = 0.0, 0.0, 0.0
    for j in range(1, k):
        running = running + 1.0 / (rk + (j - 1))
        d_phases = d_phases + share[j] * running
        mean_j = mean_j + share[j] * j
    d_r = (d_r_x[ix] - psi(r) + np.log(alpha) - log_alpha_T + (1 - dead) * d_phases
           + dead * (log_alpha_T - log_alpha_tx))
    d_alpha = (r / alpha - rk / (alpha + T) - (1 - dead) * mean_j / (alpha + T)
               + dead * rk * (1 / (alpha + T) - 1 / (alpha + t_x)))
    d_a = d_a_x[ix] + dead / a
    d_b = d_b_x[ix] - dead * inv_b_x[ix]
    return float(weights @ ll), np.array([weights @ d_r, weights @ d_alpha, weights @ d_a,
                                          weights @ d_b])


def loglik(k, r, alpha, a, b, x, t_x, T, litt, mbg=True, xp=NUMPY):
    r"""Log-likelihood of one customer's history (BTYDplus ``xbgcnbd.LL``; Platzer &
    Reutterer 2016):

    .. math::
        \ell = (k-1)\,\mathrm{litt} - x \log (k-1)! + \log \frac{B(a, b + x + m)}{B(a, b)}
          + \log\frac{\Gamma(r + kx)\,\alpha^r}{\Gamma(r)\,(\alpha + T)^{r + kx}}
          + \log\Big(S_1 + \sum_{j=0}^{k-1} \frac{(r + kx)_j\,(T - t_x)^j}{j!\,(\alpha+T)^j}\Big)

    with :math:`S_1 = \frac{a}{b + x - 1 + m}\big(\frac{\alpha+T}{\alpha+t_x}\big)^{r+kx}` (0 for
    a BG customer without repeat purchases), ``m = 1`` for the MBG and 0 for the BG. At ``k = 1``
    it is the MBG/NBD (the BG/NBD) likelihood. ``xp`` is the array namespace
    (:func:`clvmodels._math.pytensor_namespace` for PyMC, where ``k`` and the data are
    constants): the sums are unrolled over the ``k`` phases, and the terms that vanish (no time
    since the last purchase; no dead part for a BG customer without repeat purchases) are
    ``exp(-1000)`` rather than 0, so that no gradient meets an infinity.
    """
    m = 1.0 if mbg else 0.0
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    rk = r + k * x
    s = T - t_x
    log_alpha_T = xp.log(alpha + T)
    # log (r + kx)_j (T - t_x)^j / (j! (alpha + T)^j), summed over j by log-add-exp
    log_s = np.log(np.where(s > 0, s, 1.0))
    log_s2, running = 0.0, 0.0
    for j in range(1, k):
        running = running + xp.log(rk + (j - 1)) - np.log(j) + log_s - log_alpha_T
        log_s2 = xp.logaddexp(log_s2, xp.where(s > 0, running, -1000.0))
    log_s1 = (xp.log(a) - xp.log(xp.maximum(b + x - 1 + m, 1e-300))
              + rk * (log_alpha_T - xp.log(alpha + t_x)))
    if not mbg:
        log_s1 = xp.where(x > 0, log_s1, -1000.0 + log_s2)
    return ((k - 1) * np.asarray(litt, dtype=float) - x * special.gammaln(k)
            + xp.betaln(a, b + x + m) - xp.betaln(a, b) + xp.gammaln(rk) - xp.gammaln(r)
            + r * xp.log(alpha) - rk * log_alpha_T + xp.logaddexp(log_s1, log_s2))


def probability_alive(k, r, alpha, a, b, x, t_x, T, mbg=True):
    """P(alive at T | history) = S2 / (S1 + S2) (BTYDplus ``xbgcnbd.PAlive``); 1 for a BG
    customer without repeat purchases."""
    log_s2, _ = log_sum_terms(survival_terms(k, r, alpha, x, t_x, T))
    return special.expit(-log_dead_over_alive(k, r, alpha, a, b, x, t_x, T, mbg, log_s2))


def _at_least(k, r, alpha, a, b, x, t_x, T, t, mbg, n):
    """P(X(t) >= n | alive, history) for one whole n >= 1 (the module docstring)."""
    m = 1.0 if mbg else 0.0
    _, weights = log_sum_terms(survival_terms(k, r, alpha, x, t_x, T))
    b_alive = b + x + m
    survive = np.exp(special.betaln(a, b_alive + n - 1) - special.betaln(a, b_alive))
    z = t / (t + alpha + T)
    total = 0.0
    for i in range(k):
        total = total + weights[i] * special.betainc(k - i + (n - 1) * k, r + k * x + i, z)
    return survive * total


def _one_pass(k, r, alpha, a, b, x, t_x, T, t, mbg, dying: bool):
    r"""``sum_n W_n P(the n-th future purchase comes within t | alive, history)`` in one pass
    of positive terms, with ``W_n`` the probability of surviving the ``n - 1`` purchases before
    it (``dying=False``: the expectation) or of surviving them and dropping out at it
    (``dying=True``: the probability of dropping out within ``t``).

    With :math:`\tau_i(j) = z^j (1-z)^{B_i} / (j\,B(j, B_i))`, ``z = t / (t + alpha + T)`` and
    ``B_i = r + kx + i``, the incomplete beta is the tail :math:`I_z(c, B_i) = \sum_{j \ge c}
    \tau_i(j)`, so

    .. math:: \sum_{n \ge 1} W_n I_z(k - i + (n-1)k, B_i) = \sum_{j \ge k - i} \tau_i(j)
              \sum_{n:\, k - i + (n-1)k \le j} W_n

    where :math:`\tau_i(j+1) = \tau_i(j)\,z\,(j + B_i)/(j + 1)` and ``W`` too goes from one
    purchase to the next by one multiplication: no special function is evaluated per term, and
    no term cancels another.
    """
    m = 1.0 if mbg else 0.0
    t = np.asarray(t, dtype=float)
    _, weights = log_sum_terms(survival_terms(k, r, alpha, x, t_x, T))
    b_alive = b + x + m
    with np.errstate(divide="ignore"):
        log_z = np.log(t) - np.log(t + alpha + T)
        log_1mz = np.log(alpha + T) - np.log(t + alpha + T)
    z = np.exp(log_z)
    total = 0.0
    for i in range(k):
        shape = r + k * x + i
        start = float(k - i)
        tau = np.exp(start * log_z + shape * log_1mz - np.log(start)
                     - special.betaln(start, shape))
        # W_1: 1 (no purchase before the first), or E[p] = a / (a + b') of dropping out at it
        weight = (a / (a + b_alive)) * np.ones_like(tau) if dying else np.ones_like(tau)
        cumulative = np.zeros(np.broadcast(tau, weight).shape)
        part = np.zeros_like(cumulative)
        done = np.zeros(part.shape, dtype=bool)  # each element stops at its own term, so
        # that its sum does not depend on the others in the array (a customer alone or not)
        purchase, step = 1, 0
        while step < MAX_PURCHASES * k:
            if step % k == 0:  # the threshold of purchase n = step / k + 1
                cumulative = cumulative + weight
                # E[(1-p)^n] / E[(1-p)^(n-1)], and E[p (1-p)^n] / E[p (1-p)^(n-1)]
                weight = weight * (b_alive + purchase - 1) / (
                    a + b_alive + purchase - (0 if dying else 1))
                purchase += 1
            added = np.where(done, 0.0, tau * cumulative)
            part = part + added
            j = start + step
            ratio = z * (j + shape) / (j + 1)
            tau = tau * ratio
            step += 1
            if step >= k:
                done = done | (added <= TOLERANCE * part) & (ratio < 1) | (tau == 0)
                if np.all(done):
                    break
        total = total + weights[i] * part
    return np.where(t > 0, total, 0.0)


def expected_purchases_if_alive(k, r, alpha, a, b, x, t_x, T, t, mbg=True):
    """E[purchases in (T, T + t] | alive at T, history]: the sum over n of P(X(t) >= n | alive)
    (:func:`_one_pass`; every array broadcast together)."""
    return _one_pass(k, r, alpha, a, b, x, t_x, T, t, mbg, dying=False)


def probability_alive_at(k, r, alpha, a, b, x, t_x, T, t, mbg=True):
    """P(alive at T + t | history): alive now, and not dropped out at any of the purchases of
    the next ``t`` (death comes only at a purchase)."""
    alive = probability_alive(k, r, alpha, a, b, x, t_x, T, mbg)
    return alive * (1.0 - _one_pass(k, r, alpha, a, b, x, t_x, T, t, mbg, dying=True))


def probability_any_purchase(k, r, alpha, a, b, x, t_x, T, t, mbg=True):
    """P(X(t) > 0 | history): alive, and the next purchase comes within ``t``."""
    return probability_alive(k, r, alpha, a, b, x, t_x, T, mbg) * _at_least(
        k, r, alpha, a, b, x, t_x, T, t, mbg, 1)


def expected_purchases(k, r, alpha, a, b, x, t_x, T, t, mbg=True):
    """E[X(t) | history]: P(alive) times :func:`expected_purchases_if_alive`."""
    return (probability_alive(k, r, alpha, a, b, x, t_x, T, mbg)
            * expected_purchases_if_alive(k, r, alpha, a, b, x, t_x, T, t, mbg))


def conditional_probability_of_purchases(k, r, alpha, a, b, x, t_x, T, n, t, mbg=True):
    """P(X(t) = n | history): dead (then 0 purchases), or alive and
    P(X >= n) - P(X >= n + 1)."""
    alive = probability_alive(k, r, alpha, a, b, x, t_x, T, mbg)
    n = int(n)
    upper = _at_least(k, r, alpha, a, b, x, t_x, T, t, mbg, n + 1)
    lower = 1.0 if n == 0 else _at_least(k, r, alpha, a, b, x, t_x, T, t, mbg, n)
    exact = alive * (lower - upper)
    return exact + (1.0 - alive) if n == 0 else exact


def expected_purchases_new(k, r, alpha, a, b, t, mbg=True):
    """E[X(t)] of a customer just acquired (``x = t_x = T = 0``; the MBG may drop out at once:
    alive with probability b / (a + b))."""
    zero = np.zeros_like(np.asarray(t, dtype=float))
    return expected_purchases(k, r, alpha, a, b, zero, zero, zero, t, mbg)


def probability_of_purchases(k, r, alpha, a, b, n, t, mbg=True):
    """P(X(t) = n) of a customer just acquired (the conditional distribution at the empty
    history ``x = t_x = T = 0``)."""
    zero = np.zeros_like(np.asarray(t, dtype=float))
    return conditional_probability_of_purchases(k, r, alpha, a, b, zero, zero, zero, n, t, mbg)
