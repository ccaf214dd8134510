"""Saving and loading fitted models as plain JSON with a format version; nothing is pickled."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd

from .exceptions import DataError, ModelFormatError
from .files import check_input_file, write_atomic, write_json_atomic
from .models import BayesianBetaGeo, BayesianGammaGamma, BetaGeo, GammaGamma
from .units import DAYS_PER_UNIT

FORMAT = "clvmodels.model"
FORMAT_VERSION = 1
PAIR = "ModelPair"  # a purchase model and a spend model in one file
MODELS = {cls.__name__: cls for cls in (BetaGeo, GammaGamma)}
BAYESIAN_MODELS = {cls.__name__: cls for cls in (BayesianBetaGeo, BayesianGammaGamma)}
BAYESIAN_SETTINGS = ("priors", "draws", "tune", "chains", "method", "sampler", "target_accept",
                     "random_state", "init", "advi_iterations")
MAX_MODEL_FILE_BYTES = 16 * 2**20  # a model file is metadata and a few numbers: 16 MiB is absurd
ROLES = {"purchases": (BetaGeo, BayesianBetaGeo), "spend": (GammaGamma, BayesianGammaGamma)}


def _number(value: float):
    return None if math.isnan(value) else float(value)


def model_to_dict(model) -> dict:
    """The plain-data form of a fitted model."""
    model._check_fitted()
    extra = {"n_zero_frequency": model.n_zero_frequency_} if hasattr(model, "n_zero_frequency_") else {}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": type(model).__name__,
        "penalizer": model.penalizer,
        "time_unit": model.time_unit_,
        "params": {k: float(v) for k, v in model.params_.items()},
        "covariance": [[_number(v) for v in row] for row in model.covariance_.to_numpy()],
        "log_likelihood": model.log_likelihood_,
        "n_customers": model.n_customers_,
        **extra,
    }


def check_format(data) -> None:
    """ModelFormatError unless ``data`` is a clvmodels model of the version this code reads."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFormatError("not a clvmodels model file (its 'format' is not 'clvmodels.model')")
    if data.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(
            f"model file format version {data.get('format_version')!r} is not supported by this "
            f"clvmodels (it reads version {FORMAT_VERSION}); refit or upgrade clvmodels"
        )


def model_from_dict(data: dict):
    """Rebuild a fitted model from :func:`model_to_dict` output; ModelFormatError if it is not one."""
    check_format(data)
    cls = MODELS.get(data.get("model"))
    if cls is None:
        known = sorted(MODELS) + sorted(BAYESIAN_MODELS)
        raise ModelFormatError(f"unknown model {data.get('model')!r}; known: {known}")
    try:
        model = cls(penalizer=data["penalizer"])
        names = list(cls.param_names)
        model.params_ = pd.Series([float(data["params"][k]) for k in names], index=names)
        cov = np.array([[np.nan if v is None else v for v in row] for row in data["covariance"]],
                       dtype=float)
        model.covariance_ = pd.DataFrame(cov.reshape(len(names), len(names)), index=names,
                                         columns=names)
        model.log_likelihood_ = float(data["log_likelihood"])
        model.n_customers_ = int(data["n_customers"])
        model.time_unit_ = data["time_unit"]
        if "n_zero_frequency" in data:
            model.n_zero_frequency_ = int(data["n_zero_frequency"])
        if not (np.isfinite(model.penalizer) and model.penalizer >= 0):
            raise ValueError(f"penalizer {model.penalizer!r} is not a number >= 0")
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ModelFormatError(f"the {cls.__name__} model file is incomplete or damaged: {err!r}") from err
    _check_loaded(model)
    return model


def _check_loaded(model) -> None:
    """A loaded model is checked like a fitted one: parameters finite and > 0, a known unit."""
    name = type(model).__name__
    if model.time_unit_ not in DAYS_PER_UNIT:
        raise ModelFormatError(f"the {name} model file has an unknown time unit "
                               f"{model.time_unit_!r}; it is damaged: refit the model")
    problem = model.parameter_problem()
    if problem:
        raise ModelFormatError(f"the {name} model file is damaged or was edited: {problem}. "
                               "Refit the model")
    if model.n_customers_ < 0:
        raise ModelFormatError(f"the {name} model file has a negative customer count; refit")


def bayesian_to_dict(model, posterior_file: str) -> dict:
    model._check_fitted()
    settings = {k: getattr(model, k) for k in BAYESIAN_SETTINGS}
    if settings["priors"] is not None:
        settings["priors"] = {k: list(v) for k, v in settings["priors"].items()}
    extra = {"n_zero_frequency": model.n_zero_frequency_} if hasattr(model, "n_zero_frequency_") else {}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": type(model).__name__,
        "settings": settings,
        "time_unit": model.time_unit_,
        "n_customers": model.n_customers_,
        "prior": {k: list(v) for k, v in model.prior_.items()},
        "posterior_file": posterior_file,
        **extra,
    }


