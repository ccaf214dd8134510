"""Pareto/NBD with correlated purchase and dropout rates (the Sarmanov family: Glady, Baesens &
Croux 2009; CLVTools' ``pnbd(use.cor=TRUE)``): :class:`CorrelatedParetoNBD` fits it by maximum
likelihood, with ``omega`` the Sarmanov parameter (0: the Pareto/NBD) and
:meth:`~CorrelatedParetoNBD.correlation_test` the likelihood-ratio test of zero correlation.
The formulas are :mod:`clvmodels._math.pnbd_cor` (every one the Pareto/NBD's, mixed).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from scipy import optimize, special

from .._math import pnbd_cor
from ..arguments import check_count, check_draw_options
from ..draws import ParameterDraws
from ..exceptions import ConvergenceError, DataError, DataQualityWarning
from .base import Estimate, MaximumLikelihoodModel, maximum_likelihood
from .differences import central_gradient, second_differences
from .pareto_nbd import PairedHistories, ParetoNBDModel

DIFFERENCE_STEP = 1e-5  # relative step of the numerical gradient (for omega: of its range)
# the Hessian's: ten times that, and for omega 1e-3 of its range (the likelihood can be so flat
# in omega, 0.2 over the whole range on CDNOW, that smaller second differences are rounding)
HESSIAN_STEP, HESSIAN_OMEGA_STEP = 1e-4, 1e-3
BOUND_PENALTY = 1e3  # per customer and squared unit of omega beyond its bounds
AT_BOUND = 1e-6  # omega within this (relative to the width of its range) of a bound is on it


def on_bound(r, alpha, s, beta, omega) -> int:
    """-1 where ``omega`` is on its lower bound, +1 on its upper bound, 0 inside."""
    lo, hi = pnbd_cor.omega_bounds(r, alpha, s, beta)
    width = hi - lo
    return -1 if omega - lo <= AT_BOUND * width else (1 if hi - omega <= AT_BOUND * width else 0)


def to_bounded_free(params) -> np.ndarray:
    """r, alpha, s, beta, omega (rows) to the coordinates the intervals draw in: the
    logarithms of the four, and the logit of omega's place in its range (which depends on
    them), so that every draw is a model."""
    params = np.atleast_2d(params)
    lo, hi = pnbd_cor.omega_bounds(*params[:, :4].T)
    return np.column_stack([np.log(params[:, :4]),
                            special.logit((params[:, 4] - lo) / (hi - lo))])


def from_bounded_free(free) -> np.ndarray:
    """The inverse of :func:`to_bounded_free`."""
    four = np.exp(free[:, :4])
    lo, hi = pnbd_cor.omega_bounds(*four.T)
    return np.column_stack([four, lo + (hi - lo) * special.expit(free[:, 4])])


class CorrelatedParetoNBDModel(ParetoNBDModel):
    """The specification: the Pareto/NBD's data and predictions, with ``omega`` joining the
    rates (:mod:`clvmodels._math.pnbd_cor`). ``correlation_`` is the implied correlation of
    the purchase and dropout rates."""

    name = "cpnbd"
    title = "Pareto/NBD with correlated rates"
    param_names = ("r", "alpha", "s", "beta", "omega")
    positive = (True, True, True, True, False)  # omega is a real number, fitted as it is
    formulas = pnbd_cor
    covariate_links: dict = {}  # none yet
    numerical_gradient = True
    pair_shortcut = False  # the forecast mixes four Pareto/NBDs with history-dependent weights

    def initial_params(self, data: PairedHistories) -> np.ndarray:
        """The Pareto/NBD's estimate on the same data (kept for the test of zero correlation)
        and ``omega = 0``."""
        self.independent_ = maximum_likelihood(ParetoNBDModel(), data)
        return np.r_[self.independent_.params, 0.0]

    def maximise_likelihood(self, data: PairedHistories, penalizer: float = 0.0) -> Estimate:
        """The maximum over omega's whole range, its bounds included.

        On real data the maximum is often on a bound (on CDNOW, omega at its upper bound, the
        strongest positive dependence the Sarmanov family allows at those marginals). There
        the likelihood is not flat but cut off, so the estimate is the maximum along the
        bound, with ``omega = bound(r, alpha, s, beta)``: the four marginal parameters are
        fitted on it, their covariance is the inverse Hessian along it, and omega has no
        standard error of its own (NaN: it follows the other four). An interior maximum is
        the usual estimate.

        Parameters
        ----------
        data : PairedHistories
        penalizer : float

        Returns
        -------
        clvmodels.models.base.Estimate
        """
        try:
            inside = maximum_likelihood(self, data, penalizer)
        except ConvergenceError as error:  # a maximum on a bound looks unidentified inside
            inside, failure = None, error
        if inside is not None and on_bound(*inside.params) == 0:
            return inside
        independent = self.independent_.log_likelihood  # omega = 0, inside
        candidates = []
        for side in (-1, 1):
            candidate = self._maximum_on_bound(data, penalizer, side)
            if candidate.log_likelihood >= independent - 1e-6:
                candidates.append((candidate, side))
        if not candidates:  # the maximum is inside, where the search failed: say why
            raise failure
        best, side = max(candidates, key=lambda candidate: candidate[0].log_likelihood)
        if inside is not None and inside.log_likelihood > best.log_likelihood + 1e-6:
            raise ConvergenceError(  # not expected: the search stopped at a bound it can leave
                f"{self.title}: the search ended at a bound of omega, but the maximum along "
                "the bounds is lower; try a small penalizer (penalizer=0.001)")
        params = np.r_[best.params, _OnBound.omega_at(best.params, side)]
        covariance = np.full((5, 5), np.nan)
        covariance[:4, :4] = best.covariance
        return Estimate(params, covariance, best.log_likelihood, best.n)

    def _maximum_on_bound(self, data: PairedHistories, penalizer: float, side: int) -> Estimate:
        """The maximum along one bound of omega: by the common search where the likelihood is
        smooth there; where it is not (the bound is the smaller of two curves, and the maximum
        often sits where they cross: on CDNOW, where (alpha/(alpha+1))^r = (beta/(beta+1))^s)
        by Nelder-Mead, restarted once from its end, with no covariance (NaN): such an
        estimate has no asymptotic normal distribution to give intervals from."""
        spec = _OnBound(self, side)
        try:
            return maximum_likelihood(spec, data, penalizer)
        except ConvergenceError:
            pass

        def objective(free):
            params = np.exp(free)
            full = np.r_[params, spec.omega_at(params, side)]
            return -spec._total(params, data) / data.n + penalizer * (full @ full)

        point = np.log(spec.initial_params(data))
        for _ in range(2):
            result = optimize.minimize(objective, point, method="Nelder-Mead", options=dict(
                xatol=1e-9, fatol=1e-13, maxiter=20_000, maxfev=20_000))
            point = result.x
        params = np.exp(point)
        full = np.r_[params, spec.omega_at(params, side)]
        if not (result.success and np.all(np.isfinite(full))):
            raise ConvergenceError(f"{self.title} did not converge along the bound of omega "
                                   f"({result.message}); try a small penalizer (penalizer=0.001)")
        return Estimate(params, np.full((4, 4), np.nan), float(spec._total(params, data)),
                        data.n)

    def _total(self, params, data) -> float:
        """The total log-likelihood; beyond the bounds of omega (where the Sarmanov density is
        not a density and the likelihood is undefined) its value at the bound minus a steep
        quadratic, so that the search, whose trial steps may cross a bound, sees a smooth
        surface whose maximum is inside (at the bound, if the data push it there)."""
        params = np.asarray(params, dtype=float)
        lo, hi = pnbd_cor.omega_bounds(*params[:4])
        omega = params[4]
        inside = float(np.clip(omega, lo * (1 - 1e-12), hi * (1 - 1e-12)))
        value = pnbd_cor.total_loglik(*params[:4], inside, data.x, data.t_x, data.T,
                                      data.weights)
        return value - BOUND_PENALTY * data.n * (omega - inside) ** 2

    def _steps(self, params, relative=DIFFERENCE_STEP, omega=DIFFERENCE_STEP) -> np.ndarray:
        """Steps of the differences: ``relative`` of each positive parameter, ``omega`` of
        the width of omega's range."""
        params = np.asarray(params, dtype=float)
        steps = relative * np.abs(params)
        if len(params) == 5:
            lo, hi = pnbd_cor.omega_bounds(*params[:4])
            steps[4] = omega * (hi - lo)
        return steps

    def loglik_grad(self, params, data: PairedHistories):
        """Total log-likelihood and its gradient by central differences (the Pareto/NBD's own
        gradient is numerical too).

        Parameters
        ----------
        params : numpy.ndarray
            r, alpha, s, beta, omega.
        data : PairedHistories

        Returns
        -------
        (float, numpy.ndarray)
        """
        params = np.asarray(params, dtype=float)
        return central_gradient(lambda p: self._total(p, data), params, self._steps(params))

    def loglik_hessian(self, params, data: PairedHistories) -> np.ndarray:
        """Hessian of the total log-likelihood by second differences of the likelihood itself
        (differences of a differenced gradient would lose half the digits).

        Parameters
        ----------
        params : numpy.ndarray
        data : PairedHistories

        Returns
        -------
        numpy.ndarray
        """
        params = np.asarray(params, dtype=float)
        steps = self._steps(params, HESSIAN_STEP, HESSIAN_OMEGA_STEP)
        if len(params) == 5:  # differences that stay on the model's side of the bounds
            lo, hi = pnbd_cor.omega_bounds(*params[:4])
            steps[4] = min(steps[4], 0.5 * min(params[4] - lo, hi - params[4]))
        return second_differences(lambda p: self._total(p, data), params, steps)

    @classmethod
    def example_frame(cls, customers: int = 600) -> pd.DataFrame:
        """Data for :func:`clvmodels.testing.check_model`: customers simulated with a
        correlation (on CDNOW's sample, 600 customers put omega at its bound, where the
        estimate has no standard errors)."""
        return simulate_correlated(max(int(customers), 1500), r=1.5, alpha=3.0, s=1.2,
                                   beta=4.0, omega=1.0, T=40.0, seed=2)

    def check_estimate(self, params: pd.Series) -> None:
        """Warn where omega is on a bound: the data want a stronger dependence of the rates
        than the Sarmanov family can express at these marginals.

        Parameters
        ----------
        params : pandas.Series
        """
        side = on_bound(*params.to_numpy())
        if side:
            warnings.warn(
                f"{self.title}: omega = {params['omega']:.4g} is on its "
                f"{'lower' if side < 0 else 'upper'} bound, the strongest "
                f"{'negative' if side < 0 else 'positive'} dependence of the rates the "
                "Sarmanov family allows at these r, alpha, s, beta: the estimate is the "
                "maximum along the bound, omega has no standard error, and where the bound "
                "has a corner there none has any (no intervals)", DataQualityWarning,
                stacklevel=4)

    def loglik_tensor(self, params: dict, data, xp):
        """Refused: this model has a maximum-likelihood engine only."""
        raise DataError(f"{self.title} has no Bayesian engine: fit it by maximum likelihood")

    def default_priors(self, data) -> dict:
        """The Pareto/NBD's, and ``omega ~ Normal(0, 1)``."""
        return {**super().default_priors(data), "omega": (0.0, 1.0)}


