"""Pareto/NBD with correlated purchase and dropout rates (the Sarmanov family: Glady, Baesens &
Croux 2009; CLVTools' ``pnbd(use.cor=TRUE)``): :class:`CorrelatedParetoNBD` fits it by maximum
likelihood, with ``omega`` the Sarmanov parameter (0: the Pareto/NBD) and
:meth:`~CorrelatedParetoNBD.correlation_test` the likelihood-ratio test of zero correlation.
The formulas are :mod:`clvmodels._math.pnbd_cor` (every one the Pareto/NBD's, mixed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._math import pnbd_cor
from ..arguments import check_count, check_draw_options
from ..exceptions import DataError
from .base import MaximumLikelihoodModel, maximum_likelihood
from .pareto_nbd import PairedHistories, ParetoNBDModel

DIFFERENCE_STEP = 1e-5  # relative (absolute for omega) step of the numerical derivatives
BOUND_PENALTY = 1e3  # per customer and squared unit of omega beyond its bounds


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

    def _steps(self, params) -> np.ndarray:
        return np.where(self.positive, DIFFERENCE_STEP * np.abs(params), DIFFERENCE_STEP)

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
        value = self._total(params, data)
        steps = self._steps(params)
        gradient = np.empty(len(params))
        for j, h in enumerate(steps):
            e = np.zeros(len(params))
            e[j] = h
            gradient[j] = (self._total(params + e, data) - self._total(params - e, data)) / (2 * h)
        return value, gradient

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
        steps = 10 * self._steps(params)
        k = len(params)
        center = self._total(params, data)
        hessian = np.empty((k, k))
        for i in range(k):
            for j in range(i, k):
                ei, ej = np.zeros(k), np.zeros(k)
                ei[i], ej[j] = steps[i], steps[j]
                if i == j:
                    value = (self._total(params + ei, data) - 2 * center
                             + self._total(params - ei, data)) / steps[i] ** 2
                else:
                    value = (self._total(params + ei + ej, data)
                             - self._total(params + ei - ej, data)
                             - self._total(params - ei + ej, data)
                             + self._total(params - ei - ej, data)) / (4 * steps[i] * steps[j])
                hessian[i, j] = hessian[j, i] = value
        return hessian

    @classmethod
    def example_frame(cls, customers: int = 600) -> pd.DataFrame:
        """Data for :func:`clvmodels.testing.check_model`: customers simulated with a
        correlation (on CDNOW's sample, 600 customers put omega at its bound, where the
        estimate has no standard errors)."""
        return simulate_correlated(max(int(customers), 1500), r=1.5, alpha=3.0, s=1.2,
                                   beta=4.0, omega=1.0, T=40.0, seed=2)

    def loglik_tensor(self, params: dict, data, xp):
        """Refused: this model has a maximum-likelihood engine only."""
        raise DataError(f"{self.title} has no Bayesian engine: fit it by maximum likelihood")

    def default_priors(self, data) -> dict:
        """The Pareto/NBD's, and ``omega ~ Normal(0, 1)``."""
        return {**super().default_priors(data), "omega": (0.0, 1.0)}


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
        """The estimate; intervals are refused, not approximated: the asymptotic normal of
        the estimate crosses the bounds of omega, where the model is not defined.

        Parameters
        ----------
        max_draws : int, optional
        interval : float, optional

        Returns
        -------
        clvmodels.draws.ParameterDraws
        """
        check_draw_options(max_draws, interval)  # a mass out of range: the usual refusal
        if interval is not None:
            raise DataError(f"{self.title} gives no intervals yet: draws of its estimate's "
                            "asymptotic distribution cross the bounds of omega, where the "
                            "model is not defined; use the Pareto/NBD for intervals")
        return super().parameter_draws(max_draws, interval)

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
