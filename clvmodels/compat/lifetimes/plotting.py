"""lifetimes' ``lifetimes.plotting``: the same functions, arguments and plotted values, from the
fitters of :mod:`clvmodels.compat.lifetimes` (each returns the matplotlib axes). One deliberate
difference: ``plot_period_transactions`` draws the model's *expected* count of customers at each
frequency (:func:`clvmodels.plotting.plot_period_transactions`) where lifetimes draws one random
simulation of the model, which changes from run to run. The native plots are in
:mod:`clvmodels.plotting`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .fitters import grid
from .hints import pointing
from .utils import calculate_alive_path, expected_cumulative_transactions

__all__ = ["plot_calibration_purchases_vs_holdout_purchases", "plot_cumulative_transactions",
           "plot_dropout_rate_heterogeneity", "plot_expected_repeat_purchases",
           "plot_frequency_recency_matrix", "plot_history_alive", "plot_incremental_transactions",
           "plot_period_transactions", "plot_probability_alive_matrix",
           "plot_transaction_rate_heterogeneity"]


def pyplot():
    from matplotlib import pyplot as plt

    return plt


def matrix(z, title, xlabel, ylabel, **kwargs):
    plt = pyplot()
    interpolation = kwargs.pop("interpolation", "none")
    ax = plt.subplot(111)
    image = ax.imshow(z, interpolation=interpolation, **kwargs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_aspect(abs((ax.get_xlim()[1] - ax.get_xlim()[0]) /
                      (ax.get_ylim()[1] - ax.get_ylim()[0])))
    plt.colorbar(image, ax=ax)
    return ax


def plot_period_transactions(model, max_frequency=7, title="Frequency of Repeat Transactions",
                             xlabel="Number of Calibration Period Transactions",
                             ylabel="Customers", **kwargs):
    """Customers by number of repeat transactions, actual and the model's expected counts."""
    from ... import plotting

    rfm = model.data.drop(columns="weights")
    rfm = rfm.loc[rfm.index.repeat(model.data["weights"].round().astype(int))]
    rfm.attrs["time_unit"] = model.model.time_unit_
    ax = plotting.plot_period_transactions(model.model, rfm, max_frequency=max_frequency,
                                           ax=kwargs.pop("ax", None))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_calibration_purchases_vs_holdout_purchases(model, calibration_holdout_matrix,
                                                    kind="frequency_cal", n=7, **kwargs):
    """Mean holdout purchases, actual and predicted, by ``kind`` (a ``_cal`` column)."""
    summary = calibration_holdout_matrix.copy()
    duration = summary.iloc[0]["duration_holdout"]
    summary["model_predictions"] = model.conditional_expected_number_of_purchases_up_to_time(
        duration, summary["frequency_cal"], summary["recency_cal"], summary["T_cal"])
    table = summary.groupby(kind)[["frequency_holdout", "model_predictions"]].mean().iloc[:n]
    ax = table.plot(**kwargs)
    ax.set_title("Actual Purchases in Holdout Period vs Predicted Purchases")
    ax.set_xlabel({"frequency_cal": "Purchases in calibration period",
                   "recency_cal": "Age of customer at last purchase",
                   "T_cal": "Age of customer at the end of calibration period",
                   "time_since_last_purchase": "Time since user made last purchase"}.get(kind, kind))
    ax.set_ylabel("Average of Purchases in Holdout Period")
    ax.legend()
    return ax


def plot_frequency_recency_matrix(model, T=1, max_frequency=None, max_recency=None, title=None,
                                  xlabel="Customer's Historical Frequency",
                                  ylabel="Customer's Recency", **kwargs):
    """Expected purchases in the next ``T`` of customers aged ``max_recency``, by frequency
    (columns) and recency (rows); blank where the history cannot happen."""
    z = grid(lambda *history: model.conditional_expected_number_of_purchases_up_to_time(
        T, *history), model, max_frequency, max_recency)
    if title is None:
        title = (f"Expected Number of Future Purchases for {T} Unit{'s'[T == 1:]} of Time,"
                 "\nby Frequency and Recency of a Customer")
    return matrix(z, title, xlabel, ylabel, **kwargs)


def plot_probability_alive_matrix(model, max_frequency=None, max_recency=None,
                                  title="Probability Customer is Alive,\nby Frequency and "
                                  "Recency of a Customer",
                                  xlabel="Customer's Historical Frequency",
                                  ylabel="Customer's Recency", **kwargs):
    """P(alive) of customers aged ``max_recency`` by frequency and recency."""
    z = model.conditional_probability_alive_matrix(max_frequency, max_recency)
    return matrix(z, title, xlabel, ylabel, **kwargs)


def plot_expected_repeat_purchases(model, title="Expected Number of Repeat Purchases per "
                                   "Customer", xlabel="Time Since First Purchase", ax=None,
                                   label=None, **kwargs):
    """Expected repeat purchases of a new customer up to the oldest customer's age (solid) and
    half as long again (dashed)."""
    plt = pyplot()
    ax = ax if ax is not None else plt.subplot(111)
    color = kwargs.pop("c", None) or kwargs.pop("color", None) or "C0"
    max_T = model.data["T"].max()
    times = np.linspace(0, max_T, 100)
    ax.plot(times, model.expected_number_of_purchases_up_to_time(times), color=color,
            label=label, **kwargs)
    times = np.linspace(max_T, 1.5 * max_T, 100)
    ax.plot(times, model.expected_number_of_purchases_up_to_time(times), color=color, ls="--",
            **kwargs)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    if label is not None:
        ax.legend(loc="lower right")
    return ax


