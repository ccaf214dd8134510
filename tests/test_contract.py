"""The model contract, checked on every registered model: a new model that passes these works
with every engine, prediction, file format and command (docs/adding-a-model.md)."""

import os

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import DataError
from clvmodels._math import pytensor_namespace
from clvmodels.models import MODELS
from clvmodels.scoring import spend_fit_rows

ENTRIES = list(MODELS.values())
IDS = [entry.name for entry in ENTRIES]

# what each kind of model is asked, with the frame it is asked about
PREDICTIONS = {
    "purchases": {
        "expected_purchases": lambda m, f: m.expected_purchases(f, 10.0),
        "expected_purchases_series": lambda m, f: m.expected_purchases(
            f, pd.Series(np.linspace(1, 30, len(f)), index=f.index)),
        "expected_purchases_timedelta": lambda m, f: m.expected_purchases(
            f, pd.Timedelta(weeks=4)),
        "probability_alive": lambda m, f: m.probability_alive(f),
        "probability_alive_at": lambda m, f: m.probability_alive_at(f, 13.0),
        "conditional_probability_of_purchases": lambda m, f:
            m.conditional_probability_of_purchases(f, 1, 10.0),
        "probability_any_purchase": lambda m, f: m.probability_any_purchase(f, 5.0),
        "probability_any_purchase_timedelta": lambda m, f: m.probability_any_purchase(
            f, pd.Timedelta(weeks=4)),
        "new_customer": lambda m, f: pd.Series(np.atleast_1d(
            m.expected_purchases_new_customer([1.0, 10.0]))),
        "probability_of_purchases": lambda m, f: pd.Series(np.atleast_1d(
            m.probability_of_purchases([0, 1, 2], pd.Timedelta(weeks=4)))),
        "path": lambda m, f: m.expected_purchases_path(f, [1.0, pd.Timedelta(weeks=10)]),
    },
    "spend": {
        "expected_spend": lambda m, f: m.expected_spend(f),
    },
    "retention": {
        "survival": lambda m, f: m.survival([0, 1, 5, 12]),
        "retention_rate": lambda m, f: m.retention_rate([1, 2, 10]),
        "residual_lifetime": lambda m, f: m.expected_residual_lifetime(f, 0.1),
        "lifetime": lambda m, f: pd.Series([m.discounted_expected_lifetime(0.1)]),
    },
}
# what a model is asked beyond its kind's questions
EXTRA = {
    "pnbd": {
        "dert": lambda m, f: m.discounted_expected_residual_transactions(f, 0.0027),
    },
}


# a model of discrete opportunities (BG/BB) is asked at whole numbers of them
DISCRETE = {
    "expected_purchases": lambda m, f: m.expected_purchases(f, 3),
    "expected_purchases_series": lambda m, f: m.expected_purchases(
        f, pd.Series(np.arange(len(f)) % 5, index=f.index)),
    "probability_alive": lambda m, f: m.probability_alive(f),
    "probability_any_purchase": lambda m, f: m.probability_any_purchase(f, 2),
    "new_customer": lambda m, f: pd.Series(np.atleast_1d(
        m.expected_purchases_new_customer([1, 10]))),
    "probability_of_purchases": lambda m, f: pd.Series(np.atleast_1d(
        m.probability_of_purchases([0, 1, 2], 4))),
    "path": lambda m, f: m.expected_purchases_path(f, [1, 4]),
    "probability_alive_at": lambda m, f: m.probability_alive_at(f, 2),
    "conditional_probability_of_purchases": lambda m, f:
        m.conditional_probability_of_purchases(f, 1, 3),
    "dert": lambda m, f: m.discounted_expected_residual_transactions(f, 0.1),
}


def predictions_for(entry) -> dict:
    if getattr(entry.mle, "discrete", False):
        return DISCRETE
    return {**PREDICTIONS[entry.kind], **EXTRA.get(entry.name, {})}


