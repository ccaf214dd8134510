"""clvmodels: probabilistic customer lifetime value (BG/NBD, Pareto/NBD, MBG/NBD, BG/BB, sBG,
Gamma-Gamma, with static covariates and covariates over time) that is correct and fast."""

from . import baselines, heuristics
from .backtesting import BacktestResult, backtest
from .comparison import compare, likelihood_ratio_test
from .draws import total
from .data import calibration_holdout, opportunity_summary, rfm_summary
from .datasets import load_cdnow, simulate_opportunities, simulate_transactions
from .models.regression import simulate_customers
from .models.correlated import CorrelatedParetoNBD, simulate_correlated
from .models.ggompertz import GGompertzNBD, simulate_ggompertz
from .models.pareto_ggg import ParetoGGG, simulate_pareto_ggg
from .models.pareto_nbd_abe import HierarchicalParetoNBD, simulate_pareto_nbd_abe
from .models.time_varying import TimeVaryingParetoNBD, simulate_time_varying
from .over_time import CovariatesOverTime, read_covariates_over_time
from .exceptions import (
    ConvergenceError,
    DataError,
    DataQualityWarning,
    ModelFormatError,
    NotFittedError,
)
from .models import (
    BayesianBetaGeo,
    BayesianBetaGeoBetaBinom,
    BayesianBetaGeoCNBD,
    BayesianGammaGamma,
    BayesianModifiedBetaGeo,
    BayesianModifiedBetaGeoCNBD,
    BayesianParetoNBD,
    BetaGeo,
    BetaGeoBetaBinom,
    BetaGeoCNBD,
    GammaGamma,
    ModifiedBetaGeo,
    ModifiedBetaGeoCNBD,
    ParetoNBD,
    BayesianShiftedBetaGeo,
    ShiftedBetaGeo,
    simulate_regular,
)
from .persistence import load
from .priors import BetaPrior, Prior
from .scoring import ModelPair
from .value import customer_value

__version__ = "0.1.0"

SUBMODULES = ("plotting",)  # imported on first use (matplotlib is slow to import)


def __getattr__(name):
    """``clvmodels.plotting`` without importing matplotlib with the package."""
    if name in SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'clvmodels' has no attribute {name!r}")

__all__ = [
    "BacktestResult",
    "BayesianBetaGeo",
    "BayesianBetaGeoBetaBinom",
    "BayesianBetaGeoCNBD",
    "BayesianGammaGamma",
    "BayesianModifiedBetaGeo",
    "BayesianModifiedBetaGeoCNBD",
    "BayesianParetoNBD",
    "BayesianShiftedBetaGeo",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "BetaGeoCNBD",
    "ConvergenceError",
    "CovariatesOverTime",
    "DataError",
    "DataQualityWarning",
    "GammaGamma",
    "ModelPair",
    "ModifiedBetaGeo",
    "ModifiedBetaGeoCNBD",
    "ParetoNBD",
    "ShiftedBetaGeo",
    "TimeVaryingParetoNBD",
    "Prior",
    "BetaPrior",
    "CorrelatedParetoNBD",
    "GGompertzNBD",
    "ParetoGGG",
    "HierarchicalParetoNBD",
    "ModelFormatError",
    "NotFittedError",
    "backtest",
    "baselines",
    "calibration_holdout",
    "compare",
    "customer_value",
    "heuristics",
    "likelihood_ratio_test",
    "plotting",
    "load",
    "load_cdnow",
    "opportunity_summary",
    "read_covariates_over_time",
    "rfm_summary",
    "simulate_customers",
    "simulate_opportunities",
    "simulate_regular",
    "simulate_correlated",
    "simulate_ggompertz",
    "simulate_pareto_ggg",
    "simulate_pareto_nbd_abe",
    "simulate_time_varying",
    "simulate_transactions",
    "total",
]
