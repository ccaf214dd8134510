"""Baselines, forecast metrics and the backtest harness."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

import clvmodels
from clvmodels import baselines, heuristics, metrics
from clvmodels.backtesting import DEFAULT_METHODS, backtest

CAL, OBS = "1997-09-30", "1998-06-30"
FAST = [m for m in DEFAULT_METHODS if m != "bayes_bgnbd_gg"]


@pytest.fixture(scope="module")
def result(cdnow):
    return backtest(cdnow, calibration_end=CAL, observation_end=OBS,
                    bayes_options=dict(random_state=3))


# -- metrics -----------------------------------------------------------------------------------

def test_rank_metrics_against_scipy_and_sklearn():
    rng = np.random.default_rng(0)
    actual = rng.poisson(1.0, 500) * rng.gamma(2, 20, 500)
    predicted = actual + rng.normal(0, 30, 500)
    assert metrics.spearman(predicted, actual) == pytest.approx(stats.spearmanr(predicted, actual)[0])
    active = actual > 0
    assert metrics.roc_auc(predicted, active) == pytest.approx(roc_auc_score(active, predicted))
    assert metrics.roc_auc(np.round(predicted, -1), active) == pytest.approx(
        roc_auc_score(active, np.round(predicted, -1)))  # ties count half in both


def test_gain_curve_top_decile_and_gini():
    actual = np.array([10.0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert metrics.top_decile_capture(actual, actual) == 1.0  # perfect: the one buyer on top
    assert metrics.top_decile_capture(-actual, actual) == 0.0  # worst: ranked last
    constant = np.ones(10)
    assert metrics.top_decile_capture(constant, actual) == pytest.approx(0.1)
    assert metrics.gini(constant, actual) == pytest.approx(0.0)
    # perfect ranking of a single buyer among 10: curve (0,0)-(0.1,1)-(1,1), area 0.95
    assert metrics.gini(actual, actual) == pytest.approx(0.9)
    assert np.isnan(metrics.spearman(constant, actual))


def test_errors_and_bias():
    assert metrics.mae([1, 2], [2, 4]) == 1.5
    assert metrics.rmse([1, 2], [2, 4]) == pytest.approx(np.sqrt(2.5))
    assert metrics.bias_pct([1, 2], [2, 4]) == -50.0


def test_calibration_table_buckets():
    table = metrics.calibration_table([0, 1, 9, 12], [0.1, 0.5, 3, 5], [0, 1, 2, 6])
    assert table.index.tolist() == ["0", "1", "7+"]
    assert table.loc["7+", "actual"] == 4 and table.loc["7+", "customers"] == 2


# -- baselines ---------------------------------------------------------------------------------

def test_run_rate_and_cohort_average(cdnow_calibration):
    rfm = cdnow_calibration
    run = baselines.RunRate().fit(rfm)
    expected = rfm["frequency"] / rfm["T"] * 39
    np.testing.assert_allclose(run.expected_purchases(rfm, 39), expected)
    spend = run.expected_spend(rfm)
    repeat = rfm["frequency"] > 0
    np.testing.assert_allclose(spend[repeat], rfm.loc[repeat, "monetary_value"])
    aov = (rfm["frequency"] * rfm["monetary_value"]).sum() / rfm["frequency"].sum()
    np.testing.assert_allclose(spend[~repeat], aov)
    cohort = baselines.CohortAverage().fit(rfm)
    purchases = cohort.expected_purchases(rfm, 39)
    assert purchases.nunique() == 1
    assert purchases.iloc[0] == pytest.approx(rfm["frequency"].sum() / rfm["T"].sum() * 39)
    assert cohort.expected_spend(rfm).iloc[0] == pytest.approx(aov)


def test_traditional_ltv_matches_the_formula_per_customer(cdnow_calibration):
    """customer_value over a long horizon, discounted monthly at i, equals m r / (1 + i - r) with
    m the customer's own margin per month (rate x month x spend x margin)."""
    rfm = cdnow_calibration.head(200)
    model = baselines.TraditionalLTV(retention=0.6, period="M").fit(rfm)
    clv = model.customer_value(rfm, horizon=600, discount_rate=0.1, period="M", margin=0.3)
    weeks_per_month = 365.25 / 12 / 7
    monthly_margin = (rfm["frequency"] / rfm["T"] * weeks_per_month
                      * model.expected_spend(rfm) * 0.3)
    np.testing.assert_allclose(clv, heuristics.traditional_ltv(monthly_margin.to_numpy(), 0.6, 0.1),
                               rtol=1e-9)


