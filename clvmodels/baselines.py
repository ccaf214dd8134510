"""Per-customer readings of the heuristic formulas, with the models' vocabulary.

Each baseline has ``fit(rfm)``, ``expected_purchases(rfm, t)`` (repeat purchases in the next
``t``), ``expected_spend(rfm)`` (value per future purchase) and works with
``clvmodels.customer_value``; the hiatus rule has ``probability_alive(rfm)`` and the supervised
baselines ``probability_any_purchase(rfm, t)``. ``params_`` holds what each one measured.

Three are supervised (``RFMSegment``, ``GradientBoosting``): they learn from an *earlier* window,
so ``fit`` takes a ``calibration_holdout`` frame whose holdout ends no later than the calibration
end of the frame they predict; their forecasts scale with ``t`` relative to that target window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import RFM_COLUMNS, check_rfm, rfm_time_unit
from .exceptions import DataError
from .heuristics import hiatus_inactive, measure_inputs, rfm_score_edges, rfm_scores
from .models.base import FittedModel
from .units import days_per_unit
from .value import customer_value

__all__ = ["Baseline", "RunRate", "CohortAverage", "SimpleLTV", "TraditionalLTV",
           "Hiatus", "RFMSegment", "rfm_features", "GradientBoosting"]

SPEND_COLUMNS = ("frequency", "monetary_value")
SIX_MONTHS = pd.Timedelta(days=365.25 / 2)
HOLDOUT_COLUMNS = ("frequency_holdout", "monetary_value_holdout", "duration_holdout")


class Baseline(FittedModel):
    """Shared machinery: frame checks, horizons, and the hooks ``customer_value`` uses."""

    def fit(self, rfm: pd.DataFrame):
        check_rfm(rfm, (*RFM_COLUMNS, "monetary_value"))
        self.time_unit_ = rfm_time_unit(rfm)
        self.n_customers_ = len(rfm)
        x, m = rfm["frequency"].to_numpy(float), rfm["monetary_value"].to_numpy(float)
        if x.sum() == 0:
            raise DataError(f"{type(self).__name__} needs customers with repeat purchases; "
                            "every frequency in this frame is 0")
        self.average_order_value_ = float(np.dot(x, m) / x.sum())
        self._fit(rfm)
        return self

    # -- the vocabulary --------------------------------------------------------------------------
    def expected_purchases(self, rfm: pd.DataFrame, t) -> pd.Series:
        """Expected repeat purchases of each customer in the next ``t`` (time units or Timedelta)."""
        self.checked_frame(rfm, RFM_COLUMNS)
        values = self._purchases(rfm, np.broadcast_to(self.horizon(t, rfm), len(rfm)))
        return pd.Series(values, index=rfm.index, name="expected_purchases")

    def expected_spend(self, rfm: pd.DataFrame) -> pd.Series:
        """Expected value of each of the customer's future purchases."""
        self.checked_frame(rfm, SPEND_COLUMNS, timed=False)
        return pd.Series(self._spend(rfm), index=rfm.index, name="expected_spend")

    def customer_value(self, rfm: pd.DataFrame, **options) -> pd.Series:
        """Discounted value over a horizon: ``clvmodels.customer_value(self, self, rfm, ...)``."""
        return customer_value(self, self, rfm, **options)

    def _spend(self, rfm) -> np.ndarray:
        """A customer's mean repeat purchase value; the cohort's AOV without repeat purchases."""
        x, m = rfm["frequency"].to_numpy(float), rfm["monetary_value"].to_numpy(float)
        return np.where(x > 0, m, self.average_order_value_)

    @staticmethod
    def _own_rate(rfm) -> np.ndarray:
        """Repeat purchases per time unit since the first purchase (0 for T = 0)."""
        x, T = rfm["frequency"].to_numpy(float), rfm["T"].to_numpy(float)
        return np.divide(x, T, out=np.zeros(len(x)), where=T > 0)

    # -- hooks for customer_value (one "draw": these are point forecasts) -----------------------
    def discounted_purchases(self, rfm, times, coefficients, max_draws=None, time_unit=None,
                             interval=None):
        self.checked_frame(rfm, RFM_COLUMNS)
        at = np.stack([self._purchases(rfm, np.full(len(rfm), t)) for t in times], axis=1)
        values = at @ np.asarray(coefficients, dtype=float)
        return (lambda rows: values[rows][:, None]), len(rfm), np.arange(len(rfm))

    def spend_draws(self, rfm, max_draws=None, interval=None):
        spend = self.expected_spend(rfm).to_numpy()
        return lambda rows: spend[rows][:, None]

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}()"
        values = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{type(self).__name__}({values})"


class RunRate(Baseline):
    """Each customer keeps their own past pace: ``E(t) = x / T * t``, spend their own mean
    repeat purchase value (the cohort AOV for customers without repeat purchases)."""

    def _fit(self, rfm):
        self.params_ = pd.Series({"average_order_value": self.average_order_value_})

    def _purchases(self, rfm, t):
        return self._own_rate(rfm) * t


