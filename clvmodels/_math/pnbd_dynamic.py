r"""Pareto/NBD with time-varying covariates (Bachmann, Meierer & Naef 2021, "The Role of
Time-Varying Contextual Factors in Latent Attrition Models for Customer Base Analysis",
Marketing Science 40(4); CLVTools' ``pnbd`` with dynamic covariates).

While alive a customer buys at rate :math:`\lambda\, a(t)` and dies at rate :math:`\mu\, b(t)`,
with :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`, :math:`\mu \sim \mathrm{Gamma}(s, \beta)`
and piecewise-constant multipliers :math:`a(t) = e^{\gamma_1' z_1(t)}`,
:math:`b(t) = e^{\gamma_2' z_2(t)}` (a covariate constant over time is a static one). With the
cumulative multipliers :math:`A(t) = \int_0^t a`, :math:`B(t) = \int_0^t b`, a history of ``x``
repeat purchases at :math:`t_1..t_x \le t_x` in :math:`(0, T]` has the likelihood

.. math:: L = \frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)} \prod_j a(t_j) \left[
          \frac{1}{(\alpha+A(T))^{r+x}(\beta+B(T))^{s}}
          + s\int_{t_x}^{T} \frac{b(\tau)\, d\tau}{(\alpha+A(\tau))^{r+x}(\beta+B(\tau))^{s+1}}
          \right]

(given :math:`\lambda, \mu`: the Poisson process of intensity :math:`\lambda a` and survival
:math:`e^{-\mu B}`, alive at T or dead at :math:`\tau`; then the Gamma mixtures in closed form).
:math:`\prod_j a(t_j) = e^{\gamma_1' \sum_j z_1(t_j)}`: the sum of the purchase covariates at the
repeat purchases is a statistic of the history. With constant multipliers it is the static
Pareto/NBD of ``alpha e^{-gamma_1 z}``, ``beta e^{-gamma_2 z}``.

The integral is a sum over the pieces of :math:`(t_x, T]` where both multipliers are constant,
each :math:`\int_0^h (c_1 + a u)^{-p} (c_2 + b u)^{-q} du`: a Gauss hypergeometric function
whose derivatives in p, q have no usable form, so each piece is integrated by Gauss-Legendre,
with the nodes per piece (2, 3, 4, 6 or 8, the piece cut in m parts where it must) chosen from
the relative change of the two factors over the piece so that the relative error stays below
3e-11 (the gradient is then the integrand's own moments at the same nodes: analytic). The loop
over each customer's pieces is compiled (numba), customers in parallel: a customer's
cumulative multipliers are a running sum, and no array of pieces x nodes is ever built.

Posterior at T (alive): :math:`\lambda \sim \mathrm{Gamma}(r+x, \alpha+A(T))`,
:math:`\mu \sim \mathrm{Gamma}(s, \beta+B(T))`, so the expected purchases in :math:`(T, T+t]`
are :math:`P(\text{alive}) \frac{r+x}{\alpha+A(T)} \int_T^{T+t} a(u)
\left(\frac{\beta+B(T)}{\beta+B(u)}\right)^s du` (closed form per piece) and P(alive at T+t) is
:math:`P(\text{alive}) ((\beta+B(T))/(\beta+B(T+t)))^s`.
"""

from __future__ import annotations

import functools
import threading

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import special

from . import linear_predictor

RULE_SIZES = (2, 3, 4, 6, 8)
# the largest kappa_n = e (p + 2n) / (1 + e) (e the relative growth of a factor (c + a u)^-p over
# a piece) that each rule integrates to a relative 3e-11, measured on (1 + e v)^-p over e in
# [1e-5, 10] and p in [0.01, 3000] (tests/test_time_varying.py repeats the measurement); the
# two factors' kappas add; beyond the 8-node rule's limit, the piece is cut in m parts
RULE_LIMITS = (0.01, 0.1, 0.7, 2.0, 4.0)
NODES = np.concatenate([(leggauss(n)[0] + 1) / 2 for n in RULE_SIZES])
WEIGHTS = np.concatenate([leggauss(n)[1] / 2 for n in RULE_SIZES])
LOG_WEIGHTS = np.log(WEIGHTS)
RULE_START = np.cumsum((0,) + RULE_SIZES)[:-1]


