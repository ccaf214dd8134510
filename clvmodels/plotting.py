"""Diagnostic plots (matplotlib). Each function draws on ``ax`` (a new figure without one) and
returns the Axes; the plotted numbers are the model's or table's own, with no per-customer loops.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import calibration_table, gain_curve, gini, top_decile_capture
from .columns import as_day
from .periods import occasions
from .transactions import clean_transactions, run_starts
from .arguments import check_count
from .exceptions import DataError
from .interface import given
from .units import UNIT_NAMES, days_per_unit

__all__ = ["plot_lift_curves", "plot_backtest_metrics", "plot_frequency_recency_matrix",
           "plot_probability_alive_matrix", "plot_calibration_purchases",
           "plot_period_transactions", "tracking_table",
           "plot_incremental_transactions", "plot_cumulative_transactions",
           "alive_path", "plot_alive_path", "plot_clv_distribution", "plot_lorenz",
           "plot_posterior", "plot_trace"]

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


def _needs(model, method: str, what: str) -> None:
    """A DataError unless ``model`` answers ``method`` (a fitted model of the right kind)."""
    if not callable(getattr(model, method, None)):
        raise DataError(f"this plot needs {what} (one with {method}), not a "
                        f"{type(model).__name__}")
    if hasattr(model, "check_fitted"):
        model.check_fitted()


def _columns(frame, needed, what: str) -> None:
    missing = [c for c in needed if not isinstance(frame, pd.DataFrame) or c not in frame]
    if missing:
        present = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
        raise DataError(f"{what} lacks {missing} (it has {present})")


def _values(values, what: str) -> np.ndarray:
    """A plot's values: finite numbers, at least one."""
    array = np.asarray(values)
    if array.dtype.kind not in "iuf" or array.size == 0 or not np.all(np.isfinite(array)):
        raise DataError(f"{what} must be one or more finite numbers (no NaN: drop or fill the "
                        "customers without a value)")
    return array.astype(float)


# ---------------------------------------------------------------------------------------------
# backtest


def plot_lift_curves(predictions: pd.DataFrame, target: str = "spend", calibration_end=None,
                     ax=None):
    """Gain (lift) curves of a backtest: share of the actual holdout ``target`` ("spend" or
    "purchases") held by the top x % of customers as each method ranks them, with the best
    possible ranking (the actual values) and a random one."""
    if target not in ("spend", "purchases"):
        raise DataError(f"target={target!r}: use 'spend' or 'purchases'")
    _columns(predictions, ["calibration_end", "method", f"predicted_{target}",
                           f"actual_{target}"], "the predictions table (BacktestResult.predictions)")
    ax = _axes(ax)
    rows = predictions
    if calibration_end is None:
        calibration_end = rows["calibration_end"].iloc[0]
    rows = rows[rows["calibration_end"] == calibration_end]
    actual_column = f"actual_{target}"
    for i, (method, group) in enumerate(rows.groupby("method", sort=False)):
        x, y = gain_curve(group[f"predicted_{target}"], group[actual_column])
        ax.plot(100 * x, 100 * y, color=PALETTE[i % len(PALETTE)], lw=1.6, label=method)
    actual = group[actual_column].to_numpy()
    x, y = gain_curve(actual, actual)
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
    _columns(metric_table, list(columns), "the metric table (BacktestResult.summary())")
    ax = _axes(ax, figsize=(6.4, 0.45 * len(metric_table) + 1.5))
    table = metric_table.loc[:, list(columns)][::-1]
    height = 0.8 / len(columns)
    positions = np.arange(len(table))
    for i, column in enumerate(columns):
        ax.barh(positions + i * height, table[column].fillna(0), height=height,
                color=PALETTE[i % len(PALETTE)], label=column)
    ax.set_yticks(positions + height * (len(columns) - 1) / 2, table.index)
    ax.set_xlim(0, 1)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1),
              ncol=len(columns))
    return _style(ax, "Backtest: ranking metrics per method (higher is better)", "value", "")


# ---------------------------------------------------------------------------------------------
# the purchase model


def _grid_frame(frequency, recency, T, time_unit):
    frame = pd.DataFrame({"frequency": frequency.ravel().astype(float),
                          "recency": recency.ravel().astype(float), "T": T.ravel().astype(float)})
    frame.attrs["time_unit"] = time_unit
    return frame