# Fader & Hardie (2007), the high-end cohort: customers active after 0..7 years, one row each
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def frame_for(entry, cdnow_calibration):
    if entry.kind == "retention":
        from clvmodels.models.shifted_beta_geo import cohort_frame

        cohort = cohort_frame(HIGH_END)
        rows = np.repeat(np.arange(len(cohort)), cohort["weights"].astype(int))
        frame = cohort.iloc[rows][["T", "churned"]].sample(frac=1, random_state=0)
        return frame.reset_index(drop=True)  # shuffled: any slice has every kind of customer
    if getattr(entry.mle, "discrete", False):
        tx = clvmodels.simulate_opportunities(600, opportunities=8, seed=4)
        return clvmodels.opportunity_summary(tx, period="Y",
                                             observation_end=tx.attrs["observation_end"])
    rfm = cdnow_calibration.iloc[:600]
    return spend_fit_rows(rfm) if entry.kind == "spend" else rfm


@pytest.fixture(scope="module")
def fits(cdnow_calibration):
    return {entry.name: entry.mle().fit(frame_for(entry, cdnow_calibration)) for entry in ENTRIES}


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_analytic_gradient_matches_finite_differences(entry, cdnow_calibration, fits):
    model = fits[entry.name]
    data = model.prepare(frame_for(entry, cdnow_calibration))
    for scale in (1.0, 1.7, 0.6):
        params = model.params_.to_numpy() * scale
        _, grad = model.loglik_grad(params, data)
        numeric = np.empty_like(params)
        for j in range(len(params)):
            step = np.zeros_like(params)
            step[j] = 1e-6 * params[j]
            numeric[j] = (model.loglik_grad(params + step, data)[0]
                          - model.loglik_grad(params - step, data)[0]) / (2 * step[j])
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)  # ~0 at the optimum


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_numpy_and_pytensor_likelihoods_agree(entry, cdnow_calibration, fits):
    import pytensor
    import pytensor.tensor as pt

    model = fits[entry.name]
    data = model.prepare(frame_for(entry, cdnow_calibration))
    theta = pt.dvector("theta")
    tensor = model.loglik_tensor({k: theta[i] for i, k in enumerate(model.param_names)}, data,
                                 pytensor_namespace())
    evaluate = pytensor.function([theta], tensor)
    for scale in (1.0, 1.3, 0.7):
        params = model.params_.to_numpy() * scale
        assert evaluate(params) == pytest.approx(model.loglik_grad(params, data)[0], rel=1e-10)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_weights_equal_repeated_rows_and_order_does_not_matter(entry, cdnow_calibration, fits):
    frame = frame_for(entry, cdnow_calibration).iloc[:300]
    counts = np.arange(len(frame)) % 3 + 1
    repeated = frame.loc[frame.index.repeat(counts)].reset_index(drop=True)
    repeated.attrs = frame.attrs
    weighted = entry.mle().fit(frame.reset_index(drop=True), weights=counts)
    expanded = entry.mle().fit(repeated)
    np.testing.assert_allclose(weighted.params_, expanded.params_, rtol=1e-7)
    assert weighted.log_likelihood_ == pytest.approx(expanded.log_likelihood_, rel=1e-10)
    shuffled = entry.mle().fit(frame.sample(frac=1, random_state=3))
    np.testing.assert_allclose(shuffled.params_, entry.mle().fit(frame).params_, rtol=1e-10)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_save_and_load_give_the_same_predictions(entry, cdnow_calibration, fits, tmp_path):
    model = fits[entry.name]
    frame = frame_for(entry, cdnow_calibration)
    path = tmp_path / "model.json"
    model.save(path)
    loaded = clvmodels.load(path)
    assert type(loaded) is type(model)
    for name, ask in predictions_for(entry).items():
        pd.testing.assert_frame_equal(pd.DataFrame(ask(loaded, frame)),
                                      pd.DataFrame(ask(model, frame)), obj=name)
    assert sorted(os.listdir(tmp_path)) == ["model.json"]


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.kind == "purchases"],
                         ids=[e.name for e in ENTRIES if e.kind == "purchases"])
