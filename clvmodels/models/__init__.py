"""The purchase and spend models."""

from .bayesian import BayesianBetaGeo, BayesianGammaGamma
from .beta_geo import BetaGeo
from .gamma_gamma import GammaGamma

__all__ = ["BayesianBetaGeo", "BayesianGammaGamma", "BetaGeo", "GammaGamma"]