def test_simple_ltv_caps_at_the_lifespan(cdnow_calibration):
    rfm = cdnow_calibration
    model = baselines.SimpleLTV(retention=0.75, period="W").fit(rfm)
    assert model.lifespan_ == pytest.approx(4.0)  # 1 / (1 - 0.75) weeks
    np.testing.assert_allclose(model.expected_purchases(rfm, 100),
                               rfm["frequency"] / rfm["T"] * 4)


def test_retention_baselines_measure_from_the_log_or_say_how(cdnow, cdnow_calibration):
    with pytest.raises(clvmodels.DataError, match="retention"):
        baselines.SimpleLTV().fit(cdnow_calibration)
    log = cdnow[cdnow.date <= CAL]
    model = baselines.TraditionalLTV().fit(cdnow_calibration, log)
    assert model.retention_ == pytest.approx(heuristics.measure_inputs(log).retention_rate)


def test_hiatus_rule(cdnow_calibration):
    rfm = cdnow_calibration
    model = baselines.Hiatus(pd.Timedelta(weeks=10)).fit(rfm)
    alive = model.probability_alive(rfm)
    np.testing.assert_array_equal(alive, (rfm["T"] - rfm["recency"] <= 10).astype(float))
    purchases = model.expected_purchases(rfm, 39)
    assert (purchases[alive == 0] == 0).all()


def test_supervised_baselines_need_an_earlier_window(cdnow_calibration):
    rfm = cdnow_calibration.drop(columns=["frequency_holdout"])
    with pytest.raises(clvmodels.DataError, match="earlier window"):
        baselines.GradientBoosting().fit(rfm)


def test_rfm_segment_means_and_fallback(cdnow):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        earlier = clvmodels.calibration_holdout(cdnow, calibration_end="1997-06-30",
                                                observation_end=CAL, amount="amount", time_unit="W")
    model = baselines.RFMSegment(min_customers=1).fit(earlier)
    scores = heuristics.rfm_scores(earlier)
    means = earlier.groupby([scores.R, scores.F, scores.M])["frequency_holdout"].mean()
    key = tuple(scores.iloc[0])
    window = earlier["duration_holdout"].iloc[0]
    assert model.expected_purchases(earlier.iloc[:1], window).iloc[0] == pytest.approx(means[key])
    coarse = baselines.RFMSegment(min_customers=10**9).fit(earlier)  # everything falls back
    overall = earlier["frequency_holdout"].mean()
    np.testing.assert_allclose(coarse.expected_purchases(earlier, window), overall)


def test_gradient_boosting_probability_scales_with_the_window(cdnow):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        earlier = clvmodels.calibration_holdout(cdnow, calibration_end="1997-06-30",
                                                observation_end=CAL, amount="amount", time_unit="W")
    model = baselines.GradientBoosting().fit(earlier)
    w = model.window_
    one = model.probability_any_purchase(earlier, w)
    two = model.probability_any_purchase(earlier, 2 * w)
    np.testing.assert_allclose(1 - two, (1 - one) ** 2, atol=1e-12)
    np.testing.assert_allclose(model.expected_purchases(earlier, 2 * w),
                               2 * model.expected_purchases(earlier, w))


def test_bgnbd_probability_any_purchase_matches_simulation():
    """Simulated BG/NBD customers: the predicted probability of a purchase in the holdout agrees
    with the share who did buy, bucket by bucket of the prediction."""
    tx = clvmodels.simulate_transactions(60_000, seed=11)
    end = pd.Timestamp(tx.attrs["observation_end"])
    cal_end = end - pd.Timedelta(weeks=26)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        split = clvmodels.calibration_holdout(tx, calibration_end=cal_end, observation_end=end,
                                              time_unit="W")
    model = clvmodels.BetaGeo().fit(split)
    model.params_[:] = [tx.attrs["bgnbd"][k] for k in ("r", "alpha", "a", "b")]  # true values
    p = model.probability_any_purchase(split, split["duration_holdout"].iloc[0])
    bought = split["frequency_holdout"] > 0
    buckets = pd.qcut(p, 5, duplicates="drop")
    table = pd.DataFrame({"p": p, "bought": bought}).groupby(buckets, observed=True).mean()
    np.testing.assert_allclose(table["p"], table["bought"], atol=0.015)


