"""The models by name: the one list that the command line, the backtest, its report and the
model files read. Adding a model is adding its module and one line to :data:`MODELS`."""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import DataError
from .beta_geo import BayesianBetaGeo, BetaGeo
from .beta_geo_beta_binom import BayesianBetaGeoBetaBinom, BetaGeoBetaBinom
from .gamma_gamma import BayesianGammaGamma, GammaGamma
from .modified_beta_geo import BayesianModifiedBetaGeo, ModifiedBetaGeo
from .pareto_nbd import BayesianParetoNBD, ParetoNBD
from .shifted_beta_geo import BayesianShiftedBetaGeo, ShiftedBetaGeo


@dataclass(frozen=True)
class Entry:
    """A registered model: its name, kind, and its maximum-likelihood and Bayesian classes."""

    name: str
    kind: str  # "purchases", "spend" or "retention" (contractual)
    mle: type
    bayesian: type
    title: str


MODELS = {entry.name: entry for entry in (
    Entry("bgnbd", "purchases", BetaGeo, BayesianBetaGeo, "BG/NBD"),
    Entry("mbgnbd", "purchases", ModifiedBetaGeo, BayesianModifiedBetaGeo, "MBG/NBD"),
    Entry("pnbd", "purchases", ParetoNBD, BayesianParetoNBD, "Pareto/NBD"),
    Entry("bgbb", "purchases", BetaGeoBetaBinom, BayesianBetaGeoBetaBinom, "BG/BB"),
    Entry("gg", "spend", GammaGamma, BayesianGammaGamma, "Gamma-Gamma"),
    Entry("sbg", "retention", ShiftedBetaGeo, BayesianShiftedBetaGeo, "shifted-beta-geometric"),
)}
CLASSES = {cls.__name__: cls for entry in MODELS.values() for cls in (entry.mle, entry.bayesian)}
BAYES_PREFIX = "bayes_"


def models_of_kind(kind: str, discrete: bool = False) -> list[Entry]:
    """The registered models of one kind, ``"purchases"`` or ``"spend"``: those of continuous
    time (fitted on :func:`clvmodels.rfm_summary` frames), or with ``discrete`` also those that
    count opportunities (BG/BB, on :func:`clvmodels.opportunity_summary` frames)."""
    return [entry for entry in MODELS.values() if entry.kind == kind
            and (discrete or not getattr(entry.mle, "discrete", False))]


def pair_names(discrete: bool = False) -> list[str]:
    """Every purchase-and-spend pair by name: ``bgnbd_gg`` (maximum likelihood) and
    ``bayes_bgnbd_gg`` (Bayesian), and so on for each registered purchase model of continuous
    time (with ``discrete``, BG/BB's ``bgbb_gg`` too: its frames count opportunities)."""
    names = [f"{p.name}_{s.name}" for p in models_of_kind("purchases", discrete)
             for s in models_of_kind("spend")]
    return names + [BAYES_PREFIX + name for name in names]


def parse_pair(name: str) -> tuple[Entry, Entry, bool]:
    """The purchase and spend entries of a pair name, and whether it is Bayesian."""
    bayesian = name.startswith(BAYES_PREFIX)
    bare = name[len(BAYES_PREFIX):] if bayesian else name
    for p in models_of_kind("purchases", discrete=True):
        for s in models_of_kind("spend"):
            if bare == f"{p.name}_{s.name}":
                return p, s, bayesian
    raise DataError(f"unknown model {name!r}: choose from {', '.join(pair_names(True))}")


def entry_of(model) -> Entry | None:
    """The registry entry of a model instance or class, if it is a registered model."""
    cls = model if isinstance(model, type) else type(model)
    for entry in MODELS.values():
        if issubclass(cls, (entry.mle, entry.bayesian)):
            return entry
    return None