def bayesian_from_dict(data: dict, folder: str):
    import arviz as az

    cls = BAYESIAN_MODELS[data["model"]]
    try:
        unknown = set(data["settings"]) - set(BAYESIAN_SETTINGS)
        if unknown:
            raise KeyError(f"unknown settings {sorted(unknown)}")
        model = cls(**data["settings"])
        path = os.path.join(folder, os.path.basename(data["posterior_file"]))
        if not os.path.exists(path):
            raise ModelFormatError(f"the posterior file {path!r} named in the model file is missing")
        idata = az.from_netcdf(path)
        for group in idata.groups():
            getattr(idata, group).load()  # read it all now: no file left open
        model.idata_ = idata
        model.time_unit_ = data["time_unit"]
        model.n_customers_ = int(data["n_customers"])
        model.prior_ = {k: tuple(v) for k, v in data["prior"].items()}
        model.params_ = pd.Series([float(idata.posterior[k].mean()) for k in cls.param_names],
                                  index=list(cls.param_names))
        if "n_zero_frequency" in data:
            model.n_zero_frequency_ = int(data["n_zero_frequency"])
    except ModelFormatError:
        raise
    except Exception as err:  # noqa: BLE001 - whatever a damaged netCDF file raises
        raise ModelFormatError(f"the {cls.__name__} model file or its posterior file is "
                               f"incomplete or damaged: {err!r}") from err
    _check_loaded(model)
    return model


def save(model, path) -> None:
    """Save a fitted model as JSON; a Bayesian model's posterior goes to ``<name>.nc`` beside it."""
    if type(model).__name__ in BAYESIAN_MODELS:
        model._check_fitted()
        base = os.path.splitext(os.fspath(path))[0] + ".nc"
        write_atomic(base, lambda tmp: model.idata_.to_netcdf(tmp))
        write_json_atomic(bayesian_to_dict(model, os.path.basename(base)), path)
    else:
        write_json_atomic(model_to_dict(model), path)


def save_pair(pair, path) -> None:
    """Save a ModelPair as one JSON file; Bayesian posteriors go to ``<name>.purchases.nc`` and
    ``<name>.spend.nc`` beside it."""
    stem = os.path.splitext(os.fspath(path))[0]
    parts = {}
    for role in ("purchases", "spend"):
        model = getattr(pair, role)
        if type(model).__name__ in BAYESIAN_MODELS:
            model._check_fitted()
            posterior = f"{stem}.{role}.nc"
            write_atomic(posterior, model.idata_.to_netcdf)
            parts[role] = bayesian_to_dict(model, os.path.basename(posterior))
        else:
            parts[role] = model_to_dict(model)
    write_json_atomic({"format": FORMAT, "format_version": FORMAT_VERSION, "model": PAIR, **parts},
                      path)


def _from_dict(data, folder, role=None):
    if not isinstance(data, dict):
        raise ModelFormatError("not a clvmodels model file (it holds no JSON object)")
    if data.get("model") == PAIR:
        from .scoring import ModelPair

        check_format(data)
        models = []
        for part in ("purchases", "spend"):
            if part not in data:
                raise ModelFormatError(f"the model pair file has no {part!r} model")
            models.append(_from_dict(data[part], folder, part))
        return ModelPair(*models)
    check_format(data)
    if role is not None and data.get("model") not in {c.__name__ for c in ROLES[role]}:
        raise ModelFormatError(
            f"the {role!r} model of this pair file is a {data.get('model')!r}, which is not a "
            f"{role} model (expected one of {[c.__name__ for c in ROLES[role]]}); the file was "
            "edited or assembled by hand: refit with 'clvmodels fit'")
    if data.get("model") in BAYESIAN_MODELS:
        return bayesian_from_dict(data, folder)
    return model_from_dict(data)


def read_model_json(path) -> dict:
    """The JSON object of a model file, read safely: a ModelFormatError (never another
    exception) for a missing, unreadable, binary, huge, too deeply nested or malformed file."""
    try:
        path = check_input_file(path, "model file")
    except DataError as err:
        raise ModelFormatError(str(err)) from err
    size = os.path.getsize(path)
    if size > MAX_MODEL_FILE_BYTES:
        raise ModelFormatError(f"{path!r} is {size / 2**20:,.0f} MiB, far larger than a model "
                               "file: is it the right file?")
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError as err:
        raise ModelFormatError(f"{path!r} is not a model file: it is not text (binary data at "
                               f"byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise ModelFormatError(f"{path!r} is not a JSON model file: {err}") from err
    except RecursionError as err:
        raise ModelFormatError(f"{path!r} is not a model file: its JSON is nested too deeply")\
            from err
    except OSError as err:
        raise ModelFormatError(f"cannot read the model file {path!r}: {err}") from err


def load(path, role: str | None = None):
    """Load a model saved with ``model.save(path)`` (a ModelPair gives a ModelPair).

    Parameters
    ----------
    path : str or path-like
        The JSON file (a Bayesian model's netCDF posterior is read from beside it).
    role : {"pair", "purchases", "spend"}, optional
        What the caller needs; a file holding something else is a ModelFormatError.

    Returns
    -------
    model
        A fitted model or a :class:`~clvmodels.ModelPair`, checked like a fitted one
        (parameters finite and > 0).

    Raises
    ------
    ModelFormatError
        For anything that is not an intact model file of this format version. Only data are
        read (JSON, netCDF): loading never runs code from the file.
    """
    data = read_model_json(path)
    model = _from_dict(data, os.path.dirname(os.path.abspath(path)),
                       None if role in (None, "pair") else role)
    if role == "pair" and not (isinstance(data, dict) and data.get("model") == PAIR):
        raise ModelFormatError(f"{os.fspath(path)!r} holds one {data.get('model')!r} model, not "
                               "the purchase and spend models that scoring needs: write it with "
                               "'clvmodels fit' or ModelPair.save")
    return model
