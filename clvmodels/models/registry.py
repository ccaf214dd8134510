"""The models by name: the one list that the command line, the backtest, its report and the
model files read. Adding a model is adding its module and one line to :data:`MODELS`."""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import DataError
from .beta_geo import BayesianBetaGeo, BetaGeo
from .beta_geo_beta_binom import BayesianBetaGeoBetaBinom, BetaGeoBetaBinom
from .cnbd import (BayesianBetaGeoCNBD, BayesianModifiedBetaGeoCNBD, BetaGeoCNBD,
                   ModifiedBetaGeoCNBD)
from .gamma_gamma import BayesianGammaGamma, GammaGamma
from .correlated import CorrelatedParetoNBD
from .ggompertz import GGompertzNBD
from .modified_beta_geo import BayesianModifiedBetaGeo, ModifiedBetaGeo
from .pareto_ggg import ParetoGGG
from .pareto_nbd_abe import HierarchicalParetoNBD
from .pareto_nbd import BayesianParetoNBD, ParetoNBD
from .shifted_beta_geo import BayesianShiftedBetaGeo, ShiftedBetaGeo
from .time_varying import TimeVaryingParetoNBD


CAPABILITIES = ("mle", "bayes", "covariates", "intervals", "analytic_gradient", "discrete",
                "latent")


@dataclass(frozen=True)
class Entry:
    """A registered model: its name, kind, its classes (a maximum-likelihood one, a Bayesian
    one, or both: ``None`` for an engine it does not have), and what it can do.

    ``capabilities`` (read by :func:`clvmodels.testing.check_model`, the command line and the
    backtest) are derived from the classes: ``"mle"`` and ``"bayes"`` (the engines),
    ``"covariates"`` (it declares ``covariate_links``), ``"intervals"`` (its predictions take
    ``interval=``: every registered model), ``"analytic_gradient"`` (its ``loglik_grad`` is
    not a numerical derivative), ``"discrete"`` (its frame counts opportunities) and
    ``"latent"`` (sampled with every customer's latent variables, Pareto/GGG: no likelihood of
    the population alone, so no specification for the engines and no gradient)."""

    name: str
    kind: str  # "purchases", "spend" or "retention" (contractual)
    mle: type | None
    bayesian: type | None
    title: str

    def __post_init__(self):
        if self.mle is None and self.bayesian is None:
            raise TypeError(f"model {self.name!r} needs at least one engine's class")

    @property
    def spec(self) -> type:
        """A class of the model (either engine's): its specification's attributes."""
        return self.mle if self.mle is not None else self.bayesian

    @property
    def statistics(self) -> tuple[str, ...]:
        """The per-customer statistics beyond RFM its fit reads (``rfm_summary(...,
        statistics=...)``): ``("litt",)`` for the regularity models, none for the others."""
        return tuple(getattr(self.spec, "statistics", ()))

    @property
    def capabilities(self) -> frozenset:
        """What the model can do (:data:`CAPABILITIES`)."""
        spec = self.spec
        found = {"intervals"}
        if self.mle is not None:
            found.add("mle")
        if self.bayesian is not None:
            found.add("bayes")
        if getattr(spec, "covariate_links", {}):
            found.add("covariates")
        if getattr(spec, "latent", False):
            found.add("latent")
        elif not getattr(spec, "numerical_gradient", False):
            found.add("analytic_gradient")
        if getattr(spec, "discrete", False):
            found.add("discrete")
        return frozenset(found)


