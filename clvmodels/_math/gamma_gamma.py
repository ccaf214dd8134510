r"""Gamma-Gamma spend formulas (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value";
Colombo & Jiang 1999).

A customer with ``x`` repeat purchases of mean value ``m``; each purchase is Gamma(p, nu) with
``nu ~ Gamma(q, v)`` per customer.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import NUMPY


def loglik(p, q, v, x, m, xp=NUMPY):
    r"""Log-density of the mean spend ``m`` of ``x`` purchases (Fader & Hardie 2013, eq. 4).

    .. math:: \frac{\Gamma(px+q)}{\Gamma(px)\Gamma(q)}
              \frac{v^q\, m^{px-1} x^{px}}{(v + x m)^{px+q}}
    """
    px = p * x
    return (xp.gammaln(px + q) - xp.gammaln(px) - xp.gammaln(q) + q * xp.log(v)
            + (px - 1) * xp.log(m) + px * xp.log(x) - (px + q) * xp.log(v + x * m))


def loglik_grad(p, q, v, x, m):
    """Per-customer log-likelihood and its gradient with respect to (p, q, v)."""
    psi = special.digamma
    px = p * x
    log_vxm = np.log(v + x * m)
    psi_pxq = psi(px + q)
    d_p = x * (psi_pxq - psi(px) + np.log(m) + np.log(x) - log_vxm)
    d_q = psi_pxq - psi(q) + np.log(v) - log_vxm
    d_v = q / v - (px + q) / (v + x * m)
    return loglik(p, q, v, x, m), np.stack([d_p, d_q, d_v])


def expected_spend(p, q, v, x, m):
    r"""E[M | x, m], the expected value of a customer's future purchase (Fader & Hardie 2013, eq. 5).

    .. math:: \frac{q-1}{px+q-1}\frac{pv}{q-1} + \frac{px}{px+q-1} m = \frac{p(v + x m)}{px+q-1}

    With ``x = 0`` it is the population mean ``p v / (q - 1)``, finite only for ``q > 1``.
    """
    return p * (v + x * m) / (p * x + q - 1)
