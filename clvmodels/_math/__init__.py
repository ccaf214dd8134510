"""Pure, broadcastable formulas, one module per model, written once.

Log-likelihoods take the array namespace ``xp`` (:data:`NUMPY` here; a PyTensor one for PyMC), so the
maximum-likelihood and Bayesian models share the formula. Predictions are numpy functions that
broadcast over customers and, for a posterior, over draws.
"""

from types import SimpleNamespace

import numpy as np
from scipy import special

NUMPY = SimpleNamespace(
    gammaln=special.gammaln,
    betaln=special.betaln,
    log=np.log,
    logaddexp=np.logaddexp,
    maximum=np.maximum,
    where=np.where,
)
