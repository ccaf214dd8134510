"""GGompertz/NBD (Bemmaor & Glady 2012): Pareto/NBD's purchases with a Gompertz lifetime whose
scale is Gamma across customers, so that the dropout hazard can grow (``b > 0``) with a
customer's age; as ``b -> 0`` (with ``beta / b`` fixed) it is the Pareto/NBD. Specified once on
the histories (x, t_x, T), formulas in :mod:`clvmodels._math.ggomnbd`; :class:`GGompertzNBD`
fits it by maximum likelihood (the integrals have no closed form, and neither has the gradient:
central differences of the likelihood, which the quadrature gives to about 1e-12).

The Pareto/NBD is the model's boundary, not a point inside it, and real data often prefer it:
on CDNOW both the paper (Bemmaor & Glady 2012, Table 2) and CLVTools report an estimate with
``b`` near 0 and the Pareto/NBD's log-likelihood. The fit therefore fits the Pareto/NBD first;
where no point inside is better, the estimate is that limit, reported at a ``b`` so small
(:data:`LIMIT_B` over the longest observation) that every prediction is the Pareto/NBD's to
about 1e-10, with a warning, ``pareto_limit_ = 1`` and no standard error for ``b``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._math import ggomnbd
from ..arguments import check_count, check_draw_options
from ..draws import ParameterDraws
from ..exceptions import ConvergenceError, DataError, DataQualityWarning
from .base import Estimate, MaximumLikelihoodModel, maximum_likelihood
from .differences import central_gradient, second_differences
from .pareto_nbd import PairedHistories, ParetoNBDModel
from .purchase import PurchaseModel

DIFFERENCE_STEP = 1e-5  # relative step of the numerical gradient
HESSIAN_STEP = 1e-4  # relative step of the numerical Hessian
LIMIT_B = 1e-10  # b times the longest observation at the Pareto/NBD limit
BETTER_THAN_LIMIT = 1e-6  # how much higher than the Pareto/NBD an inside estimate must be


class GGompertzNBDModel(PurchaseModel):
    """The specification: the Pareto/NBD's data (unique histories) and the predictions of
    :class:`~clvmodels.models.purchase.PurchaseModel`, with GGompertz/NBD's formulas.
    Parameters as BTYDplus and CLVTools name them: ``r, alpha`` (purchase rates), ``b`` (the
    Gompertz shape, per time unit), ``s, beta`` (the Gamma of the Gompertz scale)."""

    name = "ggomnbd"
    title = "GGompertz/NBD"
    param_names = ("r", "alpha", "b", "s", "beta")
    formulas = ggomnbd
    numerical_gradient = True
    row_numerical_gradient = True  # so is its per-customer gradient (covariates)
    # as CLVTools' ggomnbd with static covariates: alpha_i = alpha_0 exp(-g1'z) (exp(g1)
    # multiplies the mean purchase rate r / alpha), beta_i = beta_0 exp(-g2'z) (exp(g2) the
    # mean Gompertz scale s / beta: the dropout hazard at every age)
    covariate_links = {"purchase": (("alpha", -1, "purchase rate"),),
                       "dropout": (("beta", -1, "dropout hazard"),)}
    facts = ("pareto_log_likelihood", "pareto_limit")

    def prepare(self, rfm: pd.DataFrame, weights=None) -> PairedHistories:
        """The Pareto/NBD's prepared histories (its fit comes first: the limit ``b -> 0``).

        Parameters
        ----------
        rfm : pandas.DataFrame
        weights : numpy.ndarray, optional

        Returns
        -------
        PairedHistories
        """
        return ParetoNBDModel().prepare(rfm, weights)

    def subsample(self, data, fraction: float, rng) -> PairedHistories:
        """A random share of the customers (:meth:`ParetoNBDModel.subsample`).

        Parameters
        ----------
        data : PairedHistories
        fraction : float
        rng : numpy.random.Generator

        Returns
        -------
        PairedHistories
        """
        return ParetoNBDModel().subsample(data, fraction, rng)

    def initial_params(self, data) -> np.ndarray:
        """From the Pareto/NBD's estimate on the same data (the limit ``b -> 0``): ``b`` a
        tenth of the inverse mean T and ``beta = b beta_p``, where the two nearly agree; a
        generic start where the Pareto/NBD did not converge.

        Parameters
        ----------
        data : PairedHistories

        Returns
        -------
        numpy.ndarray
        """
        mean_T = max(float(np.average(data.T, weights=data.weights)), 1e-9)
        b = 0.1 / mean_T
        pareto = getattr(self, "pareto_estimate", None)
        if pareto is not None:
            r, alpha, s, beta = pareto.params
        else:
            mean_x = max(float(np.average(data.x, weights=data.weights)), 0.1)
            r, alpha, s, beta = 1.0, mean_T / mean_x, 1.0, mean_T
        return np.array([r, alpha, b, s, b * beta])

    def maximise_likelihood(self, data: PairedHistories, penalizer: float = 0.0) -> Estimate:
        """The maximum inside the model, or its Pareto/NBD limit where nothing inside is higher.

        The Pareto/NBD is fitted first (its log-likelihood is recorded as
        ``pareto_log_likelihood``: the test of ``b = 0``), then the GGompertz/NBD from it. An
        inside estimate must beat the Pareto/NBD by :data:`BETTER_THAN_LIMIT`; otherwise the
        estimate is the limit: the Pareto/NBD's r, alpha, s and ``beta = b beta_p`` at
        ``b = LIMIT_B / max(T)``, with the Pareto/NBD's covariance (``b``'s row NaN: it has no
        standard error at a boundary) and ``pareto_limit = 1``.

        Parameters
        ----------
        data : PairedHistories
        penalizer : float

        Returns
        -------
        clvmodels.models.base.Estimate
        """
        self.limit_reached = False
        try:
            self.pareto_estimate = maximum_likelihood(ParetoNBDModel(), data, penalizer)
        except ConvergenceError:
            self.pareto_estimate = None
        pareto = self.pareto_estimate
        try:
            inside, failure = maximum_likelihood(self, data, penalizer), None
        except ConvergenceError as error:
            inside, failure = None, error
        if pareto is not None:
            data.facts["pareto_log_likelihood"] = float(pareto.log_likelihood)
        if inside is not None and (pareto is None or inside.log_likelihood
                                   > pareto.log_likelihood + BETTER_THAN_LIMIT):
            data.facts["pareto_limit"] = 0
            return inside
        if pareto is None:
            raise failure
        data.facts["pareto_limit"] = 1
        self.limit_reached = True
        r, alpha, s, beta_p = pareto.params
        b = LIMIT_B / float(np.max(data.T))
        params = np.array([r, alpha, b, s, b * beta_p])
        jacobian = np.zeros((5, 4))  # (r, alpha, s, beta_p) -> (r, alpha, b, s, beta)
        jacobian[0, 0] = jacobian[1, 1] = jacobian[3, 2] = 1.0
        jacobian[4, 3] = b
        covariance = jacobian @ pareto.covariance @ jacobian.T
        covariance[2, :] = covariance[:, 2] = np.nan
        return Estimate(params, covariance, self._total(params, data), data.n)

    def _total(self, params, data) -> float:
        with np.errstate(all="ignore"):
            ll = ggomnbd.loglik(*params, data.x, data.t_x, data.T)
        total = float(ll @ data.weights)
        return total if np.isfinite(total) else -np.inf

    def loglik_grad(self, params, data):
        """Total log-likelihood and its gradient by central differences (relative steps).

        Parameters
        ----------
        params : numpy.ndarray
            r, alpha, b, s, beta.
        data : PairedHistories

        Returns
        -------
        (float, numpy.ndarray)
        """
        params = np.asarray(params, dtype=float)
        return central_gradient(lambda p: self._total(p, data), params,
                                DIFFERENCE_STEP * params)

    def loglik_hessian(self, params, data) -> np.ndarray:
        """Hessian of the total log-likelihood by second differences of the likelihood
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
        steps = HESSIAN_STEP * params
        return second_differences(lambda p: self._total(p, data), params, steps)

    def check_estimate(self, params: pd.Series) -> None:
        """Warn where the estimate is the Pareto/NBD limit.

        Parameters
        ----------
        params : pandas.Series
        """
        if getattr(self, "pareto_limit_", 0):
            warnings.warn(
                f"{self.title}: no estimate with a Gompertz shape b > 0 is more likely than the "
                "Pareto/NBD (b -> 0), so the estimate is that limit: b = "
                f"{params['b']:.3g}, where every prediction is the Pareto/NBD's to about "
                "1e-10; b has no standard error, and the intervals are the Pareto/NBD's",
                DataQualityWarning, stacklevel=4)

    def loglik_tensor(self, params: dict, data, xp):
        """Refused: this model has a maximum-likelihood engine only."""
        raise DataError(f"{self.title} has no Bayesian engine: fit it by maximum likelihood")

    def default_priors(self, data) -> dict:
        """Not used (no Bayesian engine): wide log-normal priors, as the Pareto/NBD's."""
        log_T = float(np.log(np.average(data.T, weights=data.weights) + 1e-9))
        return {"r": (0.0, 2.0), "alpha": (log_T, 3.0), "b": (-log_T, 3.0), "s": (0.0, 2.0),
                "beta": (0.0, 3.0)}

    @classmethod
    def example_frame(cls, customers: int = 600) -> pd.DataFrame:
        """Data for :func:`clvmodels.testing.check_model`: a base simulated with an ageing
        hazard (``b`` well above 0, where the parameters are identified)."""
        return simulate_ggompertz(max(int(customers), 600), seed=3)


