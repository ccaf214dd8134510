r"""Pareto/NBD with correlated purchase and dropout rates: the Sarmanov family (Sarmanov 1966;
used for the Pareto/NBD by Glady, Baesens & Croux 2009, and by CLVTools' ``pnbd(use.cor=TRUE)``).

The rates are joined by

.. math:: f(\lambda, \mu) = g(\lambda)\,h(\mu)\,\big[1 + \omega\,\phi_1(\lambda)\,
          \phi_2(\mu)\big], \qquad \phi_1(\lambda) = e^{-\lambda} - c_\alpha,\;
          \phi_2(\mu) = e^{-\mu} - c_\beta,

with :math:`g = \mathrm{Gamma}(r, \alpha)`, :math:`h = \mathrm{Gamma}(s, \beta)` (the
Pareto/NBD's marginals, unchanged), :math:`c_\alpha = E[e^{-\lambda}] = (\alpha/(\alpha+1))^r`
and :math:`c_\beta = (\beta/(\beta+1))^s`. Since :math:`e^{-\lambda} g(\lambda; r, \alpha) =
c_\alpha\, g(\lambda; r, \alpha + 1)`, the joint density is a signed mixture of four
independent Pareto/NBD priors,

.. math:: f = (1 + \omega c)\,g_\alpha h_\beta + \omega c\,g_{\alpha+1} h_{\beta+1}
          - \omega c\,g_{\alpha+1} h_\beta - \omega c\,g_\alpha h_{\beta+1},
          \qquad c = c_\alpha c_\beta,

(weights summing to 1), so a customer's likelihood is the same mixture of four Pareto/NBD
likelihoods, and the posterior the mixture of the four Pareto/NBD posteriors with weights
:math:`\pi_k = w_k L_k / L`: every conditional prediction is the :math:`\pi`-weighted sum of the
Pareto/NBD's, every prediction for a new customer the :math:`w`-weighted sum. No formula is
written here twice: each is :mod:`clvmodels._math.pnbd`'s at the four scales. At
:math:`\omega = 0` it is the Pareto/NBD.

The density is a density for :math:`\omega` in :func:`omega_bounds`; the correlation of the
rates is :func:`correlation`.
"""

from __future__ import annotations

import numpy as np

from . import pnbd


def weights(r, alpha, s, beta, omega):
    """The four components: ``[(alpha_k, beta_k, w_k), ...]`` of the prior mixture."""
    c = (alpha / (alpha + 1.0)) ** r * (beta / (beta + 1.0)) ** s
    return [(alpha, beta, 1.0 + omega * c), (alpha + 1.0, beta + 1.0, omega * c),
            (alpha + 1.0, beta, -omega * c), (alpha, beta + 1.0, -omega * c)]


def omega_bounds(r, alpha, s, beta):
    """``(lower, upper)``: the omegas for which ``1 + omega phi_1 phi_2 >= 0`` everywhere
    (``phi_1`` runs over ``(-c_alpha, 1 - c_alpha]``, ``phi_2`` likewise)."""
    ca, cb = (alpha / (alpha + 1.0)) ** r, (beta / (beta + 1.0)) ** s
    most = np.maximum(ca * cb, (1 - ca) * (1 - cb))  # the largest positive product
    least = np.maximum(ca * (1 - cb), cb * (1 - ca))  # the largest negative one, in size
    return -1.0 / most, 1.0 / least


def correlation(r, alpha, s, beta, omega):
    """The correlation of the purchase and dropout rates:
    ``omega c sqrt(r s) / ((alpha + 1)(beta + 1))``."""
    c = (alpha / (alpha + 1.0)) ** r * (beta / (beta + 1.0)) ** s
    return omega * c * np.sqrt(r * s) / ((alpha + 1.0) * (beta + 1.0))


def _component_logliks(r, alpha, s, beta, omega, x, t_x, T):
    return [(w, pnbd.loglik(r, a, s, b, x, t_x, T)) for a, b, w in weights(r, alpha, s, beta,
                                                                          omega)]


