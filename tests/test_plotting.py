"""Every plot renders (Agg) and shows the model's own numbers."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import metrics, plotting

CAL = "1997-09-30"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_frequency_recency_and_alive_matrices(fitted, cdnow_calibration):
    bg, _ = fitted
    ax = plotting.plot_frequency_recency_matrix(bg, t=2, max_frequency=10, max_recency=39)
    image = ax.images[0].get_array()
    assert image.shape == (11, 40)
    history = pd.DataFrame({"frequency": [4.0], "recency": [25.0], "T": [39.0]})
    assert image[4, 25] == pytest.approx(bg.expected_purchases(history, 2, time_unit="W").iloc[0])
    assert np.ma.is_masked(image[0, 5]) or np.isnan(image[0, 5])  # no such history
    ax = plotting.plot_probability_alive_matrix(bg, rfm=cdnow_calibration)
    image = ax.images[0].get_array()
    assert image[4, 25] == pytest.approx(bg.probability_alive(history, time_unit="W").iloc[0])


def test_calibration_and_period_transactions(fitted, cdnow_calibration):
    bg, _ = fitted
    ax = plotting.plot_calibration_purchases(bg, cdnow_calibration)
    actual, predicted = (line.get_ydata() for line in ax.lines[:2])
    split = cdnow_calibration
    expected = bg.expected_purchases(split, 39)
    table = metrics.calibration_table(split["frequency"], expected, split["frequency_holdout"])
    np.testing.assert_allclose(actual, table["actual"])
    np.testing.assert_allclose(predicted, table["predicted"])
    ax = plotting.plot_period_transactions(bg, split)
    bars = [p.get_height() for p in ax.patches]
    actual, model = np.array(bars[:8]), np.array(bars[8:])
    assert actual[0] == (split["frequency"] == 0).sum()
    assert model.sum() == pytest.approx(len(split))  # the model's shares sum to everyone
    share = bg.probability_of_purchases(0, split["T"].to_numpy()).mean()
    assert model[0] == pytest.approx(share * len(split))


def test_tracking_repeat_transactions(fitted, cdnow):
    bg, _ = fitted
    table = plotting.tracking_table(bg, cdnow, calibration_end=CAL)
    # FHL 2005: 2,457 repeat transactions in the 39-week calibration period
    assert table.loc[:CAL, "actual"].sum() == 2457
    ax = plotting.plot_cumulative_transactions(bg, cdnow, calibration_end=CAL)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), table["actual"].cumsum())
    np.testing.assert_allclose(ax.lines[1].get_ydata(), table["expected"].cumsum())
    # the expected total by the end is the sum of E[X(age)] over customers
    first = cdnow.groupby("customer_id").date.min()
    ages = (table.index[-1] - first).dt.days.to_numpy() / 7
    assert table["expected"].sum() == pytest.approx(
        bg.expected_purchases_new_customer(ages).sum(), rel=1e-9)
    ax = plotting.plot_incremental_transactions(bg, cdnow, calibration_end=CAL)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), table["actual"])


def test_alive_path_follows_the_history(fitted, cdnow):
    bg, _ = fitted
    customer = 1  # purchases on 1997-01-01, 01-18, 08-02, 12-12
    path = plotting.alive_path(bg, cdnow, customer, observation_end=CAL)
    assert path.index[0] == pd.Timestamp("1997-01-01") and path.index[-1] == pd.Timestamp(CAL)
    history = pd.DataFrame({"frequency": [2.0], "recency": [(pd.Timestamp("1997-08-02")
                                                             - pd.Timestamp("1997-01-01")).days / 7],
                            "T": [(pd.Timestamp(CAL) - pd.Timestamp("1997-01-01")).days / 7]})
    assert path.iloc[-1] == pytest.approx(bg.probability_alive(history, time_unit="W").iloc[0])
    assert path.iloc[0] == 1.0
    ax = plotting.plot_alive_path(bg, cdnow, customer, observation_end=CAL)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), path.to_numpy())
    with pytest.raises(clvmodels.DataError, match="not in the transactions"):
        plotting.alive_path(bg, cdnow, -5)


def test_value_plots(fitted, cdnow_calibration):
    bg, gg = fitted
    clv = clvmodels.customer_value(bg, gg, cdnow_calibration)
    ax = plotting.plot_clv_distribution(clv)
    assert sum(p.get_height() for p in ax.patches) == (clv > 0).sum()
    ax = plotting.plot_lorenz(clv)
    _, y = metrics.gain_curve(clv, clv)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 100 * y)
    assert f"{metrics.gini(clv, clv):.2f}" in ax.get_title(loc="left")


def test_backtest_plots(cdnow):
    result = clvmodels.backtest(cdnow, calibration_end=CAL, observation_end="1998-06-30",
                                methods=["bgnbd_gg", "cohort_average"])
    ax = plotting.plot_lift_curves(result.predictions)
    rows = result.predictions[result.predictions.method == "bgnbd_gg"]
    _, y = metrics.gain_curve(rows["predicted_spend"], rows["actual_spend"])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 100 * y)
    ax = plotting.plot_backtest_metrics(result.summary())
    widths = [p.get_width() for p in ax.patches]
    assert result.summary().loc["bgnbd_gg", "spearman"] == pytest.approx(widths[1])


@pytest.mark.slow
def test_bayesian_plots(cdnow_calibration):
    model = clvmodels.BayesianBetaGeo(draws=200, tune=200, chains=2, until_converged=False,
                                      random_state=2)
    with warnings.catch_warnings():  # few draws: a convergence warning may come
        warnings.simplefilter("ignore")
        model.fit(cdnow_calibration)
    axes = plotting.plot_posterior(model, reference=clvmodels.BetaGeo().fit(cdnow_calibration).params_)
    assert len(axes) == 4 and axes[0].get_title() == "r"
    axes = plotting.plot_trace(model)
    assert axes.shape == (4, 2)


def test_large_inputs_stay_fast(fitted):
    """No per-customer loops: a million values plot in well under a second each."""
    import time

    values = np.random.default_rng(0).gamma(0.5, 40, 1_000_000)
    start = time.perf_counter()
    plotting.plot_lorenz(values)
    plotting.plot_clv_distribution(values)
    assert time.perf_counter() - start < 5