# -- the harness -------------------------------------------------------------------------------

@pytest.mark.slow
def test_backtest_on_cdnow(result, cdnow_calibration, fitted):
    table = result.metrics.set_index("method")
    assert list(table.index) == list(DEFAULT_METHODS)
    for column in ("purchases_mae", "purchases_rmse", "purchases_bias_pct", "spend_mae",
                   "spend_bias_pct", "spearman", "top_decile_capture", "alive_auc"):
        assert column in table
    bg, gg = fitted
    rows = result.predictions[result.predictions.method == "bgnbd_gg"].set_index("customer_id")
    np.testing.assert_allclose(rows["predicted_purchases"], bg.expected_purchases(
        cdnow_calibration, 39), rtol=1e-9)
    np.testing.assert_allclose(rows["actual_purchases"], cdnow_calibration["frequency_holdout"])
    actual_spend = cdnow_calibration["frequency_holdout"] * cdnow_calibration["monetary_value_holdout"]
    np.testing.assert_allclose(rows["actual_spend"], actual_spend)
    np.testing.assert_allclose(rows["predicted_spend"], rows["predicted_purchases"]
                               * gg.expected_spend(cdnow_calibration))
    # every method scored the same customers
    assert result.predictions.groupby("method").size().nunique() == 1
    assert table.loc["bgnbd_gg", "purchases_mae"] == pytest.approx(
        metrics.mae(rows["predicted_purchases"], rows["actual_purchases"]))
    # the Bayesian posterior means land near the maximum-likelihood forecasts
    assert table.loc["bayes_bgnbd_gg", "purchases_mae"] == pytest.approx(
        table.loc["bgnbd_gg", "purchases_mae"], rel=0.02)
    assert table.loc["cohort_average", "top_decile_capture"] == pytest.approx(0.1)
    report = result.report()
    assert "best is" in report and "bgnbd_gg" in report


def test_no_holdout_leakage(cdnow):
    """Changing what happens after the calibration end changes no forecast."""
    later = cdnow.date > CAL
    altered = cdnow.copy()
    altered.loc[later, "amount"] *= 3
    altered = altered[~later | (altered.index % 2 == 0)]
    a = backtest(cdnow, calibration_end=CAL, observation_end=OBS, methods=FAST)
    b = backtest(altered, calibration_end=CAL, observation_end=OBS, methods=FAST)
    columns = ["predicted_purchases", "predicted_spend", "alive_score"]
    pd.testing.assert_frame_equal(a.predictions[columns], b.predictions[columns])
    assert not np.allclose(a.predictions["actual_spend"], b.predictions["actual_spend"])


def test_rolling_origin(cdnow):
    ends = ["1997-06-30", "1997-09-30"]
    obs = ["1997-12-31", "1998-03-31"]
    result = backtest(cdnow, calibration_end=ends, observation_end=obs,
                      methods=["bgnbd_gg", "run_rate"])
    table = result.metrics
    assert set(table["calibration_end"]) == {"1997-06-30", "1997-09-30", "mean"}
    per = table[table.calibration_end != "mean"].groupby("method")["spearman"].mean()
    mean = table[table.calibration_end == "mean"].set_index("method")["spearman"]
    pd.testing.assert_series_equal(per.sort_index(), mean.sort_index(), check_names=False)
    single = backtest(cdnow, calibration_end=ends[0], observation_end=obs[0], methods=["run_rate"])
    np.testing.assert_allclose(single.metrics["spearman"].iloc[0],
                               table.set_index(["calibration_end", "method"]).loc[
                                   ("1997-06-30", "run_rate"), "spearman"])


def test_backtest_bad_arguments(cdnow):
    with pytest.raises(ValueError, match="unknown method"):
        backtest(cdnow, calibration_end=CAL, observation_end=OBS, methods=["magic"])
    with pytest.raises(ValueError, match="one per calibration_end"):
        backtest(cdnow, calibration_end=[CAL, CAL], observation_end=[OBS, OBS, OBS])
    with pytest.raises(clvmodels.DataError, match="first transaction"):
        backtest(cdnow, calibration_end="1996-01-01", observation_end=OBS, methods=["run_rate"])


