r"""MBG/NBD formulas (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison
of models for customer base analysis", IJRM 24(3); the conditional expectation as in Wagner &
Hoppe 2008).

The BG/NBD with one change: a customer may also drop out right after the first purchase, at
time 0, so a customer without repeat purchases need not be alive. Every prediction is the
BG/NBD one with ``b`` replaced by ``b + 1`` where it counts the purchases of a customer alive
now, and without BG/NBD's ``x > 0`` condition on dying; the shared parts reuse
:mod:`clvmodels._math.bgnbd` (its Euler transformation and series keep them accurate).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import NUMPY, bgnbd, levels, log_times
from .kernels import mixture_sums


def loglik(r, alpha, a, b, x, t_x, T, xp=NUMPY, x_levels=None, time_levels=None):
    r"""Log-likelihood of one customer's history (Batislam et al. 2007, eq. 7).

    .. math::
        L = \frac{B(a, b+x+1)}{B(a, b)} \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)(\alpha+T)^{r+x}}
          + \frac{B(a+1, b+x)}{B(a, b)} \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)(\alpha+t_x)^{r+x}}

    ``xp`` is the array namespace (numpy here, PyTensor in the Bayesian model); with
    ``x_levels`` and ``time_levels`` (:func:`clvmodels._math.levels`) the special functions and
    logarithms run once per distinct value, as in :func:`clvmodels._math.bgnbd.loglik`.
    """
    ux, ix = (x, slice(None)) if x_levels is None else x_levels
    log_T, log_tx = log_times(alpha, t_x, T, xp, time_levels)
    base = (xp.gammaln(r + ux) - xp.gammaln(r) + r * xp.log(alpha) - xp.betaln(a, b))[ix]
    alive = xp.betaln(a, b + ux + 1)[ix] - (r + x) * log_T
    dead = xp.betaln(a + 1, b + ux)[ix] - (r + x) * log_tx
    return base + xp.logaddexp(alive, dead)


def total_loglik_grad(r, alpha, a, b, x, t_x, T, weights, x_levels=None, time_levels=None):
    """Weighted total of :func:`loglik` over customers, and its gradient in (r, alpha, a, b).

    With ``pi`` the posterior probability of having dropped out (the logistic of the log-ratio
    of the two terms of the likelihood), each derivative is the alive term's plus ``pi`` times
    the difference the dead term makes. Functions of ``x`` run once per distinct ``x``,
    logarithms of ``alpha + t`` once per distinct time (``x_levels``, ``time_levels``:
    :func:`clvmodels._math.levels` of ``x`` and of ``[t_x, T]``, computed here if not given),
    and the rest in one compiled pass over the histories (:mod:`clvmodels._math.kernels`).
    """
    psi = special.digamma
    ux, ix = levels(x) if x_levels is None else x_levels
    ut, (itx, iT) = levels(np.stack([t_x, T])) if time_levels is None else time_levels
    counts = np.bincount(ix, weights=weights, minlength=ux.size)
    n = counts.sum()
    (soft, share, share_gap, share_inv, share_k, rx_log_T, log_T, rx_inv_T) = mixture_sums(
        np.log(a) - np.log(b + ux), 1.0 / (b + ux), ix, x, itx, iT, weights, r,
        np.log(alpha + ut), 1.0 / (alpha + ut), skip_zero=False)
    ll = (counts @ (special.gammaln(r + ux) + special.betaln(a, b + ux + 1)) - rx_log_T + soft
          + n * (-special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)))
    d_r = counts @ psi(r + ux) - log_T - share_gap + n * (np.log(alpha) - psi(r))
    d_alpha = n * r / alpha - rx_inv_T - share_inv
    psi_abx = counts @ psi(a + b + ux + 1)
    d_a = -psi_abx + share / a + n * psi(a + b)
    d_b = counts @ psi(b + ux + 1) - psi_abx - share_k + n * (psi(a + b) - psi(b))
    return float(ll), np.array([d_r, d_alpha, d_a, d_b])


def row_loglik_grad(r, alpha, a, b, x, t_x, T):
    """Per-customer :func:`loglik` and its gradient in (r, alpha, a, b), for parameters that
    differ between customers: BG/NBD's with its dropout opportunity at time 0 as well
    (:func:`clvmodels._math.bgnbd.row_loglik_grad` with ``shift=1``)."""
    return bgnbd.row_loglik_grad(r, alpha, a, b, x, t_x, T, shift=1)


def probability_alive(r, alpha, a, b, x, t_x, T):
    r"""P(alive | x, t_x, T) (Batislam et al. 2007, appendix A, eq. 5).

    .. math:: \left[1 + \frac{a}{b+x}\left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}\right]^{-1}
    """
    gap = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return special.expit(-gap)


def expected_purchases_if_alive(r, alpha, a, b, x, T, t):
    r"""Expected purchases in the next ``t`` of a customer alive at ``T``:
    :math:`\frac{a+b+x}{a-1}[1 - (\frac{\alpha+T}{\alpha+T+t})^{r+x} {}_2F_1(r+x, b+x+1; a+b+x; z)]`,
    BG/NBD's with ``b + 1`` (:func:`clvmodels._math.bgnbd.expected_purchases_if_alive`)."""
    return bgnbd.expected_purchases_if_alive(r, alpha, a, b + 1, x, T, t)


