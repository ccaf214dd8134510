"""The purchase and spend models, each specified once and fitted by either engine."""

from .base import MaximumLikelihoodModel
from .bayesian import BayesianModel
from .beta_geo import BayesianBetaGeo, BetaGeo, BetaGeoModel
from .beta_geo_beta_binom import (
    BayesianBetaGeoBetaBinom,
    BetaGeoBetaBinom,
    BetaGeoBetaBinomModel,
)
from .cnbd import (
    BayesianBetaGeoCNBD,
    BayesianModifiedBetaGeoCNBD,
    BetaGeoCNBD,
    ModifiedBetaGeoCNBD,
    simulate_regular,
)
from .gamma_gamma import BayesianGammaGamma, GammaGamma, GammaGammaModel
from .modified_beta_geo import BayesianModifiedBetaGeo, ModifiedBetaGeo, ModifiedBetaGeoModel
from .pareto_nbd import BayesianParetoNBD, ParetoNBD, ParetoNBDModel
from .shifted_beta_geo import BayesianShiftedBetaGeo, ShiftedBetaGeo, ShiftedBetaGeoModel
from .purchase import PurchaseModel
from .registry import MODELS, Entry

__all__ = ["MODELS", "Entry", "PurchaseModel", "BayesianBetaGeoCNBD", "BayesianModifiedBetaGeoCNBD", "BetaGeoCNBD",
           "ModifiedBetaGeoCNBD", "simulate_regular", "BayesianBetaGeo", "BayesianGammaGamma", "BayesianModel",
           "BayesianModifiedBetaGeo", "BetaGeo", "BetaGeoModel", "GammaGamma", "GammaGammaModel",
           "MaximumLikelihoodModel", "ModifiedBetaGeo", "ModifiedBetaGeoModel",
           "BayesianShiftedBetaGeo", "BayesianParetoNBD", "BayesianBetaGeoBetaBinom", "BetaGeoBetaBinom",
           "BetaGeoBetaBinomModel", "ParetoNBD", "ParetoNBDModel", "ShiftedBetaGeo", "ShiftedBetaGeoModel"]
