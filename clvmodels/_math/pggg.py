r"""Pareto/GGG formulas given a customer's latent variables (Platzer & Reutterer 2016, "Ticking
Away the Moments: Timing Regularity Helps to Better Predict Customer Activity", Marketing
Science 35(5); BTYDplus ``pggg.mcmc.DrawParameters``).

A customer buys at time 0 and then after intertransaction times (itt) drawn from
:math:`\mathrm{Gamma}(k, k\lambda)` (mean :math:`1/\lambda`; the larger ``k`` the more regular),
until her lifetime :math:`\tau \sim \mathrm{Exp}(\mu)` ends; across customers
:math:`k \sim \mathrm{Gamma}(t, \gamma)`, :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`,
:math:`\mu \sim \mathrm{Gamma}(s, \beta)`. ``k = 1`` is the Pareto/NBD. A history is ``x`` repeat
purchases, the last at ``t_x``, observed until ``T``, and ``litt``, the sum of the logarithms of
the ``x`` intertransaction times. With :math:`Q(a, z)` the regularised upper incomplete Gamma
function and :math:`c = k\lambda`, the likelihood given the latent variables is

.. math:: \log L = x\,[k \log c - \log\Gamma(k)] + (k-1)\,\mathrm{litt} - c\,t_x
          + \log Q(k, c\,(\min(\tau, T) - t_x)),

for :math:`\tau > t_x` (the last factor: no purchase between the last one and the end of
observation or of life). Integrating the lifetime over :math:`(t_x, T)` in closed form (by parts,
:math:`\int_0^D \mu e^{-\mu u} Q(k, cu)\,du = 1 - e^{-\mu D} Q(k, cD) - A\,P(k, (c+\mu) D)`
with :math:`A = (c / (c + \mu))^k`) gives the probability of being alive at ``T``

.. math:: P(\tau > T) = \frac{e^{-\mu D} Q(k, cD)}{1 - A + A\,Q(k, (c+\mu) D)}, \qquad D = T - t_x,

(BTYDplus integrates it numerically; at ``k = 1`` it is the Pareto/NBD's
:math:`(\lambda+\mu) / (\lambda + \mu e^{(\lambda+\mu) D})`), and the likelihood with the
lifetime integrated out, :math:`e^{-\mu t_x} (1 - A + A\,Q(k, (c+\mu) D))` times the
intertransaction times' density (:func:`loglik`), so that a sampler needs no lifetime at all.
"""

from __future__ import annotations

import numpy as np
from scipy import special

TINY_Q = 1e-250  # below this the upper incomplete Gamma is taken from its continued fraction
SMALL_K = 0.01  # below this expected purchases sum most of their terms as an integral
SUMMED_TERMS = 16  # terms summed one by one before the integral
PANELS, NODES = 32, 8  # the integral's composite Gauss-Legendre rule


def log_upper_gamma(a, z):
    r"""``log Q(a, z)`` for ``a > 0, z >= 0``, accurate where ``Q`` underflows: scipy's
    ``gammaincc`` where it is at least 1e-250, else the continued fraction of ``Q`` (Numerical
    Recipes' ``gcf``, modified Lentz; there ``z > a + 1``) in logarithms,
    :math:`\log Q = a \log z - z - \log\Gamma(a) + \log \mathrm{CF}`."""
    q = special.gammaincc(a, z)
    with np.errstate(divide="ignore"):
        out = np.log(q)
    tail = (q < TINY_Q) & (z > 0)
    if np.any(tail):
        if np.ndim(out) == 0:
            out, tail = np.array([out]), np.array([True])
        a, z = np.broadcast_arrays(a, z)
        a, z = np.atleast_1d(a), np.atleast_1d(z)
        aa, zz = a[tail], z[tail]
        b = zz + 1.0 - aa
        c = np.full_like(zz, 1e300)
        d = 1.0 / b
        h = d.copy()
        done = np.zeros(h.shape, dtype=bool)
        for i in range(1, 300):
            an = -i * (i - aa)
            b = b + 2.0
            d = an * d + b
            d = np.where(np.abs(d) < 1e-300, 1e-300, d)
            c = b + an / c
            c = np.where(np.abs(c) < 1e-300, 1e-300, c)
            d = 1.0 / d
            delta = d * c
            h = np.where(done, h, h * delta)  # each stops at its own term: its value does
            done = done | (np.abs(delta - 1.0) < 1e-15)  # not depend on the others
            if np.all(done):
                break
        out[tail] = aa * np.log(zz) - zz - special.gammaln(aa) + np.log(h)
        return out if np.ndim(q) else out[0]
    return out