class GGompertzNBD(GGompertzNBDModel, MaximumLikelihoodModel):
    """GGompertz/NBD by maximum likelihood (Bemmaor & Glady 2012; BTYDplus ``ggomnbd``,
    CLVTools ``ggomnbd``).

    Parameters
    ----------
    penalizer : float, default 0
    covariate_penalty, shared_covariates, **covariates
        As every model's (:class:`clvmodels.models.base.MaximumLikelihoodModel`):
        ``purchase_covariates=[...]`` move ``alpha``, ``dropout_covariates=[...]`` move
        ``beta`` (CLVTools' static covariates).

    Attributes
    ----------
    params_ : pandas.Series
        ``r, alpha`` (purchase rates), ``b`` (the Gompertz shape: how fast the dropout hazard
        grows with a customer's age, per time unit), ``s, beta`` (the Gamma of the Gompertz
        scale).
    pareto_log_likelihood_ : float
        The Pareto/NBD's log-likelihood on the same customers (the limit ``b -> 0``).
    pareto_limit_ : int
        1 where the estimate is that limit (no point with ``b > 0`` is more likely), else 0.

    Examples
    --------
    >>> import clvmodels
    >>> rfm = clvmodels.simulate_ggompertz(2000, seed=3)  # b = 0.1: an ageing hazard
    >>> model = clvmodels.GGompertzNBD().fit(rfm)
    >>> bool(model.pareto_limit_ == 0 and model.limit_test()["p_value"] < 0.01)
    True
    """

    def fit(self, rfm: pd.DataFrame, weights=None, *arrays, time_unit: str | None = None):
        """Fit by maximum likelihood (see the class and module docstrings).

        Parameters
        ----------
        rfm : pandas.DataFrame
        weights : pandas.Series or array-like, optional
        time_unit : str, optional

        Returns
        -------
        self
        """
        # its facts come from this fit's likelihood search, and one with covariates records
        # none: a refit must not keep the last fit's (limit_test would test against them)
        for fact in self.facts:
            self.__dict__.pop(fact + "_", None)
        try:
            return super().fit(rfm, weights, *arrays, time_unit=time_unit)
        except ConvergenceError as error:
            if self.covariates and getattr(self, "limit_reached", False):
                raise ConvergenceError(
                    f"{self.title} without covariates is at its Pareto/NBD limit on these "
                    "customers (no Gompertz shape b > 0 is more likely), and with covariates "
                    "its maximum runs to that limit too: fit clvmodels.ParetoNBD with the same "
                    "covariates instead") from error
            raise

    def limit_test(self) -> pd.Series:
        """The likelihood-ratio test of ``b = 0`` (the Pareto/NBD) against the model.

        ``b = 0`` is on the boundary of the parameter space, so the statistic is a 50:50
        mixture of 0 and chi-squared(1) under the null (Self & Liang 1987): the p-value is half
        the chi-squared one.

        Returns
        -------
        pandas.Series
            ``statistic``, ``df`` (1) and ``p_value``.
        """
        from scipy import stats

        self.check_fitted()
        if not hasattr(self, "pareto_log_likelihood_"):
            raise DataError("this fit recorded no Pareto/NBD log-likelihood, so there is no "
                            "test of b = 0 here: with covariates, fit the Pareto/NBD with the "
                            "same covariates and compare; without, the Pareto/NBD did not "
                            "converge (the data are far from a constant hazard)")
        statistic = max(2 * (self.log_likelihood_ - self.pareto_log_likelihood_), 0.0)
        p_value = 1.0 if statistic == 0 else 0.5 * float(stats.chi2.sf(statistic, 1))
        return pd.Series({"statistic": statistic, "df": 1.0, "p_value": p_value})

    def parameter_draws(self, max_draws: int | None = None, interval=None):
        """The estimate as one draw; for an ``interval``, draws of its asymptotic normal
        distribution in log-parameters, as every model's; at the Pareto/NBD limit ``b`` is held
        where it is and r, alpha, s, beta are drawn (the Pareto/NBD's intervals).

        Parameters
        ----------
        max_draws : int, optional
        interval : float, optional

        Returns
        -------
        clvmodels.draws.ParameterDraws
        """
        self.check_fitted()
        check_draw_options(max_draws, interval)
        if interval is None or not getattr(self, "pareto_limit_", 0):
            return super().parameter_draws(max_draws, interval)
        estimate = self.params_.to_numpy()
        kept = [0, 1, 3, 4]
        covariance = self.covariance_.to_numpy()[np.ix_(kept, kept)]
        count = int(max_draws or self._interval_draws)
        rng = np.random.default_rng(self._interval_seed)
        logs = rng.multivariate_normal(np.log(estimate[kept]), covariance / np.outer(
            estimate[kept], estimate[kept]), size=count, method="eigh")
        draws = np.repeat(estimate[None, :], count + 1, axis=0)
        draws[1:, kept] = np.exp(logs)
        return ParameterDraws((draws[:, j][None, :] for j in range(5)), center="first")


