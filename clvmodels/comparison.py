"""Choosing a purchase model: the registered models side by side on one frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import check_rfm
from .exceptions import DataError
from .metrics import calibration_table
from .models.registry import MODELS, models_of_kind


def compare(rfm: pd.DataFrame, models=None, *, penalizer: float = 0.0) -> pd.DataFrame:
    """Fit purchase models by maximum likelihood on one frame and put them side by side.

    Parameters
    ----------
    rfm : pandas.DataFrame
        An RFM frame; a :func:`clvmodels.calibration_holdout` frame adds the holdout check.
    models : list of str, optional
        Registered purchase models (default: those of continuous time, ``["bgnbd",
        "mbgnbd", "pnbd"]``; ``["bgbb"]`` on a frame of opportunities).
    penalizer : float
        For every fit.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``parameters``, ``log_likelihood``, ``aic`` (2k - 2 LL), ``bic``
        (k log n - 2 LL); with holdout columns, the holdout purchases' ``holdout_mae``,
        ``holdout_rmse`` and ``holdout_bias_pct`` (of the total), and ``holdout_by_frequency``
        (the largest gap, over calibration frequencies 0-7+, between the mean expected and the
        mean actual holdout purchases). ``attrs["fits"]`` holds the fitted models.

    Examples
    --------
    >>> import clvmodels
    >>> split = clvmodels.calibration_holdout(clvmodels.load_cdnow(), time_unit="W",
    ...     calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> clvmodels.compare(split)[["log_likelihood", "aic"]].round(2)
            log_likelihood       aic
    model                           
    bgnbd         -9582.43  19172.86
    mbgnbd        -9582.14  19172.27
    pnbd          -9594.98  19197.95
    """
    check_rfm(rfm)
    names = [e.name for e in models_of_kind("purchases")] if models is None else list(models)
    unknown = [n for n in names if n not in MODELS or MODELS[n].kind != "purchases"]
    if unknown:
        raise DataError(f"unknown purchase model(s) {unknown}: choose from "
                        f"{[e.name for e in models_of_kind('purchases', discrete=True)]}")
    holdout = {"frequency_holdout", "duration_holdout"} <= set(rfm.columns)
    rows, fits = [], {}
    for name in names:
        model = MODELS[name].mle(penalizer).fit(rfm)
        fits[name] = model
        k, n, ll = len(model.param_names), model.n_customers_, model.log_likelihood_
        row = {"model": name, "parameters": k, "log_likelihood": ll, "aic": 2 * k - 2 * ll,
               "bic": k * np.log(n) - 2 * ll}
        if holdout:
            expected = model.expected_purchases(rfm, rfm["duration_holdout"]).to_numpy()
            actual = rfm["frequency_holdout"].to_numpy(dtype=float)
            table = calibration_table(rfm["frequency"], expected, actual)
            row.update(holdout_mae=float(np.mean(np.abs(expected - actual))),
                       holdout_rmse=float(np.sqrt(np.mean((expected - actual) ** 2))),
                       holdout_bias_pct=float(100 * (expected.sum() / actual.sum() - 1)),
                       holdout_by_frequency=float((table["predicted"] - table["actual"])
                                                  .abs().max()))
        rows.append(row)
    result = pd.DataFrame(rows).set_index("model")
    result.attrs["fits"] = fits
    return result