class CohortAverage(Baseline):
    """AOV x purchase frequency for everyone: ``E(t) = (sum x / sum T) * t``, spend = AOV
    (total repeat revenue / repeat purchases). Every customer gets the same forecast."""

    def _fit(self, rfm):
        rate = rfm["frequency"].sum() / rfm["T"].sum()
        self.params_ = pd.Series({"purchase_frequency": rate,
                                  "average_order_value": self.average_order_value_})

    def _purchases(self, rfm, t):
        return np.full(len(rfm), self.params_["purchase_frequency"]) * t

    def _spend(self, rfm):
        return np.full(len(rfm), self.average_order_value_)


class _RetentionBaseline(Baseline):
    """Baselines that need the retention rate per ``period``: given, or measured on the
    transaction log of the calibration window (``heuristics.measure_inputs``)."""

    def __init__(self, retention: float | None = None, period: str = "M"):
        self.retention = retention
        self.period = period

    def fit(self, rfm: pd.DataFrame, transactions=None, **columns):
        """Fit on ``rfm``; without ``retention`` given, measure it on ``transactions`` (the
        calibration log; ``customer=``, ``date=``, ``amount=`` name its columns)."""
        retention = self.retention
        if retention is None:
            if transactions is None:
                raise DataError(f"{type(self).__name__} measures retention from the calibration "
                                "transactions: pass fit(rfm, transactions), or retention=")
            retention = measure_inputs(transactions, period=self.period, **columns).retention_rate
        if not 0 <= retention < 1:
            raise DataError(f"retention must be in [0, 1), not {retention}")
        self.retention_ = float(retention)
        return super().fit(rfm)

    def _period_length(self) -> float:
        """The retention period in the frame's time unit."""
        return days_per_unit(self.period) / days_per_unit(self.time_unit_ or "D")


class SimpleLTV(_RetentionBaseline):
    """Simple LTV = a x lifespan, per customer: own spend rate ``a = x m / T`` (repeat spend per
    time unit) kept for the lifespan ``1 / (1 - retention)`` periods from now, so
    ``E(t) = x / T * min(t, lifespan)``."""

    def _fit(self, rfm):
        self.lifespan_ = self._period_length() / (1 - self.retention_)
        self.params_ = pd.Series({"retention": self.retention_, "lifespan": self.lifespan_,
                                  "average_order_value": self.average_order_value_})

    def _purchases(self, rfm, t):
        return self._own_rate(rfm) * np.minimum(t, self.lifespan_)


class TraditionalLTV(_RetentionBaseline):
    """Traditional LTV, m r / (1 + i - r), per customer.

    The customer's own purchases per
    period, retained with probability ``r`` each period, ``E`` over ``k`` whole periods =
    ``rate * L * (r + r^2 + ... + r^k)``, linear within a period. ``customer_value`` over an
    infinite horizon at rate ``i`` per period gives exactly ``m r / (1 + i - r)`` with ``m`` the
    customer's margin per period."""

    def _fit(self, rfm):
        self.params_ = pd.Series({"retention": self.retention_,
                                  "average_order_value": self.average_order_value_})

    def _purchases(self, rfm, t):
        r, length = self.retention_, self._period_length()
        whole = np.floor(t / length)
        done = r * (1 - r**whole) / (1 - r)  # r + ... + r^whole
        return self._own_rate(rfm) * length * (done + (t / length - whole) * r ** (whole + 1))


class Hiatus(Baseline):
    """The hiatus rule: a customer with no purchase for longer than ``hiatus`` (default six months)
    is inactive (probability alive 0) and buys nothing; the others keep their own pace."""

    def __init__(self, hiatus=SIX_MONTHS):
        self.hiatus = hiatus

    def _fit(self, rfm):
        self.params_ = pd.Series({"hiatus": float(self.horizon(self.hiatus)),
                                  "average_order_value": self.average_order_value_})

    def probability_alive(self, rfm: pd.DataFrame) -> pd.Series:
        self.checked_frame(rfm, RFM_COLUMNS)
        return pd.Series(self._alive(rfm), index=rfm.index, name="probability_alive")

    def _alive(self, rfm):
        return (~hiatus_inactive(rfm["recency"], rfm["T"], self.params_["hiatus"])).astype(float)

    def _purchases(self, rfm, t):
        return self._alive(rfm) * self._own_rate(rfm) * t


