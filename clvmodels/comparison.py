"""Choosing a purchase model: the registered models side by side on one frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import check_rfm
from .exceptions import DataError
from .interface import arg
from .metrics import calibration_table
from .models.registry import MODELS, models_of_kind


def compare(rfm: pd.DataFrame, models=None, *, penalizer: float = 0.0,
            options: dict | None = None) -> pd.DataFrame:
    """Fit purchase models on one frame and put them side by side: by maximum likelihood, and
    a model sampled with its customers' latent variables (Pareto/GGG, ``"pggg"``) when named.

    Parameters
    ----------
    rfm : pandas.DataFrame
        An RFM frame; a :func:`clvmodels.calibration_holdout` frame adds the holdout check.
    models : str or list of str, optional
        Registered purchase models (default: those of continuous time whose statistics the
        frame has: ``["bgnbd", "mbgnbd", "pnbd", "cpnbd", "ggomnbd"]``, and the regularity models ``mbgcnbd``
        and ``bgcnbd`` on a frame with ``litt``; ``["bgbb"]`` on a frame of opportunities).
        Pareto/GGG (``"pggg"``, on a frame with ``litt``) is compared when named: its sampler
        takes minutes where the others take seconds.
    penalizer : float
        For every maximum-likelihood fit.
    options : dict, optional
        Settings of a sampled model (``{"draws": 1000, "random_state": 1}``).

    Returns
    -------
    pandas.DataFrame
        One row per model: ``parameters``, ``log_likelihood``, ``aic`` (2k - 2 LL), ``bic``
        (k log n - 2 LL; missing for a sampled model, which has no likelihood of its
        parameters alone to compare); with holdout columns, the holdout purchases' ``holdout_mae``,
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
    bgnbd          -9582.43  19172.86
    mbgnbd         -9582.14  19172.27
    pnbd           -9594.98  19197.95
    cpnbd          -9591.67  19193.33
    ggomnbd        -9594.98  19199.95
    """
    check_rfm(rfm)
    if isinstance(models, str):
        models = [models]
    if models is None:  # the default: every model the frame has the statistics of
        names = [e.name for e in models_of_kind("purchases") if "mle" in e.capabilities
                 and set(e.statistics) <= set(rfm.columns)]
    else:
        names = list(models)
    unknown = [n for n in names if n not in MODELS or MODELS[n].kind != "purchases"
               or not {"mle", "latent"} & MODELS[n].capabilities]
    if unknown:
        raise DataError(f"unknown purchase model(s) {unknown}: choose from "
                        f"{[e.name for e in models_of_kind('purchases', discrete=True)]}")
    holdout = {"frequency_holdout", "duration_holdout"} <= set(rfm.columns)
    if holdout:
        check_rfm(rfm, ["frequency_holdout", "duration_holdout"])
        if not (rfm["frequency_holdout"].to_numpy(dtype=float) > 0).any():
            raise DataError("the holdout has no purchase by any customer, so its check (MAE, "
                            "bias) means nothing: is observation_end after calibration_end? "
                            "Drop the holdout columns to compare on the likelihood alone")
    rows, fits = [], {}
    if options and not any("latent" in MODELS[n].capabilities for n in names):
        raise DataError(f"{arg('options')} are a sampled model's settings, and none of "
                        f"{names} is one (name 'pggg')")
    for name in names:
        entry = MODELS[name]
        if "latent" in entry.capabilities:
            model = entry.bayesian(**(options or {})).fit(rfm)
            row = {"model": name, "parameters": len(model.parameter_names_),
                   "log_likelihood": np.nan, "aic": np.nan, "bic": np.nan}
        else:
            model = entry.mle(penalizer).fit(rfm)
            # a parameter chosen by likelihood (the regularity's k) counts as one
            k = len(model.parameter_names_) + getattr(model, "chosen_parameters", 0)
            n, ll = model.n_customers_, model.log_likelihood_
            row = {"model": name, "parameters": k, "log_likelihood": ll, "aic": 2 * k - 2 * ll,
                   "bic": k * np.log(n) - 2 * ll}
        fits[name] = model
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


def likelihood_ratio_test(restricted, full) -> pd.Series:
    """The likelihood-ratio test of a maximum-likelihood model against a larger one that nests
    it: the same model on the same customers with more covariates (a model fitted with
    covariates also tests itself against the fit without them:
    ``model.likelihood_ratio_test()``).

    Parameters
    ----------
    restricted, full : fitted maximum-likelihood models
        ``full``'s parameters include all of ``restricted``'s.

    Returns
    -------
    pandas.Series
        ``statistic`` (2 (LL_full - LL_restricted)), ``df`` (the extra parameters) and
        ``p_value`` (chi-squared with ``df`` degrees of freedom).
    """
    from scipy import stats

    for model in (restricted, full):
        if not hasattr(model, "log_likelihood_"):
            raise DataError("likelihood_ratio_test needs two fitted maximum-likelihood models")
    if type(restricted) is not type(full):
        raise DataError(f"a {type(restricted).__name__} is not nested in a "
                        f"{type(full).__name__}: compare the same model with and without "
                        "covariates (or use compare() for different models)")
    extra = [n for n in full.parameter_names_ if n not in restricted.parameter_names_]
    missing = [n for n in restricted.parameter_names_ if n not in full.parameter_names_]
    if missing or not extra:
        raise DataError(f"the first model must be nested in the second: the second lacks "
                        f"{missing}" if missing else "the second model has no extra parameter")
    if restricted.n_customers_ != full.n_customers_:
        raise DataError(f"the models were fitted on different customers "
                        f"({restricted.n_customers_:,} and {full.n_customers_:,})")
    statistic = 2.0 * (full.log_likelihood_ - restricted.log_likelihood_)
    return pd.Series({"statistic": statistic, "df": float(len(extra)),
                      "p_value": float(stats.chi2.sf(max(statistic, 0.0), len(extra)))},
                     name="likelihood_ratio_test")
