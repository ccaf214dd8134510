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


def levels(x) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``x`` and the index of each row into them: functions of ``x`` alone
    (frequencies take few values) then run once per distinct value."""
    values, index = np.unique(x, return_inverse=True)
    return values, index.reshape(np.shape(x))
