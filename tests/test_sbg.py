"""The shifted-beta-geometric model of contractual retention against its published values."""

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import DataError
from clvmodels.heuristics import arpu_churn_ltv
from clvmodels.models.shifted_beta_geo import cohort_frame, subscription_frame

from . import reference


@pytest.mark.parametrize("counts,params", [
    (reference.SBG_REGULAR, reference.SBG_REGULAR_PARAMS),
    (reference.SBG_HIGH_END, reference.SBG_HIGH_END_PARAMS),
], ids=["regular", "high end"])
def test_the_published_estimates(counts, params):
    model = clvmodels.ShiftedBetaGeo().fit(cohort_frame(counts))
    np.testing.assert_allclose(model.params_, list(params.values()), atol=5e-4)
    # the fitted survival curve passes near the observed one
    observed = np.asarray(counts) / counts[0]
    np.testing.assert_allclose(model.survival(range(len(counts))), observed, atol=0.02)


def test_projections_and_residual_lifetime_of_the_high_end_cohort():
    model = clvmodels.ShiftedBetaGeo().fit(cohort_frame(reference.SBG_HIGH_END))
    np.testing.assert_allclose(model.survival(range(8, 13)),
                               reference.SBG_HIGH_END_SURVIVAL_8_12, atol=5e-4)
    survivors = pd.DataFrame({"T": [7, 7, 3], "churned": [False, False, True]})
    derl = model.expected_residual_lifetime(survivors, 0.10)
    assert derl.iloc[0] == pytest.approx(reference.SBG_HIGH_END_DERL_YEAR_7, abs=5e-4)
    assert derl.iloc[2] == 0  # cancelled: no future payments
    # retention rises as the cohort sorts itself: (beta + t - 1) / (alpha + beta + t - 1)
    rates = model.retention_rate(range(1, 13))
    assert rates.is_monotonic_increasing and rates.iloc[0] == pytest.approx(
        1 - 131 / 1000, abs=0.02)


def test_discounted_lifetime_against_the_sum_and_against_arpu_over_churn():
    model = clvmodels.ShiftedBetaGeo().fit(cohort_frame(reference.SBG_HIGH_END))
    alpha, beta = model.params_
    periods = np.arange(0, 5000)
    direct = (model.survival(periods).to_numpy() / 1.1 ** periods).sum()
    assert model.discounted_expected_lifetime(0.10) == pytest.approx(direct, rel=1e-10)
    # the seed formula with the first year's churn undervalues a cohort that sorts itself
    churn = 1 - model.retention_rate(1).iloc[0]
    assert arpu_churn_ltv(1.0, churn) < model.discounted_expected_lifetime(1e-9)


def test_a_subscription_table_is_counted_in_whole_periods():
    table = pd.DataFrame({"customer_id": ["a", "b", "c"],
                          "start": ["2024-01-01", "2024-01-15", "2024-03-01"],
                          "end": ["2024-01-20", None, "2024-06-30"]})
    frame = subscription_frame(table, observation_end="2024-12-31", period="M")
    # a: paid January only; b: renewed 15 Feb ... 15 Dec, 11 times; c: renewed 1 Apr, May, Jun
    assert frame["T"].tolist() == [1, 11, 4] and frame["churned"].tolist() == [True, False, True]
    with pytest.raises(DataError, match="end before they start"):
        subscription_frame(table.assign(end=["2023-01-01", None, None]),
                           observation_end="2024-12-31")


@pytest.mark.parametrize("frame,message", [
    (pd.DataFrame({"T": [0, 2], "churned": [True, False]}), r"T must be a whole number .* T = 0"),
    (pd.DataFrame({"T": [1.5, 2], "churned": [True, False]}), r"T = 1.5"),
    (pd.DataFrame({"T": [1, 2], "churned": ["yes", "no"]}), r"churned must be true/false"),
    (pd.DataFrame({"T": [1, 2], "churned": [False, False]}), r"no customer cancelled"),
], ids=["cancelled at 0", "fractional", "text flags", "nobody cancels"])
def test_bad_retention_frames(frame, message):
    with pytest.raises(DataError, match=message):
        clvmodels.ShiftedBetaGeo().fit(frame)


