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
    logsumexp=special.logsumexp,
    concatenate=np.concatenate,
)


def pytensor_namespace() -> SimpleNamespace:
    """The array namespace of the log-likelihood formulas, for PyTensor (imported on demand)."""
    import pytensor.tensor as pt

    return SimpleNamespace(gammaln=pt.gammaln, betaln=pt.special.betaln, log=pt.log,
                           logaddexp=pt.logaddexp, maximum=pt.maximum, where=pt.switch,
                           logsumexp=pt.logsumexp, concatenate=pt.concatenate)


def dot(a, b) -> float:
    """Inner product of two vectors without BLAS. OpenBLAS threads every dot product of more than
    10,000 elements; between other array work its threads fall asleep, and waking them cost more
    than the sum itself (the fits ran 1.5-3x slower on 2 cores)."""
    return np.einsum("i,i->", a, b)


def linear_predictor(design, coefficients) -> np.ndarray:
    """``design @ coefficients`` (``(n, m)`` by ``(m,)`` or ``(m, D)``) added column by column:
    each row's value has the same bits whatever the other rows and the arrays' layout (BLAS and
    einsum add in orders that depend on both, so a customer's prediction alone could differ in
    its last bit from hers in a frame), and no BLAS threads to wake."""
    design = np.asarray(design, dtype=np.float64)
    coefficients = np.asarray(coefficients, dtype=np.float64)
    out = np.zeros((design.shape[0],) + coefficients.shape[1:])
    columns = design[:, :, None] if coefficients.ndim == 2 else design
    for j in range(design.shape[1]):
        out += columns[:, j] * coefficients[j]
    return out


def levels(x) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``x`` and the index of each row into them: functions of ``x`` alone
    (frequencies take few values) then run once per distinct value. Small non-negative whole
    numbers are indexed through a lookup table, anything else by sorting."""
    x = np.asarray(x)
    if x.size and x.dtype.kind in "iuf":
        whole = x.astype(np.int64)
        if whole.min() >= 0 and whole.max() <= 4 * x.size + 1024 and np.array_equal(whole, x):
            present = np.bincount(whole.ravel()) > 0
            lookup = np.cumsum(present) - 1
            return np.flatnonzero(present).astype(x.dtype), lookup[whole]
    values, index = np.unique(x, return_inverse=True)
    return values, index.reshape(np.shape(x))


def log_times(alpha, t_x, T, xp=NUMPY, time_levels=None):
    """``log(alpha + T)`` and ``log(alpha + t_x)``, once per distinct time where ``time_levels``
    (:func:`levels` of ``[t_x, T]``) is given: shared by the BG/NBD family's likelihoods."""
    if time_levels is None:
        return xp.log(alpha + T), xp.log(alpha + t_x)
    ut, (itx, iT) = time_levels
    log_t = xp.log(alpha + ut)
    return log_t[iT], log_t[itx]


def tanh_sinh(step: float = 1 / 16, half_width: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tanh-sinh (double-exponential) rule on [-1, 1]: ``1 + x`` and ``1 - x`` of its nodes
    (each computed without cancellation, so integrands can be evaluated at the nodes' distances
    to either end) and the logarithms of the weights. Endpoint singularities and boundary layers
    are integrated to near machine precision (Takahashi & Mori 1974)."""
    k = np.arange(-half_width, half_width + 1) * step
    u = np.pi / 2 * np.sinh(k)
    one_plus, one_minus = 2 / (1 + np.exp(-2 * u)), 2 / (1 + np.exp(2 * u))
    log_weights = np.log(step * np.pi / 2 * np.cosh(k)) - 2 * np.log(np.cosh(u))
    return one_plus, one_minus, log_weights
