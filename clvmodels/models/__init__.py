"""The purchase and spend models, each specified once and fitted by either engine."""

from .base import MaximumLikelihoodModel
from .bayesian import BayesianModel
from .beta_geo import BayesianBetaGeo, BetaGeo, BetaGeoModel
from .gamma_gamma import BayesianGammaGamma, GammaGamma, GammaGammaModel
from .registry import MODELS

__all__ = ["MODELS", "BayesianBetaGeo", "BayesianGammaGamma", "BayesianModel", "BetaGeo",
           "BetaGeoModel", "GammaGamma", "GammaGammaModel", "MaximumLikelihoodModel"]
