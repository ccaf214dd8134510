"""The contracts, declared: what a model specification provides to the engines, and what a
fitted purchase or spend model answers. :func:`clvmodels.testing.check_model` checks a model
against them (``isinstance`` with these runtime-checkable Protocols, then the behaviour), and
docs/adding-a-model.md teaches them.

A specification is data and formulas, no fitted state: the maximum-likelihood engine
(:func:`clvmodels.models.base.maximum_likelihood`) and the Bayesian one
(:meth:`clvmodels.models.bayesian.BayesianModel.pymc_model`) take any object that follows
:class:`Specification` (the models themselves, or a
:class:`~clvmodels.models.regression.CovariateSpecification` wrapping one).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

__all__ = ["PreparedData", "PurchasePredictions", "SpendPredictions", "Specification", "members"]


@runtime_checkable
class PreparedData(Protocol):
    """What ``prepare`` returns: the model's data in the form its likelihood reads (unique rows
    with counts, or sufficient statistics), the customers they stand for, and the facts a fit
    records beyond the parameters."""

    facts: dict

    @property
    def n(self) -> float: ...


@runtime_checkable
class Specification(Protocol):
    """A model as the engines see it.

    Attributes
    ----------
    name, title, kind : str
        The registry name, the name in messages, and ``"purchases"``, ``"spend"`` or
        ``"retention"``.
    param_names : tuple of str
        The continuous parameters, each > 0 (fitted as logarithms); a discrete one (the
        regularity models' ``k``) is a constructor setting chosen by an engine wrapper, and a
        fact of the fit.
    columns : tuple of str
        The per-customer statistics the predictions read: what scoring compresses on.
    statistics : tuple of str
        What the fit reads beyond RFM, built by the data layer (``rfm_summary(...,
        statistics=...)``); empty for most models.
    covariate_links : dict
        ``{process: ((parameter, sign, what it moves), ...)}``; empty without covariates.
    """

    name: str
    title: str
    kind: str
    param_names: tuple
    columns: tuple
    covariate_links: dict

    def prepare(self, rfm: pd.DataFrame, weights=None) -> Any: ...

    def subsample(self, data, fraction: float, rng) -> Any: ...

    def initial_params(self, data) -> np.ndarray: ...

    def loglik_grad(self, params, data) -> tuple[float, np.ndarray]: ...

    def loglik_tensor(self, params: dict, data, xp) -> Any: ...

    def default_priors(self, data) -> dict: ...

    def check_estimate(self, params: pd.Series) -> None: ...


@runtime_checkable
class PurchasePredictions(Protocol):
    """What a fitted purchase model answers (both engines, and the heuristic baselines): each
    prediction a function of the parameter draws, with ``interval=`` and ``max_draws=``."""

    def expected_purchases(self, rfm: pd.DataFrame, t, **options): ...

    def probability_alive(self, rfm: pd.DataFrame, **options): ...

    def discounted_purchases(self, rfm: pd.DataFrame, times, coefficients, max_draws=None,
                             time_unit=None, interval=None): ...


@runtime_checkable
class SpendPredictions(Protocol):
    """What a fitted spend model answers."""

    def expected_spend(self, rfm: pd.DataFrame, **options): ...

    def spend_draws(self, rfm: pd.DataFrame, max_draws=None, interval=None): ...


def members(protocol) -> list[str]:
    """The names a Protocol above declares (its attributes and methods), in order."""
    names = list(getattr(protocol, "__annotations__", {}))
    names += [n for n, v in vars(protocol).items() if not n.startswith("_") and callable(v)
              or isinstance(v, property)]
    return list(dict.fromkeys(names))