@pytest.mark.slow
def test_write_outputs(result, tmp_path):
    files = result.write(tmp_path / "bt")
    names = sorted(p.split("/")[-1] for p in files)
    assert names == ["calibration.csv", "lift_spend.png", "metrics.csv", "metrics.png",
                     "predictions.parquet", "report.md", "tracking.png"]
    metrics_csv = pd.read_csv(tmp_path / "bt" / "metrics.csv")
    assert metrics_csv["method"].tolist() == list(DEFAULT_METHODS)
    predictions = pd.read_parquet(tmp_path / "bt" / "predictions.parquet")
    assert len(predictions) == len(DEFAULT_METHODS) * 2357
    assert "![Lift curves](lift_spend.png)" in (tmp_path / "bt" / "report.md").read_text()


def test_the_percentage_and_probability_metrics_against_scikit_learn():
    from sklearn.metrics import brier_score_loss, mean_absolute_percentage_error

    from clvmodels import metrics

    rng = np.random.default_rng(4)
    actual = rng.poisson(1.0, 400).astype(float)
    predicted = actual + rng.normal(0, 0.5, 400)
    buyers = actual > 0
    assert metrics.mape_buyers(predicted, actual) == pytest.approx(
        100 * mean_absolute_percentage_error(actual[buyers], predicted[buyers]))
    assert metrics.wape(predicted, actual) == pytest.approx(
        100 * np.abs(predicted - actual).sum() / actual.sum())
    probability = rng.uniform(0, 1, 400)
    assert metrics.brier(probability, buyers) == pytest.approx(
        brier_score_loss(buyers, probability))
    assert np.isnan(metrics.brier(predicted, buyers))  # not probabilities: no score
    table = metrics.probability_calibration(probability, buyers)
    assert table["customers"].sum() == 400 and len(table) == 10
    assert table["predicted"].is_monotonic_increasing


def small_result(noise_b):
    from clvmodels.backtesting import BacktestResult

    rng = np.random.default_rng(1)
    n = 300
    actual = rng.poisson(2.0, n).astype(float)
    rows = []
    for method, noise in (("a", 0.3), ("b", noise_b)):
        predicted = np.clip(actual + rng.normal(0, noise, n), 0, None)
        rows.append(pd.DataFrame({
            "calibration_end": "1997-09-30", "method": method, "customer_id": np.arange(n),
            "calibration_frequency": 0, "actual_purchases": actual,
            "predicted_purchases": predicted, "actual_spend": 10 * actual,
            "predicted_spend": 10 * predicted, "alive_score": np.clip(predicted / 5, 0, 1)}))
    predictions = pd.concat(rows, ignore_index=True)
    metric_rows = []
    for method, part in predictions.groupby("method"):
        columns = ("predicted_purchases", "actual_purchases", "predicted_spend",
                   "actual_spend", "alive_score")
        row = metrics.forecast_metrics(*(part[c].to_numpy() for c in columns))
        metric_rows.append({"calibration_end": "1997-09-30", "method": method, **row,
                            "error": ""})
    return BacktestResult(pd.DataFrame(metric_rows), predictions, pd.DataFrame())


def test_the_bootstrap_against_a_direct_computation():
    result = small_result(3.0)
    draws = result.bootstrap_draws(draws=50, seed=7)
    part = result.predictions[result.predictions["method"] == "a"]
    actual = part["actual_purchases"].to_numpy()
    predicted = part["predicted_purchases"].to_numpy()
    resamples = np.random.default_rng(7).integers(0, len(part), size=(50, len(part)))
    direct = [np.mean(np.abs(predicted[i] - actual[i])) for i in resamples]
    np.testing.assert_allclose(draws["a"]["purchases_mae"], direct, rtol=1e-12)
    table = result.intervals(level=0.9, draws=50, seed=7)
    low, high = table.loc[("a", "purchases_mae"), ["lower", "upper"]]
    assert low == pytest.approx(np.quantile(direct, 0.05)) and high == pytest.approx(
        np.quantile(direct, 0.95))


def test_winners_are_named_only_where_the_difference_is_clear():
    clear = small_result(3.0).winners(draws=100)
    assert clear.loc["purchases_mae", "best"] == "a" and clear.loc["purchases_mae", "clear"]
    tied = small_result(0.3).winners(draws=100)  # the same noise: a coin flip
    assert not tied.loc["purchases_mae", "clear"]


def test_the_report_says_when_no_winner_is_clear(result):
    # BG/NBD by maximum likelihood and its Bayesian twin forecast alike on CDNOW
    table = result.winners()
    assert {"runner_up", "lower", "upper", "clear"} <= set(table.columns)
    assert "no clear difference" in result.report()