def _jacobian(function, point, step=1e-6) -> np.ndarray:
    """d function(point) / d point by central differences (relative steps; both functions it
    serves are smooth and cheap)."""
    point = np.asarray(point, dtype=float)
    columns = []
    for j in range(len(point)):
        h = step * max(abs(point[j]), 1.0)
        up, down = point.copy(), point.copy()
        up[j] += h
        down[j] -= h
        columns.append((function(up)[0] - function(down)[0]) / (2 * h))
    return np.column_stack(columns)


class _OnBound(CorrelatedParetoNBDModel):
    """The correlated Pareto/NBD along one bound of omega (``side`` -1 or +1): four
    parameters, omega the bound they imply."""

    param_names = ("r", "alpha", "s", "beta")
    positive = (True, True, True, True)

    def __init__(self, model: CorrelatedParetoNBDModel, side: int):
        self.model, self.side = model, side
        self.fit_name = model.title

    def initial_params(self, data: PairedHistories) -> np.ndarray:
        """The Pareto/NBD's estimate (the correlated model's, already fitted)."""
        independent = getattr(self.model, "independent_", None)
        if independent is None:
            independent = self.model.independent_ = maximum_likelihood(ParetoNBDModel(), data)
        return np.array(independent.params, dtype=float)

    @staticmethod
    def omega_at(params, side: int) -> float:
        """The bound of omega on ``side`` at the four parameters."""
        return float(pnbd_cor.omega_bounds(*params)[0 if side < 0 else 1])

    def _total(self, params, data) -> float:
        params = np.asarray(params, dtype=float)
        return super()._total(np.r_[params, self.omega_at(params, self.side)], data)