def loglik(r, alpha, s, beta, omega, x, t_x, T):
    """Log-likelihood of one customer's history: ``log sum_k w_k L_k`` (``-inf`` where
    ``omega`` is outside :func:`omega_bounds`)."""
    terms = _component_logliks(r, alpha, s, beta, omega, x, t_x, T)
    top = np.maximum.reduce([ll for _, ll in terms])
    total = sum(w * np.exp(ll - top) for w, ll in terms)
    lo, hi = omega_bounds(r, alpha, s, beta)
    valid = (omega >= lo) & (omega <= hi) & (total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(valid, top + np.log(np.where(valid, total, 1.0)), -np.inf)


def posterior_weights(r, alpha, s, beta, omega, x, t_x, T):
    """``[(alpha_k, beta_k, pi_k), ...]``: the posterior mixture's components."""
    terms = _component_logliks(r, alpha, s, beta, omega, x, t_x, T)
    log_l = loglik(r, alpha, s, beta, omega, x, t_x, T)
    return [(a, b, w * np.exp(ll - log_l)) for (a, b, _), (w, ll) in
            zip(weights(r, alpha, s, beta, omega), terms)]


def _conditional(function, r, alpha, s, beta, omega, x, t_x, T, *rest):
    return sum(pi * function(r, a, s, b, x, t_x, T, *rest)
               for a, b, pi in posterior_weights(r, alpha, s, beta, omega, x, t_x, T))


def _new(function, r, alpha, s, beta, omega, *rest):
    return sum(w * function(r, a, s, b, *rest) for a, b, w in weights(r, alpha, s, beta, omega))


def total_loglik(r, alpha, s, beta, omega, x, t_x, T, weights_):
    """The weighted total of :func:`loglik`."""
    return float(weights_ @ loglik(r, alpha, s, beta, omega, x, t_x, T))


def probability_alive(r, alpha, s, beta, omega, x, t_x, T):
    """P(alive at T | history)."""
    return _conditional(pnbd.probability_alive, r, alpha, s, beta, omega, x, t_x, T)


def expected_purchases(r, alpha, s, beta, omega, x, t_x, T, t):
    """E[purchases in (T, T + t] | history]."""
    return _conditional(pnbd.expected_purchases, r, alpha, s, beta, omega, x, t_x, T, t)


def probability_any_purchase(r, alpha, s, beta, omega, x, t_x, T, t):
    """P(at least one purchase in (T, T + t] | history)."""
    return _conditional(pnbd.probability_any_purchase, r, alpha, s, beta, omega, x, t_x, T, t)


def probability_alive_at(r, alpha, s, beta, omega, x, t_x, T, t):
    """P(alive at T + t | history)."""
    return _conditional(pnbd.probability_alive_at, r, alpha, s, beta, omega, x, t_x, T, t)


def conditional_probability_of_purchases(r, alpha, s, beta, omega, x, t_x, T, n, t):
    """P(X(T, T + t) = n | history)."""
    return _conditional(pnbd.conditional_probability_of_purchases, r, alpha, s, beta, omega,
                        x, t_x, T, n, t)


def discounted_expected_residual_transactions(r, alpha, s, beta, omega, x, t_x, T, delta):
    """DERT at the continuous rate ``delta``."""
    return _conditional(pnbd.discounted_expected_residual_transactions, r, alpha, s, beta,
                        omega, x, t_x, T, delta)


def expected_purchases_new(r, alpha, s, beta, omega, t):
    """E[X(t)] of a customer just acquired."""
    return _new(pnbd.expected_purchases_new, r, alpha, s, beta, omega, t)


def probability_of_purchases(r, alpha, s, beta, omega, n, t):
    """P(X(t) = n) of a customer just acquired."""
    return _new(pnbd.probability_of_purchases, r, alpha, s, beta, omega, n, t)