def test_coverage_of_the_predictive_intervals(result):
    table = result.summary()
    models = [m for m in ("bgnbd_gg", "mbgnbd_gg", "pnbd_gg") if m in table.index]
    assert models and table.loc[models, ["coverage_80", "coverage_94"]].notna().all().all()
    assert (table.loc[models, "coverage_94"] >= table.loc[models, "coverage_80"]).all()
    assert table.loc["run_rate", ["coverage_80", "coverage_94"]].isna().all()
    # quantile intervals of a count include their ends: at least the mass where the model is
    # right, short of it by no more than three standard errors of a share over 2,357 customers
    # (0.94 - 0.015 and 0.80 - 0.025; CDNOW gives 0.97 and 0.89-0.93)
    n = result.data["customers"]
    for column, mass in (("coverage_94", 0.94), ("coverage_80", 0.80)):
        floor = mass - 3 * np.sqrt(mass * (1 - mass) / n)
        assert (table.loc[models, column] > floor).all(), (column, table.loc[models, column])


def test_the_report_states_the_holdout_it_judged(result):
    holdout = result.data["holdouts"]["1997-09-30"]
    assert holdout["end"] == "1998-06-30" and holdout["length"] == pytest.approx(39.0)
    assert holdout["purchases"] == result.predictions.query(
        "method == 'bgnbd_gg'")["actual_purchases"].sum()
    assert "to 1998-06-30 (39.0 W; actual" in result.report()


def test_the_discounted_holdout_value_against_the_forecast(result, cdnow):
    table = result.summary()
    assert table[["value_mae", "value_bias_pct"]].notna().all().all()
    rows = result.predictions.query("method == 'bgnbd_gg'").set_index("customer_id")
    customer = rows["realised_value"].idxmax()
    mine = cdnow[(cdnow["customer_id"] == customer) & (cdnow["date"] > "1997-09-30")
                 & (cdnow["date"] <= "1998-06-30")]
    months = (mine["date"] - pd.Timestamp("1997-09-30")).dt.days / (365.25 / 12)
    expected = (mine["amount"] * 1.01 ** -np.ceil(months)).sum()
    assert rows.loc[customer, "realised_value"] == pytest.approx(expected)
    assert table.loc["bgnbd_gg", "value_mae"] == pytest.approx(
        np.mean(np.abs(rows["forecast_value"] - rows["realised_value"])))


def test_the_weekly_tracking_of_holdout_transactions(result, tmp_path):
    from clvmodels.plotting import tracking_table

    table = result.tracking
    assert {"actual", "bgnbd_gg", "pnbd_gg"} <= set(table.columns)
    assert "run_rate" not in table  # a formula has no process to track
    bg = clvmodels.BetaGeo().fit(clvmodels.calibration_holdout(
        clvmodels.load_cdnow(), calibration_end=CAL, observation_end=OBS, time_unit="W"))
    direct = tracking_table(bg, clvmodels.load_cdnow(), calibration_end=CAL, observation_end=OBS)
    np.testing.assert_allclose(table["bgnbd_gg"], direct["expected"], rtol=1e-6)
    written = result.write(tmp_path)
    assert any(path.endswith("tracking.png") for path in written)
    assert "tracking.png" in (tmp_path / "report.md").read_text()


def test_value_weighted_error_and_out_of_sample_likelihood(result):
    actual = np.array([0.0, 2.0, 1.0])
    assert metrics.value_weighted_mae(np.array([1.0, 1.0, 1.0]), actual,
                                      np.array([0.0, 30.0, 10.0])) == pytest.approx(0.75)
    assert np.isnan(metrics.value_weighted_mae(actual, actual, np.zeros(3)))
    table = result.summary()
    models = ["bgnbd_gg", "mbgnbd_gg", "pnbd_gg"]
    assert (table.loc[models, "holdout_loglik"] < 0).all()
    assert table.loc["run_rate", ["holdout_loglik"]].isna().all()
    rows = result.predictions.query("method == 'bgnbd_gg'")
    assert table.loc["bgnbd_gg", "spend_value_weighted_mae"] == pytest.approx(
        np.sum(rows["actual_spend"] * np.abs(rows["predicted_spend"] - rows["actual_spend"]))
        / rows["actual_spend"].sum())
    assert "holdout_loglik" in result.winners().index