class CorrelatedParetoNBD(CorrelatedParetoNBDModel, MaximumLikelihoodModel):
    """Pareto/NBD with correlated purchase and dropout rates, by maximum likelihood.

    Parameters
    ----------
    penalizer : float, default 0

    Attributes
    ----------
    params_ : pandas.Series
        ``r, alpha, s, beta`` (the Pareto/NBD's marginals) and ``omega``.
    correlation_ : float
        The correlation of the purchase and dropout rates the estimate implies.

    Examples
    --------
    >>> import clvmodels
    >>> from clvmodels.models.correlated import CorrelatedParetoNBD, simulate_correlated
    >>> frame = simulate_correlated(3000, r=0.8, alpha=5.0, s=0.6, beta=8.0, omega=0.0,
    ...                             T=52.0, seed=3)
    >>> model = CorrelatedParetoNBD().fit(frame)
    >>> bool(model.correlation_test()["p_value"] > 0.01)
    True
    """

    def __init__(self, penalizer: float = 0.0):
        super().__init__(penalizer)

    def parameter_draws(self, max_draws: int | None = None, interval=None):
        """The estimate as one draw; for an ``interval``, the estimate followed by draws of
        its asymptotic normal distribution in coordinates where every draw is a model: the
        logarithms of r, alpha, s, beta and the logit of omega's place in its range (whose
        bounds move with the four). An estimate on a bound draws the four and puts omega on
        the same bound; one on a bound where the likelihood has a corner (its covariance is
        NaN) has no such distribution, and intervals are refused.

        Parameters
        ----------
        max_draws : int, optional
            Draws behind an interval (default 1,000).
        interval : float, optional
            Whether draws are wanted (any mass).

        Returns
        -------
        clvmodels.draws.ParameterDraws
        """
        self.check_fitted()
        check_draw_options(max_draws, interval)
        if interval is None:
            return super().parameter_draws(max_draws, interval)
        estimate = self.params_.to_numpy()
        covariance = self.covariance_.to_numpy()
        side = on_bound(*estimate)
        if not np.all(np.isfinite(covariance[:4, :4])):
            raise DataError(
                f"{self.title} gives no intervals for this estimate: the maximum is on the "
                "bound of omega where the likelihood has a corner (the strongest dependence "
                "the Sarmanov family allows), so the estimate has no asymptotic normal "
                "distribution; the point predictions stand, and the Pareto/NBD gives intervals")
        count = int(max_draws or self._interval_draws)
        rng = np.random.default_rng(self._interval_seed)
        if side == 0:
            free = to_bounded_free(estimate)[0]
            jacobian = _jacobian(to_bounded_free, estimate)
            draws = from_bounded_free(rng.multivariate_normal(
                free, jacobian @ covariance @ jacobian.T, size=count, method="eigh"))
        else:
            four = np.exp(rng.multivariate_normal(
                np.log(estimate[:4]), covariance[:4, :4] / np.outer(estimate[:4], estimate[:4]),
                size=count, method="eigh"))
            draws = np.column_stack([four, pnbd_cor.omega_bounds(*four.T)[0 if side < 0 else 1]])
        draws = np.vstack([estimate, draws])
        return ParameterDraws((draws[:, j][None, :] for j in range(5)), center="first")

    @property
    def correlation_(self) -> float:
        """The correlation of the purchase and dropout rates at the estimate."""
        self.check_fitted()
        return float(pnbd_cor.correlation(*self.params_.to_numpy()))

    def fit(self, rfm: pd.DataFrame, weights=None, *arrays, time_unit: str | None = None):
        """Fit by maximum likelihood, starting from the Pareto/NBD's estimate.

        Parameters
        ----------
        rfm : pandas.DataFrame
        weights : pandas.Series or array-like, optional
        time_unit : str, optional

        Returns
        -------
        self
        """
        super().fit(rfm, weights, *arrays, time_unit=time_unit)
        self.independent_log_likelihood_ = float(self.independent_.log_likelihood)
        return self

    facts = ("independent_log_likelihood",)

    def correlation_test(self) -> pd.Series:
        """The likelihood-ratio test of zero correlation (``omega = 0``: the Pareto/NBD),
        against the Pareto/NBD fitted on the same customers.

        Returns
        -------
        pandas.Series
            ``statistic``, ``df`` (1) and ``p_value`` (chi-squared).
        """
        from scipy import stats

        self.check_fitted()
        statistic = max(2 * (self.log_likelihood_ - self.independent_log_likelihood_), 0.0)
        return pd.Series({"statistic": statistic, "df": 1.0,
                          "p_value": float(stats.chi2.sf(statistic, 1))})