class _Supervised(Baseline):
    """Learns ``frequency_holdout`` and the holdout spend of an earlier calibration/holdout split;
    forecasts scale with ``t / duration_holdout`` of that split."""

    def fit(self, rfm: pd.DataFrame):
        """Fit on a ``calibration_holdout`` frame of an earlier window (its holdout must end by
        the calibration end of the frames you predict, or the forecasts see the future)."""
        check_rfm(rfm, (*RFM_COLUMNS, "monetary_value"))
        missing = [c for c in HOLDOUT_COLUMNS if c not in rfm]
        if missing:
            raise DataError(f"{type(self).__name__} learns from an earlier window: fit it on a "
                            f"calibration_holdout frame with amounts (missing {missing})")
        self.window_ = float(rfm["duration_holdout"].iloc[0])
        return super().fit(rfm)

    def _purchases(self, rfm, t):
        return self._predict(rfm)[0] * (t / self.window_)

    def _spend(self, rfm):
        count, spend = self._predict(rfm)[:2]
        return np.where(count > 1e-9, spend / np.maximum(count, 1e-9), self.average_order_value_)

    def probability_any_purchase(self, rfm: pd.DataFrame, t) -> pd.Series:
        """Probability of at least one purchase in the next ``t``: the learnt probability ``p``
        for the training window ``w``, as ``1 - (1 - p)^(t / w)`` for other lengths."""
        self.checked_frame(rfm, RFM_COLUMNS)
        p = np.clip(self._predict(rfm)[2], 0.0, 1.0)
        ratio = np.broadcast_to(self.horizon(t, rfm), len(rfm)) / self.window_
        return pd.Series(-np.expm1(ratio * np.log1p(-p)), index=rfm.index,
                         name="probability_any_purchase")


def _holdout_targets(rfm):
    count = rfm["frequency_holdout"].to_numpy(float)
    return count, count * rfm["monetary_value_holdout"].to_numpy(float), (count > 0).astype(float)


class RFMSegment(_Supervised):
    """RFM quintile segments (``heuristics.rfm_scores``, quintile edges of the earlier window);
    each customer gets the mean holdout purchases, spend and share active of their segment in the
    earlier window. Segments with fewer than ``min_customers`` fall back to the (R, F) cell, then
    to R, then to everyone."""

    LEVELS = (("R", "F", "M"), ("R", "F"), ("R",), ())

    def __init__(self, bins: int = 5, min_customers: int = 20):
        self.bins = bins
        self.min_customers = min_customers

    def _fit(self, rfm):
        self.edges_ = rfm_score_edges(rfm, self.bins)
        scores = rfm_scores(rfm, self.bins, self.edges_)
        count, spend, active = _holdout_targets(rfm)
        table = scores.assign(count=count, spend=spend, active=active, n=1)
        self.segments_ = []
        for keys in self.LEVELS:
            grouped = table.groupby(list(keys)) if keys else table.assign(all=0).groupby("all")
            means = grouped[["count", "spend", "active"]].mean()
            means["n"] = grouped["n"].sum()
            self.segments_.append(means[means["n"] >= self.min_customers] if keys else means)
        self.params_ = pd.Series({"segments": float(len(self.segments_[0])),
                                  "window": self.window_})

    def _predict(self, rfm):
        scores = rfm_scores(rfm, self.bins, self.edges_)
        out = np.full((3, len(rfm)), np.nan)
        for keys, means in zip(self.LEVELS, self.segments_):
            todo = np.isnan(out[0])
            if not keys:
                out[:, todo] = means[["count", "spend", "active"]].to_numpy()[0][:, None]
                break
            index = pd.MultiIndex.from_frame(scores.loc[todo, list(keys)]) if len(keys) > 1 \
                else pd.Index(scores.loc[todo, keys[0]])
            found = means.reindex(index)[["count", "spend", "active"]].to_numpy().T
            out[:, todo] = found
        return out


FEATURES = ("frequency", "recency", "T", "time_since_last", "rate", "monetary_value")


def rfm_features(rfm: pd.DataFrame) -> np.ndarray:
    """Features of the gradient-boosting baseline: x, t_x, T, T - t_x, x / T, monetary value."""
    x, t_x, T = (rfm[c].to_numpy(float) for c in RFM_COLUMNS)
    rate = np.divide(x, T, out=np.zeros(len(x)), where=T > 0)
    return np.column_stack([x, t_x, T, T - t_x, rate, rfm["monetary_value"].to_numpy(float)])


class GradientBoosting(_Supervised):
    """Gradient boosting learned on an earlier window (scikit-learn's histogram boosting).

    On the RFM features (``FEATURES``) of an earlier window: Poisson regressions of holdout
    purchases and holdout spend, and a classifier of any holdout purchase. ``options`` go to
    the scikit-learn estimators."""

    def __init__(self, random_state: int | None = 0, **options):
        self.random_state = random_state
        self.options = options

    def _fit(self, rfm):
        from sklearn.ensemble import (
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )

        features = rfm_features(rfm)
        count, spend, active = _holdout_targets(rfm)
        settings = dict(random_state=self.random_state, **self.options)
        self.estimators_ = [
            HistGradientBoostingRegressor(loss="poisson", **settings).fit(features, count),
            HistGradientBoostingRegressor(loss="poisson", **settings).fit(features, spend),
        ]
        if active.min() == active.max():
            raise DataError("GradientBoosting: every customer of the training window was "
                            f"{'active' if active[0] else 'inactive'}; use a longer window")
        self.estimators_.append(HistGradientBoostingClassifier(**settings).fit(features, active))
        self.params_ = pd.Series({"window": self.window_, "training_customers": float(len(rfm))})

    def _predict(self, rfm):
        features = rfm_features(rfm)
        count, spend, classifier = self.estimators_
        return np.stack([count.predict(features), spend.predict(features),
                         classifier.predict_proba(features)[:, 1]])