def _dead_integrals(starts, width, source, dead, mult_p, mult_tp, mult_d, mult_td, zs_p, zt_p,
                    zs_d, zt_d, p_all, alpha, s, beta, nodes, weights, rule_start, rule_size,
                    rule_limit, gradient, out, out_gp, out_gd, out_dA, out_dB):
    """Per customer (in parallel), over her pieces in order: the cumulative multipliers A, B
    (and their derivatives in the coefficients), and over the dead pieces the integral
    sum_j int_0^h b (alpha + A_lo + a u)^-p (beta + B_lo + b u)^-q du by Gauss-Legendre, in
    log space, with the integrand's moments (the gradient's ingredients). The multipliers are
    products of a customer's static part and a table row's (``mult_*``); ``weights`` are the
    rules' log-weights.

    ``out[i]``: A(T), B(T), log integral, E[log(alpha+A)], E[1/(alpha+A)], E[log(beta+B)],
    E[1/(beta+B)]; ``out_gp[i]``: E[(dA/dgamma_p) / (alpha+A)]; ``out_gd[i]``: E[z_d - q
    (dB/dgamma_d) / (beta+B)]; ``out_dA``, ``out_dB``: dA(T)/dgamma, dB(T)/dgamma."""
    n = len(starts) - 1
    ksp, ktp = zs_p.shape[1], zt_p.shape[1]
    ksd, ktd = zs_d.shape[1], zt_d.shape[1]
    kp, kd = ksp + ktp, ksd + ktd
    q = s + 1.0
    for i in prange(n):
        p = p_all[i]
        A = 0.0
        B = 0.0
        dA = np.zeros(kp)
        dB = np.zeros(kd)
        zp = np.zeros(kp)
        zd = np.zeros(kd)
        top = -np.inf
        s0 = 0.0
        s_l1 = 0.0
        s_i1 = 0.0
        s_l2 = 0.0
        s_i2 = 0.0
        sgp = np.zeros(kp)
        sgd = np.zeros(kd)
        for c in range(ksp):
            zp[c] = zs_p[i, c]
        for c in range(ksd):
            zd[c] = zs_d[i, c]
        for j in range(starts[i], starts[i + 1]):
            src = source[j]
            a = mult_p[i] * mult_tp[src]
            b = mult_d[i] * mult_td[src]
            h = width[j]
            if gradient:
                for c in range(ktp):
                    zp[ksp + c] = zt_p[src, c]
                for c in range(ktd):
                    zd[ksd + c] = zt_d[src, c]
            if dead[j]:
                c1 = alpha + A
                c2 = beta + B
                e1 = a * h / c1
                e2 = b * h / c2
                rule = len(rule_size) - 1
                for k in range(len(rule_size)):
                    two_n = 2.0 * rule_size[k]
                    kappa = e1 * (p + two_n) / (1 + e1) + e2 * (q + two_n) / (1 + e2)
                    if kappa <= rule_limit[k]:
                        rule = k
                        break
                parts = 1
                if rule == len(rule_size) - 1:
                    wide = e1 * (p + 16.0) + e2 * (q + 16.0)
                    if wide > rule_limit[rule]:
                        parts = min(int(np.ceil(wide / rule_limit[rule])), 65536)
                log_bh = np.log(b * h / parts)
                for part in range(parts):
                    for k in range(rule_start[rule], rule_start[rule] + rule_size[rule]):
                        u = h * (part + nodes[k]) / parts
                        x1 = c1 + a * u
                        x2 = c2 + b * u
                        l1 = np.log(x1)
                        l2 = np.log(x2)
                        lf = weights[k] + log_bh - p * l1 - q * l2
                        if lf > top:  # rescale what was summed to the new top
                            scale = np.exp(top - lf)
                            s0 *= scale
                            s_l1 *= scale
                            s_i1 *= scale
                            s_l2 *= scale
                            s_i2 *= scale
                            for c in range(kp):
                                sgp[c] *= scale
                            for c in range(kd):
                                sgd[c] *= scale
                            top = lf
                        f = np.exp(lf - top)
                        s0 += f
                        if gradient:
                            i1 = 1.0 / x1
                            i2 = 1.0 / x2
                            s_l1 += f * l1
                            s_i1 += f * i1
                            s_l2 += f * l2
                            s_i2 += f * i2
                            for c in range(kp):
                                sgp[c] += f * i1 * (dA[c] + a * u * zp[c])
                            for c in range(kd):
                                sgd[c] += f * (zd[c] - q * i2 * (dB[c] + b * u * zd[c]))
            if gradient:
                for c in range(kp):
                    dA[c] += a * h * zp[c]
                for c in range(kd):
                    dB[c] += b * h * zd[c]
            A += a * h
            B += b * h
        out[i, 0] = A
        out[i, 1] = B
        if s0 > 0:
            out[i, 2] = top + np.log(s0)
            out[i, 3] = s_l1 / s0
            out[i, 4] = s_i1 / s0
            out[i, 5] = s_l2 / s0
            out[i, 6] = s_i2 / s0
            for c in range(kp):
                out_gp[i, c] = sgp[c] / s0
            for c in range(kd):
                out_gd[i, c] = sgd[c] / s0
        else:
            out[i, 2] = -np.inf
            for c in range(3, 7):
                out[i, c] = 0.0
            for c in range(kp):
                out_gp[i, c] = 0.0
            for c in range(kd):
                out_gd[i, c] = 0.0
        for c in range(kp):
            out_dA[i, c] = dA[c]
        for c in range(kd):
            out_dB[i, c] = dB[c]


