r"""Shifted-beta-geometric (sBG) formulas for contractual retention (Fader & Hardie 2007, "How to
project customer retention", Journal of Interactive Marketing 21(1); Fader & Hardie 2010,
"Customer-base valuation in a contractual setting: the perils of ignoring heterogeneity",
Marketing Science 29(1)).

Each customer renews at the end of every period with probability ``1 - theta`` until she
cancels; ``theta ~ Beta(alpha, beta)`` across customers. ``t`` counts periods: a customer who
cancels in period ``t`` has lifetime ``t`` (``t >= 1``).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import NUMPY


def loglik(alpha, beta, T, churned, xp=NUMPY):
    r"""Log-likelihood of one customer: cancelled in period ``T`` (``churned``), or still active
    after ``T`` periods (Fader & Hardie 2007, eq. 5-6).

    .. math:: P(T = t) = \frac{B(\alpha+1, \beta+t-1)}{B(\alpha, \beta)}, \qquad
              S(t) = \frac{B(\alpha, \beta+t)}{B(\alpha, \beta)}
    """
    T1 = xp.maximum(T, 1)  # keeps the unused branch finite
    dead = xp.betaln(alpha + 1, beta + T1 - 1)
    alive = xp.betaln(alpha, beta + T)
    return xp.where(churned, dead, alive) - xp.betaln(alpha, beta)


def total_loglik_grad(alpha, beta, T, churned, weights):
    """Weighted total of :func:`loglik` and its gradient in (alpha, beta)."""
    psi = special.digamma
    T1 = np.maximum(T, 1)
    n = weights.sum()
    dead = special.betaln(alpha + 1, beta + T1 - 1)
    alive = special.betaln(alpha, beta + T)
    ll = weights @ np.where(churned, dead, alive) - n * special.betaln(alpha, beta)
    d_alpha = weights @ np.where(churned, psi(alpha + 1) - psi(alpha + beta + T1),
                                 psi(alpha) - psi(alpha + beta + T))
    d_beta = weights @ np.where(churned, psi(beta + T1 - 1) - psi(alpha + beta + T1),
                                psi(beta + T) - psi(alpha + beta + T))
    common = n * (psi(alpha + beta))
    return float(ll), np.array([d_alpha - n * psi(alpha) + common, d_beta - n * psi(beta) + common])


def row_loglik_grad(alpha, beta, T, churned):
    """Per-customer :func:`loglik` and its gradient in (alpha, beta), for parameters that
    differ between customers (covariates such as the plan or the channel).

    Returns
    -------
    (numpy.ndarray, list of numpy.ndarray)
    """
    psi = special.digamma
    T1 = np.maximum(T, 1)
    ll = loglik(alpha, beta, T, churned)
    common = psi(alpha + beta)
    d_alpha = np.where(churned, psi(alpha + 1) - psi(alpha + beta + T1),
                       psi(alpha) - psi(alpha + beta + T)) - psi(alpha) + common
    d_beta = np.where(churned, psi(beta + T1 - 1) - psi(alpha + beta + T1),
                      psi(beta + T) - psi(alpha + beta + T)) - psi(beta) + common
    return ll, [d_alpha, d_beta]


def survival(alpha, beta, t):
    r"""S(t): the share of a cohort still active after ``t`` periods, :math:`B(\alpha, \beta+t) /
    B(\alpha, \beta)`."""
    return np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))


def retention_rate(alpha, beta, t):
    r"""r(t) = S(t) / S(t - 1) = :math:`(\beta + t - 1) / (\alpha + \beta + t - 1)`: the share
    of the customers active after period t - 1 who renew for period t (rising with t: the
    cohort sorts itself)."""
    return (beta + t - 1) / (alpha + beta + t - 1)


def discounted_expected_lifetime(alpha, beta, d):
    r"""DEL(d): expected discounted number of payments of a customer just acquired, the first now
    (Fader & Hardie 2010, eq. 5): :math:`{}_2F_1(1, \beta; \alpha+\beta; 1/(1+d))`."""
    return special.hyp2f1(1.0, beta, alpha + beta, 1.0 / (1.0 + d))


def discounted_expected_residual_lifetime(alpha, beta, d, n):
    r"""DERL(d | n): expected discounted number of future payments of a customer active after
    ``n`` periods, just before her ``n``-th renewal decision, the next payment one period away
    if she renews (Fader & Hardie 2010, eq. 6):

    .. math:: \frac{\beta+n-1}{\alpha+\beta+n-1}\, {}_2F_1\left(1, \beta+n; \alpha+\beta+n;
              \frac{1}{1+d}\right)
    """
    return (beta + n - 1) / (alpha + beta + n - 1) * special.hyp2f1(
        1.0, beta + n, alpha + beta + n, 1.0 / (1.0 + d))
