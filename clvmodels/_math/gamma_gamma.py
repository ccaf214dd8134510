r"""Gamma-Gamma spend formulas (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value";
Colombo & Jiang 1999).

A customer with ``x`` repeat purchases of mean value ``m``; each purchase is Gamma(p, nu) with
``nu ~ Gamma(q, v)`` per customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from . import NUMPY, dot, levels
from .kernels import spend_sums


def loglik(p, q, v, x, m, xp=NUMPY, x_levels=None):
    r"""Log-density of the mean spend ``m`` of ``x`` purchases (Fader & Hardie 2013, eq. 4).

    .. math:: \frac{\Gamma(px+q)}{\Gamma(px)\Gamma(q)}
              \frac{v^q\, m^{px-1} x^{px}}{(v + x m)^{px+q}}

    ``xp`` is the array namespace; with ``x_levels`` (distinct x and each row's index) the
    Gamma functions run once per distinct x.
    """
    ux, ix = (x, slice(None)) if x_levels is None else x_levels
    pu = p * ux
    px = p * x
    return ((xp.gammaln(pu + q) - xp.gammaln(pu))[ix] - xp.gammaln(q) + q * xp.log(v)
            + (px - 1) * xp.log(m) + px * xp.log(x) - (px + q) * xp.log(v + x * m))


@dataclass(frozen=True)
class SufficientStatistics:
    """What the Gamma-Gamma likelihood needs of the data beyond ``log(v + x m)``: totals that do
    not depend on the parameters, and the distinct frequencies with their counts."""

    x: np.ndarray  # frequencies (> 0) of the customers
    m: np.ndarray  # their mean spend per repeat purchase (> 0)
    w: np.ndarray  # how many customers each row stands for
    wx: np.ndarray  # w * x
    n: float  # customers: w.sum()
    levels: np.ndarray  # distinct x
    level_index: np.ndarray  # each row's index into levels
    level_counts: np.ndarray  # customers per level
    sum_x_log_mx: float  # sum of w x (log m + log x)
    sum_log_m: float  # sum of w log m
    s: np.ndarray  # total spend x m, its logarithm and reciprocal (for log(v + x m))
    log_s: np.ndarray
    inv_s: np.ndarray


def sufficient_statistics(x, m, weights=None) -> SufficientStatistics:
    """The :class:`SufficientStatistics` of ``x`` purchases of mean value ``m`` (``weights``
    customers per row)."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    ux, ix = levels(x)
    log_m, log_x = np.log(m), np.log(x)
    s = x * m
    return SufficientStatistics(
        x=x, m=m, w=w, wx=w * x, n=float(w.sum()), levels=ux, level_index=ix,
        level_counts=np.bincount(ix, weights=w), sum_x_log_mx=dot(w * x, log_m + log_x),
        sum_log_m=dot(w, log_m), s=s, log_s=np.log(s), inv_s=1.0 / s)


def total_loglik_grad(p, q, v, stats: SufficientStatistics) -> tuple[float, np.ndarray]:
    """Total of :func:`loglik` over customers, and its gradient in (p, q, v), from
    :func:`sufficient_statistics`: per evaluation, one logarithm per customer, in one compiled
    pass (:func:`clvmodels._math.kernels.spend_sums`)."""
    psi = special.digamma
    pu, counts, n = p * stats.levels, stats.level_counts, stats.n
    wx_log, w_log, inverse = spend_sums(v, stats.s, stats.log_s, stats.inv_s, stats.w,
                                        stats.wx, p, q)
    ll = (counts @ (special.gammaln(pu + q) - special.gammaln(pu)) + n * (q * np.log(v) - special.gammaln(q))
          + p * stats.sum_x_log_mx - stats.sum_log_m - p * wx_log - q * w_log)
    psi_puq = psi(pu + q)
    d_p = (counts * stats.levels) @ (psi_puq - psi(pu)) + stats.sum_x_log_mx - wx_log
    d_q = counts @ psi_puq - n * psi(q) + n * np.log(v) - w_log
    d_v = n * q / v - inverse
    return float(ll), np.array([d_p, d_q, d_v])


def row_loglik_grad(p, q, v, x, m):
    """Per-customer :func:`loglik` and its gradient in (p, q, v), for parameters that differ
    between customers (a covariate-dependent scale ``v``).

    Returns
    -------
    (numpy.ndarray, list of numpy.ndarray)
    """
    psi = special.digamma
    px = p * x
    log_vxm = np.log(v + x * m)
    ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
          + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * log_vxm)
    psi_pxq = psi(px + q)
    d_p = x * (psi_pxq - psi(px) + np.log(m) + np.log(x) - log_vxm)
    d_q = psi_pxq - psi(q) + np.log(v) - log_vxm
    d_v = q / v - (px + q) / (v + x * m)
    return ll, [d_p, d_q, d_v]


def expected_spend(p, q, v, x, m):
    r"""E[M | x, m], the expected value of a customer's future purchase (Fader & Hardie 2013, eq. 5).

    .. math:: \frac{q-1}{px+q-1}\frac{pv}{q-1} + \frac{px}{px+q-1} m = \frac{p(v + x m)}{px+q-1}

    With ``x = 0`` it is the population mean ``p v / (q - 1)``, finite only for ``q > 1``.
    """
    return p * (v + x * m) / (p * x + q - 1)
