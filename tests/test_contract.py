"""The model contract, checked on every registered model by the public conformance check,
:func:`clvmodels.testing.check_model`: a new model that passes works with every engine,
prediction, file format and command (docs/adding-a-model.md)."""

import os

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import DataError
from clvmodels.models import MODELS
from clvmodels.models.registry import Entry
from clvmodels.testing import CHECKS, applicable, check_model

ENTRIES = list(MODELS.values())
IDS = [entry.name for entry in ENTRIES]
# what a model is asked beyond its kind's questions
EXTRA = {
    "pnbd": {
        "dert": lambda m, f: m.discounted_expected_residual_transactions(f, 0.0027),
    },
    "cpnbd": {
        "dert": lambda m, f: m.discounted_expected_residual_transactions(f, 0.0027),
    },
}


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_registered_model_passes_check_model(entry):
    report = check_model(entry.name, extra=EXTRA.get(entry.name))
    assert set(report) == set(CHECKS)
    skipped = {k for k, v in report.items() if v.startswith("skipped")}
    # the unit check is for purchase models; the engines' agreement for models with both
    expected = set() if entry.kind == "purchases" else {"time_unit"}
    if "bayes" not in entry.capabilities:
        expected |= {"engines_agree", "one_draw_posterior"}
    if "latent" in entry.capabilities:  # a sampler of latent variables alone (Pareto/GGG):
        # no likelihood to differentiate or weight, no second engine
        expected |= {"gradient", "weights", "engines_agree", "one_draw_posterior"}
    assert skipped == expected, report


def test_capabilities_decide_which_checks_run():
    """A model with one engine is a first-class citizen: its entry is valid, the checks that
    need the other engine are skipped with the reason, and the registry lists no pair of an
    engine it lacks."""
    mle_only = Entry("bgnbd_mle_only", "purchases", clvmodels.BetaGeo, None, "BG/NBD")
    assert "bayes" not in mle_only.capabilities and "mle" in mle_only.capabilities
    reasons = applicable(mle_only)
    assert reasons["engines_agree"] == reasons["one_draw_posterior"] == "one engine"
    assert reasons["weights"] is None
    report = check_model(mle_only, checks=["weights", "engines_agree"])
    assert report == {"weights": "passed", "engines_agree": "skipped: one engine"}
    with pytest.raises(TypeError, match="at least one engine"):
        Entry("none", "purchases", None, None, "nothing")
    with pytest.raises(DataError, match="unknown check"):
        check_model("bgnbd", checks=["nonsense"])
    with pytest.raises(DataError, match="registered model's name"):
        check_model("nope")


def test_check_model_catches_a_broken_model():
    """The check is not a formality: a model whose saved file loses a digit, or whose interval
    has no width, fails it, naming the model and the check."""
    class Rounded(clvmodels.BetaGeo):
        def to_dict(self):
            data = super().to_dict()
            data["model"] = "BetaGeo"
            data["params"] = {k: round(v, 3) for k, v in data["params"].items()}
            return data

    broken = Entry("rounded", "purchases", Rounded, clvmodels.BayesianBetaGeo, "rounded")
    with pytest.raises(AssertionError, match=r"check_model\('rounded'\): persistence failed"):
        check_model(broken, checks=["persistence"])

    class NoWidth(clvmodels.BetaGeo):
        def parameter_draws(self, max_draws=None, interval=None):
            draws = super().parameter_draws(max_draws, interval)
            return draws.like(np.repeat(p[:, :1], p.shape[1], axis=1) for p in draws)

    flat = Entry("flat", "purchases", NoWidth, clvmodels.BayesianBetaGeo, "flat")
    with pytest.raises(AssertionError, match="intervals failed: .*without width"):
        check_model(flat, checks=["intervals"])


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


def test_fit_settings_are_one_typed_object_and_fits_do_not_leak_them():
    """The engine reads a specification's FitOptions (no attributes looked up one by one), and
    a fit's options are a fresh dict: a model that stops L-BFGS-B early cannot change how the
    next model in the process is fitted."""
    from clvmodels.models import base
    from clvmodels.models.options import FitOptions
    from clvmodels.testing import example_frame

    frame = example_frame(MODELS["bgnbd"])
    before = clvmodels.BetaGeo().fit(frame).params_

    class Early(clvmodels.BetaGeo):
        fit_options = FitOptions(lbfgs_gtol=1e-5, newton_steps=0)

    early = Early().fit(frame)
    assert base.DEFAULT_FIT_OPTIONS == FitOptions()
    assert base.DEFAULT_FIT_OPTIONS.lbfgs_options(False)["gtol"] == 1e-7
    after = clvmodels.BetaGeo().fit(frame).params_
    np.testing.assert_array_equal(after, before)
    assert not np.allclose(early.params_, before, rtol=1e-9)  # the settings were used


def test_a_model_file_keeps_every_constructor_setting(tmp_path):
    """A model file rebuilds the model from all its constructor's settings (scikit-learn's
    get_params), not from the penalizer alone, so a model with a setting of its own (the
    regularity models' k) round-trips; settings a model does not take are refused."""
    import json

    from clvmodels.models import registry
    from clvmodels.testing import example_frame

    class Shifted(clvmodels.BetaGeo):
        def __init__(self, penalizer=0.0, shift=0.0, **covariates):
            super().__init__(penalizer, **covariates)
            self.shift = shift

    frame = example_frame(MODELS["bgnbd"])
    model = Shifted(penalizer=0.001, shift=2.5).fit(frame)
    # its own settings and, through **covariates, the engine's
    own = {"penalizer": 0.001, "shift": 2.5, "covariate_penalty": {}, "shared_covariates": ()}
    assert model.constructor_settings() == own
    data = model.to_dict()
    assert data["settings"] == own
    rebuilt = Shifted.from_dict(json.loads(json.dumps(data)))
    assert rebuilt.shift == 2.5 and rebuilt.penalizer == 0.001
    data["settings"]["k"] = 3
    with pytest.raises(clvmodels.ModelFormatError, match=r"settings \['k'\] are not this model's"):
        Shifted.from_dict(data)
    del data["settings"]  # a file of release 0.1.0: the penalizer alone
    assert Shifted.from_dict(data).penalizer == 0.001
    assert registry.CLASSES["BetaGeo"].constructor_setting_names() == (
        "penalizer", "covariate_penalty", "shared_covariates")


def test_the_protocol_check_names_what_a_model_lacks():
    """A class that does not follow the declared specification fails check_model's first
    check, naming what it lacks."""
    def missing(self):
        raise AttributeError("loglik_grad")

    class NoGradient(clvmodels.BetaGeo):
        loglik_grad = property(missing)  # the engines could not fit it

    entry = Entry("broken", "purchases", NoGradient, None, "broken")
    with pytest.raises(AssertionError, match=r"protocol failed: .*lacks \['loglik_grad'\]"):
        check_model(entry, checks=["protocol"])
    mislabelled = Entry("spendy", "spend", clvmodels.BetaGeo, None, "spendy")
    with pytest.raises(AssertionError, match="does not answer"):
        check_model(mislabelled, checks=["protocol"])