def test_a_frame_without_its_unit_is_refused(entry, cdnow_calibration, fits):
    model = fits[entry.name]
    frame = frame_for(entry, cdnow_calibration)
    unit, name = ("Y", "years") if getattr(entry.mle, "discrete", False) else ("W", "weeks")
    bare = pd.DataFrame(frame)
    bare.attrs = {}  # as after a merge or a CSV round trip
    with pytest.raises(DataError, match=rf"records no time unit .* give time_unit='{unit}'"):
        model.expected_purchases(bare, 10.0)
    pd.testing.assert_series_equal(model.expected_purchases(bare, 10.0, time_unit=unit),
                                   model.expected_purchases(frame, 10.0))
    days = bare.copy()
    days.attrs["time_unit"] = "D"
    with pytest.raises(DataError, match=f"fitted in {name} but this frame is in days"):
        model.probability_alive(days)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_the_mle_is_a_one_draw_posterior(entry, cdnow_calibration, fits):
    """Predictions are written once over draws: the Bayesian twin holding one draw at the
    estimate predicts exactly what the maximum-likelihood model does."""
    import arviz as az

    model = fits[entry.name]
    frame = frame_for(entry, cdnow_calibration)
    twin = entry.bayesian()
    twin.idata_ = az.from_dict(posterior={k: np.array([[v]]) for k, v in model.params_.items()})
    twin.params_, twin.time_unit_, twin.n_customers_ = model.params_, model.time_unit_, 1
    for name, ask in predictions_for(entry).items():
        pd.testing.assert_frame_equal(pd.DataFrame(ask(twin, frame)),
                                      pd.DataFrame(ask(model, frame)), obj=name, rtol=1e-12)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_the_mle_gives_intervals_around_its_own_prediction(entry, cdnow_calibration, fits):
    ask = {"purchases": lambda m, f, **k: m.probability_alive(f, **k),
           "spend": lambda m, f, **k: m.expected_spend(f, **k),
           "retention": lambda m, f, **k: m.expected_residual_lifetime(f, 0.1, **k)}[entry.kind]
    model, frame = fits[entry.name], frame_for(entry, cdnow_calibration)
    band = ask(model, frame, interval=0.9)
    np.testing.assert_allclose(band["mean"], ask(model, frame), rtol=1e-12)
    assert (band["lower"] <= band["mean"] + 1e-12).all()
    assert (band["mean"] <= band["upper"] + 1e-12).all()
    # an interval of zero width would pass the lines above: the estimate is uncertain, so
    # every customer whose prediction moves with the parameters gets a band of some width
    # (relative width above 1e-4), and the band narrows with the mass; P(alive) is 1 whatever
    # the parameters for some histories (BG/NBD's one-time buyers)
    width = (band["upper"] - band["lower"]) / band["mean"].abs().clip(lower=1e-12)
    moving = (band["mean"].abs() > 1e-9) & ((band["mean"] - 1).abs() > 1e-9)
    assert (width[moving] > 1e-4).mean() > 0.99
    narrow = ask(model, frame, interval=0.5)
    assert ((narrow["upper"] - narrow["lower"]) <= (band["upper"] - band["lower"]) + 1e-12).all()
    assert ((narrow["upper"] - narrow["lower"]).sum()
            < 0.8 * (band["upper"] - band["lower"]).sum())


def test_a_release_0_1_0_model_file_predicts_the_same(cdnow_calibration):
    """tests/fixtures/model-0.1.0.json was written by release 0.1.0 (commit d24265a) with the
    scores beside it: this release reads it and scores the same customers the same."""
    folder = os.path.join(os.path.dirname(__file__), "fixtures")
    pair = clvmodels.load(os.path.join(folder, "model-0.1.0.json"))
    expected = pd.read_csv(os.path.join(folder, "scores-0.1.0.csv"), index_col="customer_id")
    rfm = cdnow_calibration.loc[expected.index]
    got = pair.score(rfm, horizon=12, discount_rate=0.01)
    got["expected_purchases_39w"] = pair.purchases.expected_purchases(rfm, 39.0)
    pd.testing.assert_frame_equal(got[expected.columns], expected, rtol=1e-12,
                                  check_dtype=False, check_index_type=False)