MODELS = {entry.name: entry for entry in (
    Entry("bgnbd", "purchases", BetaGeo, BayesianBetaGeo, "BG/NBD"),
    Entry("mbgnbd", "purchases", ModifiedBetaGeo, BayesianModifiedBetaGeo, "MBG/NBD"),
    Entry("pnbd", "purchases", ParetoNBD, BayesianParetoNBD, "Pareto/NBD"),
    Entry("cpnbd", "purchases", CorrelatedParetoNBD, None, "Pareto/NBD with correlated rates"),
    Entry("ggomnbd", "purchases", GGompertzNBD, None, "GGompertz/NBD"),
    Entry("bgbb", "purchases", BetaGeoBetaBinom, BayesianBetaGeoBetaBinom, "BG/BB"),
    Entry("mbgcnbd", "purchases", ModifiedBetaGeoCNBD, BayesianModifiedBetaGeoCNBD, "MBG/CNBD-k"),
    Entry("bgcnbd", "purchases", BetaGeoCNBD, BayesianBetaGeoCNBD, "BG/CNBD-k"),
    Entry("pggg", "purchases", None, ParetoGGG, "Pareto/GGG"),
    Entry("pnbd_abe", "purchases", None, HierarchicalParetoNBD, "Pareto/NBD (Abe)"),
    Entry("gg", "spend", GammaGamma, BayesianGammaGamma, "Gamma-Gamma"),
    Entry("sbg", "retention", ShiftedBetaGeo, BayesianShiftedBetaGeo, "shifted-beta-geometric"),
)}
# models that need more than the RFM frame at every call (a table of covariates over time): saved
# and loaded like the others, but not offered by name where a frame alone is fitted or scored
WITH_TABLES = {entry.name: entry for entry in (
    Entry("pnbd_tv", "purchases", TimeVaryingParetoNBD, None,
          "Pareto/NBD with covariates over time"),
)}
CLASSES = {cls.__name__: cls for entry in (*MODELS.values(), *WITH_TABLES.values())
           for cls in (entry.mle, entry.bayesian) if cls is not None}
BAYES_PREFIX = "bayes_"


def models_of_kind(kind: str, discrete: bool = False) -> list[Entry]:
    """The registered models of one kind, ``"purchases"`` or ``"spend"``: those of continuous
    time (fitted on :func:`clvmodels.rfm_summary` frames), or with ``discrete`` also those that
    count opportunities (BG/BB, on :func:`clvmodels.opportunity_summary` frames)."""
    return [entry for entry in MODELS.values() if entry.kind == kind
            and (discrete or "discrete" not in entry.capabilities)]


def pair_names(discrete: bool = False) -> list[str]:
    """Every purchase-and-spend pair by name: ``bgnbd_gg`` (maximum likelihood) and
    ``bayes_bgnbd_gg`` (Bayesian), and so on for each registered purchase model of continuous
    time (with ``discrete``, BG/BB's ``bgbb_gg`` too: its frames count opportunities)."""
    pairs = [(p, s) for p in models_of_kind("purchases", discrete)
             for s in models_of_kind("spend")]
    return ([f"{p.name}_{s.name}" for p, s in pairs if p.mle and s.mle]
            + [f"{BAYES_PREFIX}{p.name}_{s.name}" for p, s in pairs if p.bayesian and s.bayesian])


def statistics_of(entries) -> list[str]:
    """The statistics beyond RFM that any of ``entries`` (registry entries) reads, each once."""
    return sorted({s for entry in entries for s in entry.statistics})


def parse_pair(name: str) -> tuple[Entry, Entry, bool]:
    """The purchase and spend entries of a pair name, and whether it is Bayesian."""
    bayesian = name.startswith(BAYES_PREFIX)
    bare = name[len(BAYES_PREFIX):] if bayesian else name
    offered = set(pair_names(discrete=True))  # only pairs of engines both models have
    for p in models_of_kind("purchases", discrete=True):
        for s in models_of_kind("spend"):
            if bare == f"{p.name}_{s.name}" and name in offered:
                return p, s, bayesian
    raise DataError(f"unknown model {name!r}: choose from {', '.join(pair_names(True))}")


def entry_of(model) -> Entry | None:
    """The registry entry of a model instance or class, if it is a registered model."""
    cls = model if isinstance(model, type) else type(model)
    for entry in (*MODELS.values(), *WITH_TABLES.values()):
        if issubclass(cls, tuple(c for c in (entry.mle, entry.bayesian) if c is not None)):
            return entry
    return None