def expected_purchases(r, alpha, a, b, x, t_x, T, t):
    r"""E[Y(t) | x, t_x, T], expected purchases in the next ``t`` (Wagner & Hoppe 2008; as
    lifetimes' ``ModifiedBetaGeoFitter``): P(alive) times the expectation if alive."""
    return (expected_purchases_if_alive(r, alpha, a, b, x, T, t)
            * probability_alive(r, alpha, a, b, x, t_x, T))


def probability_any_purchase(r, alpha, a, b, x, t_x, T, t):
    r"""P(at least one purchase in the next ``t`` | x, t_x, T): P(alive) times
    :math:`1 - ((\alpha+T)/(\alpha+T+t))^{r+x}` (an alive customer can only drop out right after
    a purchase)."""
    some_if_alive = -np.expm1(-(r + x) * np.log1p(t / (alpha + T)))
    return probability_alive(r, alpha, a, b, x, t_x, T) * some_if_alive


def expected_purchases_new(r, alpha, a, b, t):
    r"""E[X(t)] for a customer just acquired (Batislam et al. 2007, eq. 9):

    .. math:: \frac{b}{a-1}\left[1-\left(\frac{\alpha}{\alpha+t}\right)^r
              {}_2F_1\left(r, b+1; a+b; \frac{t}{\alpha+t}\right)\right]

    that is, alive at the start with probability b / (a + b), then as if alive."""
    return b / (a + b) * expected_purchases_if_alive(r, alpha, a, b, 0.0, 0.0, t)


def probability_of_purchases(r, alpha, a, b, n, t):
    r"""P(X(t) = n) for a customer just acquired (Batislam et al. 2007, eq. 8).

    .. math:: \frac{B(a,b+n+1)}{B(a,b)}\frac{\Gamma(r+n)}{\Gamma(r)n!}
              \left(\frac{\alpha}{\alpha+t}\right)^r\left(\frac{t}{\alpha+t}\right)^n
              + \frac{B(a+1,b+n)}{B(a,b)}
              \left[1-\left(\frac{\alpha}{\alpha+t}\right)^r\sum_{j=0}^{n-1}
              \frac{\Gamma(r+j)}{\Gamma(r)j!}\left(\frac{t}{\alpha+t}\right)^j\right]

    The bracket is the negative binomial tail P(NB >= n): 1 for n = 0 (dropped out at once).
    """
    z = t / (alpha + t)
    log_nb = (special.gammaln(r + n) - special.gammaln(r) - special.gammaln(n + 1)
              + r * np.log1p(-z) + special.xlogy(n, z))
    alive = np.exp(special.betaln(a, b + n + 1) - special.betaln(a, b) + log_nb)
    tail = np.where(n > 0, special.betainc(np.maximum(n, 1), r, z), 1.0)
    return alive + np.exp(special.betaln(a + 1, b + n) - special.betaln(a, b)) * tail


def conditional_probability_of_purchases(r, alpha, a, b, x, t_x, T, n, t):
    r"""P(Y(t) = n | x, t_x, T): dead (no purchases), or alive at T and then a BG/NBD process
    with the posterior rates Gamma(r + x, alpha + T) and dropout Beta(a, b + x + 1) (the first
    purchase and the x repeat ones survived); alive at T, no purchase happens at T, so the
    MBG/NBD's drop-out chance at acquisition does not apply again:

    .. math:: \delta_{n=0}(1 - P(\text{alive})) + P(\text{alive})\,
              P_{BG/NBD}(X(t)=n \mid r+x, \alpha+T, a, b+x+1)
    """
    alive = probability_alive(r, alpha, a, b, x, t_x, T)
    fresh = bgnbd.probability_of_purchases(r + x, alpha + T, a, b + x + 1, n, t)
    return np.where(n == 0, 1 - alive, 0.0) + alive * fresh


def probability_alive_at(r, alpha, a, b, x, t_x, T, t):
    r"""P(alive ``t`` after the end of observation | x, t_x, T): P(alive) times BG/NBD's
    survival of an alive customer with the dropout Beta(a, b + x + 1) (the first purchase
    survived too: :func:`clvmodels._math.bgnbd.survival_if_alive` with b + 1)."""
    return probability_alive(r, alpha, a, b, x, t_x, T) * bgnbd.survival_if_alive(
        r, alpha, a, b + 1, x, T, t)
