"""The public conformance check of a model, in the spirit of scikit-learn's ``check_estimator``.

:func:`check_model` runs on a registered model (or an :class:`~clvmodels.models.registry.Entry`
of one being written) every check its capabilities call for, so that a new model which passes
works with every engine, prediction, file format and command (``docs/adding-a-model.md``):

``gradient``
    the gradient of ``loglik_grad`` against central differences of its value (a model
    without the ``analytic_gradient`` capability differentiates numerically itself: the
    check then keeps its two differences consistent);
``engines_agree``
    the PyTensor likelihood of the Bayesian engine against the numpy one (models with both
    engines);
``weights``
    a fit on rows with ``weights`` equals the fit on the rows repeated, and the order of the
    customers changes nothing;
``persistence``
    save, load and predict give identical numbers, and the file is the only one written;
``one_draw_posterior``
    the predictions, written once over parameter draws, give the same numbers from the
    maximum-likelihood estimate and from a posterior of one draw at it (both engines);
``intervals``
    a maximum-likelihood interval surrounds its own prediction, has width, and narrows with
    the mass;
``refusals``
    every prediction over parameter draws refuses an out-of-range ``interval=`` and
    ``max_draws=`` by name;
``time_unit``
    a purchase model refuses a frame that records no unit or another unit than its own.

The questions each kind of model answers are :data:`QUESTIONS` (``DISCRETE_QUESTIONS`` for a
model of discrete opportunities); a model's own further questions go in ``extra``.
"""

from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np
import pandas as pd

from .exceptions import DataError, DataQualityWarning
from .models.protocols import (PreparedData, PurchasePredictions, SpendPredictions,
                               Specification, members)
from .models.registry import MODELS, Entry

__all__ = ["CHECKS", "QUESTIONS", "DISCRETE_QUESTIONS", "applicable", "check_model",
           "example_frame"]

CHECKS = ("protocol", "gradient", "engines_agree", "weights", "persistence",
          "one_draw_posterior", "intervals", "refusals", "time_unit")

