r"""GGompertz/NBD formulas (Bemmaor & Glady 2012, "Modeling Purchasing Behavior with Sudden
'Death': A Flexible Customer Lifetime Model", Management Science 58(5); the parameterisation of
BTYDplus ``ggnbd`` and CLVTools ``ggomnbd``).

A customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)`` while alive; her lifetime is
Gompertz with a shape ``b`` common to all and a scale ``eta ~ Gamma(s, beta)``:
:math:`S(t \mid \eta) = e^{-\eta (e^{bt} - 1)}`, so that across customers

.. math:: S(t) = \left(\frac{\beta}{\beta + e^{bt} - 1}\right)^s, \qquad
          f(t) = \frac{b s \beta^s e^{bt}}{(\beta + e^{bt} - 1)^{s+1}}.

With ``b -> 0`` and ``beta = b beta_p`` it is Pareto/NBD with ``(r, alpha, s, beta_p)``. A history
(x, t_x, T) has the likelihood

.. math:: L = \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)} \left[\frac{S(T)}{(\alpha+T)^{r+x}}
          + \int_{t_x}^{T} \frac{f(\tau)\, d\tau}{(\alpha+\tau)^{r+x}}\right]

and, alive at T, the posterior rates are Gamma(r+x, alpha+T) and, for ``eta``,
Gamma(s, beta + e^{bT} - 1): the survival from T is
:math:`((\beta + e^{bT} - 1)/(\beta + e^{b(T+u)} - 1))^s`. The integrals have no closed form:
composite Gauss-Legendre (16 nodes a panel) in :math:`y = \log(c + \tau)`, ``c`` the distance to
the nearer of the integrand's singularities (at ``-alpha`` and where ``beta + e^{b tau} - 1``
vanishes), with panels short enough that no factor changes by more than ``e^12`` across one:
about 1e-12 relative, checked against adaptive quadrature and the Pareto/NBD limit
(``tests/test_ggompertz_math.py``). Terms multiplied by ``s`` are written so that they keep
their digits when ``s`` is in the millions (:func:`log_gompertz_ratio`). The estimator is
:class:`clvmodels.GGompertzNBD`.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import special

NODES, WEIGHTS = (leggauss(16)[0] + 1) / 2, leggauss(16)[1] / 2
LOG_WEIGHTS = np.log(WEIGHTS)
PANEL_RATE = 12.0  # the largest change of a log-factor across one panel (16 nodes: 1e-13)
MAX_PANELS = 400
BLOCK = 1_000_000  # nodes evaluated at once


def log_gompertz_term(beta, b, tau):
    r""":math:`\log(\beta + e^{b\tau} - 1)`, accurate for small and large :math:`b\tau`."""
    bt = b * tau
    with np.errstate(over="ignore", invalid="ignore"):
        small = np.log(beta + np.expm1(np.minimum(bt, 30.0)))
        large = bt + np.log1p((beta - 1.0) * np.exp(-np.maximum(bt, 30.0)))
    return np.where(bt > 30.0, large, small)


def _log_expm1(x):
    """log(e^x - 1) for x >= 0 (-inf at 0), without overflow."""
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(x > 30.0, x + np.log1p(-np.exp(-np.maximum(x, 30.0))),
                        np.log(np.expm1(np.minimum(x, 30.0))))


def log_gompertz_ratio(beta, b, tau):
    r""":math:`\log((\beta + e^{b\tau} - 1) / \beta)` for tau >= 0, accurate where it is
    tiny: the likelihood multiplies it by s, which can be in the millions (customers alike in
    their dropout), so writing it as a difference of two logarithms loses its digits there."""
    return np.logaddexp(0.0, _log_expm1(b * tau) - np.log(beta))


def singular_distance(beta, b, start):
    """How far below ``start`` (a time) ``beta + e^{b tau} - 1`` vanishes (infinite for
    beta >= 1: no real zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = np.where(beta < 1, -np.log1p(-np.minimum(beta, 1 - 1e-300)) / b, np.inf)
    return start + zero


def shape_share(beta, b, end):
    r"""How much of its bound ``b (c + tau)`` the rate of change of
    :math:`\log(\beta + e^{b\tau} - 1)` per unit of ``log(c + tau)`` can reach up to ``end``:
    its derivative in tau, :math:`b e^{b\tau} / (\beta - 1 + e^{b\tau})`, grows with tau
    for beta >= 1 and is at most ``b / (1 + (beta - 1) e^{-b end})`` there; 1 for beta < 1.
    With many customers alike (s and beta large) the factor's s-fold multiple changes slowly
    although s is large: without this share the panels ran to their maximum there."""
    with np.errstate(over="ignore"):
        return np.where(beta >= 1, 1.0 / (1.0 + (beta - 1.0) * np.exp(-np.minimum(b * end, 700.0))),
                        1.0)


def _integrate(log_integrand, lo, hi, c, rate):
    """Per element, ``log int_lo^hi exp(log_integrand(index, tau)) d tau`` (-inf where
    hi <= lo): composite Gauss-Legendre in ``y = log(c + tau)`` with panels of at most
    ``PANEL_RATE / rate`` in y. ``log_integrand(i, tau)`` takes the flat indices ``i`` and an
    array ``(len(i), nodes)`` of times."""
    lo, hi, c, rate = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(lo, hi, c,
                                                                                     rate))
    shape = lo.shape
    lo, hi, c, rate = lo.ravel(), hi.ravel(), c.ravel(), rate.ravel()
    out = np.full(lo.shape, -np.inf)
    some = hi > lo
    y0 = np.log(c + lo)
    width = np.where(some, np.log(c + np.where(some, hi, lo + 1)) - y0, 0.0)
    panels = np.clip(np.ceil(width * np.maximum(rate, 1.0) / PANEL_RATE), 1, MAX_PANELS)
    panels = np.where(some, panels, 0).astype(np.int64)
    for k in np.unique(panels[some]):
        rows = np.flatnonzero(panels == k)
        v = ((np.arange(k)[:, None] + NODES[None, :]) / k).ravel()
        log_w = np.tile(LOG_WEIGHTS - np.log(k), k)
        step = max(1, BLOCK // len(v))
        for start in range(0, len(rows), step):
            i = rows[start:start + step]
            y = y0[i, None] + width[i, None] * v
            tau = np.maximum(np.exp(y) - c[i, None], lo[i, None])
            # d tau = (c + tau) dy
            terms = log_integrand(i, tau) + y + log_w + np.log(width[i])[:, None]
            out[i] = special.logsumexp(terms, axis=1)
    return out.reshape(shape)


def _flat(*values):
    """The arguments broadcast together and flattened, and the common shape."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in values))
    return [a.ravel() for a in arrays], arrays[0].shape


def log_dead(r, alpha, b, s, beta, x, t_x, T):
    r"""log of :math:`\int_{t_x}^T f(\tau) (\alpha+\tau)^{-(r+x)} d\tau` (the death in the
    window), -inf where T = t_x."""
    (r, alpha, b, s, beta, x, t_x, T), shape = _flat(r, alpha, b, s, beta, x, t_x, T)
    p = r + x
    c = np.minimum(alpha + t_x, singular_distance(beta, b, t_x))
    rate = p + 1 + (s + 1) * np.maximum(1.0, b * (c + T)) * shape_share(beta, b, T) + 1

    def integrand(i, tau):
        return (np.log(b[i] * s[i] / beta[i])[:, None]
                + b[i, None] * tau - (s[i] + 1)[:, None] * log_gompertz_ratio(
                    beta[i, None], b[i, None], tau)
                - p[i, None] * np.log(alpha[i, None] + tau))

    # the integral runs in tau; the helper's variable is log(c' + tau) with c' the distance
    # of the nearer singularity below t_x
    return _integrate(integrand, t_x, T, c - t_x, rate).reshape(shape)


def _terms(r, alpha, b, s, beta, x, t_x, T):
    """The likelihood's two terms without its constant: alive at T, died in (t_x, T]."""
    alive = (-(r + x) * np.log(alpha + T)
             - s * log_gompertz_ratio(beta, b, T))
    return alive, log_dead(r, alpha, b, s, beta, x, t_x, T)


def loglik(r, alpha, b, s, beta, x, t_x, T):
    """Log-likelihood of one history (module docstring)."""
    alive, dead = _terms(r, alpha, b, s, beta, x, t_x, T)
    return (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
            + np.logaddexp(alive, dead))


def row_loglik_grad(r, alpha, b, s, beta, x, t_x, T, step=1e-5):
    """Per-customer :func:`loglik` and its gradient in (r, alpha, b, s, beta), each a number
    or one value per customer (covariates): central differences with relative steps (the
    quadrature is accurate to about 1e-12, so the gradient to about 1e-7 relative).

    Returns
    -------
    (numpy.ndarray, list of numpy.ndarray)
    """
    params = [np.asarray(v, dtype=np.float64) for v in (r, alpha, b, s, beta)]
    with np.errstate(all="ignore"):
        value = loglik(*params, x, t_x, T)
        gradient = []
        for j, p in enumerate(params):
            h = step * p
            up, down = list(params), list(params)
            up[j], down[j] = p + h, p - h
            gradient.append((loglik(*up, x, t_x, T) - loglik(*down, x, t_x, T)) / (2 * h))
    return value, gradient


def probability_alive(r, alpha, b, s, beta, x, t_x, T):
    """P(alive at T | history): the alive term's share of the likelihood."""
    alive, dead = _terms(r, alpha, b, s, beta, x, t_x, T)
    return special.expit(alive - dead)


def _log_survival_from(beta, b, T, u):
    r"""log of the survival from T to T + u of a customer alive at T, under the posterior
    :math:`\eta \sim \mathrm{Gamma}(s, \beta + e^{bT} - 1)`, per unit of s."""
    # = -log(1 + e^{bT} (e^{bu} - 1) / (beta + e^{bT} - 1)), written to keep its digits when
    # it is tiny (it is multiplied by s) and to not overflow when bT is large
    scale = log_gompertz_term(beta, b, T) - b * T  # log((beta + e^{bT} - 1) e^{-bT})
    return -np.logaddexp(0.0, _log_expm1(b * u) - scale)


def probability_alive_at(r, alpha, b, s, beta, x, t_x, T, t):
    """P(alive at T + t | history)."""
    return (probability_alive(r, alpha, b, s, beta, x, t_x, T)
            * np.exp(s * _log_survival_from(beta, b, T, t)))


def expected_purchases_if_alive(r, alpha, b, s, beta, x, T, t):
    r"""Expected purchases in the next ``t`` of a customer alive at T:
    :math:`\frac{r+x}{\alpha+T}\int_0^t ((\beta+e^{bT}-1)/(\beta+e^{b(T+u)}-1))^s du`."""
    (r, alpha, b, s, beta, x, T, t), shape = _flat(r, alpha, b, s, beta, x, T, t)
    c = np.minimum(np.maximum(alpha + T, 1e-300), singular_distance(beta, b, T))
    rate = s * np.maximum(1.0, b * (c + t)) * shape_share(beta, b, T + t) + 1

    def integrand(i, u):
        return s[i, None] * _log_survival_from(beta[i, None], b[i, None], T[i, None],
                                               u - T[i, None])

    log_window = _integrate(integrand, T, T + t, c - T, rate)
    return ((r + x) / (alpha + T) * np.exp(log_window)).reshape(shape)


def expected_purchases(r, alpha, b, s, beta, x, t_x, T, t):
    """E[Y(t) | history]: P(alive) times :func:`expected_purchases_if_alive`."""
    return (probability_alive(r, alpha, b, s, beta, x, t_x, T)
            * expected_purchases_if_alive(r, alpha, b, s, beta, x, T, t))


def expected_purchases_new(r, alpha, b, s, beta, t):
    """E[X(t)] of a customer just acquired."""
    return expected_purchases_if_alive(r, alpha, b, s, beta, 0.0, 0.0, t)


def probability_any_purchase(r, alpha, b, s, beta, x, t_x, T, t):
    r"""P(at least one purchase in the next ``t`` | history): alive at T, then the first
    purchase before death and before ``t``:
    :math:`\int_0^t (r+x)(\alpha+T)^{r+x}(\alpha+T+u)^{-(r+x+1)} S(T+u \mid T)\, du`."""
    (r, alpha, b, s, beta, x, t_x, T, t), shape = _flat(r, alpha, b, s, beta, x, t_x, T, t)
    p = r + x
    c = np.minimum(alpha + T, singular_distance(beta, b, T))
    rate = p + 2 + s * np.maximum(1.0, b * (c + t)) * shape_share(beta, b, T + t) + 1

    def integrand(i, u):
        return (np.log(p[i])[:, None] + (p[i] * np.log(alpha[i] + T[i]))[:, None]
                - (p[i] + 1)[:, None] * np.log(alpha[i, None] + u)
                + s[i, None] * _log_survival_from(beta[i, None], b[i, None], T[i, None],
                                                  u - T[i, None]))

    first = np.exp(_integrate(integrand, T, T + t, c - T, rate))
    return (probability_alive(r, alpha, b, s, beta, x, t_x, T) * first).reshape(shape)


def probability_of_purchases(r, alpha, b, s, beta, n, t):
    r"""P(X(t) = n) for a customer just acquired: alive throughout with n purchases, or dead
    at :math:`\tau < t` after n,

    .. math:: \mathrm{NB}(n; r, \tfrac{\alpha}{\alpha+t}) S(t)
              + \int_0^t f(\tau)\, \mathrm{NB}(n; r, \tfrac{\alpha}{\alpha+\tau})\, d\tau

    (NB the negative binomial pmf of ``n`` purchases in a time with the Gamma(r, alpha) rate).
    """
    (r, alpha, b, s, beta, n, t), shape = _flat(r, alpha, b, s, beta, n, t)
    const = special.gammaln(r + n) - special.gammaln(r) - special.gammaln(n + 1)

    def log_nb(i, tau):
        return (const[i, None] + r[i, None] * (np.log(alpha[i, None])
                                               - np.log(alpha[i, None] + tau))
                + special.xlogy(n[i, None], tau) - n[i, None] * np.log(alpha[i, None] + tau))

    every = np.arange(len(t))
    alive = np.exp(log_nb(every, t[:, None])[:, 0]
                   - s * log_gompertz_ratio(beta, b, t))
    c = np.minimum(alpha, singular_distance(beta, b, 0.0))
    c = np.where(n > 0, np.minimum(c, 1.0), c)  # tau^n is flat at 0 only on its own scale
    rate = r + n + 1 + (s + 1) * np.maximum(1.0, b * (c + t)) * shape_share(beta, b, t) + 1

    def integrand(i, tau):
        return (np.log(b[i] * s[i] / beta[i])[:, None]
                + b[i, None] * tau - (s[i] + 1)[:, None] * log_gompertz_ratio(
                    beta[i, None], b[i, None], tau) + log_nb(i, tau))

    with np.errstate(divide="ignore"):
        dead = np.exp(_integrate(integrand, np.zeros_like(t), t, c, rate))
    return (alive + np.where(t > 0, dead, 0.0)).reshape(shape)


def conditional_probability_of_purchases(r, alpha, b, s, beta, x, t_x, T, n, t):
    r"""P(Y(t) = n | history): dead at T (no purchases), or alive and then like a new customer
    with the posterior rates, whose dropout clock has run to T:
    :math:`\delta_{n=0}(1 - P(\text{alive})) + P(\text{alive})\, P(X(t) = n \mid \ldots)` with
    the purchase Gamma(r+x, alpha+T) and the survival from T."""
    (r, alpha, b, s, beta, x, t_x, T, n, t), shape = _flat(r, alpha, b, s, beta, x, t_x, T,
                                                           n, t)
    rx, aT = r + x, alpha + T
    const = special.gammaln(rx + n) - special.gammaln(rx) - special.gammaln(n + 1)

    def log_nb(i, u):  # n purchases in u after T, rate Gamma(r+x, alpha+T)
        return (const[i, None] + rx[i, None] * (np.log(aT[i, None]) - np.log(aT[i, None] + u))
                + special.xlogy(n[i, None], u) - n[i, None] * np.log(aT[i, None] + u))

    every = np.arange(len(t))
    alive_all = np.exp(log_nb(every, t[:, None])[:, 0]
                       + s * _log_survival_from(beta, b, T, t))
    c = np.minimum(aT, singular_distance(beta, b, T))
    c = np.where(n > 0, np.minimum(c, 1.0), c)
    rate = rx + n + 1 + (s + 1) * np.maximum(1.0, b * (c + t)) * shape_share(beta, b, T + t) + 1

    def integrand(i, u):  # death at T + u: the posterior density of the death time
        return (np.log(b[i] * s[i])[:, None] + b[i, None] * (T[i, None] + u)
                + s[i, None] * _log_survival_from(beta[i, None], b[i, None], T[i, None], u)
                - log_gompertz_term(beta[i, None], b[i, None], T[i, None] + u)
                + log_nb(i, u))

    with np.errstate(divide="ignore"):
        dead_later = np.exp(_integrate(integrand, np.zeros_like(t), t, c, rate))
    fresh = alive_all + np.where(t > 0, dead_later, 0.0)
    alive = probability_alive(r, alpha, b, s, beta, x, t_x, T)
    return (np.where(n == 0, 1 - alive, 0.0) + alive * fresh).reshape(shape)