def _on_history_grid(compute, model, max_frequency, max_recency) -> np.ndarray:
    """``compute(frame)`` on the frequency (rows) x recency (columns) grid at T = max_recency
    (lifetimes' convention); NaN where no history exists (frequency 0, recency > 0)."""
    frequency, recency = np.meshgrid(np.arange(max_frequency + 1), np.arange(max_recency + 1),
                                     indexing="ij")
    valid = (frequency > 0) | (recency == 0)
    frame = _grid_frame(frequency[valid], recency[valid], np.full(valid.sum(), max_recency),
                        model.time_unit_)
    values = np.full(frequency.shape, np.nan)
    values[valid] = np.asarray(compute(frame))
    return values


def _matrix(ax, values, title, label, unit):
    image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis",
                      interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label=label)
    _style(ax, title, f"recency (time of last purchase, {unit})", "frequency (repeat purchases)")
    ax.grid(False)
    return ax


def plot_frequency_recency_matrix(model, t: float = 1.0, max_frequency: int | None = None,
                                  max_recency: int | None = None, rfm=None, ax=None):
    """Expected purchases in the next ``t`` by frequency (rows) and recency (columns), for a
    customer observed for ``T = max_recency``; the ranges default to ``rfm``'s maxima."""
    _needs(model, "expected_purchases", "a purchase model")
    max_frequency, max_recency = _ranges(rfm, max_frequency, max_recency)
    values = _on_history_grid(lambda grid: model.expected_purchases(grid, t), model,
                              max_frequency, max_recency)
    return _matrix(_axes(ax), values, f"Expected purchases in the next {t:g} "
                   f"{UNIT_NAMES.get(model.time_unit_, 'units')}", "expected purchases",
                   UNIT_NAMES.get(model.time_unit_, "units"))


def plot_probability_alive_matrix(model, max_frequency: int | None = None,
                                  max_recency: int | None = None, rfm=None, ax=None):
    """Probability alive by frequency (rows) and recency (columns) at ``T = max_recency``."""
    _needs(model, "probability_alive", "a purchase model")
    max_frequency, max_recency = _ranges(rfm, max_frequency, max_recency)
    values = _on_history_grid(model.probability_alive, model, max_frequency, max_recency)
    return _matrix(_axes(ax), values, "Probability alive", "P(alive)",
                   UNIT_NAMES.get(model.time_unit_, "units"))


def _ranges(rfm, max_frequency, max_recency):
    if rfm is not None:
        _columns(rfm, ["frequency", "T"], "rfm")
    for name, value in (("max_frequency", max_frequency), ("max_recency", max_recency)):
        if value is not None:
            check_count(value, name, low=1, high=100_000)
    if max_frequency is None:
        max_frequency = int(rfm["frequency"].max()) if rfm is not None else 20
    if max_recency is None:
        max_recency = int(np.ceil(rfm["T"].max())) if rfm is not None else 52
    return max_frequency, max_recency


def plot_calibration_purchases(model, split: pd.DataFrame, max_frequency: int = 7, ax=None):
    """Mean holdout purchases, actual and predicted, by calibration frequency 0..max+ (a
    ``calibration_holdout`` frame)."""
    _needs(model, "expected_purchases", "a purchase model")
    _columns(split, ["frequency", "frequency_holdout", "duration_holdout"],
             "split (a clvmodels.calibration_holdout frame)")
    ax = _axes(ax)
    predicted = model.expected_purchases(split, float(split["duration_holdout"].iloc[0]))
    table = calibration_table(split["frequency"], predicted, split["frequency_holdout"],
                                      max_frequency)
    x = np.arange(len(table))
    ax.plot(x, table["actual"], "o-", color=PALETTE[0], label="actual")
    ax.plot(x, table["predicted"], "s--", color=PALETTE[1], label="model")
    ax.set_xticks(x, table.index)
    ax.legend(frameon=False)
    return _style(ax, "Holdout purchases by calibration frequency", "purchases in calibration",
                  "mean purchases in holdout")


def plot_period_transactions(model, rfm: pd.DataFrame, max_frequency: int = 7, ax=None):
    """Customers by number of repeat purchases 0..max+ in their own window T: actual, and what
    the model expects (the mean over customers of P(X(T) = n), FHL 2005 eq. 8: exact, where
    lifetimes simulates)."""
    _needs(model, "probability_of_purchases", "a purchase model")
    _columns(rfm, ["frequency", "T"], "rfm")
    ax = _axes(ax)
    T, index = np.unique(rfm["T"].to_numpy(float), return_inverse=True)
    weights = np.bincount(index) / len(rfm)
    n = np.arange(max_frequency)
    p = np.asarray(model.probability_of_purchases(n[None, :], T[:, None]))
    expected = weights @ p
    expected = np.r_[expected, 1 - expected.sum()] * len(rfm)
    actual = np.bincount(np.minimum(rfm["frequency"].to_numpy(int), max_frequency),
                         minlength=max_frequency + 1)
    x = np.arange(max_frequency + 1)
    ax.bar(x - 0.2, actual, width=0.4, color=PALETTE[0], label="actual")
    ax.bar(x + 0.2, expected, width=0.4, color=PALETTE[1], label="model")
    ax.set_xticks(x, [*map(str, n), f"{max_frequency}+"])
    ax.legend(frameon=False)
    return _style(ax, "Customers by number of repeat purchases", "repeat purchases",
                  "customers")