# what each kind of model is asked, as functions of (model, frame)
QUESTIONS = {
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
# a model of discrete opportunities (BG/BB) is asked at whole numbers of them
DISCRETE_QUESTIONS = {
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
# the prediction whose interval each kind is checked on, as a function of (model, frame, **k)
INTERVAL_QUESTION = {
    "purchases": lambda m, f, **k: m.probability_alive(f, **k),
    "spend": lambda m, f, **k: m.expected_spend(f, **k),
    "retention": lambda m, f, **k: m.expected_residual_lifetime(f, 0.1, **k),
}
# the predictions that take the options of every prediction over draws (``interval=``,
# ``max_draws=``), as functions of (model, frame, **options)
OPTION_QUESTIONS = {
    "purchases": {
        "expected_purchases": lambda m, f, **k: m.expected_purchases(f, 2, **k),
        "probability_alive": lambda m, f, **k: m.probability_alive(f, **k),
        "probability_alive_at": lambda m, f, **k: m.probability_alive_at(f, 2, **k),
        "probability_any_purchase": lambda m, f, **k: m.probability_any_purchase(f, 2, **k),
        "conditional_probability_of_purchases": lambda m, f, **k:
            m.conditional_probability_of_purchases(f, 1, 2, **k),
    },
    "spend": {"expected_spend": lambda m, f, **k: m.expected_spend(f, **k)},
    "retention": {"residual_lifetime": lambda m, f, **k:
                  m.expected_residual_lifetime(f, 0.1, **k)},
}
# a model sampled with every customer's latent variables (Pareto/GGG) answers these, fitted
# by its sampler at LATENT_SETTINGS (short chains: the checks are of behaviour, not accuracy)
LATENT_QUESTIONS = {name: QUESTIONS["purchases"][name] for name in (
    "expected_purchases", "expected_purchases_series", "expected_purchases_timedelta",
    "probability_alive", "probability_any_purchase", "probability_any_purchase_timedelta")}
LATENT_OPTION_QUESTIONS = {name: OPTION_QUESTIONS["purchases"][name] for name in (
    "expected_purchases", "probability_alive", "probability_any_purchase")}
LATENT_SETTINGS = dict(draws=60, tune=30, chains=2, customer_draws=20, customer_tune=20,
                       random_state=1)
# Fader & Hardie (2007), the high-end cohort: customers active after 0..7 years
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def entry_of_model(model) -> Entry:
    """The registry entry of a name (``"bgnbd"``) or an :class:`Entry` itself."""
    if isinstance(model, Entry):
        return model
    if isinstance(model, str) and model in MODELS:
        return MODELS[model]
    raise DataError(f"check_model takes a registered model's name ({sorted(MODELS)}) or a "
                    f"clvmodels.models.registry.Entry, not {model!r}")


def questions_for(entry: Entry, extra: dict | None = None) -> dict:
    """The questions ``entry``'s model is asked: its kind's (or a discrete model's), and
    ``extra``."""
    if "latent" in entry.capabilities:
        base = LATENT_QUESTIONS
    else:
        base = DISCRETE_QUESTIONS if "discrete" in entry.capabilities else QUESTIONS[entry.kind]
    return {**base, **(extra or {})}


def example_frame(entry: Entry, customers: int = 600) -> pd.DataFrame:
    """A frame ``entry``'s model can be fitted on: CDNOW's calibration weeks (the BG/NBD
    paper's 2,357 customers, first ``customers``; its repeat buyers for a spend model),
    simulated opportunities for a discrete model, the shuffled customers of a published cohort
    for a retention model; a model whose parameters those data do not identify gives its own
    (a classmethod ``example_frame(customers)`` of its specification)."""
    own = getattr(entry.spec, "example_frame", None)
    if callable(own):
        return own(customers)
    from . import calibration_holdout, load_cdnow, opportunity_summary, simulate_opportunities
    from .models.shifted_beta_geo import cohort_frame
    from .scoring import spend_fit_rows

    if entry.kind == "retention":
        cohort = cohort_frame(HIGH_END)
        rows = np.repeat(np.arange(len(cohort)), cohort["weights"].astype(int))
        frame = cohort.iloc[rows][["T", "churned"]].sample(frac=1, random_state=0)
        return frame.reset_index(drop=True)
    if "discrete" in entry.capabilities:
        tx = simulate_opportunities(customers, opportunities=8, seed=4)
        return opportunity_summary(tx, period="Y", observation_end=tx.attrs["observation_end"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        rfm = calibration_holdout(load_cdnow(), calibration_end="1997-09-30",
                                  observation_end="1998-06-30", time_unit="W",
                                  amount="amount",
                                  statistics=list(entry.statistics) or None).iloc[:customers]
    return spend_fit_rows(rfm) if entry.kind == "spend" else rfm


def _frames_equal(got, expected, name: str, rtol: float = 1e-12) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(expected), obj=name,
                                  rtol=rtol)


def check_gradient(entry, model, frame, extra) -> None:
    data = model.prepare(frame)
    for scale in (1.0, 1.7, 0.6):
        params = model.params_.to_numpy() * scale
        _, grad = model.loglik_grad(params, data)
        numeric = np.empty_like(params)
        for j in range(len(params)):
            step = np.zeros_like(params)
            step[j] = 1e-6 * params[j]
            numeric[j] = (model.loglik_grad(params + step, data)[0]
                          - model.loglik_grad(params - step, data)[0]) / (2 * step[j])
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4,
                                   err_msg=f"{entry.name}: gradient at {scale} x the estimate")


def bayesian_twin(entry, model):
    """An unfitted Bayesian model of ``entry`` at what the maximum-likelihood ``model``'s fit
    decided that the Bayesian constructor also takes (the regularity models' ``k``)."""
    decided = {fact: getattr(model, fact + "_") for fact in getattr(model, "facts", ())
               if fact in entry.bayesian.constructor_setting_names()}
    return entry.bayesian(**decided)


def check_engines_agree(entry, model, frame, extra) -> None:
    import pytensor
    import pytensor.tensor as pt

    from ._math import pytensor_namespace

    data = model.prepare(frame)
    theta = pt.dvector("theta")
    tensor = bayesian_twin(entry, model).loglik_tensor(
        {k: theta[i] for i, k in enumerate(model.parameter_names_)}, data, pytensor_namespace())
    evaluate = pytensor.function([theta], tensor)
    for scale in (1.0, 1.3, 0.7):
        params = model.params_.to_numpy() * scale
        numpy_value = model.loglik_grad(params, data)[0]
        assert np.isclose(evaluate(params), numpy_value, rtol=1e-10), (
            f"{entry.name}: PyTensor {evaluate(params)} and numpy {numpy_value} likelihoods "
            f"differ at {scale} x the estimate")


def check_weights(entry, model, frame, extra) -> None:
    frame = frame.iloc[:300]
    counts = np.arange(len(frame)) % 3 + 1
    repeated = frame.loc[frame.index.repeat(counts)].reset_index(drop=True)
    repeated.attrs = frame.attrs
    weighted = entry.mle().fit(frame.reset_index(drop=True), weights=counts)
    expanded = entry.mle().fit(repeated)
    np.testing.assert_allclose(weighted.params_, expanded.params_, rtol=1e-7,
                               err_msg=f"{entry.name}: weights against repeated rows")
    assert np.isclose(weighted.log_likelihood_, expanded.log_likelihood_, rtol=1e-10)
    shuffled = entry.mle().fit(frame.sample(frac=1, random_state=3))
    np.testing.assert_allclose(shuffled.params_, entry.mle().fit(frame).params_, rtol=1e-10,
                               err_msg=f"{entry.name}: the order of the customers")


def check_persistence(entry, model, frame, extra) -> None:
    from .models.registry import CLASSES
    from .persistence import check_format, load, read_model_json

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.json")
        model.save(path)
        if CLASSES.get(type(model).__name__) is type(model):
            loaded = load(path)  # through the registry, as a user loads it
        else:  # a model being written, not registered yet: its own class reads the file
            data = read_model_json(path)
            check_format(data)
            loaded = type(model).from_dict(data, folder)
        assert type(loaded) is type(model), f"{entry.name}: loaded a {type(loaded).__name__}"
        for name, ask in questions_for(entry, extra).items():
            _frames_equal(ask(loaded, frame), ask(model, frame), f"{entry.name}: {name}",
                          rtol=0)
        # a posterior is written beside the JSON, nothing else
        written = ["model.json"] + (["model.nc"] if getattr(model, "engine", None) == "bayes"
                                    else [])
        assert sorted(os.listdir(folder)) == written, os.listdir(folder)


def check_one_draw_posterior(entry, model, frame, extra) -> None:
    import arviz as az

    twin = bayesian_twin(entry, model)
    twin.idata_ = az.from_dict(posterior={k: np.array([[v]]) for k, v in model.params_.items()})
    twin.params_, twin.time_unit_, twin.n_customers_ = model.params_, model.time_unit_, 1
    for name, ask in questions_for(entry, extra).items():
        _frames_equal(ask(twin, frame), ask(model, frame), f"{entry.name}: {name}")


def check_intervals(entry, model, frame, extra) -> None:
    ask = INTERVAL_QUESTION[entry.kind]
    band = ask(model, frame, interval=0.9)
    np.testing.assert_allclose(band["mean"], ask(model, frame), rtol=1e-12)
    assert (band["lower"] <= band["mean"] + 1e-12).all(), f"{entry.name}: lower above mean"
    assert (band["mean"] <= band["upper"] + 1e-12).all(), f"{entry.name}: upper below mean"
    # a band of zero width would pass the lines above: every customer whose prediction moves
    # with the parameters gets one of some width (P(alive) is 1 for some histories whatever
    # the parameters), and the band narrows with the mass
    width = (band["upper"] - band["lower"]) / band["mean"].abs().clip(lower=1e-12)
    moving = (band["mean"].abs() > 1e-9) & ((band["mean"] - 1).abs() > 1e-9)
    assert (width[moving] > 1e-4).mean() > 0.99, f"{entry.name}: intervals without width"
    narrow = ask(model, frame, interval=0.5)
    wide, small = band["upper"] - band["lower"], narrow["upper"] - narrow["lower"]
    assert (small <= wide + 1e-12).all() and small.sum() < 0.8 * wide.sum(), (
        f"{entry.name}: a 50 % interval is not narrower than a 90 % one")


def check_refusals(entry, model, frame, extra) -> None:
    latent = "latent" in entry.capabilities
    for name, ask in (LATENT_OPTION_QUESTIONS if latent else OPTION_QUESTIONS[entry.kind]).items():
        if "discrete" in entry.capabilities and name in ("probability_alive_at",):
            continue
        for argument, value in (("interval", 1.5), ("interval", "94%"), ("interval", 0),
                                ("max_draws", 0), ("max_draws", 2.5)):
            try:
                ask(model, frame, **{argument: value})
            except DataError as err:
                assert f"{argument}=" in str(err), f"{entry.name}: {name} says {err}"
            else:
                raise AssertionError(f"{entry.name}: {name} accepted {argument}={value!r}")


def check_time_unit(entry, model, frame, extra) -> None:
    unit, name = ("Y", "years") if "discrete" in entry.capabilities else ("W", "weeks")
    bare = pd.DataFrame(frame)
    bare.attrs = {}  # as after a merge or a CSV round trip
    try:
        model.expected_purchases(bare, 10.0)
    except DataError as err:
        assert f"time_unit='{unit}'" in str(err), str(err)
    else:
        raise AssertionError(f"{entry.name}: a frame without its unit was predicted on")
    pd.testing.assert_series_equal(model.expected_purchases(bare, 10.0, time_unit=unit),
                                   model.expected_purchases(frame, 10.0))
    days = bare.copy()
    days.attrs["time_unit"] = "D"
    try:
        model.probability_alive(days)
    except DataError as err:
        assert f"fitted in {name} but this frame is in days" in str(err), str(err)
    else:
        raise AssertionError(f"{entry.name}: a frame in another unit was predicted on")


def check_protocol(entry, model, frame, extra) -> None:
    """Each engine's class follows the declared contracts (:mod:`clvmodels.models.protocols`):
    the specification the engines fit, and the predictions of its kind."""
    answers = {"purchases": PurchasePredictions, "spend": SpendPredictions}.get(entry.kind)
    for cls in (entry.mle, entry.bayesian):
        if cls is None:
            continue
        instance = cls()
        latent = "latent" in entry.capabilities  # no likelihood for the engines to fit
        missing = [name for name in members(Specification)
                   if not hasattr(instance, name) and not latent]
        assert not missing, f"{entry.name}: {cls.__name__} lacks {missing} of the specification"
        if answers is not None:
            lacking = [name for name in members(answers)
                       if not callable(getattr(instance, name, None))]
            assert not lacking, f"{entry.name}: {cls.__name__} does not answer {lacking}"
        if latent:
            continue
        if cls is entry.mle or entry.mle is None:
            data = instance.prepare(frame)
            assert isinstance(data, PreparedData), (
                f"{entry.name}: prepare gives a {type(data).__name__} without "
                f"{[n for n in members(PreparedData) if not hasattr(data, n)]}")
        assert getattr(cls, "kind", None) == entry.kind, (
            f"{entry.name}: {cls.__name__} is of kind {getattr(cls, 'kind', None)!r}, its "
            f"entry says {entry.kind!r}")


RUNNERS = {"protocol": check_protocol, "gradient": check_gradient, "engines_agree": check_engines_agree,
           "weights": check_weights, "persistence": check_persistence,
           "one_draw_posterior": check_one_draw_posterior, "intervals": check_intervals,
           "refusals": check_refusals, "time_unit": check_time_unit}


def applicable(entry: Entry) -> dict:
    """``{check: None}`` for the checks ``entry``'s capabilities call for, ``{check: reason}``
    for those that do not apply."""
    caps = entry.capabilities
    fitted = "mle" in caps or "latent" in caps  # what the checks below fit (fast)
    reasons = {
        "protocol": None,
        "gradient": None if "mle" in caps else "no maximum-likelihood engine",
        "engines_agree": None if {"mle", "bayes"} <= caps else "one engine",
        "weights": None if "mle" in caps else "no maximum-likelihood engine",
        "persistence": None if fitted else "no maximum-likelihood engine",
        "one_draw_posterior": None if {"mle", "bayes"} <= caps else "one engine",
        "intervals": None if fitted and "intervals" in caps else "no intervals",
        "refusals": None if fitted else "no maximum-likelihood engine",
        "time_unit": None if entry.kind == "purchases" and fitted
        else "not a purchase model",
    }
    return reasons


def check_model(model, frame: pd.DataFrame | None = None, *, checks=None,
                extra: dict | None = None) -> dict:
    """Run the conformance checks that ``model``'s capabilities call for.

    Parameters
    ----------
    model : str or clvmodels.models.registry.Entry
        A registered model's name (``"bgnbd"``), or the :class:`Entry` of a model being
        written (registered or not).
    frame : pandas.DataFrame, optional
        The data to fit and predict on (default :func:`example_frame` for the model's kind).
    checks : sequence of str, optional
        Some of :data:`CHECKS` (default: all that apply).
    extra : dict, optional
        The model's own further questions, ``{name: lambda model, frame: ...}``, asked in
        ``persistence``, ``one_draw_posterior`` and ``refusals``.

    Returns
    -------
    dict
        ``{check: "passed"}`` or ``{check: "skipped: <why>"}`` for each check.

    Raises
    ------
    AssertionError
        The first check that fails, with the model's name, the check and the numbers.

    Examples
    --------
    >>> from clvmodels.testing import check_model
    >>> check_model("bgnbd", checks=["weights", "persistence"])
    {'weights': 'passed', 'persistence': 'passed'}
    """
    entry = entry_of_model(model)
    chosen = list(CHECKS if checks is None else checks)
    unknown = [c for c in chosen if c not in RUNNERS]
    if unknown:
        raise DataError(f"unknown check(s) {unknown}: choose from {list(CHECKS)}")
    frame = example_frame(entry) if frame is None else frame
    reasons = applicable(entry)
    report = {}
    if "protocol" in chosen:  # before anything is fitted: the engines need the contract
        try:
            check_protocol(entry, None, frame, extra)
        except AssertionError as err:
            raise AssertionError(f"check_model({entry.name!r}): protocol failed: {err}") from err
        report["protocol"] = "passed"
    fitted = None
    if set(chosen) - {"protocol"}:
        if "mle" in entry.capabilities:
            fitted = entry.mle().fit(frame)
        elif "latent" in entry.capabilities:
            with warnings.catch_warnings():  # short chains: not converged, by design
                warnings.simplefilter("ignore", UserWarning)
                fitted = entry.bayesian(**LATENT_SETTINGS).fit(frame)
    for name in chosen:
        if name == "protocol":
            continue
        if reasons[name] is not None:
            report[name] = f"skipped: {reasons[name]}"
            continue
        try:
            RUNNERS[name](entry, fitted, frame, extra)
        except AssertionError as err:
            raise AssertionError(f"check_model({entry.name!r}): {name} failed: {err}") from err
        report[name] = "passed"
    return report