def prange(n):
    """``range`` where the loop is not compiled (numba swaps in its parallel range)."""
    return range(n)


@functools.cache
def compiled(parallel: bool = True):
    """:func:`_dead_integrals` compiled by numba on first use (numba is imported only by the
    models that need it): customers in parallel, its machine code cached on disk; or, without
    ``parallel``, one thread (for calls from other threads: numba's default thread pool aborts
    the process when two threads enter a parallel loop at once)."""
    import numba

    globals()["prange"] = numba.prange  # resolved when the loop compiles (a range in Python)
    if parallel:
        return numba.njit(cache=True, parallel=True)(_dead_integrals)
    return numba.njit(cache=False)(_dead_integrals)


def kernel():
    """The compiled integrals for the calling thread: in parallel from the main thread, one
    thread from any other (a web server's, a thread pool's)."""
    return compiled(threading.current_thread() is threading.main_thread())


def segment_sum(values, row, n):
    """Sum of ``values`` (pieces, or pieces x k) per customer row."""
    if values.ndim == 1:
        return np.bincount(row, weights=values, minlength=n)
    out = np.zeros((n, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(row, weights=values[:, j], minlength=n)
    return out


def exclusive_cumsum(values, starts, row):
    """Per piece, the sum of ``values`` (pieces, or pieces x k) over the earlier pieces of its
    customer (pieces sorted by row, ``starts`` each row's first piece and the end), added in
    order within each customer: a running sum over every customer's pieces less its value at
    her first would make her sums depend on the customers before her (their bits, and on a
    large base digits lost to cancellation)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros_like(values)
    counts = np.diff(starts)
    longest = int(counts.max(initial=0))
    if not len(values) or longest < 2:
        return out
    if len(counts) * longest <= 4 * len(values):  # about as many pieces each: a padded table
        position = np.arange(len(values)) - starts[row]
        table = np.zeros((len(counts), longest) + values.shape[1:])
        table[row, position] = values
        running = np.zeros_like(table)
        np.cumsum(table[:, :-1], axis=1, out=running[:, 1:])  # along each row, in order
        return running[row, position]
    order = np.argsort(-counts, kind="stable")
    longer = -counts[order]  # ascending: the customers with more than k pieces come first
    for k in range(1, int(counts.max())):
        rows = order[:np.searchsorted(longer, -k, side="left")]
        at = starts[rows] + k
        out[at] = out[at - 1] + values[at - 1]
    return out


def multipliers(gamma_static, gamma_time, z_static, z_time, pieces):
    """Per piece, the log-multiplier ``gamma' z``: the static part per customer, the
    time-varying part per table row (``pieces.source``)."""
    eta = np.zeros(len(pieces.row))
    if len(gamma_static):
        eta += linear_predictor(z_static, gamma_static)[pieces.row]
    if len(gamma_time):
        eta += linear_predictor(z_time, gamma_time)[pieces.source]
    return eta


def loglik_grad(r, alpha, s, beta, gp, gd, d, gradient=True):
    """Per-customer log-likelihood (module docstring) and, with ``gradient``, its gradient in
    ``(r, alpha, s, beta, gp, gd)`` (customers x parameters).

    ``d`` holds: ``x`` (customers), ``sums_p`` (customers x purchase coefficients: the purchase
    covariates summed over the repeat purchases), the static design ``zs_p``, ``zs_d``
    (customers x k), the time-varying ``zt_p``, ``zt_d`` (table rows x k), ``pieces``
    (:class:`clvmodels.over_time.Pieces` of ``[0, T]`` cut at t_x) and ``dead`` (which pieces
    lie in ``(t_x, T]``); ``gp``, ``gd`` are the coefficients, static first.

    Returns
    -------
    (ll, grad, alive, dead), or without ``gradient`` (ll, alive, dead, A(T), B(T)): the
    likelihood's two terms and the cumulative multipliers at T, which the forecasts start from
    """
    pieces, x, n = d.pieces, np.asarray(d.x, dtype=float), len(d.x)
    ksp, ksd = d.zs_p.shape[1], d.zs_d.shape[1]
    kp, kd = len(gp), len(gd)
    rx = r + x
    out = np.empty((n, 7))
    out_gp, out_gd = np.empty((n, kp)), np.empty((n, kd))
    out_dA, out_dB = np.empty((n, kp)), np.empty((n, kd))
    kernel()(pieces.starts, pieces.width, pieces.source, d.dead,
                    np.exp(linear_predictor(d.zs_p, gp[:ksp])),
                    np.exp(linear_predictor(d.zt_p, gp[ksp:])),
                    np.exp(linear_predictor(d.zs_d, gd[:ksd])),
                    np.exp(linear_predictor(d.zt_d, gd[ksd:])),
                    d.zs_p, d.zt_p, d.zs_d, d.zt_d, rx, float(alpha), float(s), float(beta),
                    NODES, LOG_WEIGHTS, RULE_START, np.array(RULE_SIZES), np.array(RULE_LIMITS),
                    gradient, out, out_gp, out_gd, out_dA, out_dB)
    A_T, B_T, log_d = out[:, 0], out[:, 1], out[:, 2]
    log_a_T, log_b_T = np.log(alpha + A_T), np.log(beta + B_T)
    alive = -rx * log_a_T - s * log_b_T
    with np.errstate(divide="ignore"):
        dead = np.log(s) + log_d
    total = np.logaddexp(alive, dead)
    ll = (special.gammaln(rx) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
          + linear_predictor(d.sums_p, gp) + total)
    if not gradient:
        return ll, alive, dead, A_T, B_T
    w = np.exp(dead - total)  # posterior probability of death in (t_x, T]
    v = 1 - w
    q = s + 1.0
    grad = np.empty((n, 4 + kp + kd))
    grad[:, 0] = (special.digamma(rx) - special.digamma(r) + np.log(alpha) - v * log_a_T
                  - w * out[:, 3])
    grad[:, 1] = r / alpha - v * rx / (alpha + A_T) - w * rx * out[:, 4]
    grad[:, 2] = np.log(beta) - v * log_b_T + w * (1.0 / s - out[:, 5])
    grad[:, 3] = s / beta - v * s / (beta + B_T) - w * q * out[:, 6]
    grad[:, 4:4 + kp] = (d.sums_p - (v * rx / (alpha + A_T))[:, None] * out_dA
                         - (w * rx)[:, None] * out_gp)
    grad[:, 4 + kp:] = -(v * s / (beta + B_T))[:, None] * out_dB + w[:, None] * out_gd
    return ll, grad, alive, dead


def window_purchases(rx, alpha_T, s, beta_T, a, b, c2, h):
    r"""Per future piece, :math:`rac{r+x}{lpha+A(T)} \int_0^h a
    \left(rac{eta+B(T)}{c_2+b u}
ight)^s du` (``c2`` the dropout term at the piece's start,
    ``rx``, ``alpha_T``, ``beta_T`` per piece): the expected purchases in the piece of a
    customer alive at T, in closed form
    :math:`rac{a}{b}\left(rac{eta+B(T)}{c_2}
ight)^s c_2 L\,\mathrm{exprel}(-(s-1)L)`,
    :math:`L = \log(1 + b h / c_2)`."""
    L = np.log1p(b * h / c2)
    return (rx / alpha_T * a / b * np.exp(s * (np.log(beta_T) - np.log(c2))) * c2 * L
            * special.exprel(-(s - 1) * L))


GL8 = ((leggauss(8)[0] + 1) / 2, leggauss(8)[1] / 2)
PREDICTION_LIMIT = 4.0  # kappa of the 8-node rule per part (RULE_LIMITS' last)


def first_purchase_in_pieces(rx, c1_T, s, c2_T, a, b, c1, c2, h):
    r"""Per future piece, the probability that a customer alive at T makes her first purchase
    after T within the piece, alive:

    .. math:: \int_0^h a\,(r+x)\,(\alpha+A(T))^{r+x} (\beta+B(T))^s\,
              (c_1 + a u)^{-(r+x+1)} (c_2 + b u)^{-s} du

    (``c1``, ``c2`` the purchase and dropout terms at the piece's start; ``rx``, ``c1_T``,
    ``c2_T`` per piece): the posterior Gamma rates' Laplace transforms, the first purchase's
    density times survival. Gauss-Legendre, 8 nodes, the piece cut in parts as the likelihood
    does (``RULE_LIMITS``)."""
    p = rx + 1.0
    e1, e2 = a * h / c1, b * h / c2
    parts = np.maximum(np.ceil((e1 * (p + 16) + e2 * (s + 16)) / PREDICTION_LIMIT), 1)
    parts = np.minimum(parts, 1 << 16).astype(np.int64)
    out = np.empty(len(h))
    v8, w8 = GL8
    for m in np.unique(parts):
        i = np.flatnonzero(parts == m)
        v = ((np.arange(m)[:, None] + v8[None, :]) / m).ravel()
        w = np.tile(w8 / m, m)
        for start in range(0, len(i), max(1, 2_000_000 // len(v))):
            j = i[start:start + max(1, 2_000_000 // len(v))]
            u = h[j, None] * v
            log_f = (-p[j, None] * np.log(c1[j, None] + a[j, None] * u)
                     - s * np.log(c2[j, None] + b[j, None] * u))
            out[j] = (np.exp(log_f + rx[j, None] * np.log(c1_T[j, None])
                             + s * np.log(c2_T[j, None])) @ w) * h[j] * a[j] * rx[j]
    return out
