"""Gamma-Gamma spend model fitted by maximum likelihood."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from .._math import gamma_gamma
from ..data import check_rfm
from ..exceptions import DataError, DataQualityWarning
from ..interface import show
from .base import MaximumLikelihoodModel

logger = logging.getLogger("clvmodels")
SPEND_COLUMNS = ("frequency", "monetary_value")
CORRELATION_WARNING = 0.3  # |Pearson r| of frequency and monetary value above which we warn


def spend_draws(rfm: pd.DataFrame, params):
    """Per-draw expected spend: ``compute(rows)`` gives (len(rows), D) values for ``params`` as
    row vectors of D draws; customers with frequency 0 get the population mean p v / (q - 1)."""
    x = rfm["frequency"].to_numpy(dtype=np.float64)[:, None]
    m = np.where(x > 0, rfm["monetary_value"].to_numpy(dtype=np.float64)[:, None], 0.0)
    # E[M | x, m] = p (v + x m) / (p x + q - 1) is finite only where p x + q > 1: the posterior
    # Gamma(p x + q, v + x m) of the customer's scale has no mean of its inverse otherwise
    p, q = params[0], params[1]
    least_x = np.array([[x.min()]]) if len(x) else np.zeros((1, 1))
    if np.any(p * least_x + q <= 1):
        undefined = np.any(p * x + q <= 1, axis=1)
        first = rfm.index[np.flatnonzero(undefined)[0]]
        raise DataError(
            f"Gamma-Gamma's expected spend is infinite for {int(undefined.sum()):,} customer(s) "
            f"(first: {show(first)}, frequency {x[undefined][0, 0]:g}): it needs p x + q > 1, and "
            f"the {'estimate' if p.size == 1 else 'posterior'} has q = {float(np.min(q)):.3g}"
            f"{'' if p.size == 1 else ' in some draws'}, a spend distribution so heavy-tailed "
            "that its mean does not exist. Predict only customers with more repeat purchases, "
            "or cap extreme amounts and refit"
        )

    def compute(rows):
        return gamma_gamma.expected_spend(*params, x[rows], m[rows])

    return compute


class GammaGamma(MaximumLikelihoodModel):
    """Gamma-Gamma model of spend per purchase (Colombo & Jiang 1999; Fader & Hardie 2013).

    Fitted on the customers with at least one repeat purchase (``frequency > 0``); how many were
    used and left out is in ``n_customers_`` and ``n_zero_frequency_``.

    Examples
    --------
    >>> import clvmodels
    >>> tx = clvmodels.load_cdnow()
    >>> rfm = clvmodels.rfm_summary(tx[tx.date <= "1997-09-30"], observation_end="1997-09-30",
    ...                             time_unit="W", amount="amount")
    >>> clvmodels.GammaGamma().fit(rfm).params_.round(2).tolist()
    [6.25, 3.74, 15.44]
    """

    param_names = ("p", "q", "v")

    def _data(self, rfm, weights=None):
        check_rfm(rfm, SPEND_COLUMNS)
        x = rfm["frequency"].to_numpy(dtype=np.float64)
        m = rfm["monetary_value"].to_numpy(dtype=np.float64)
        w = np.ones(len(x)) if weights is None else weights
        repeat = (x > 0) & (w > 0)
        self.n_zero_frequency_ = int(w[x == 0].sum())
        if not repeat.any():
            raise DataError("GammaGamma needs customers with frequency > 0; this frame has none")
        x, m, w = x[repeat], m[repeat], w[repeat]
        nonpositive = m <= 0
        if nonpositive.any():
            first = rfm.index[np.flatnonzero(repeat)[np.flatnonzero(nonpositive)[0]]]
            raise DataError(
                f"monetary_value must be > 0 where frequency > 0; {int(nonpositive.sum())} "
                f"customer(s) violate this (first: {first!r}); drop them or their zero-value orders"
            )
        if x.size > 2 and x.std() > 0 and m.std() > 0:
            corr = float(np.corrcoef(x, m)[0, 1])
            if abs(corr) > CORRELATION_WARNING:
                warnings.warn(
                    f"frequency and monetary_value are correlated (Pearson r = {corr:.2f}); the "
                    "Gamma-Gamma model assumes they are independent, so its spend predictions "
                    "may be biased", DataQualityWarning, stacklevel=3,
                )
        stats = gamma_gamma.sufficient_statistics(x, m, w)
        logger.info("GammaGamma: fitting on %d customers with frequency > 0 (%d with frequency 0 "
                    "left out)", stats["n"], self.n_zero_frequency_)
        # (frequency, monetary value) pairs are nearly all distinct: sufficient statistics instead
        return stats, stats["n"]

    def _check_estimate(self) -> None:
        """Warn where q <= 1: the population mean spend, the forecast for customers without
        repeat purchases, is infinite."""
        q = self.params_["q"]
        if q <= 1:
            warnings.warn(
                f"GammaGamma: q = {q:.3g} <= 1, so the spend per purchase is so heavy-tailed that "
                "its population mean is infinite: expected spend exists only for customers with "
                "p x + q > 1 (frequency x > (1 - q) / p = "
                f"{(1 - q) / self.params_['p']:.3g}) and others are refused. Look for extreme "
                "amounts (a data error?) before using this fit",
                DataQualityWarning, stacklevel=4,
            )

    def _subsample(self, stats, fraction, rng):
        rows = rng.random(stats["x"].size) < fraction
        sub = gamma_gamma.sufficient_statistics(stats["x"][rows], stats["m"][rows], stats["w"][rows])
        return sub, sub["n"]

    def _initial_params(self, stats):
        return np.array([1.0, 2.0, max(np.average(stats["m"], weights=stats["w"]), 1e-3)])

    def _loglik_grad(self, params, stats):
        return gamma_gamma.total_loglik_grad(*params, stats)

    def expected_spend(self, rfm: pd.DataFrame) -> pd.Series:
        """Expected value of each customer's future purchases, shrunk toward the population mean
        (Fader & Hardie 2013, eq. 5); the population mean for customers with frequency 0."""
        values = self._spend_draws(rfm)(np.arange(len(rfm)))[:, 0]
        return pd.Series(values, index=rfm.index, name="expected_spend")

    def _spend_draws(self, rfm, max_draws=None):
        self._prepare(rfm, SPEND_COLUMNS)
        return spend_draws(rfm, [np.array([[v]]) for v in self.params_.to_numpy()])
