"""Loading fitted models: plain JSON with a format version (and netCDF posteriors); nothing is
pickled, and reading a file never runs code from it. Each model writes and reads its own state
(``to_dict`` / ``from_dict``); this module reads files safely and finds the class by name in the
registry."""

from __future__ import annotations

import json
import os

from .exceptions import DataError, ModelFormatError
from .files import check_input_file
from .models.base import FORMAT, FORMAT_VERSION
from .models.registry import CLASSES
from .scoring import PAIR, ModelPair

MAX_MODEL_FILE_BYTES = 16 * 2**20  # a model file is metadata and a few numbers: 16 MiB is absurd


def check_format(data) -> None:
    """ModelFormatError unless ``data`` is a clvmodels model of the version this code reads."""
    if not isinstance(data, dict):
        raise ModelFormatError("not a clvmodels model file (it holds no JSON object)")
    if data.get("format") != FORMAT:
        raise ModelFormatError("not a clvmodels model file (its 'format' is not 'clvmodels.model')")
    if data.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(
            f"model file format version {data.get('format_version')!r} is not supported by this "
            f"clvmodels (it reads version {FORMAT_VERSION}); refit or upgrade clvmodels"
        )


def model_from_dict(data, folder: str | None = None, role: str | None = None):
    """A fitted model (or a ModelPair) from its plain-data form; ``role`` ("purchases" or
    "spend") is what the caller needs. ModelFormatError for anything else."""
    check_format(data)
    if data.get("model") == PAIR:
        for part in ("purchases", "spend"):
            if part not in data:
                raise ModelFormatError(f"the model pair file has no {part!r} model")
        return ModelPair(*(model_from_dict(data[part], folder, part)
                           for part in ("purchases", "spend")))
    cls = CLASSES.get(data.get("model"))
    if cls is None:
        raise ModelFormatError(f"unknown model {data.get('model')!r}; known: {sorted(CLASSES)}")
    if role is not None and cls.kind != role:
        raise ModelFormatError(
            f"the {role!r} model of this pair file is a {data.get('model')!r}, which is not a "
            f"{role} model; the file was edited or assembled by hand: refit with "
            "'clvmodels fit'")
    return cls.from_dict(data, folder)


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
    except ValueError as err:  # e.g. an integer of more digits than Python converts
        raise ModelFormatError(f"{path!r} is not a model file: {err}; it was edited or "
                               "damaged, refit the model") from err
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
        (parameters finite and > 0, a known time unit).

    Raises
    ------
    ModelFormatError
        For anything that is not an intact model file of this format version. Only data are
        read (JSON, netCDF): loading never runs code from the file.

    Examples
    --------
    >>> import os, tempfile, clvmodels
    >>> rfm = clvmodels.rfm_summary(clvmodels.load_cdnow(), time_unit="W")
    >>> path = os.path.join(tempfile.mkdtemp(), "bg.json")
    >>> clvmodels.BetaGeo().fit(rfm).save(path)
    >>> clvmodels.load(path).params_.round(3).tolist()
    [0.254, 5.447, 0.607, 2.647]
    """
    data = read_model_json(path)
    model = model_from_dict(data, os.path.dirname(os.path.abspath(path)),
                            None if role in (None, "pair") else role)
    if role == "pair" and not isinstance(model, ModelPair):
        raise ModelFormatError(f"{os.fspath(path)!r} holds one {data.get('model')!r} model, not "
                               "the purchase and spend models that scoring needs: write it with "
                               "'clvmodels fit' or ModelPair.save")
    return model
