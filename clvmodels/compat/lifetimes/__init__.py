"""lifetimes, on clvmodels: an existing lifetimes script runs by changing its imports.

====================================================  =============================================
lifetimes                                             here
====================================================  =============================================
``from lifetimes import BetaGeoFitter``               ``from clvmodels.compat.lifetimes import BetaGeoFitter``
``from lifetimes.utils import ...``                   ``from clvmodels.compat.lifetimes.utils import ...``
``from lifetimes.plotting import ...``                ``from clvmodels.compat.lifetimes.plotting import ...``
``from lifetimes.datasets import ...``                ``from clvmodels.compat.lifetimes.datasets import ...``
====================================================  =============================================

Every fitter, utility and plot is a thin layer over the native API (no formula is written twice);
each fitter's native model is ``fitter.model``, and after ``show_native_equivalents()`` every call
names its native equivalent once (a ``NativeEquivalent`` warning). What
differs from lifetimes, and why, is in docs/migrating-from-lifetimes.md.
"""

from . import datasets, plotting, utils
from .hints import NativeEquivalent, native_equivalent, show_native_equivalents
from .fitters import (
    BaseFitter,
    BetaGeoBetaBinomFitter,
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)

__all__ = ["BaseFitter", "BetaGeoBetaBinomFitter", "BetaGeoFitter", "GammaGammaFitter",
           "ModifiedBetaGeoFitter", "NativeEquivalent", "ParetoNBDFitter", "datasets",
           "native_equivalent", "plotting", "show_native_equivalents", "utils"]
