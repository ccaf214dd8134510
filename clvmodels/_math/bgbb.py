r"""BG/BB formulas (Fader, Hardie & Shang 2010, "Customer-base analysis in a discrete-time
noncontractual setting", Marketing Science 29(6)).

A customer has ``n`` discrete transaction opportunities after the first; while alive, each is
taken with probability ``p ~ Beta(alpha, beta)``, and before each the customer dies with
probability ``theta ~ Beta(gamma, delta)``. A history is ``x`` transactions, the last at
opportunity ``t_x`` (0 without any), out of ``n``. Everything is in log space; the gradient is
analytic (digamma functions).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import NUMPY
from .pnbd import log_hyp2f1_unit


def _offsets(t_x, n):
    """The opportunities ``i = 0 .. max(n - t_x) - 1`` of the likelihood's sum as a row, and
    which of them each history has (``i < n - t_x``)."""
    gaps = np.asarray(n) - np.asarray(t_x)
    i = np.arange(int(gaps.max()) if np.size(gaps) and gaps.max() > 0 else 0, dtype=np.float64)
    return i[None, :], i[None, :] < gaps[:, None]


def loglik(alpha, beta, gamma, delta, x, t_x, n, xp=NUMPY, x_levels=None, time_levels=None):
    r"""Log-likelihood of one history (FHS 2010, eq. 5):

    .. math:: L = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}
                  \frac{B(\gamma, \delta+n)}{B(\gamma,\delta)}
              + \sum_{i=0}^{n-t_x-1} \frac{B(\alpha+x, \beta+t_x-x+i)}{B(\alpha,\beta)}
                  \frac{B(\gamma+1, \delta+t_x+i)}{B(\gamma,\delta)}

    (alive through all ``n`` opportunities, or dead just before opportunity ``t_x + i + 1``).
    ``x``, ``t_x``, ``n`` are numpy vectors; ``xp`` the array namespace. ``x_levels`` and
    ``time_levels`` (the BG/NBD family's signature) are not needed: the data are a few dozen
    unique histories.
    """
    i, has = _offsets(t_x, n)
    x, t_x, n = (np.asarray(v, dtype=np.float64)[:, None] for v in (x, t_x, n))
    alive = xp.betaln(alpha + x, beta + n - x) + xp.betaln(gamma, delta + n)
    dead = xp.betaln(alpha + x, beta + t_x - x + i) + xp.betaln(gamma + 1, delta + t_x + i)
    valid = np.concatenate([np.ones(x.shape, dtype=bool), has], axis=1)
    terms = xp.where(valid, xp.concatenate([alive, dead], axis=1), -np.inf)
    return xp.logsumexp(terms, axis=1) - xp.betaln(alpha, beta) - xp.betaln(gamma, delta)


def total_loglik_grad(alpha, beta, gamma, delta, x, t_x, n, weights, x_levels=None,
                      time_levels=None):
    """Weighted total of :func:`loglik` and its gradient in (alpha, beta, gamma, delta):
    the derivatives of each term's log Beta functions (digamma differences) averaged with the
    terms' shares of the likelihood (``x_levels``, ``time_levels``: as :func:`loglik`)."""
    psi = special.digamma
    i, has = _offsets(t_x, n)
    x, t_x, n = (np.asarray(v, dtype=np.float64)[:, None] for v in (x, t_x, n))
    rows = len(x)
    alive = special.betaln(alpha + x, beta + n - x) + special.betaln(gamma, delta + n)
    dead = np.where(has, special.betaln(alpha + x, beta + t_x - x + i)
                    + special.betaln(gamma + 1, delta + t_x + i), -np.inf)
    terms = np.concatenate([alive, dead], axis=1)
    log_l = special.logsumexp(terms, axis=1, keepdims=True)
    share = np.exp(terms - log_l)
    n_i = np.concatenate([n, np.broadcast_to(t_x + i, (rows, i.shape[1]))], axis=1)  # time
    y = np.concatenate([n - x, np.broadcast_to(t_x - x + i, (rows, i.shape[1]))], axis=1)
    d_alpha = psi(alpha + x) - psi(alpha + beta + n_i)
    d_beta = psi(beta + y) - psi(alpha + beta + n_i)
    g = np.concatenate([np.full((rows, 1), gamma), np.full((rows, i.shape[1]), gamma + 1)],
                       axis=1)
    d_gamma = psi(g) - psi(g + delta + n_i)
    d_delta = psi(delta + n_i) - psi(g + delta + n_i)
    w = weights
    total = float(w @ log_l[:, 0]) - w.sum() * (special.betaln(alpha, beta)
                                                 + special.betaln(gamma, delta))
    grad = np.array([w @ (share * d).sum(axis=1) for d in (d_alpha, d_beta, d_gamma, d_delta)])
    grad -= w.sum() * np.array([psi(alpha) - psi(alpha + beta), psi(beta) - psi(alpha + beta),
                                psi(gamma) - psi(gamma + delta), psi(delta) - psi(gamma + delta)])
    return total, grad


def _log_alive_term(alpha, beta, gamma, delta, x, n, m=0):
    return (special.betaln(alpha + x, beta + n - x) - special.betaln(alpha, beta)
            + special.betaln(gamma, delta + n + m) - special.betaln(gamma, delta))


def _log_likelihood_rows(alpha, beta, gamma, delta, x, t_x, n):
    """:func:`loglik` for arrays of any shape that broadcast (parameters as draws)."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in (alpha, beta, gamma, delta, x, t_x, n)))
    alpha, beta, gamma, delta, x, t_x, n = (np.broadcast_to(v, shape).ravel()
                                            for v in (alpha, beta, gamma, delta, x, t_x, n))
    i, has = _offsets(t_x, n)
    a, b, g, d, x, t_x, n = (v[:, None] for v in (alpha, beta, gamma, delta, x, t_x, n))
    alive = special.betaln(a + x, b + n - x) + special.betaln(g, d + n)
    dead = np.where(has, special.betaln(a + x, b + t_x - x + i)
                    + special.betaln(g + 1, d + t_x + i), -np.inf)
    value = (special.logsumexp(np.concatenate([alive, dead], axis=1), axis=1)
             - special.betaln(a, b)[:, 0] - special.betaln(g, d)[:, 0])
    return value.reshape(shape)


def probability_alive(alpha, beta, gamma, delta, x, t_x, n, m=0):
    r"""P(alive at opportunity n + m | x, t_x, n) (FHS 2010, eq. 11 is m = 1; lifetimes'
    ``conditional_probability_alive(m, ...)``):

    .. math:: \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}
              \frac{B(\gamma, \delta+n+m)}{B(\gamma,\delta)} \Big/ L
    """
    return np.exp(_log_alive_term(alpha, beta, gamma, delta, x, n, m)
                  - _log_likelihood_rows(alpha, beta, gamma, delta, x, t_x, n))


def _survival_sum(gamma, delta, start, count):
    r""":math:`\sum_{k=1}^{count} B(\gamma, \delta+start+k) / B(\gamma, \delta+start)`, the
    expected opportunities survived of the next ``count`` by one alive after ``start``:

    .. math:: \frac{\delta+start}{\gamma-1}\left[1 - \frac{\Gamma(\gamma+\delta+start)\,
              \Gamma(1+\delta+start+count)}{\Gamma(1+\delta+start)\,
              \Gamma(\gamma+\delta+start+count)}\right]

    (FHS 2010, eq. 13's factor), which is 0/0 at gamma = 1: there the divided difference
    becomes a derivative (digamma and trigamma terms)."""
    c = delta + start
    h1 = special.gammaln(1 + c + count) - special.gammaln(1 + c)
    hg = special.gammaln(gamma + c + count) - special.gammaln(gamma + c)
    difference = h1 - hg  # log of the ratio in the bracket
    e = gamma - 1
    near = np.abs(e) < 1e-5
    slope = np.where(  # -difference / (gamma - 1): a divided difference, a derivative at 1
        near, special.digamma(1 + c + count) - special.digamma(1 + c)
        + e / 2 * (special.polygamma(1, 1 + c + count) - special.polygamma(1, 1 + c)),
        -difference / np.where(near, 1.0, e))
    return c * slope * special.exprel(difference)  # c (1 - e^difference) / (gamma - 1)


def expected_purchases_if_alive(alpha, beta, gamma, delta, x, n, count):
    """Expected transactions in the next ``count`` opportunities of a customer alive at ``n``:
    the posterior mean of p, (alpha+x)/(alpha+beta+n), times the opportunities survived."""
    return (alpha + x) / (alpha + beta + n) * _survival_sum(gamma, delta, n, count)


def expected_purchases(alpha, beta, gamma, delta, x, t_x, n, count):
    r"""E[X(n, n+n*) | x, t_x, n], transactions in the next ``n* = count`` opportunities (FHS
    2010, eq. 13):

    .. math:: \frac{1}{L}\frac{B(\alpha+x+1, \beta+n-x)}{B(\alpha,\beta)}
              \frac{\delta}{\gamma-1}\frac{\Gamma(\gamma+\delta)}{\Gamma(1+\delta)}
              \left[\frac{\Gamma(1+\delta+n)}{\Gamma(\gamma+\delta+n)}
              - \frac{\Gamma(1+\delta+n+n^*)}{\Gamma(\gamma+\delta+n+n^*)}\right]

    evaluated as P(alive at n) times :func:`expected_purchases_if_alive` (the same quantity).
    """
    return (probability_alive(alpha, beta, gamma, delta, x, t_x, n)
            * expected_purchases_if_alive(alpha, beta, gamma, delta, x, n, count))


def expected_purchases_new(alpha, beta, gamma, delta, count):
    r"""E[X(n)] of a customer just acquired (FHS 2010, eq. 8):
    :math:`\frac{\alpha}{\alpha+\beta}\frac{\delta}{\gamma-1}
    [1 - \frac{\Gamma(\gamma+\delta)\Gamma(1+\delta+n)}{\Gamma(\gamma+\delta+n)\Gamma(1+\delta)}]`."""
    return expected_purchases_if_alive(alpha, beta, gamma, delta, 0.0, 0.0, count)


def probability_any_purchase(alpha, beta, gamma, delta, x, t_x, n, count):
    r"""P(at least one transaction in the next ``count`` opportunities | history): alive at n,
    none happens when the customer dies first or skips every opportunity lived through,

    .. math:: 1 - \sum_{k=0}^{n^*-1} P(\text{live } k, \text{die}) E[(1-p)^k]
              - P(\text{live } n^*) E[(1-p)^{n^*}]

    with the posterior Beta(alpha+x, beta+n-x) and Beta(gamma, delta+n); times P(alive)."""
    count = np.asarray(count, dtype=np.float64)
    alive = probability_alive(alpha, beta, gamma, delta, x, t_x, n)
    shape = np.broadcast_shapes(np.shape(alive), count.shape)
    a, b, g, d, x, n, c = (np.broadcast_to(v, shape).ravel()[:, None] for v in
                           (alpha, beta, gamma, delta, x, n, count))
    k = np.arange(int(c.max()) if c.size and c.max() > 0 else 0)[None, :]
    log_skip = special.betaln(a + x, b + n - x + k) - special.betaln(a + x, b + n - x)
    log_die = special.betaln(g + 1, d + n + k) - special.betaln(g, d + n)
    early = np.where(k < c, np.exp(log_skip + log_die), 0.0).sum(axis=1)
    last = np.exp(special.betaln(a + x, b + n - x + c) - special.betaln(a + x, b + n - x)
                  + special.betaln(g, d + n + c) - special.betaln(g, d + n))[:, 0]
    return alive * (1 - (early + last).reshape(shape))


def discounted_expected_residual_transactions(alpha, beta, gamma, delta, x, t_x, n, d):
    r"""DERT at discount rate ``d`` per opportunity (FHS 2010, eq. 14):

    .. math:: \frac{B(\alpha+x+1, \beta+n-x)}{B(\alpha,\beta)}
              \frac{B(\gamma, \delta+n+1)}{B(\gamma,\delta)(1+d)}
              \frac{{}_2F_1(1, \delta+n+1; \gamma+\delta+n+1; \frac{1}{1+d})}{L}

    the hypergeometric factor in log space (:func:`clvmodels._math.pnbd.log_hyp2f1_unit`:
    accurate where the argument 1/(1+d) is near 1, a small discount rate).
    """
    log_value = (special.betaln(alpha + x + 1, beta + n - x) - special.betaln(alpha, beta)
                 + special.betaln(gamma, delta + n + 1) - special.betaln(gamma, delta)
                 - np.log1p(d) + log_hyp2f1_unit(delta + n + 1, gamma, 1.0 / (1.0 + d))
                 - _log_likelihood_rows(alpha, beta, gamma, delta, x, t_x, n))
    return np.exp(log_value)


def probability_of_purchases(alpha, beta, gamma, delta, k, count):
    r"""P(X(n) = x) for a customer just acquired, ``x = k`` transactions in ``n = count``
    opportunities (FHS 2010, eq. 7):

    .. math:: \binom{n}{x}\frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}
              \frac{B(\gamma, \delta+n)}{B(\gamma,\delta)}
              + \sum_{i=x}^{n-1} \binom{i}{x} \frac{B(\alpha+x, \beta+i-x)}{B(\alpha,\beta)}
              \frac{B(\gamma+1, \delta+i)}{B(\gamma,\delta)}
    """
    shape = np.broadcast_shapes(*(np.shape(v) for v in (alpha, beta, gamma, delta, k, count)))
    a, b, g, d, k, c = (np.broadcast_to(np.asarray(v, dtype=np.float64), shape).ravel()[:, None]
                        for v in (alpha, beta, gamma, delta, k, count))
    i = np.arange(int(c.max()) if c.size and c.max() > 0 else 0, dtype=np.float64)[None, :]

    def log_choose(top, bottom):
        return (special.gammaln(top + 1) - special.gammaln(bottom + 1)
                - special.gammaln(np.maximum(top - bottom, 0) + 1))

    base = special.betaln(a, b) + special.betaln(g, d)
    alive = np.where(k <= c, log_choose(c, k) + special.betaln(a + k, b + c - k)
                     + special.betaln(g, d + c) - base, -np.inf)
    dead = np.where((i >= k) & (i < c), log_choose(i, k) + special.betaln(
        a + k, b + np.maximum(i - k, 0)) + special.betaln(g + 1, d + i) - base, -np.inf)
    value = np.exp(special.logsumexp(np.concatenate([alive, dead], axis=1), axis=1))
    return value.reshape(shape)


def probability_alive_at(alpha, beta, gamma, delta, x, t_x, n, m):
    """P(alive at opportunity n + m | history): :func:`probability_alive` with ``m``."""
    return probability_alive(alpha, beta, gamma, delta, x, t_x, n, m)


def conditional_probability_of_purchases(alpha, beta, gamma, delta, x, t_x, n, k, count):
    r"""P(X(n, n+n*) = k | x, t_x, n): dead at n (no transactions), or alive and then like a
    new customer with the posterior Beta(alpha+x, beta+n-x) and Beta(gamma, delta+n):

    .. math:: \delta_{k=0}(1 - P(\text{alive at } n)) + P(\text{alive at } n)\,
              P(X(n^*) = k \mid \alpha+x, \beta+n-x, \gamma, \delta+n)
    """
    alive = probability_alive(alpha, beta, gamma, delta, x, t_x, n)
    fresh = probability_of_purchases(alpha + x, beta + n - x, gamma, delta + n, k, count)
    return np.where(k == 0, 1 - alive, 0.0) + alive * fresh
