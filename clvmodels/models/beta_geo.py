"""BG/NBD purchase model fitted by maximum likelihood."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._math import bgnbd, levels
from ..data import RFM_COLUMNS, check_rfm, unique_rows
from ..exceptions import DataError
from .base import CHUNK_ELEMENTS, MaximumLikelihoodModel


def rfm_arrays(rfm: pd.DataFrame, columns=RFM_COLUMNS) -> list[np.ndarray]:
    return [rfm[c].to_numpy(dtype=np.float64) for c in columns]


def discounted_purchases_draws(rfm: pd.DataFrame, params, times, coefficients):
    """Per-draw ``sum_k coefficients[k] * E[purchases by times[k] | history]`` (a matrix of
    coefficients gives one column per coefficient column).

    ``params`` are the four parameters as row vectors of draws (shape (1, D); one draw for a
    maximum-likelihood fit). Returns ``(compute, n_histories, inverse)``: ``compute(rows)`` gives
    the (len(rows), D) values for rows of unique histories, ``inverse`` maps customers to them.
    The hypergeometric part runs once per distinct (frequency, T) pair, draw and time.
    """
    x, t_x, T = rfm_arrays(rfm)
    first, inverse, _ = unique_rows(x, t_x, T)
    x, t_x, T = x[first][:, None], t_x[first][:, None], T[first][:, None]
    pairs, pair_of, _ = unique_rows(x[:, 0], T[:, 0])
    times = np.asarray(times, dtype=float)
    coefficients = np.asarray(coefficients, dtype=float)
    # (pairs, draws, times) evaluated a block of times at a time: memory stays bounded however
    # long the horizon
    step = max(1, CHUNK_ELEMENTS // (len(pairs) * params[0].shape[1]))
    factor = 0.0
    for start in range(0, len(times), step):
        block = slice(start, start + step)
        with np.errstate(all="ignore"):
            if_alive = bgnbd.expected_purchases_if_alive(
                *(p[..., None] for p in params), x[pairs, :, None], T[pairs, :, None],
                times[None, None, block])
        factor = factor + if_alive @ coefficients[block]  # (pairs, draws[, columns])

    def compute(rows):
        alive = bgnbd.probability_alive(*params, x[rows], t_x[rows], T[rows])
        values = factor[pair_of[rows]]
        return values * (alive if values.ndim == 2 else alive[..., None])

    return compute, len(first), inverse


class BetaGeo(MaximumLikelihoodModel):
    """BG/NBD model (Fader, Hardie & Lee 2005) of repeat purchases and dropout.

    Parameters ``r, alpha`` (Gamma heterogeneity of purchase rates) and ``a, b`` (Beta
    heterogeneity of dropout probabilities), in the time unit of the frame it is fitted on.

    Examples
    --------
    >>> import clvmodels
    >>> tx = clvmodels.load_cdnow()
    >>> rfm = clvmodels.rfm_summary(tx[tx.date <= "1997-09-30"], observation_end="1997-09-30",
    ...                             time_unit="W")
    >>> model = clvmodels.BetaGeo().fit(rfm)
    >>> model.params_.round(4).tolist()
    [0.2426, 4.4136, 0.7929, 2.4259]
    >>> round(model.log_likelihood_, 2)
    -9582.43
    """

    param_names = ("r", "alpha", "a", "b")

    def _data(self, rfm, weights=None):
        check_rfm(rfm)
        x, t_x, T = rfm_arrays(rfm)
        if not (x[weights > 0] if weights is not None else x > 0).any():
            raise DataError(
                "no customer made a repeat purchase, so BG/NBD cannot estimate purchase rates "
                "(they run off to zero); use a longer observation window"
            )
        first, inverse, counts = unique_rows(x, t_x, T)
        if weights is not None:
            counts = np.bincount(inverse, weights=weights, minlength=len(first))
        n = len(rfm) if weights is None else weights.sum()
        return self._histories(x[first], t_x[first], T[first], counts.astype(np.float64)), n

    @staticmethod
    def _histories(x, t_x, T, weights):
        return x, t_x, T, levels(x), levels(np.stack([t_x, T])), weights

    def _subsample(self, data, fraction, rng):
        x, t_x, T, _, _, weights = data
        kept = rng.binomial(weights.astype(np.int64), fraction).astype(np.float64)
        rows = kept > 0
        return self._histories(x[rows], t_x[rows], T[rows], kept[rows]), kept.sum()

    def _initial_params(self, data):
        x, _, T, _, _, weights = data
        mean_x = max(np.average(x, weights=weights), 0.1)
        return np.array([1.0, max(np.average(T, weights=weights) / mean_x, 1e-3), 1.0, 1.0])

    def _loglik_grad(self, params, data):
        x, t_x, T, x_levels, time_levels, weights = data
        return bgnbd.total_loglik_grad(*params, x, t_x, T, weights, x_levels, time_levels)

    def _per_unique_row(self, rfm, compute, name: str, t=None) -> pd.Series:
        """Evaluate ``compute(x, t_x, T[, t])`` once per unique history and spread it back."""
        self._prepare(rfm, RFM_COLUMNS)
        columns = rfm_arrays(rfm)
        if t is not None:
            columns.append(np.broadcast_to(t, columns[0].shape))
        first, inverse, _ = unique_rows(*columns)
        values = compute(*self.params_.to_numpy(), *(c[first] for c in columns))[inverse]
        return pd.Series(values, index=rfm.index, name=name)

    def expected_purchases(self, rfm: pd.DataFrame, t) -> pd.Series:
        """Expected purchases of each customer in the next ``t`` (model time unit), given the history.

        ``t`` is a number, a per-customer Series, or a ``pd.Timedelta``. FHL 2005, eq. 10.
        """
        t = self._horizon(t, rfm)
        if t.ndim == 0:
            path = self.expected_purchases_path(rfm, [float(t)])
            return path.iloc[:, 0].rename("expected_purchases")
        return self._per_unique_row(rfm, bgnbd.expected_purchases, "expected_purchases", t)

    def expected_purchases_path(self, rfm: pd.DataFrame, times) -> pd.DataFrame:
        """Cumulative expected purchases of each customer at several horizons ``times``: one column
        per horizon, evaluated once per unique history (the hypergeometric part once per
        distinct (frequency, T) pair)."""
        times = np.atleast_1d(self._horizon(times))
        compute, n_histories, inverse = self._discounted_purchases_draws(
            rfm, times, np.eye(len(times)))
        values = compute(np.arange(n_histories))[:, 0, :]  # the one "draw" of an estimate
        return pd.DataFrame(values[inverse], index=rfm.index, columns=times)

    def probability_alive(self, rfm: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still active at the end of observation (FHL 2008)."""
        return self._per_unique_row(rfm, bgnbd.probability_alive, "probability_alive")

    def probability_any_purchase(self, rfm: pd.DataFrame, t) -> pd.Series:
        """Probability that each customer makes at least one purchase in the next ``t``."""
        return self._per_unique_row(rfm, bgnbd.probability_any_purchase, "probability_any_purchase",
                                    self._horizon(t, rfm))

    def expected_purchases_new_customer(self, t):
        """Expected purchases by ``t`` of a customer just acquired (FHL 2005, eq. 9)."""
        self._check_fitted()
        return bgnbd.expected_purchases_new(*self.params_.to_numpy(), self._horizon(t))

    def _discounted_purchases_draws(self, rfm, times, coefficients, max_draws=None):
        self._prepare(rfm, RFM_COLUMNS)
        params = [np.array([[v]]) for v in self.params_.to_numpy()]
        return discounted_purchases_draws(rfm, params, times, coefficients)

    def probability_of_purchases(self, n, t):
        """P(X(t) = n): probability that a customer just acquired makes ``n`` repeat purchases by
        ``t`` (FHL 2005, eq. 8). ``n`` and ``t`` broadcast."""
        self._check_fitted()
        n = np.asarray(n)
        if np.any(n < 0) or np.any(n != np.round(n)):
            raise ValueError("n must be whole numbers >= 0")
        return bgnbd.probability_of_purchases(*self.params_.to_numpy(), n, self._horizon(t))