def test_survivors_that_grow_are_refused():
    with pytest.raises(DataError, match="must not increase"):
        cohort_frame([1000, 900, 950])


def test_parameters_are_recovered_from_simulated_cohorts():
    from clvmodels.models.shifted_beta_geo import simulate_subscriptions

    frame = simulate_subscriptions(50_000, alpha=0.9, beta=2.5, periods=8, seed=4)
    model = clvmodels.ShiftedBetaGeo().fit(frame)
    z = (model.params_ - pd.Series({"alpha": 0.9, "beta": 2.5})) / model.standard_errors_
    assert (z.abs() < 4).all(), z
    # the same customers as a cohort's survival counts give the same estimate
    survivors = [int((frame["T"] >= t).sum() - ((frame["T"] == t) & frame["churned"]).sum())
                 if t else len(frame) for t in range(9)]
    counts = clvmodels.ShiftedBetaGeo().fit(cohort_frame(survivors))
    np.testing.assert_allclose(counts.params_, model.params_, rtol=1e-6)


@pytest.mark.parametrize("counts", [reference.SBG_REGULAR, reference.SBG_HIGH_END],
                         ids=["regular", "high end"])
def test_sbg_projects_retention_better_than_constant_churn(counts):
    from clvmodels.backtesting import retention_backtest

    for calibration in (3, 4, 5):
        table = retention_backtest(counts, calibration_periods=calibration)
        errors = table.attrs["mean_absolute_error"]
        assert errors["sbg"] < errors["constant_churn"]
        # a constant churn rate loses customers too fast where retention in fact rises
        assert (table["constant_churn"] < table["actual"]).all()
    with pytest.raises(DataError, match="calibration_periods=7"):
        retention_backtest(counts, calibration_periods=7)


def test_the_command_line_values_active_subscribers(tmp_path):
    from clvmodels.cli import main

    table = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "start": ["2020-01-15", "2020-02-01", "2020-03-10", "2021-01-01", "2021-06-01",
                  "2022-01-01"],
        "end": ["2020-05-20", "", "2021-03-09", "", "2021-07-15", ""],
    })
    path = tmp_path / "subs.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "scores.csv"
    code = main(["retention", "--subscriptions", str(path), "--observation-end", "2022-06-30",
                 "--period", "M", "--margin", "20", "--discount-rate", "0.01", "--penalizer",
                 "0.01", "--out", str(out), "--model-out", str(tmp_path / "m.json"), "--quiet"])
    assert code == 0
    scores = pd.read_csv(out, index_col="customer_id")
    assert list(scores.index) == ["b", "d", "f"]  # the active ones
    np.testing.assert_allclose(scores["value"], 20 * scores["residual_lifetime"], rtol=1e-6)
    assert (scores["residual_lifetime"] > 0).all()
    model = clvmodels.load(tmp_path / "m.json")
    assert type(model).__name__ == "ShiftedBetaGeo"
    # a bad date names the flag
    assert main(["retention", "--subscriptions", str(path), "--observation-end", "30/06/2022",
                 "--out", str(out)]) == 2


def test_the_command_line_names_a_missing_column(tmp_path, capsys):
    from clvmodels.cli import main

    path = tmp_path / "subs.csv"
    pd.DataFrame({"customer_id": [1], "begin": ["2020-01-01"], "end": [""]}).to_csv(path,
                                                                                  index=False)
    assert main(["retention", "--subscriptions", str(path), "--observation-end", "2022-06-30",
                 "--out", str(tmp_path / "s.csv")]) == 2
    assert "--start-col" in capsys.readouterr().err
