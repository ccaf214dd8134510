"""The purchase and spend models."""

from .beta_geo import BetaGeo
from .gamma_gamma import GammaGamma

__all__ = ["BetaGeo", "GammaGamma"]
