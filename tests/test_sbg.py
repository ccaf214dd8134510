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


# -- subscription tables: ids and dates as in a log, and the meaning of an end date -----------
def simulated_subscriptions(n, alpha, beta, seed, convention):
    """A subscription table drawn from the sBG: monthly contracts started on random days of
    2020, each customer's lifetime geometric in theta ~ Beta(alpha, beta), observed to the end
    of 2022. The end date is written the way ``convention`` says: the day the customer
    cancelled, during her last paid month ("cancellation"), or the start plus the months paid
    ("paid_through", as billing exports write it)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 366, n), unit="D")
    lifetime = rng.geometric(rng.beta(alpha, beta, n))  # months paid
    paid_through = np.array([s + pd.DateOffset(months=int(k)) for s, k in zip(start, lifetime)])
    if convention == "paid_through":
        end = paid_through
    else:  # a day inside the last paid month, before its renewal would have come
        last_start = np.array([s + pd.DateOffset(months=int(k) - 1)
                               for s, k in zip(start, lifetime)])
        days = np.array([(e - b).days for b, e in zip(last_start, paid_through)])
        end = pd.DatetimeIndex(last_start) + pd.to_timedelta(np.floor(rng.uniform(0, 1, n) * days),
                                                             unit="D")
    observed = pd.Timestamp("2022-12-31")
    end = pd.Series(pd.to_datetime(end)).where(pd.to_datetime(end) <= observed)
    return pd.DataFrame({"customer_id": np.arange(n), "start": start.strftime("%Y-%m-%d"),
                         "end": end.dt.strftime("%Y-%m-%d")})


@pytest.mark.parametrize("convention", ["cancellation", "paid_through"])
def test_each_end_convention_recovers_the_true_retention(convention):
    table = simulated_subscriptions(20_000, 1.2, 6.0, seed=4, convention=convention)
    truth = 6.0 / 7.2  # one-period survival of the cohort: beta / (alpha + beta) = 0.833
    frame = subscription_frame(table, observation_end="2022-12-31",
                               end_convention=convention)
    model = clvmodels.ShiftedBetaGeo().fit(frame)
    survival = model.survival(1).iloc[0]
    se = np.sqrt(truth * (1 - truth) / len(table))
    assert abs(survival - truth) < 4 * se + 2e-3
    if convention == "paid_through":  # read as cancellation days, every end gains a period
        with pytest.warns(clvmodels.DataQualityWarning, match="end_convention='paid_through'"):
            wrong = subscription_frame(table, observation_end="2022-12-31")
        biased = clvmodels.ShiftedBetaGeo().fit(wrong).survival(1).iloc[0]
        assert biased - truth > 0.03  # the bias the convention removes


def test_end_conventions_differ_only_on_anniversaries():
    table = pd.DataFrame({"customer_id": [1, 2, 3, 4],
                          "start": ["2024-01-15", "2024-01-15", "2024-01-31", "2024-03-01"],
                          "end": ["2024-02-15", "2024-02-14", "2024-02-29", "2024-03-01"]})
    cancelled = subscription_frame(table, observation_end="2024-12-31")
    paid = subscription_frame(table, observation_end="2024-12-31", end_convention="paid_through")
    # 15 Feb is the first renewal of a 15 January start: a renewal made that day, or the end
    # of the month paid; 14 Feb is inside the first month either way; 29 Feb is the month's
    # anniversary of 31 January; an end on the start day is one period paid
    assert cancelled["T"].tolist() == [2, 1, 2, 1]
    assert paid["T"].tolist() == [1, 1, 1, 1]
    assert cancelled.attrs["end_convention"] == "cancellation"


@pytest.mark.parametrize("change,message", [
    (lambda t: t.assign(start=["02/01/2020", "03/01/2020", "04/01/2020"]),
     r"read both as day/month and as month/day.*date_format="),
    (lambda t: t.assign(start=["2020-01-02", None, "2020-01-04"]), r"1 row\(s\) have no date"),
    (lambda t: t.assign(customer_id=["a", "a", "b"]), r"listed more than once \(first: 'a'"),
    (lambda t: t.assign(start=["2020-01-02", "junk", "2020-01-04"]), r"could not be parsed"),
    (lambda t: t.assign(start=["2020-01-02", "2026-01-01", "2020-01-04"]),
     r"start after observation_end"),
    (lambda t: t.assign(customer_id=[1.5, 2, 3]), r"not whole numbers"),
], ids=["ambiguous dates", "missing start", "repeated customer", "unreadable date",
        "start after the end", "fractional id"])
def test_bad_subscription_tables(change, message):
    table = pd.DataFrame({"customer_id": ["a", "b", "c"],
                          "start": ["2020-01-02", "2020-01-03", "2020-01-04"],
                          "end": [None, "2020-05-01", None]})
    with pytest.raises(DataError, match=message):
        subscription_frame(change(table), observation_end="2020-12-31")


def test_day_first_dates_read_with_their_format_fit_as_iso():
    table = simulated_subscriptions(3_000, 1.2, 6.0, seed=5, convention="cancellation")
    day_first = table.assign(**{c: pd.to_datetime(table[c]).dt.strftime("%d/%m/%Y")
                                for c in ("start", "end")})
    iso = clvmodels.ShiftedBetaGeo().fit(subscription_frame(table, observation_end="2022-12-31"))
    other = clvmodels.ShiftedBetaGeo().fit(subscription_frame(
        day_first, observation_end="2022-12-31", date_format="%d/%m/%Y"))
    np.testing.assert_allclose(other.params_, iso.params_, rtol=1e-12)
    small = table.head(40)
    small = small.assign(start="2020-01-05", end=small["end"].where(small["end"].isna(),
                                                                       "2020-03-04"))
    with pytest.raises(DataError, match="date_format="):  # every day <= 12: never guessed
        subscription_frame(small.assign(start="05/01/2020"), observation_end="2022-12-31")


def test_the_command_line_reads_subscription_dates_and_conventions(tmp_path, capsys):
    from clvmodels.cli import main

    table = simulated_subscriptions(500, 1.2, 6.0, seed=6, convention="paid_through")
    table = table.assign(**{c: pd.to_datetime(table[c]).dt.strftime("%d/%m/%Y")
                            for c in ("start", "end")})
    path = tmp_path / "subs.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "r.csv"
    base = ["retention", "--subscriptions", str(path), "--observation-end", "2022-12-31",
            "--out", str(out), "--quiet"]
    assert main(base + ["--date-format", "%d/%m/%Y", "--end-convention", "paid_through"]) == 0
    scores = pd.read_csv(out)
    assert len(scores) == table["end"].isna().sum()
    assert main(base + ["--model-out", str(tmp_path / "missing" / "m.json")]) == 2
    err = capsys.readouterr().err
    assert "--model-out" in err and len(err.strip().splitlines()) == 1
    missing = ["retention", "--subscriptions", str(tmp_path / "nope.csv"), "--observation-end",
               "2022-12-31", "--out", str(tmp_path / "x.csv")]
    assert main(missing) == 2 and "subscriptions file not found" in capsys.readouterr().err
