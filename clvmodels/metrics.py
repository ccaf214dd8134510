"""Forecast metrics of a backtest: errors, rank agreement, lift, and the calibration table.

Ranking metrics are tie-aware: customers with equal predictions share their place, so a method
that predicts the same for everyone captures exactly 10 % in the top decile and has Gini 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .arguments import per_customer

__all__ = ["mae", "rmse", "bias_pct", "wape", "mape_buyers", "value_weighted_mae",
           "brier", "probability_calibration", "spearman", "gain_curve",
           "top_decile_capture", "gini", "roc_auc", "calibration_table",
           "value_metrics", "forecast_metrics"]


LOWER_IS_BETTER = ("purchases_mae", "purchases_rmse", "spend_mae", "spend_rmse",
                   "purchases_wape", "spend_wape", "purchases_mape_buyers", "spend_mape_buyers",
                   "alive_brier", "value_mae", "purchases_value_weighted_mae",
                   "spend_value_weighted_mae")
ABSOLUTE_IS_BETTER = ("purchases_bias_pct", "spend_bias_pct", "value_bias_pct")
HIGHER_IS_BETTER = ("spearman", "top_decile_capture", "gini", "purchases_spearman",
                    "purchases_top_decile_capture", "purchases_gini", "alive_auc",
                    "holdout_loglik")


def mae(predicted, actual) -> float:
    """Mean absolute error."""
    predicted, actual = per_customer(predicted=predicted, actual=actual)
    return float(np.mean(np.abs(predicted - actual)))


def rmse(predicted, actual) -> float:
    """Root mean squared error."""
    predicted, actual = per_customer(predicted=predicted, actual=actual)
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def bias_pct(predicted, actual) -> float:
    """Bias of the total in percent: 100 (sum predicted - sum actual) / sum actual."""
    predicted, actual = per_customer(predicted=predicted, actual=actual)
    total = float(np.sum(actual))
    return float(100 * (np.sum(predicted) - total) / total) if total else np.nan


def wape(predicted, actual) -> float:
    """Weighted absolute percentage error: ``100 sum |predicted - actual| / sum actual`` (NaN
    without any actual)."""
    predicted, actual = per_customer(predicted=predicted, actual=actual)
    total = float(np.sum(actual))
    return float(100 * np.sum(np.abs(predicted - actual)) / total) if total else np.nan


def mape_buyers(predicted, actual) -> float:
    """Mean absolute percentage error over the customers with an actual value above 0 (the
    others have none to be a percentage of); NaN without any."""
    predicted, actual = per_customer(predicted=predicted, actual=actual)
    actual = actual.astype(float)
    buyers = actual > 0
    if not buyers.any():
        return np.nan
    return float(100 * np.mean(np.abs(np.asarray(predicted)[buyers] - actual[buyers])
                               / actual[buyers]))


def value_weighted_mae(predicted, actual, value) -> float:
    """Mean absolute error weighted by each customer's value (their holdout spend): the error
    on the customers who matter most; NaN where no one has any value."""
    predicted, actual, value = per_customer(predicted=predicted, actual=actual, value=value)
    value = value.astype(float)
    total = value.sum()
    if not total > 0:
        return np.nan
    return float(np.sum(value * np.abs(np.asarray(predicted) - actual)) / total)


def brier(probability, event) -> float:
    """Brier score of probabilities for a yes/no event: mean (p - 1{event})^2; NaN where the
    scores are not probabilities (a method that ranks by expected purchases)."""
    probability, event = per_customer(probability=probability, event=event)
    probability = probability.astype(float)
    if not np.all((probability >= 0) & (probability <= 1)):
        return np.nan
    return float(np.mean((probability - np.asarray(event, dtype=float)) ** 2))


def probability_calibration(probability, event, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed share of the event, by decile of the
    prediction (the calibration table of P(alive) or P(any purchase))."""
    probability, event = per_customer(probability=probability, event=event)
    probability = probability.astype(float)
    event = np.asarray(event, dtype=float)
    order = np.argsort(probability, kind="stable")
    group = np.empty(len(order), dtype=int)
    group[order] = np.arange(len(order)) * bins // max(len(order), 1)
    table = pd.DataFrame({"bin": group, "predicted": probability, "observed": event})
    table = table.groupby("bin").agg(customers=("observed", "size"),
                                     predicted=("predicted", "mean"),
                                     observed=("observed", "mean"))
    table.index.name = "decile"
    return table