def simulate_ggompertz(n_customers: int, *, r: float = 0.8, alpha: float = 6.0,
                       b: float = 0.1, s: float = 0.3, beta: float = 0.2, T: float = 52.0,
                       seed=None, time_unit: str = "W") -> pd.DataFrame:
    """Customers of the GGompertz/NBD, acquired at 0 and observed for ``T``.

    Each draws a purchase rate from Gamma(r, alpha) and a Gompertz scale ``eta`` from
    Gamma(s, beta); her lifetime solves :math:`e^{-\\eta (e^{b\\tau} - 1)} = U`; she buys at
    her rate until then.

    The defaults are identified from a few thousand customers. Not every choice is: at
    ``beta = 1`` the population's survival is exactly exponential, ``(1 / e^{bt})^s``, so that
    the data cannot tell it from a Pareto/NBD whose customers all share one dropout rate, and
    the fit refuses (the estimate runs off to ``s, beta -> infinity``).

    Parameters
    ----------
    n_customers : int
    r, alpha, b, s, beta : float
        The model's parameters (``b`` per time unit), all > 0.
    T : float
    seed : int, optional
    time_unit : str

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T``, one row per customer; ``attrs`` record the unit and
        the truth.
    """
    n = check_count(n_customers, "n_customers", low=1)
    for name, value in dict(r=r, alpha=alpha, b=b, s=s, beta=beta, T=T).items():
        if not (np.isfinite(value) and value > 0):
            raise DataError(f"{name}={value!r}: every parameter (and T) must be a number > 0")
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    eta = rng.gamma(s, 1 / beta, n)
    life = np.log1p(rng.exponential(size=n) / eta) / b  # S(t | eta) = e^{-eta (e^{bt} - 1)}
    end = np.minimum(life, T)
    x = rng.poisson(lam * end)
    # given x purchases in (0, end], the last is the largest of x uniforms on it
    t_x = np.where(x > 0, end * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)
    frame = pd.DataFrame({"frequency": x.astype(np.int64), "recency": t_x,
                          "T": np.full(n, float(T))}, index=pd.RangeIndex(n, name="customer_id"))
    frame.attrs.update(time_unit=time_unit, truth=dict(r=r, alpha=alpha, b=b, s=s, beta=beta))
    return frame
