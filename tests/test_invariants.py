"""Invariants that guard against silently wrong numbers, checked over many inputs (Hypothesis):
per-customer arguments are matched by customer label (reordering them changes nothing), every
model file loads back to the same predictions, weights equal repeated rows, ids survive CSV and
Parquet, and every prediction refuses an out-of-range argument by its name."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clvmodels
from clvmodels import DataError, ModelFormatError, metrics
from clvmodels.draws import row_means
from clvmodels.heuristics import hiatus_inactive
from clvmodels.models.shifted_beta_geo import simulate_subscriptions
from clvmodels.testing import LATENT_SETTINGS

FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def base():
    """A simulated base of 400 customers with covariates of every kind, in weeks."""
    customers = clvmodels.simulate_customers(400, seed=3)
    customers["member"] = customers.index % 3 == 0  # a boolean covariate
    tx = clvmodels.simulate_transactions(400, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        rfm = clvmodels.rfm_summary(tx, amount="amount", time_unit="W",
                                    observation_end=tx.attrs["observation_end"],
                                    customers=customers, statistics=["litt"])
    return rfm


@pytest.fixture(scope="module")
def bg(base):
    return clvmodels.BetaGeo().fit(base)


def shuffled(values, seed):
    return values.sample(frac=1.0, random_state=seed)


# -- per-customer arguments are matched by label ------------------------------------------------
@FAST
@given(seed=st.integers(0, 2**31 - 1))
def test_weights_in_any_order_fit_the_same(base, seed):
    histories = base.groupby(["frequency", "recency", "T"]).size().rename("n").reset_index()
    frame = histories[["frequency", "recency", "T"]]
    weights = histories["n"]
    expected = clvmodels.BetaGeo().fit(frame, weights=weights, time_unit="W").params_
    got = clvmodels.BetaGeo().fit(frame, weights=shuffled(weights, seed), time_unit="W").params_
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@FAST
@given(seed=st.integers(0, 2**31 - 1))
def test_a_horizon_per_customer_in_any_order_predicts_the_same(base, bg, seed):
    horizon = pd.Series(np.linspace(1, 104, len(base)), index=base.index)
    expected = bg.expected_purchases(base, horizon)
    got = bg.expected_purchases(base, shuffled(horizon, seed))
    pd.testing.assert_series_equal(got, expected)
    table = bg.purchase_interval(base.iloc[:50], shuffled(horizon.iloc[:50], seed), 0.8)
    pd.testing.assert_frame_equal(table, bg.purchase_interval(base.iloc[:50], horizon.iloc[:50],
                                                              0.8))


@FAST
@given(seed=st.integers(0, 2**31 - 1))
def test_segments_in_any_order_sum_the_same(base, bg, seed):
    segment = pd.Series(np.where(base["frequency"] > 1, "repeat", "few"), index=base.index,
                        name="segment")
    expected = clvmodels.total(bg.expected_purchases, base, 52, by=segment)
    got = clvmodels.total(bg.expected_purchases, base, 52, by=shuffled(segment, seed))
    pd.testing.assert_frame_equal(got, expected)
    by_column = clvmodels.total(bg.expected_purchases, base.assign(segment=segment), 52,
                                by="segment")
    np.testing.assert_allclose(by_column["mean"], expected["mean"], rtol=1e-12)


@FAST
@given(seed=st.integers(0, 2**31 - 1))
def test_a_customer_table_in_any_order_joins_the_same(base, seed):
    customers = base[["channel", "age"]]
    tx = clvmodels.simulate_transactions(60, seed=5)
    end = tx.attrs["observation_end"]
    table = pd.DataFrame({"channel": np.where(np.arange(60) % 2, "a", "b")}, index=range(60))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        expected = clvmodels.rfm_summary(tx, observation_end=end, customers=table)
        got = clvmodels.rfm_summary(tx, observation_end=end, customers=shuffled(table, seed))
    pd.testing.assert_frame_equal(got, expected)
    assert len(customers) == len(base)


@FAST
@given(seed=st.integers(0, 2**31 - 1))
def test_metrics_and_rules_pair_series_by_label(base, seed):
    predicted = base["frequency"] * 0.5
    actual = base["frequency"] + 1.0
    for metric in (metrics.mae, metrics.rmse, metrics.bias_pct, metrics.wape, metrics.spearman,
                   metrics.mape_buyers, metrics.top_decile_capture, metrics.gini):
        assert metric(predicted, shuffled(actual, seed)) == pytest.approx(
            metric(predicted, actual), rel=1e-12)
    assert np.array_equal(hiatus_inactive(base["recency"], shuffled(base["T"], seed), 20),
                          hiatus_inactive(base["recency"], base["T"], 20))


def test_mismatched_labels_are_refused_with_counts_and_first(base, bg):
    weights = pd.Series(1.0, index=base.index)
    with pytest.raises(DataError, match=r"weights= has no weight for 1 customer\(s\).*first: "):
        clvmodels.BetaGeo().fit(base, weights=weights.iloc[1:])
    extra = pd.concat([weights, pd.Series([1.0], index=[10**9])])
    with pytest.raises(DataError, match=r"1 label\(s\) that are not customers.*1000000000"):
        clvmodels.BetaGeo().fit(base, weights=extra)
    with pytest.raises(DataError, match=r"more than once"):
        clvmodels.BetaGeo().fit(base, weights=pd.concat([weights, weights.iloc[:1]]))
    with pytest.raises(DataError, match=r"t= has no horizon for 1 customer"):
        bg.expected_purchases(base, pd.Series(5.0, index=base.index).iloc[1:])
    with pytest.raises(DataError, match=r"must give one weight per customer \(400\)"):
        clvmodels.BetaGeo().fit(base, weights=np.ones(3))
    with pytest.raises(DataError, match=r"by= has no segment"):
        clvmodels.total(bg.expected_purchases, base, 52,
                        by=pd.Series("a", index=base.index).iloc[2:])
    with pytest.raises(DataError, match=r"actual= has no value"):
        metrics.mae(base["frequency"], base["frequency"].iloc[1:])


def test_a_pair_fitted_with_weights_weights_its_spend_model_too(base):
    weights = pd.Series(np.where(base.index % 2 == 0, 3.0, 1.0), index=base.index)
    pair = clvmodels.ModelPair.fit(base, weights=shuffled(weights, 1))
    repeated = base.loc[base.index.repeat(weights.astype(int))]
    repeated.index = np.arange(len(repeated))
    repeated.attrs.update(base.attrs)
    plain = clvmodels.ModelPair.fit(repeated)
    np.testing.assert_allclose(pair.purchases.params_, plain.purchases.params_, rtol=1e-6)
    np.testing.assert_allclose(pair.spend.params_, plain.spend.params_, rtol=1e-6)


# -- weights equal repeated rows ------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(counts=st.lists(st.integers(0, 4), min_size=30, max_size=30),
       model=st.sampled_from(["bgnbd", "mbgnbd", "pnbd"]))
def test_weights_equal_repeated_rows(counts, model):
    rng = np.random.default_rng(sum(counts))
    T = rng.uniform(20, 40, 30).round(1)
    frequency = rng.integers(0, 6, 30)
    recency = np.where(frequency > 0, (T * rng.uniform(0.1, 1, 30)).round(1), 0.0)
    frame = pd.DataFrame({"frequency": frequency, "recency": recency, "T": T})
    frame.attrs["time_unit"] = "W"
    weights = np.array(counts, dtype=float)
    if weights.sum() < 10 or (frequency[weights > 0] == 0).all():
        return
    cls = clvmodels.models.registry.MODELS[model].mle
    repeated = frame.loc[frame.index.repeat(weights.astype(int))].reset_index(drop=True)
    repeated.attrs["time_unit"] = "W"
    try:
        expected = cls(penalizer=0.01).fit(repeated).params_
    except clvmodels.ConvergenceError:
        return
    got = cls(penalizer=0.01).fit(frame, weights=weights).params_
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# -- ids survive CSV and Parquet -------------------------------------------------------------------
ID_TEXT = st.text(alphabet="0123456789abcXYZ-_ ", min_size=1, max_size=6).filter(
    lambda s: s.strip() == s and s != "")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.one_of(st.lists(ID_TEXT, min_size=2, max_size=8, unique=True),
                     st.lists(st.integers(0, 10**12), min_size=2, max_size=8, unique=True),
                     st.lists(st.sampled_from(["0000", "0001", "007", "7", "70", "-3", "+4"]),
                              min_size=2, max_size=7, unique=True)),
       kind=st.sampled_from(["csv", "parquet"]))
def test_ids_survive_csv_and_parquet(tmp_path_factory, ids, kind):
    folder = tmp_path_factory.mktemp("ids")
    as_text = [str(i) for i in ids]
    log = pd.DataFrame({"customer_id": as_text * 2,
                        "date": ["2024-01-05"] * len(ids) + ["2024-02-07"] * len(ids)})
    path = folder / f"log.{kind}"
    table_path = folder / f"customers.{kind}"
    customers = pd.DataFrame({"customer_id": as_text,
                              "channel": [f"c{k % 2}" for k in range(len(ids))]})
    if kind == "csv":
        log.to_csv(path, index=False)
        customers.to_csv(table_path, index=False)
    else:
        log.to_parquet(path)
        customers.to_parquet(table_path)
    rfm = clvmodels.rfm_summary(path, observation_end="2024-03-01", customers=table_path)
    in_memory = clvmodels.rfm_summary(log, observation_end="2024-03-01", customers=customers)
    # a file's ids are text unless all are plain integers; a DataFrame's text stays text
    assert sorted(map(str, rfm.index)) == sorted(map(str, in_memory.index))
    assert (rfm["frequency"].to_numpy() == 1).all()
    # text that is not a plain integer keeps every character; plain integers become numbers
    plain = all(t.lstrip("-").isdigit() and (t == "0" or not t.lstrip("-").startswith("0"))
                and not t.startswith("+") for t in as_text)
    expected = sorted(int(t) for t in as_text) if plain else sorted(as_text)
    assert list(rfm.index) == expected
    assert list(rfm["channel"]) == [customers.set_index("customer_id").loc[str(i), "channel"]
                                    for i in rfm.index]


# -- every model file loads back to the same predictions --------------------------------------
def fitted_models(base):
    """Every registered model fitted by maximum likelihood, with and without covariates of
    every kind (numeric, categorical, boolean), on data it can use."""
    out = []
    spend = base[base["frequency"] > 0]
    for name, entry in clvmodels.models.registry.MODELS.items():
        if name == "bgbb":
            log = clvmodels.simulate_opportunities(3000, seed=2)
            opp = clvmodels.opportunity_summary(log, period="Y",
                                                observation_end=log.attrs["observation_end"])
            out.append((name, entry.mle().fit(opp), opp))
        elif name == "sbg":
            subs = simulate_subscriptions(400, alpha=1.0, beta=2.0, periods=8, seed=1,
                                          customers=base[["channel", "age", "member"]])
            out.append((name, entry.mle().fit(subs), subs))
            out.append((name + "+cov", entry.mle(dropout_covariates=["channel", "age", "member"])
                        .fit(subs), subs))
        elif name == "gg":
            out.append((name, entry.mle().fit(spend), spend))
            out.append((name + "+cov", entry.mle(spend_covariates=["channel", "age"]).fit(spend),
                        spend))
        elif name == "ggomnbd":  # on a base with an ageing hazard, where b > 0 is identified
            aged = clvmodels.simulate_ggompertz(2000, seed=3)
            columns = base[["channel", "age", "member"]].reset_index(drop=True)
            aged = aged.join(pd.concat([columns] * 5, ignore_index=True).set_index(aged.index))
            aged.attrs["time_unit"] = "W"
            out.append((name, entry.mle().fit(aged), aged))
            out.append((name + "+cov", entry.mle(purchase_covariates=["channel", "age"],
                                                 dropout_covariates=["member"]).fit(aged), aged))
        elif "latent" in entry.capabilities:  # Pareto/GGG: its sampler, short chains
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out.append((name, entry.bayesian(**LATENT_SETTINGS).fit(base), base))
        elif "covariates" not in entry.capabilities:  # the regularity models
            out.append((name, entry.mle().fit(base), base))
        else:
            out.append((name, entry.mle().fit(base), base))
            covariates = {"purchase_covariates": ["channel", "age", "member"]}
            if "dropout" in entry.mle.covariate_links:
                covariates["dropout_covariates"] = ["member"]
            out.append((name + "+cov", entry.mle(**covariates).fit(base), base))
    return out


def predictions(model, frame):
    """Every prediction a model offers on ``frame``, as arrays."""
    if model.kind == "spend":
        return {"spend": model.expected_spend(frame).to_numpy()}
    if model.kind == "retention":
        out = {"derl": model.expected_residual_lifetime(frame, 0.1).to_numpy()}
        if model.covariates:
            out["survival"] = model.survival([1, 2, 5], customers=frame.iloc[:20][
                ["channel", "age", "member"]]).to_numpy()
        else:
            out["survival"] = model.survival([1, 2, 5]).to_numpy()
        return out
    return {"purchases": model.expected_purchases(frame, 10).to_numpy(),
            "alive": model.probability_alive(frame).to_numpy(),
            "interval": model.expected_purchases(frame.iloc[:30], 10, interval=0.9,
                                                 max_draws=50).to_numpy()}


def test_every_model_file_loads_back_to_the_same_predictions(base, tmp_path):
    for name, model, frame in fitted_models(base):
        path = tmp_path / f"{name}.json"
        model.save(path)
        loaded = clvmodels.load(path)
        assert type(loaded) is type(model) and list(loaded.parameter_names_) == list(model.parameter_names_)
        before, after = predictions(model, frame), predictions(loaded, frame)
        for key in before:
            np.testing.assert_array_equal(after[key], before[key], err_msg=f"{name}: {key}")


def test_every_model_gives_a_customer_alone_her_numbers_in_a_frame(base):
    """A customer's predictions do not depend on who else is in the frame, to the bit (series
    that stopped once every customer in the array had converged gave the regularity models'
    customers other last digits alone than in a frame)."""
    for name, model, frame in fitted_models(base):
        head = frame.iloc[:8]
        whole = predictions(model, head)
        for i in range(len(head)):
            alone = predictions(model, head.iloc[[i]])
            for key, values in whole.items():
                if len(values) == len(head):  # per customer (not the sBG's cohort survival)
                    np.testing.assert_array_equal(alone[key][0], values[i],
                                                  err_msg=f"{name}: {key}, customer {i}")


@FAST
@given(rows=st.integers(1, 40), draws=st.integers(1, 300), extra=st.integers(1, 3),
       draws_first=st.booleans(), seed=st.integers(0, 2 ** 32 - 1))
def test_a_customers_mean_over_draws_does_not_depend_on_the_other_rows(rows, draws, extra,
                                                                       draws_first, seed):
    """Every prediction is a mean over draws per customer: the same to the bit for a customer
    alone and in any frame, whatever the values' layout in memory (numpy's own mean adds in
    an order that depends on the shape and layout: 162 of 400 customers of a hierarchical
    Pareto/NBD differed in their last bit alone)."""
    rng = np.random.default_rng(seed)
    values = (rng.lognormal(size=(draws, rows, extra)).transpose(1, 0, 2) if draws_first
              else rng.lognormal(size=(rows, draws, extra)))
    means = row_means(values)
    for i in range(rows):
        np.testing.assert_array_equal(row_means(values[[i]])[0], means[i])
    np.testing.assert_allclose(means, values.mean(axis=1), rtol=1e-12)


def test_a_bayesian_model_file_loads_back_to_the_same_predictions(base, tmp_path):
    model = clvmodels.BayesianBetaGeo(method="map",
                                      purchase_covariates=["channel"]).fit(base)
    model.save(tmp_path / "b.json")
    loaded = clvmodels.load(tmp_path / "b.json")
    np.testing.assert_array_equal(loaded.expected_purchases(base, 10),
                                  model.expected_purchases(base, 10))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(levels=st.lists(st.text(min_size=1, max_size=8).filter(
    lambda s: "[" not in s and "]" not in s), min_size=2, max_size=4, unique=True))
def test_any_level_text_round_trips_through_a_model_file(base, tmp_path_factory, levels):
    frame = base.assign(segment=[levels[i % len(levels)] for i in range(len(base))])
    model = clvmodels.BetaGeo(penalizer=0.01, purchase_covariates=["segment"]).fit(frame)
    path = tmp_path_factory.mktemp("levels") / "m.json"
    model.save(path)
    loaded = clvmodels.load(path)
    new = pd.DataFrame({"segment": levels})
    np.testing.assert_array_equal(loaded.expected_purchases_new_customer(10, customers=new),
                                  model.expected_purchases_new_customer(10, customers=new))


def test_coefficient_names_are_unique_by_construction(base):
    frame = base.assign(**{"channel[search]": base["age"]})
    with pytest.raises(DataError, match=r"cannot contain '\[' or '\]'.*rename the column"):
        clvmodels.BetaGeo(purchase_covariates=["channel", "channel[search]"]).fit(frame)


@pytest.mark.parametrize("edit,message", [
    (lambda d: d["params"].update({"alpha:channel[search]": "0.1"}), r"is '0.1', not a finite"),
    (lambda d: d["params"].update({"alpha:channel[search]": 1e6}), r"from -50 to 50"),
    (lambda d: d["covariates"]["encodings"][0]["levels"].pop(),
     r"lacks parameter|not one of this model's"),
    (lambda d: d["covariates"]["encodings"][0].update(levels=["email", "email"]),
     r"damaged \(its kind, scale or levels\)"),
    (lambda d: d["covariates"]["encodings"][1].update(scale="2"), r"not a number"),
], ids=["text coefficient", "absurd coefficient", "level removed", "repeated level",
        "text scale"])
def test_an_edited_covariate_model_file_is_refused_by_parameter(base, tmp_path, edit, message):
    model = clvmodels.BetaGeo(purchase_covariates=["channel", "age"]).fit(base)
    model.save(tmp_path / "m.json")
    data = json.loads((tmp_path / "m.json").read_text())
    edit(data)
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match=message):
        clvmodels.load(tmp_path / "m.json")


def test_a_number_of_5000_digits_is_refused_at_load(bg, tmp_path):
    bg.save(tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text()
    data = json.loads(text)
    (tmp_path / "m.json").write_text(text.replace(repr(data["params"]["r"]), "9" * 5000, 1))
    with pytest.raises(ModelFormatError, match="not a model file"):
        clvmodels.load(tmp_path / "m.json")


# -- every prediction refuses out-of-range arguments by name ------------------------------------
BAD = [("interval", 0), ("interval", 1), ("interval", "94%"), ("interval", float("nan")),
       ("interval", True), ("max_draws", 0), ("max_draws", -5), ("max_draws", 2.5)]


@pytest.mark.parametrize("argument,value", BAD)
@pytest.mark.parametrize("prediction", ["expected_purchases", "probability_alive",
                                        "probability_alive_at", "probability_any_purchase",
                                        "conditional_probability_of_purchases"])
def test_every_prediction_refuses_an_out_of_range_option(base, bg, prediction, argument, value):
    method = getattr(bg, prediction)
    args = {"expected_purchases": (10,), "probability_alive": (), "probability_alive_at": (5,),
            "probability_any_purchase": (10,),
            "conditional_probability_of_purchases": (1, 10)}[prediction]
    with pytest.raises(DataError, match=f"{argument}= must be"):
        method(base, *args, **{argument: value})


@pytest.mark.parametrize("t", [-1, float("inf"), float("nan"), "ten", [1, -2]])
def test_every_horizon_is_checked(base, bg, t):
    with pytest.raises(DataError, match="horizon"):
        bg.expected_purchases(base, t)


@pytest.mark.parametrize("n", [-1, 1.5, float("inf"), float("nan"), "2", True])
def test_the_count_of_purchases_is_checked(base, bg, n):
    with pytest.raises(DataError, match="n= must be one whole number"):
        bg.conditional_probability_of_purchases(base, n, 10)


def test_a_total_over_chunks_takes_a_horizon_per_customer(base, bg, monkeypatch):
    """total() evaluates 10,000 customers at a time: a per-customer horizon goes with them."""
    import clvmodels.draws

    horizon = pd.Series(np.linspace(1, 104, len(base)), index=base.index)
    whole = clvmodels.total(bg.expected_purchases, base, horizon.sample(frac=1, random_state=2))
    monkeypatch.setattr(clvmodels.draws, "MAX_RETURNED_ROWS", 70)
    chunked = clvmodels.total(bg.expected_purchases, base, horizon.sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(chunked, whole)
    assert whole.loc["all", "mean"] == pytest.approx(bg.expected_purchases(base, horizon).sum(),
                                                     rel=1e-12)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_scores_file_scored_again_keeps_its_ids(tmp_path, kind):
    """Ids written with leading zeros survive a scores file read back as an RFM table (a
    Parquet file's text ids were cast to numbers: 00001 became 1)."""
    from clvmodels.batch import score_file

    tx = clvmodels.simulate_transactions(300, seed=4)
    tx["customer_id"] = tx["customer_id"].map(lambda i: f"{i:05d}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        rfm = clvmodels.rfm_summary(tx, amount="amount", time_unit="W",
                                    observation_end=tx.attrs["observation_end"])
    pair = clvmodels.ModelPair.fit(rfm)
    first, second = tmp_path / f"s.{kind}", tmp_path / f"again.{kind}"
    rfm.reset_index().to_parquet(tmp_path / "rfm.parquet")
    score_file(pair, first, rfm=tmp_path / "rfm.parquet", quiet=True)
    score_file(pair, second, rfm=first, time_unit="W", quiet=True)
    read = (lambda p: pd.read_csv(p, dtype={"customer_id": str}) if kind == "csv"
            else pd.read_parquet(p))
    once, twice = read(first), read(second)
    assert list(twice["customer_id"]) == list(once["customer_id"]) == list(rfm.index)
    np.testing.assert_allclose(twice["clv"], once["clv"], rtol=1e-12)


def test_scoring_compresses_on_what_the_model_declares(base):
    """ModelPair.score evaluates the purchase model once per unique row of the statistics the
    model declares (its ``columns``), not of (frequency, recency, T): a model that reads one
    more statistic (the regularity models' ``litt``) gets each customer's own answer."""
    class ReadsLitt(clvmodels.BetaGeo):
        columns = ("frequency", "recency", "T", "litt")

        def expected_purchases(self, rfm, t, **options):
            return super().expected_purchases(rfm, t, **options) * np.exp(rfm["litt"])

    frame = pd.concat([base.iloc[:3]] * 2).drop(columns="litt")
    frame.index = range(6)
    frame["litt"] = [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]  # the same histories, other regularity
    frame.attrs.update(base.attrs)
    model = ReadsLitt().fit(base)
    pair = clvmodels.ModelPair(model, clvmodels.GammaGamma().fit(base))
    scores = pair.score(frame)
    np.testing.assert_allclose(scores["expected_purchases"].to_numpy(),
                               model.expected_purchases(frame, 12 * 365.25 / 12 / 7).to_numpy(),
                               rtol=1e-12)
    assert scores["expected_purchases"].iloc[3] != scores["expected_purchases"].iloc[0]
