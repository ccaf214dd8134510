"""MBG/CNBD-k and BG/CNBD-k (Platzer & Reutterer 2016) by maximum likelihood: at k = 1 they are
MBG/NBD and BG/NBD; on CDNOW the best k is 1 (no regularity); on simulated Erlang-2 data k = 2
and the parameters are recovered; the model passes check_model."""

import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.models.cnbd import BayesianModifiedBetaGeoCNBD, BetaGeoCNBD, ModifiedBetaGeoCNBD
from clvmodels.models.registry import Entry
from clvmodels.testing import check_model

from .test_cnbd_math import simulate


@pytest.fixture(scope="module")
def cdnow_regular():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        return clvmodels.calibration_holdout(clvmodels.load_cdnow(), calibration_end="1997-09-30",
                                             observation_end="1998-06-30", time_unit="W",
                                             amount="amount", statistics=["litt"])


@pytest.mark.parametrize("regular,plain", [(ModifiedBetaGeoCNBD, clvmodels.ModifiedBetaGeo),
                                           (BetaGeoCNBD, clvmodels.BetaGeo)],
                         ids=["mbg", "bg"])
def test_k_1_is_the_nbd_model(cdnow_regular, regular, plain):
    ours = regular(k=1).fit(cdnow_regular)
    reference = plain().fit(cdnow_regular)
    np.testing.assert_allclose(ours.params_, reference.params_, rtol=1e-6)
    assert ours.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(ours.standard_errors_, reference.standard_errors_, rtol=1e-4)
    frame = cdnow_regular.iloc[:300]
    for ask in (lambda m: m.expected_purchases(frame, 39.0),
                lambda m: m.probability_alive(frame),
                lambda m: m.conditional_probability_of_purchases(frame, 2, 39.0),
                lambda m: m.probability_alive_at(frame, 10.0)):
        np.testing.assert_allclose(ask(ours), ask(reference), rtol=1e-5)
    value = clvmodels.customer_value(ours, clvmodels.GammaGamma().fit(frame), frame, horizon=12)
    assert np.isfinite(value).all() and (value >= 0).all()


def test_on_cdnow_the_best_regularity_is_none(cdnow_regular):
    """BTYDplus's finding on CDNOW: k = 1, the MBG/NBD."""
    model = ModifiedBetaGeoCNBD().fit(cdnow_regular)
    assert model.k_ == 1
    assert model.k_log_likelihoods_.idxmax() == 1
    assert len(model.k_log_likelihoods_) >= 3  # it looked further, and the likelihood fell


@pytest.mark.slow
def test_erlang_2_data_recover_k_and_the_parameters():
    truth = dict(r=1.2, alpha=3.0, a=1.0, b=4.0)
    x, t_x, litt, _ = simulate(8_000, 2, *truth.values(), 52.0, 1.0, mbg=True, seed=11)
    frame = pd.DataFrame({"frequency": x, "recency": t_x, "T": np.full_like(x, 52.0),
                          "litt": litt})
    frame.attrs["time_unit"] = "W"
    model = ModifiedBetaGeoCNBD().fit(frame)
    assert model.k_ == 2
    se = model.standard_errors_
    for name, value in truth.items():
        assert abs(model.params_[name] - value) < 4 * se[name], (name, model.params_[name], se)


def test_the_model_passes_check_model(cdnow_regular, tmp_path):
    frame = cdnow_regular.iloc[:600]
    entry = Entry("mbgcnbd", "purchases", ModifiedBetaGeoCNBD, None, "MBG/CNBD-k")
    report = check_model(entry, frame=frame)
    assert report["engines_agree"].startswith("skipped") and report["weights"] == "passed"
    fitted = ModifiedBetaGeoCNBD(k=2).fit(frame)
    fitted.save(tmp_path / "m.json")
    import json

    # not registered yet: a file of it loads through its class
    again = ModifiedBetaGeoCNBD.from_dict(json.loads((tmp_path / "m.json").read_text()))
    assert again.k_ == 2 and again.k == 2
    pd.testing.assert_series_equal(again.expected_purchases(frame, 10.0),
                                   fitted.expected_purchases(frame, 10.0))


def test_a_frame_without_litt_is_refused_with_the_fix(cdnow_regular):
    with pytest.raises(clvmodels.DataError, match=r"statistics=\['litt'\]"):
        ModifiedBetaGeoCNBD().fit(cdnow_regular.drop(columns="litt"))
    with pytest.raises(clvmodels.DataError, match="k= must be one whole number from 1 to 12"):
        ModifiedBetaGeoCNBD(k=13)


