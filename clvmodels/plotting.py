"""Diagnostic plots (matplotlib). Each function draws on ``ax`` (a new figure without one) and
returns the Axes; the plotted numbers are the model's or table's own, with no per-customer loops.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics

PALETTE = ("#1f4e79", "#c0504d", "#4f8f3a", "#8064a2", "#f39c12", "#4bacc6", "#7f7f7f",
           "#9b6b43", "#d35f9e")


def _axes(ax, figsize=(6.4, 4.2)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, layout="constrained")[1]


def _style(ax, title, xlabel, ylabel):
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.25, linewidth=0.6)
    return ax


# ---------------------------------------------------------------------------------------------
# backtest


def plot_lift_curves(predictions: pd.DataFrame, target: str = "spend", calibration_end=None,
                     ax=None):
    """Gain (lift) curves of a backtest: share of the actual holdout ``target`` ("spend" or
    "purchases") held by the top x % of customers as each method ranks them, with the best
    possible ranking (the actual values) and a random one."""
    ax = _axes(ax)
    rows = predictions
    if calibration_end is None:
        calibration_end = rows["calibration_end"].iloc[0]
    rows = rows[rows["calibration_end"] == calibration_end]
    actual_column = f"actual_{target}"
    for i, (method, group) in enumerate(rows.groupby("method", sort=False)):
        x, y = metrics.gain_curve(group[f"predicted_{target}"], group[actual_column])
        ax.plot(100 * x, 100 * y, color=PALETTE[i % len(PALETTE)], lw=1.6, label=method)
    actual = group[actual_column].to_numpy()
    x, y = metrics.gain_curve(actual, actual)
    ax.plot(100 * x, 100 * y, color="black", lw=1, ls="--", label="perfect ranking")
    ax.plot([0, 100], [0, 100], color="grey", lw=1, ls=":", label="random")
    ax.axvline(10, color="grey", lw=0.6)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _style(ax, f"Lift: share of holdout {target} by predicted rank ({calibration_end})",
                  "customers ranked by forecast (top %)", f"share of actual {target} (%)")


def plot_backtest_metrics(metric_table: pd.DataFrame,
                          columns=("spearman", "top_decile_capture", "alive_auc"), ax=None):
    """Grouped horizontal bars of ranking metrics per method (one row per method: a
    ``BacktestResult.summary()``)."""
    ax = _axes(ax, figsize=(6.4, 0.45 * len(metric_table) + 1.5))
    table = metric_table.loc[:, list(columns)][::-1]
    height = 0.8 / len(columns)
    positions = np.arange(len(table))
    for i, column in enumerate(columns):
        ax.barh(positions + i * height, table[column].fillna(0), height=height,
                color=PALETTE[i % len(PALETTE)], label=column)
    ax.set_yticks(positions + height * (len(columns) - 1) / 2, table.index)
    ax.set_xlim(0, 1)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _style(ax, "Backtest: ranking metrics per method (higher is better)", "value", "")