def plot_history_alive(model, t, transactions, datetime_col, freq="D", start_date=None, ax=None,
                       **kwargs):
    """One customer's P(alive) over ``t`` periods, purchases marked."""
    plt = pyplot()
    dates = pd.to_datetime(transactions[datetime_col])
    start_date = dates.min() if start_date is None else start_date
    ax = ax if ax is not None else plt.subplot(111)
    path = calculate_alive_path(model, transactions, datetime_col, t, freq)
    path_dates = pd.date_range(start=dates.min(), periods=len(path), freq=freq)
    ax.plot(path_dates, path.to_numpy(), "-", label="P_alive")
    purchases = pd.DatetimeIndex(sorted(set(dates.dt.to_period(freq).dt.to_timestamp())))
    ax.vlines(purchases.values, ymin=0, ymax=1, colors="r", linestyles="dashed",
              label="purchases")
    ax.set_ylim(0, 1.0)
    ax.set_yticks(np.arange(0, 1.1, 0.1))
    ax.set_xlim(start_date, path_dates[-1])
    ax.legend(loc=3)
    ax.set_ylabel("P_alive")
    ax.set_title("History of P_alive")
    return ax


def tracking(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format,
             freq, set_index_date, title, xlabel, ylabel, ax, incremental, **kwargs):
    table = expected_cumulative_transactions(model, transactions, datetime_col, customer_id_col,
                                             t, datetime_format=datetime_format, freq=freq,
                                             set_index_date=set_index_date)
    if incremental:
        table = table - table.shift(1)
    ax = table.plot(ax=ax, title=title, **kwargs)
    if set_index_date:
        x_vline, xlabel = table.index[int(t_cal)], "date"
    else:
        x_vline = t_cal
    ax.axvline(x=x_vline, color="r", linestyle="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_cumulative_transactions(model, transactions, datetime_col, customer_id_col, t, t_cal,
                                 datetime_format=None, freq="D", set_index_date=False,
                                 title="Tracking Cumulative Transactions", xlabel="day",
                                 ylabel="Cumulative Transactions", ax=None, **kwargs):
    """Cumulative repeat transactions, actual and predicted
    (:func:`~clvmodels.compat.lifetimes.utils.expected_cumulative_transactions`), the
    calibration end ``t_cal`` marked."""
    return tracking(model, transactions, datetime_col, customer_id_col, t, t_cal,
                    datetime_format, freq, set_index_date, title, xlabel, ylabel, ax, False,
                    **kwargs)


def plot_incremental_transactions(model, transactions, datetime_col, customer_id_col, t, t_cal,
                                  datetime_format=None, freq="D", set_index_date=False,
                                  title="Tracking Daily Transactions", xlabel="day",
                                  ylabel="Transactions", ax=None, **kwargs):
    """Repeat transactions per period, actual and predicted, the calibration end marked."""
    return tracking(model, transactions, datetime_col, customer_id_col, t, t_cal,
                    datetime_format, freq, set_index_date, title, xlabel, ylabel, ax, True,
                    **kwargs)


def heterogeneity(rv, suptitle, mean, var, xlabel, ylabel, suptitle_fontsize, **kwargs):
    plt = pyplot()
    x = np.linspace(0, rv.ppf(0.99), 100)
    fig, ax = plt.subplots(1)
    fig.suptitle(suptitle, fontsize=suptitle_fontsize, fontweight="bold")
    ax.set_title(f"mean: {mean:.3f}, var: {var:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout(rect=[0, 0.03, 1, 0.95])
    ax.plot(x, rv.pdf(x), **kwargs)
    return ax


def plot_transaction_rate_heterogeneity(model, suptitle="Heterogeneity in Transaction Rate",
                                        xlabel="Transaction Rate", ylabel="Density",
                                        suptitle_fontsize=14, **kwargs):
    """The Gamma(r, alpha) density of the purchase rates across customers."""
    r, alpha = model.params_["r"], model.params_["alpha"]
    return heterogeneity(stats.gamma(r, scale=1 / alpha), suptitle, r / alpha, r / alpha ** 2,
                         xlabel, ylabel, suptitle_fontsize, **kwargs)


def plot_dropout_rate_heterogeneity(model, suptitle="Heterogeneity in Dropout Probability",
                                    xlabel="Dropout Probability p", ylabel="Density",
                                    suptitle_fontsize=14, **kwargs):
    """The Beta(a, b) density of the dropout probabilities across customers."""
    a, b = model.params_["a"], model.params_["b"]
    return heterogeneity(stats.beta(a, b), suptitle, a / (a + b),
                         a * b / ((a + b) ** 2) / (a + b + 1), xlabel, ylabel,
                         suptitle_fontsize, **kwargs)


# each public function names its native equivalent when hints are on
for _name in __all__:
    globals()[_name] = pointing(globals()[_name])
