"""Saving and loading fitted models as plain JSON with a format version; nothing is pickled."""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np
import pandas as pd

from .exceptions import ModelFormatError
from .models import BayesianBetaGeo, BayesianGammaGamma, BetaGeo, GammaGamma

FORMAT = "clvmodels.model"
FORMAT_VERSION = 1
PAIR = "ModelPair"  # a purchase model and a spend model in one file
MODELS = {cls.__name__: cls for cls in (BetaGeo, GammaGamma)}
BAYESIAN_MODELS = {cls.__name__: cls for cls in (BayesianBetaGeo, BayesianGammaGamma)}
BAYESIAN_SETTINGS = ("priors", "draws", "tune", "chains", "method", "sampler", "target_accept",
                     "random_state", "init", "advi_iterations")


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
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFormatError(f"the {cls.__name__} model file is incomplete or damaged: {err!r}") from err
    return model


def write_atomic(path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file in the target folder, then rename it to
    ``path``: a run killed at any moment leaves either no file or a complete one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(data: dict, path) -> None:
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, allow_nan=False)

    write_atomic(path, write)


def write_table_atomic(frame: pd.DataFrame, path) -> None:
    """Write a table as Parquet (``.parquet``) or CSV (anything else), atomically."""
    if os.fspath(path).lower().endswith((".parquet", ".pq")):
        write_atomic(path, lambda tmp: frame.to_parquet(tmp))
    else:
        write_atomic(path, lambda tmp: frame.to_csv(tmp))


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
    except (KeyError, TypeError, ValueError, OSError) as err:
        raise ModelFormatError(f"the {cls.__name__} model file is incomplete or damaged: {err!r}") from err
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


def _from_dict(data, folder):
    if isinstance(data, dict) and data.get("model") == PAIR:
        from .scoring import ModelPair

        check_format(data)
        try:
            return ModelPair(*(_from_dict(data[role], folder) for role in ("purchases", "spend")))
        except KeyError as err:
            raise ModelFormatError(f"the model pair file has no {err} model") from err
    if isinstance(data, dict) and data.get("model") in BAYESIAN_MODELS:
        check_format(data)
        return bayesian_from_dict(data, folder)
    return model_from_dict(data)


def load(path):
    """Load a model saved with ``model.save(path)`` (a ModelPair gives a ModelPair);
    ModelFormatError for anything else. Only data are read (JSON, netCDF): loading never runs code
    from the file."""
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise ModelFormatError(f"{os.fspath(path)!r} is not a JSON model file: {err}") from err
    except OSError as err:
        raise ModelFormatError(f"cannot read the model file: {err}") from err
    return _from_dict(data, os.path.dirname(os.path.abspath(path)))
