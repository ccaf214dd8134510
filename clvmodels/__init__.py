"""clvmodels: probabilistic customer lifetime value (BG/NBD, Gamma-Gamma) that is correct and fast."""

from . import baselines, heuristics
from .backtesting import BacktestResult, backtest
from .comparison import compare
from .draws import total
from .data import calibration_holdout, opportunity_summary, rfm_summary
from .datasets import load_cdnow, simulate_opportunities, simulate_transactions
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
    BayesianGammaGamma,
    BayesianModifiedBetaGeo,
    BayesianParetoNBD,
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    BayesianShiftedBetaGeo,
    ShiftedBetaGeo,
)
from .persistence import load
from .scoring import ModelPair
from .value import customer_value

__version__ = "0.1.0"

__all__ = [
    "BacktestResult",
    "BayesianBetaGeo",
    "BayesianBetaGeoBetaBinom",
    "BayesianGammaGamma",
    "BayesianModifiedBetaGeo",
    "BayesianParetoNBD",
    "BayesianShiftedBetaGeo",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceError",
    "DataError",
    "DataQualityWarning",
    "GammaGamma",
    "ModelPair",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeo",
    "ModelFormatError",
    "NotFittedError",
    "backtest",
    "baselines",
    "calibration_holdout",
    "compare",
    "customer_value",
    "heuristics",
    "load",
    "load_cdnow",
    "opportunity_summary",
    "rfm_summary",
    "simulate_opportunities",
    "simulate_transactions",
    "total",
]