def loglik(k, lam, mu, x, t_x, T, litt):
    """Each customer's log-likelihood given her ``k``, ``lambda`` and ``mu``, her lifetime
    integrated out (the module's docstring): the intertransaction times
    (:func:`gaps_loglik`), then no purchase since the last one, alive or dead
    (:func:`silence_loglik`); at ``k = 1`` the Pareto/NBD's individual likelihood (Schmittlein
    et al. 1987)."""
    return gaps_loglik(k, lam, x, t_x, litt) + silence_loglik(k, lam, mu, t_x, T)


def gaps_loglik(k, lam, x, t_x, litt):
    """``x [k log c - log Gamma(k)] + (k - 1) litt - c t_x``, ``c = k lambda``: the density of
    the ``x`` intertransaction times (no ``mu`` in it)."""
    c = k * lam
    return x * (k * np.log(c) - special.gammaln(k)) + (k - 1.0) * litt - c * t_x


def silence_loglik(k, lam, mu, t_x, T):
    """``-mu t_x + log(1 - A + A Q(k, (c + mu) D))``, ``D = T - t_x``, ``A = (c / (c +
    mu))^k``: alive at the last purchase and no purchase since, dead or alive; a sum of two
    positive parts added in logarithms (no cancellation, no underflow)."""
    c = k * lam
    log_share = -k * np.log1p(mu / c)
    log_rest = np.log(-np.expm1(log_share))
    log_tail = log_share + log_upper_gamma(k, (c + mu) * (T - t_x))
    return -mu * t_x + np.logaddexp(log_rest, log_tail)


def probability_alive(k, lam, mu, t_x, T):
    """P(alive at ``T`` | k, lambda, mu, history): the module's closed form, its numerator
    and denominator (:func:`silence_loglik`) in logarithms, so that long silences give 0
    rather than 0/0."""
    log_alive = -mu * (T - t_x) + log_upper_gamma(k, k * lam * (T - t_x))
    with np.errstate(invalid="ignore"):
        return np.minimum(np.exp(log_alive - silence_loglik(k, lam, mu, t_x, T) - mu * t_x),
                          1.0)


def probability_any_purchase(k, lam, mu, t_x, T, t):
    """P(at least one purchase in ``(T, T + t]``): alive until the end of the gap that began at
    ``t_x`` and that gap ending within ``t``. With ``z(u) = (c + mu) u``, integrating the
    lifetime and the gap's Gamma density over ``(D, D + t]``,

    ``A [Q(k, z(D)) - Q(k, z(D + t))] / (1 - A + A Q(k, z(D)))``

    (the denominator is :func:`silence_loglik`'s; at ``k = 1`` the Pareto/NBD's ``P(alive)
    lambda / (lambda + mu) (1 - e^{-(lambda + mu) t})``), in logarithms."""
    c = k * lam
    D = T - t_x
    log_share = -k * np.log1p(mu / c)
    near = log_upper_gamma(k, (c + mu) * D)
    far = log_upper_gamma(k, (c + mu) * (D + t))
    with np.errstate(divide="ignore"):
        log_gap = near + np.log(-np.expm1(far - near))
    return np.exp(log_share + log_gap - (silence_loglik(k, lam, mu, t_x, T) + mu * t_x))


