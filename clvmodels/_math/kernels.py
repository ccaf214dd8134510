r"""Compiled per-history passes of the likelihoods the samplers evaluate most (numba).

A log-likelihood over a million customers is a sum over their distinct histories; functions of
the purchase count alone run once per distinct count and logarithms of ``alpha + t`` once per
distinct time (in numpy, by the callers), so what is left per history is a few gathers, one
exponential and one logarithm. In numpy that took ten array passes with their temporaries; here
it is two compiled loops around numpy's vectorised exponential, with the logarithm as
:func:`log1p_unit`, a polynomial the compiler vectorises too (glibc's scalar ``log1p`` took
more time than the rest of the pass). Sums are accumulated in the order the vectoriser chooses
(``fastmath`` re-association only: no approximation of any function, no assumption about
infinities or NaN), which moves the totals by about 1e-13 relative against numpy's order.

BG/NBD's and MBG/NBD's likelihood of a history is a two-term mixture, alive at T or dropped out
right after the last purchase (Fader, Hardie & Lee 2005, eq. 6; Batislam et al. 2007, eq. 7):

.. math:: \log L = \text{base}(x) - (r+x)\log(\alpha+T) + \log(1 + e^{g}), \qquad
          g = C(x) - (r+x)\left[\log(\alpha+t_x) - \log(\alpha+T)\right]

with ``C(x)`` the log-ratio of the two terms' Beta functions (:func:`mixture_sums`). Gamma-Gamma's
per-customer term is :math:`\log(v + x m)` (:func:`spend_sums`).

With covariates every customer has her own parameters, so the Gamma-function terms cannot be
shared between customers; for whole counts they need no special function at all (the recurrence
:math:`\Gamma(c + n) / \Gamma(c) = \prod_{j<n} (c + j)`, and its derivative
:math:`\psi(c + n) - \psi(c) = \sum_{j<n} 1 / (c + j)`): :func:`mixture_rows`, a loop of
``n`` steps per customer, exact where the difference of two log-Gamma values loses digits (a
large ``b``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (fdlibm's split): hi has trailing zeros
LN2_LO = 1.90821492927058770002e-10
SQRT2_MINUS_1 = math.sqrt(2.0) - 1.0
FASTMATH = {"reassoc"}  # sums may be re-ordered (vectorised); nothing else is relaxed


def log1p_unit(e):
    r"""``log(1 + e)`` for ``0 <= e <= 1``, to 3 units in the last place, in arithmetic a
    compiler can vectorise (no library call, no branch).

    With :math:`1 + e = 2^k (1 + f)`, :math:`k \in \{0, 1\}` chosen so that
    :math:`\sqrt{1/2} \le 1 + f < \sqrt 2` (``f = e`` exactly when ``k = 0``, ``f = (e - 1)/2``
    when ``k = 1``), :math:`\log(1 + f) = 2\,\mathrm{atanh}(s) = 2 s \sum_{n \ge 0}
    s^{2n} / (2n + 1)` with :math:`s = f / (2 + f)`, :math:`|s| \le 0.1716`; eleven terms leave
    a truncation below :math:`0.0295^{11} / 23 < 10^{-18}` (the reduction of fdlibm's
    ``log1p``, with the series instead of its minimax polynomial).
    """
    big = e > SQRT2_MINUS_1
    f = (e - 1.0) * 0.5 if big else e
    s = f / (2.0 + f)
    z = s * s
    p = 1.0 / 21.0
    p = p * z + 1.0 / 19.0
    p = p * z + 1.0 / 17.0
    p = p * z + 1.0 / 15.0
    p = p * z + 1.0 / 13.0
    p = p * z + 1.0 / 11.0
    p = p * z + 1.0 / 9.0
    p = p * z + 1.0 / 7.0
    p = p * z + 1.0 / 5.0
    p = p * z + 1.0 / 3.0
    return (LN2_HI if big else 0.0) + ((LN2_LO if big else 0.0) + 2.0 * s * (1.0 + z * p))


def _mixture_gaps(c, ix, x, itx, iT, w, r, log_t, inv_t, gap, d):
    """First pass: per history ``d = log(alpha + t_x) - log(alpha + T)`` and ``-|g|`` (into
    ``d`` and ``gap``); returns the weighted sums of ``(r + x) log(alpha + T)``,
    ``log(alpha + T)`` and ``(r + x) / (alpha + T)``."""
    rx_log = log_sum = rx_inv = 0.0
    for h in range(x.size):
        wh = w[h]
        rx = r + x[h]
        log_big = log_t[iT[h]]
        log_sum += wh * log_big
        rx_log += wh * rx * log_big
        rx_inv += wh * rx * inv_t[iT[h]]
        dh = log_t[itx[h]] - log_big
        d[h] = dh
        gap[h] = -abs(c[ix[h]] - rx * dh)
    return rx_log, log_sum, rx_inv


def _mixture_shares(c, k, ix, x, itx, iT, w, r, inv_t, d, e, skip_zero):
    """Second pass, with ``e = exp(-|g|)``: the weighted sums of ``log(1 + e^g)``, ``pi``,
    ``pi d``, ``pi (r + x) (1 / (alpha + t_x) - 1 / (alpha + T))`` and ``pi k``, where
    ``pi = e^g / (1 + e^g)`` is the posterior probability of having dropped out."""
    soft = share = share_d = share_inv = share_k = 0.0
    for h in range(x.size):
        wh = 0.0 if skip_zero and x[h] == 0 else w[h]
        rx = r + x[h]
        g = c[ix[h]] - rx * d[h]
        eh = e[h]
        soft += wh * (max(g, 0.0) + log1p_unit(eh))
        p = wh * ((1.0 if g >= 0 else eh) / (1.0 + eh))
        share += p
        share_d += p * d[h]
        share_inv += p * rx * (inv_t[itx[h]] - inv_t[iT[h]])
        share_k += p * k[ix[h]]
    return soft, share, share_d, share_inv, share_k


def _spend_sums(v, log_v, inv_v, s, log_s, inv_s, w, wx, p, q):
    """Gamma-Gamma: over customers with total spend ``s = x m`` (and its precomputed logarithm
    and reciprocal), the sums of ``w x log(v + s)``, ``w log(v + s)`` and ``(p w x + q w) /
    (v + s)``; ``log(v + s) = log(max) + log1p(min / max)`` of ``v`` and ``s``."""
    wx_log = w_log = inverse = 0.0
    for i in range(s.size):
        small = v <= s[i]
        ratio = v * inv_s[i] if small else s[i] * inv_v
        lg = (log_s[i] if small else log_v) + log1p_unit(ratio)
        wx_log += wx[i] * lg
        w_log += w[i] * lg
        inverse += (p * wx[i] + q * w[i]) / (v + s[i])
    return wx_log, w_log, inverse


RISING_LIMIT = 1e100  # products of the rising factorial are flushed to a logarithm beyond this


def rising(c, n):
    """``(sum_{j<n} log(c + j), sum_{j<n} 1 / (c + j))``: ``log Gamma(c + n) - log Gamma(c)``
    and ``psi(c + n) - psi(c)`` for a whole ``n``, one logarithm per run of factors whose
    product stays within 1e-100 to 1e100."""
    total = 0.0
    inverse = 0.0
    product = 1.0
    for j in range(n):
        factor = c + j
        inverse += 1.0 / factor
        product *= factor
        if product > RISING_LIMIT or product < 1.0 / RISING_LIMIT:
            total += math.log(product)
            product = 1.0
    return total + math.log(product), inverse


def _mixture_rows(r, alpha, a, b, x, t_x, T, shift, ll, d_r, d_alpha, d_a, d_b):
    """Per customer (parameters one per row; ``x`` whole): BG/NBD's log-likelihood (``shift``
    0) or MBG/NBD's (1) and its derivatives in r, alpha, a, b, into the output arrays: with
    ``xs = x + shift``, ``pi`` the posterior probability of having dropped out,

    ``ll = log[G(r+x)/G(r)] + r log(alpha) + log[G(b+xs)/G(b)] - log[G(a+b+xs)/G(a+b)]
    - (r+x) log(alpha+T) + log(1 + e^g)``, ``g = log(a) - log(b+xs-1) - (r+x) [log(alpha+t_x)
    - log(alpha+T)]`` where ``xs > 0``."""
    for i in range(x.size):
        ri, al, ai, bi = r[i], alpha[i], a[i], b[i]
        n = int(x[i])
        ns = n + shift
        log_r, psi_r = rising(ri, n)
        log_b, psi_b = rising(bi, ns)
        log_ab, psi_ab = rising(ai + bi, ns)
        rx = ri + n
        log_big = math.log(al + T[i])
        inv_big = 1.0 / (al + T[i])
        value = log_r + ri * math.log(al) + log_b - log_ab - rx * log_big
        share = 0.0
        gap_d = 0.0
        gap_inv = 0.0
        if ns > 0:
            gap_d = math.log(al + t_x[i]) - log_big
            gap_inv = 1.0 / (al + t_x[i]) - inv_big
            g = math.log(ai) - math.log(bi + ns - 1) - rx * gap_d
            e = math.exp(-abs(g))
            value += max(g, 0.0) + log1p_unit(e)
            share = (1.0 if g >= 0 else e) / (1.0 + e)
        ll[i] = value
        d_r[i] = psi_r + math.log(al) - log_big - share * gap_d
        d_alpha[i] = ri / al - rx * inv_big - share * rx * gap_inv
        d_a[i] = -psi_ab + share / ai
        d_b[i] = psi_b - psi_ab - (share / (bi + ns - 1) if ns > 0 else 0.0)


@functools.cache
def _compiled(name: str):
    """A kernel compiled on first use (numba is imported only then), its machine code cached
    on disk; :func:`log1p_unit` stays a Python function, compiled into the loops that call it."""
    import numba
    from numba.extending import register_jitable

    register_jitable(inline="always", error_model="numpy")(log1p_unit)
    register_jitable(error_model="numpy")(rising)
    return numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)(
        globals()[name])


def mixture_sums(c, k, ix, x, itx, iT, w, r, log_t, inv_t, skip_zero: bool):
    """Over histories (``x`` purchases; times ``itx``, ``iT`` into ``log_t = log(alpha + t)``
    and ``inv_t = 1 / (alpha + t)``; weights ``w``; ``c`` (``C(x)``) and ``k`` per distinct
    ``x``, indexed by ``ix``): the weighted sums of ``log(1 + e^g)``, ``pi``, ``pi d``,
    ``pi (r + x) (1 / (alpha + t_x) - 1 / (alpha + T))``, ``pi k``, ``(r + x) log(alpha + T)``,
    ``log(alpha + T)`` and ``(r + x) / (alpha + T)``, with ``d = log(alpha + t_x) - log(alpha
    + T)`` and ``pi = e^g / (1 + e^g)``. With ``skip_zero`` a history without repeat purchases
    has no dropped-out term (BG/NBD)."""
    c, k = np.asarray(c, dtype=np.float64), np.asarray(k, dtype=np.float64)
    gap, d = np.empty(x.size), np.empty(x.size)
    alive = _compiled("_mixture_gaps")(c, ix, x, itx, iT, w, float(r), log_t, inv_t, gap, d)
    e = np.exp(gap, out=gap)  # numpy's vectorised exponential
    shares = _compiled("_mixture_shares")(c, k, ix, x, itx, iT, w, float(r), inv_t, d, e,
                                          bool(skip_zero))
    return (*shares, *alive)


def spend_sums(v, s, log_s, inv_s, w, wx, p, q):
    """:func:`_spend_sums` at scale ``v`` and shapes ``p``, ``q``."""
    v = np.float64(v)
    with np.errstate(all="ignore"):  # a v <= 0 tried by an optimiser gives NaN, as numpy's
        log_v, inv_v = np.log(v), 1.0 / v
    return _compiled("_spend_sums")(float(v), float(log_v), float(inv_v), s, log_s, inv_s, w,
                                    wx, float(p), float(q))


def mixture_rows(r, alpha, a, b, x, t_x, T, shift: int):
    """:func:`_mixture_rows` on parameters that broadcast against ``x`` (each a number or one
    value per customer); ``x`` whole. Returns ``(ll, [d_r, d_alpha, d_a, d_b])``."""
    columns = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                    for v in (r, alpha, a, b, x, t_x, T)))
    out = [np.empty(columns[4].shape) for _ in range(5)]
    with np.errstate(all="ignore"):
        _compiled("_mixture_rows")(*(c.ravel() for c in columns), int(shift),
                                   *(o.ravel() for o in out))
    return out[0], out[1:]