def simulate_correlated(n_customers: int, *, r: float, alpha: float, s: float, beta: float,
                        omega: float, T: float, seed=None, time_unit: str = "W") -> pd.DataFrame:
    """Customers of the correlated Pareto/NBD, acquired at 0 and observed for ``T``: the rates
    drawn from the Sarmanov density by rejection from the independent Gammas, then Poisson
    purchases until an exponential lifetime.

    Parameters
    ----------
    n_customers : int
    r, alpha, s, beta : float
        > 0.
    omega : float
        Within :func:`clvmodels._math.pnbd_cor.omega_bounds`.
    T : float
    seed : int, optional
    time_unit : str

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T``, one row per customer; ``attrs`` record the unit, the
        truth and the rates' correlation.
    """
    n = check_count(n_customers, "n_customers", low=1)
    lo, hi = pnbd_cor.omega_bounds(r, alpha, s, beta)
    if not lo <= omega <= hi:
        raise DataError(f"omega={omega} is outside [{lo:.4g}, {hi:.4g}], where the Sarmanov "
                        "density of these parameters is a density")
    rng = np.random.default_rng(seed)
    ca, cb = (alpha / (alpha + 1)) ** r, (beta / (beta + 1)) ** s
    bound = 1 + abs(omega) * max(ca * cb, (1 - ca) * (1 - cb), ca * (1 - cb), cb * (1 - ca))
    lam, mu = np.empty(0), np.empty(0)
    while len(lam) < n:
        a, b = rng.gamma(r, 1 / alpha, 2 * n), rng.gamma(s, 1 / beta, 2 * n)
        keep = rng.random(2 * n) * bound <= 1 + omega * (np.exp(-a) - ca) * (np.exp(-b) - cb)
        lam, mu = np.r_[lam, a[keep]], np.r_[mu, b[keep]]
    lam, mu = lam[:n], mu[:n]
    life = np.minimum(rng.exponential(1 / mu), T)
    x = rng.poisson(lam * life)
    # given x purchases in (0, life], the last is the maximum of x uniforms on it
    t_x = np.where(x > 0, life * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)
    frame = pd.DataFrame({"frequency": x.astype(np.int64), "recency": t_x,
                          "T": np.full(n, float(T))}, index=pd.RangeIndex(n, name="customer_id"))
    frame.attrs.update(time_unit=time_unit, truth=dict(r=r, alpha=alpha, s=s, beta=beta,
                                                       omega=omega),
                       correlation=float(np.corrcoef(lam, mu)[0, 1]))
    return frame