def tracking_table(model, transactions, *, calibration_end, observation_end=None,
                   customer="customer_id", date="date", period_days: int = 7) -> pd.DataFrame:
    """Repeat transactions (purchase days after the first) per period of ``period_days``,
    actual and expected, of the customers acquired by ``calibration_end``. Expected: a customer
    who first bought on day ``s`` makes ``E[X(e - s)]`` repeat purchases by the end of day ``e``
    (FHL 2005, eq. 9), summed over customers, evaluated once per first-purchase day. ``model``
    may be a dict ``{name: model}``: the log is read once and each model gets a column."""
    tx = clean_transactions(transactions, customer=customer, date=date, amount=None,
                            last_day=None)
    end_day = (int(tx.day.max()) if observation_end is None
               else as_day(observation_end, "observation_end"))
    codes, days, _ = occasions(tx, "D")  # purchase days, sorted by customer and day
    first = days[run_starts(codes)]  # per customer code
    cohort = first <= as_day(calibration_end, "calibration_end")
    if not cohort.any():
        raise DataError(f"{given('calibration_end', calibration_end)} is before every first "
                        "purchase: no customer was acquired by then")
    for each in (model.values() if isinstance(model, dict) else [model]):
        _needs(each, "expected_purchases_new_customer", "a purchase model")
    repeat = (days > first[codes]) & cohort[codes] & (days <= end_day)
    start = int(first[cohort].min())
    n_periods = (end_day - start) // period_days + 1
    actual = np.bincount((days[repeat] - start) // period_days, minlength=n_periods)
    last_days = np.minimum(start + period_days * np.arange(1, n_periods + 1) - 1, end_day)
    firsts, counts = np.unique(first[cohort], return_counts=True)
    table = {"actual": actual}
    for column, each in (model.items() if isinstance(model, dict) else [("expected", model)]):
        age = np.maximum(last_days[:, None] - firsts[None, :], 0) / days_per_unit(each.time_unit_)
        cumulative = np.asarray(each.expected_purchases_new_customer(age)) @ counts
        table[column] = np.diff(np.r_[0.0, cumulative])
    return pd.DataFrame(table, index=pd.Index(pd.to_datetime(last_days.astype("datetime64[D]")),
                                              name="period ending"))


def plot_incremental_transactions(model, transactions, *, calibration_end, observation_end=None,
                                  cumulative: bool = False, ax=None, **columns):
    """Weekly repeat transactions, actual and expected (``tracking_table``), with the
    calibration end marked; ``cumulative=True`` for the running totals."""
    ax = _axes(ax, figsize=(7.5, 4.2))
    table = tracking_table(model, transactions, calibration_end=calibration_end,
                           observation_end=observation_end, **columns)
    if cumulative:
        table = table.cumsum()
    ax.plot(table.index, table["actual"], color=PALETTE[0], lw=1.6, label="actual")
    ax.plot(table.index, table["expected"], color=PALETTE[1], lw=1.6, ls="--", label="model")
    ax.axvline(pd.Timestamp(calibration_end), color="grey", ls=":", lw=1.2,
               label="calibration end")
    ax.legend(frameon=False)
    kind = "Cumulative" if cumulative else "Weekly"
    return _style(ax, f"{kind} repeat transactions", "", "repeat transactions")


def plot_cumulative_transactions(model, transactions, *, calibration_end, observation_end=None,
                                 ax=None, **columns):
    """Cumulative repeat transactions, actual and expected, with the calibration end marked."""
    return plot_incremental_transactions(model, transactions, calibration_end=calibration_end,
                                         observation_end=observation_end, cumulative=True, ax=ax,
                                         **columns)


def alive_path(model, transactions, customer_id, *, observation_end=None,
               customer="customer_id", date="date") -> pd.Series:
    """A customer's probability alive on each day from their first purchase to
    ``observation_end``, from the history known on that day."""
    tx = clean_transactions(transactions, customer=customer, date=date, amount=None,
                            last_day=None)
    if customer_id not in tx.ids:
        raise DataError(f"customer {customer_id!r} is not in the transactions")
    days = np.unique(tx.day[tx.codes == tx.ids.get_loc(customer_id)])
    end = int(tx.day.max()) if observation_end is None else as_day(observation_end,
                                                                         "observation_end")
    grid = np.arange(days[0], end + 1)
    done = np.searchsorted(days, grid, side="right")  # purchase days up to each grid day
    unit = days_per_unit(model.time_unit_)
    frame = _grid_frame(done - 1, (days[done - 1] - days[0]) / unit, (grid - days[0]) / unit,
                        model.time_unit_)
    values = np.asarray(model.probability_alive(frame))
    return pd.Series(values, index=pd.to_datetime(grid.astype("datetime64[D]")),
                     name="probability_alive")


def plot_alive_path(model, transactions, customer_id, *, observation_end=None, ax=None,
                    **columns):
    """A customer's probability alive over time (``alive_path``), purchases marked."""
    ax = _axes(ax, figsize=(7.5, 3.6))
    path = alive_path(model, transactions, customer_id, observation_end=observation_end,
                      **columns)
    ax.plot(path.index, path.to_numpy(), color=PALETTE[0], lw=1.6)
    jumps = path.index[1:][np.diff(path.to_numpy()) > 0]
    for day in jumps:
        ax.axvline(day, color=PALETTE[1], lw=0.8, alpha=0.6)
    ax.set_ylim(0, 1.02)
    return _style(ax, f"Probability alive of customer {customer_id} (lines: repeat purchases)",
                  "", "P(alive)")


# ---------------------------------------------------------------------------------------------
# value


def plot_clv_distribution(clv, bins: int = 50, ax=None):
    """Histogram of customer values on a log axis (customers with value > 0), with the mean and
    the median marked."""
    values = _values(clv, "clv")
    positive = values[values > 0]
    if positive.size == 0:
        raise DataError("clv has no value above 0 to draw on a log axis")
    ax = _axes(ax)
    edges = np.geomspace(positive.min(), positive.max(), bins + 1)
    ax.hist(positive, bins=edges, color=PALETTE[0], alpha=0.85)
    ax.set_xscale("log")
    for value, name, style in ((values.mean(), "mean", "--"), (np.median(values), "median", ":")):
        ax.axvline(value, color=PALETTE[1], ls=style, label=f"{name} {value:,.2f}")
    ax.legend(frameon=False)
    return _style(ax, "Customer lifetime value", "CLV (log scale)", "customers")


def plot_lorenz(clv, ax=None):
    """Lorenz (lift) curve of value: share of the total held by the top x % of customers."""
    values = _values(clv, "clv")
    if np.any(values < 0):
        raise DataError("clv must be >= 0 for a Lorenz curve (a share of the total value)")
    ax = _axes(ax)
    x, y = gain_curve(values, values)
    ax.plot(100 * x, 100 * y, color=PALETTE[0], lw=1.8)
    ax.plot([0, 100], [0, 100], color="grey", ls=":", lw=1)
    top = top_decile_capture(values, values)
    ax.annotate(f"top 10 %: {100 * top:.0f} % of value", (10, 100 * top), xytext=(25, 100 * top - 15),
                arrowprops={"arrowstyle": "->", "color": "grey"})
    return _style(ax, f"Concentration of value (Gini {gini(values, values):.2f})",
                  "customers, ranked by value (top %)", "share of total value (%)")


# ---------------------------------------------------------------------------------------------
# Bayesian models (ArviZ)


def plot_posterior(model, reference=None, hdi_prob: float = 0.94, ax=None):
    """Posterior densities of the parameters with their HDI (ArviZ); ``reference`` (a mapping
    of parameter to value, such as the maximum-likelihood ``params_``) adds reference lines."""
    import arviz as az

    _needs(model, "posterior_draws", "a Bayesian model")
    names = list(model.parameter_names_)
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), layout="constrained")[1]
    return az.plot_posterior(model.idata_, var_names=names, hdi_prob=hdi_prob, ax=ax,
                             ref_val=None if reference is None else
                             {k: [{"ref_val": float(v)}] for k, v in dict(reference).items()})


def plot_trace(model):
    """Trace and density of each chain per parameter (ArviZ), for checking convergence."""
    import arviz as az

    _needs(model, "posterior_draws", "a Bayesian model")
    return az.plot_trace(model.idata_, var_names=list(model.parameter_names_), compact=False)