def test_registered_compare_fit_score_and_files(cdnow_regular, cdnow, tmp_path):
    """One registry line each: compare lists them on a frame with litt, the command line fits
    and scores them (the streamed frame reads litt for the fit), their files load."""
    from clvmodels.cli import main

    table = clvmodels.compare(cdnow_regular)
    assert {"mbgcnbd", "bgcnbd"} <= set(table.index)
    assert table.loc["mbgcnbd", "log_likelihood"] == pytest.approx(
        table.loc["mbgnbd", "log_likelihood"], rel=1e-9)  # k = 1 on CDNOW
    assert "mbgcnbd" not in clvmodels.compare(cdnow_regular.drop(columns="litt")).index
    cdnow.to_csv(tmp_path / "log.csv", index=False)
    assert main(["fit", "--transactions", str(tmp_path / "log.csv"), "--observation-end",
                 "1998-06-30", "--time-unit", "W", "--model", "mbgcnbd_gg", "--out",
                 str(tmp_path / "m.json"), "--quiet"]) == 0
    pair = clvmodels.load(tmp_path / "m.json")
    assert type(pair.purchases) is ModifiedBetaGeoCNBD and pair.purchases.k_ == 1
    assert main(["score", "--model", str(tmp_path / "m.json"), "--transactions",
                 str(tmp_path / "log.csv"), "--out", str(tmp_path / "s.csv"), "--quiet"]) == 0
    scores = pd.read_csv(tmp_path / "s.csv")
    assert len(scores) == cdnow["customer_id"].nunique() and scores["clv"].notna().all()
    # the PyMC twin: k chosen by likelihood first (1 on CDNOW), then the posterior at it
    assert main(["fit", "--transactions", str(tmp_path / "log.csv"), "--observation-end",
                 "1998-06-30", "--time-unit", "W", "--model", "bayes_mbgcnbd_gg", "--out",
                 str(tmp_path / "b.json"), "--quiet"]) == 0
    bayes = clvmodels.load(tmp_path / "b.json").purchases
    assert type(bayes) is BayesianModifiedBetaGeoCNBD and bayes.k_ == 1
    # at k = 1 the posterior means sit by the maximum-likelihood estimate
    np.testing.assert_allclose(bayes.params_, pair.purchases.params_, rtol=0.15)


@pytest.mark.slow
def test_the_backtest_runs_them_by_default(cdnow):
    from clvmodels.backtesting import DEFAULT_METHODS

    assert {"mbgcnbd_gg", "bgcnbd_gg"} <= set(DEFAULT_METHODS)
    result = clvmodels.backtest(cdnow, calibration_end="1997-09-30",
                                observation_end="1998-06-30",
                                methods=["mbgnbd_gg", "mbgcnbd_gg", "run_rate"])
    summary = result.summary()
    assert not result.failures
    # k = 1 on CDNOW: the same forecasts as MBG/NBD
    assert summary.loc["mbgcnbd_gg", "purchases_mae"] == pytest.approx(
        summary.loc["mbgnbd_gg", "purchases_mae"], rel=1e-6)


def test_on_regular_data_the_regularity_model_wins_the_holdout():
    """The issue's case in miniature: on Erlang-2 customers MBG/CNBD-k picks k = 2 and beats
    MBG/NBD on the likelihood (k counted in AIC) and on the holdout error."""
    from clvmodels.models.cnbd import simulate_regular

    frame = simulate_regular(5_000, k=2, r=1.2, alpha=3.0, a=1.0, b=4.0, T=52, holdout=26,
                             seed=1)
    table = clvmodels.compare(frame, ["mbgnbd", "mbgcnbd"])
    assert table.loc["mbgcnbd", "parameters"] == 5
    assert table.loc["mbgcnbd", "aic"] < table.loc["mbgnbd", "aic"] - 100
    assert table.loc["mbgcnbd", "holdout_mae"] < table.loc["mbgnbd", "holdout_mae"]
    assert table.attrs["fits"]["mbgcnbd"].k_ == 2


def regular_log(customers: int = 1_500, seed: int = 5) -> pd.DataFrame:
    """A transaction log of Erlang-2 gaps (in days, so that some fall on one day), customers
    acquired over the first 60 days, each with a random lifetime and mean spend."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        rate, life, spend = rng.gamma(2.0, 1 / 40), rng.exponential(300), rng.gamma(3.0, 10.0)
        day = rng.integers(0, 60)
        start = day
        while day <= 400 and day - start <= life:
            rows.append((f"c{c}", day, round(float(rng.gamma(4.0, spend / 4)), 2)))
            day += int(rng.gamma(2.0, 1 / rate))
    log = pd.DataFrame(rows, columns=["customer_id", "day", "amount"])
    log["date"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(log.pop("day"), unit="D")
    return log.sample(frac=1, random_state=seed).reset_index(drop=True)  # unsorted


@pytest.mark.slow
def test_dask_fits_and_scores_them_as_in_memory():
    """The Dask engine builds litt, fits on histories unique in (x, t_x, T, litt) and scores
    partition by partition: the same model and the same scores as in memory."""
    import dask
    import dask.dataframe as dd

    from clvmodels import dask_engine

    log = regular_log()
    end = "2021-02-05"
    local = clvmodels.rfm_summary(log, amount="amount", observation_end=end, time_unit="W",
                                  statistics=["litt"])
    with dask.config.set(scheduler="synchronous"):
        rfm = dask_engine.rfm_summary(dd.from_pandas(log, npartitions=4), observation_end=end,
                                      time_unit="W", statistics=["litt"])
        pair = dask_engine.fit(rfm, time_unit="W", purchases="mbgcnbd")
        scores = dask_engine.score(pair, rfm).compute()
    expected = clvmodels.ModelPair.fit(local, purchases="mbgcnbd")
    assert pair.purchases.k_ == expected.purchases.k_ >= 2  # regular data: k above 1
    np.testing.assert_allclose(pair.purchases.params_, expected.purchases.params_, rtol=1e-6)
    scores = scores.set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(scores, expected.score(local).sort_index(), check_dtype=False,
                                  check_names=False, check_index_type=False, rtol=1e-6)