def spearman(predicted, actual) -> float:
    """Spearman rank correlation (NaN when either side is constant)."""
    predicted, actual = per_customer(predicted=predicted, actual=actual)
    if np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(predicted, actual).statistic)


def gain_curve(predicted, actual) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of customers (x) and of the actual total (y), customers ranked by
    ``predicted`` from highest; tied predictions form one straight segment."""
    predicted, actual = per_customer(predicted=predicted, actual=actual)
    predicted, actual = predicted.astype(float), actual.astype(float)
    order = np.argsort(-predicted, kind="stable")
    ranked, values = predicted[order], actual[order]
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True]) + 1  # end of each tie group
    total = values.sum()
    x = np.r_[0.0, ends / len(values)]
    y = np.r_[0.0, np.cumsum(values)[ends - 1] / total] if total else np.r_[0.0, x[1:]]
    return x, y


def top_decile_capture(predicted, actual, share: float = 0.1) -> float:
    """Share of the actual total held by the ``share`` of customers ranked highest."""
    x, y = gain_curve(predicted, actual)
    return float(np.interp(share, x, y))


def gini(predicted, actual) -> float:
    """Gini of the lift (gain) curve: twice the area between it and the diagonal (0 for a random
    or constant ranking; the larger, the more of the actual total the top ranks hold)."""
    x, y = gain_curve(predicted, actual)
    return float(2 * np.trapezoid(y, x) - 1)


def roc_auc(score, active) -> float:
    """Area under the ROC curve of ``score`` for the binary outcome ``active`` (ties count half;
    NaN when only one outcome occurs): the Mann-Whitney statistic."""
    score, active = per_customer(score=score, active=active)
    score, active = score.astype(float), active.astype(bool)
    n_pos, n_neg = active.sum(), (~active).sum()
    if n_pos == 0 or n_neg == 0:
        return np.nan
    ranks = stats.rankdata(score)
    return float((ranks[active].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibration_table(frequency, predicted, actual, max_frequency: int = 7) -> pd.DataFrame:
    """Mean predicted and actual holdout purchases by calibration frequency 0..max (last: max+)."""
    frequency, predicted, actual = per_customer(frequency=frequency, predicted=predicted,
                                                actual=actual)
    bucket = np.minimum(frequency.astype(int), max_frequency)
    table = pd.DataFrame({"bucket": bucket, "predicted": predicted, "actual": actual})
    table = table.groupby("bucket").agg(customers=("actual", "size"), predicted=("predicted", "mean"),
                                        actual=("actual", "mean"))
    table.index = [str(b) if b < max_frequency else f"{max_frequency}+" for b in table.index]
    table.index.name = "calibration_frequency"
    return table


def value_metrics(forecast, actual) -> dict:
    """MAE and bias of the total (%) of the discounted holdout value."""
    forecast, actual = per_customer(forecast=forecast, actual=actual)
    total = float(np.sum(actual))
    return {"value_mae": float(np.mean(np.abs(forecast - actual))),
            "value_bias_pct": float(100 * (np.sum(forecast) / total - 1)) if total else np.nan}


def forecast_metrics(predicted_purchases, actual_purchases, predicted_spend, actual_spend,
                     alive_score) -> dict:
    """The backtest's metric row. Unprefixed rank metrics (``spearman``, ``top_decile_capture``,
    ``gini``) are on spend, the quantity a CLV ranking is for; ``purchases_*`` on purchases."""
    row = {}
    for name, predicted, actual in (("purchases", predicted_purchases, actual_purchases),
                                    ("spend", predicted_spend, actual_spend)):
        prefix = "purchases_" if name == "purchases" else ""
        row[f"{name}_mae"] = mae(predicted, actual)
        row[f"{name}_rmse"] = rmse(predicted, actual)
        row[f"{name}_bias_pct"] = bias_pct(predicted, actual)
        row[f"{name}_wape"] = wape(predicted, actual)
        row[f"{name}_value_weighted_mae"] = value_weighted_mae(predicted, actual, actual_spend)
        row[f"{name}_mape_buyers"] = mape_buyers(predicted, actual)
        row[f"{prefix}spearman"] = spearman(predicted, actual)
        row[f"{prefix}top_decile_capture"] = top_decile_capture(predicted, actual)
        row[f"{prefix}gini"] = gini(predicted, actual)
    row["alive_auc"] = roc_auc(alive_score, np.asarray(actual_purchases) > 0)
    row["alive_brier"] = brier(alive_score, np.asarray(actual_purchases) > 0)
    return row