def expected_purchases_after(k, lam, mu, alive, first, horizons, tol: float = 1e-12):
    r"""Expected purchases by each horizon after ``T`` given the time ``first`` (after ``T``) of
    the next purchase were the customer alive then: the ``n``-th purchase falls at ``first +
    G``, :math:`G \sim \mathrm{Gamma}((n-1)k, c)`, and counts if she is still alive,
    probability ``alive`` (P(alive at T)) times :math:`e^{-\mu(first + G)}` (memoryless); so,
    with :math:`E[e^{-\mu G} 1\{G \le u\}] = (c / (c + \mu))^{(n-1)k}
    P((n-1)k, (c + \mu) u)`,

    .. math:: E[N(h)] = alive\, e^{-\mu\, first} \sum_{m \ge 0}
              \left(\frac{c}{c+\mu}\right)^{mk} P(mk, (c+\mu)(h - first)),

    the regularised lower incomplete Gamma :math:`P` (1 at ``m = 0``), summed until every
    term is below ``tol`` (the terms decrease in ``m``). The later gaps are integrated out
    exactly; only ``first`` is drawn. ``first`` has the elements' shape, ``horizons``
    ``(elements, m)``; returns ``(elements, m)``."""
    k, lam, mu, alive, first = (np.asarray(v, dtype=np.float64).ravel()
                                for v in (k, lam, mu, alive, first))
    horizons = np.asarray(horizons, dtype=np.float64)
    c = k * lam
    span = np.maximum(horizons - first[:, None], 0.0)
    reached = horizons >= first[:, None]
    with np.errstate(all="ignore"):
        scale = alive * np.exp(-mu * first)
        total = scale[:, None] * reached
        log_ratio = -k * np.log1p(mu / c)  # log (c / (c + mu))^k
        rate = c + mu
    # a very irregular customer (k < SMALL_K) needs about mu h / k terms: past the first
    # SUMMED_TERMS they are summed as an integral instead (:func:`_sum_as_integral`)
    needed = (scale > tol) & reached.any(axis=1)
    small = k < SMALL_K
    rows = np.flatnonzero(needed & small)
    if rows.size:
        with np.errstate(all="ignore"):
            ell = np.log1p(mu[rows] / c[rows])  # log((c + mu) / c)
        total[rows] += scale[rows, None] * _sum_as_integral(
            k[rows, None], ell[:, None], rate[rows, None] * span[rows])
    active = np.flatnonzero(needed & ~small)
    m = 1
    while active.size:
        term = (scale[active] * np.exp(m * log_ratio[active]))[:, None] * special.gammainc(
            m * k[active, None], rate[active, None] * span[active])
        total[active] += term
        active = active[term.max(axis=1) > tol]
        m += 1
    return total


def _sum_as_integral(k, ell, z):
    r"""``sum_{m >= 1} e^{-ell m k} P(m k, z)`` for small ``k`` (arrays broadcast together):
    the first :data:`SUMMED_TERMS` terms one by one, the rest by the Euler-Maclaurin formula,
    :math:`\sum_{m \ge M} f(m) = \int_M^\infty f + f(M) / 2 - f'(M) / 12 + O(f''')` (``f'``
    by a central difference), with :math:`f(m) = g(mk)` smooth in :math:`s = mk`, so that the
    error is of order ``k^3`` times one term (the sum has about ``1 / (ell k)`` of them):
    :math:`\int_M^\infty f\,dm = \frac{1}{k} \int_{Mk}^\infty e^{-\ell s} P(s, z)\,ds`,
    the integrand decreasing, negligible past ``40 / ell`` or ``z + 12 sqrt(z) + 40``, by a
    composite Gauss-Legendre rule of :data:`PANELS` panels of :data:`NODES` nodes. Direct
    summation would take about ``mu h / k`` terms: millions where ``k`` is 1e-6."""
    k, ell, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (k, ell, z)))

    def term(m):
        return np.exp(-ell * m * k) * special.gammainc(m * k, z)

    total = np.zeros(k.shape)
    for m in range(1, SUMMED_TERMS):
        total += term(m)
    slope = 0.5 * (term(SUMMED_TERMS + 1) - term(SUMMED_TERMS - 1))
    total += 0.5 * term(SUMMED_TERMS) - slope / 12.0
    start = SUMMED_TERMS * k
    end = np.maximum(np.minimum(start + 40.0 / ell, z + 12.0 * np.sqrt(z) + 40.0), start)
    nodes, weights = np.polynomial.legendre.leggauss(NODES)
    width = (end - start) / PANELS
    integral = np.zeros(k.shape)
    for panel in range(PANELS):
        left = start + panel * width
        for node, weight in zip(nodes, weights):
            point = left + 0.5 * width * (node + 1.0)
            integral += 0.5 * width * weight * np.exp(-ell * point) * special.gammainc(point, z)
    return total + integral / k
