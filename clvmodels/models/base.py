"""Maximum-likelihood machinery shared by the models: fit on log-parameters, covariance, summary."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..data import check_rfm, rfm_time_unit
from ..exceptions import ConvergenceError, DataError, NotFittedError
from ..interface import given, show
from ..units import UNIT_NAMES, days_per_unit

CHUNK_ELEMENTS = 4_000_000  # rows x draws evaluated at once: about 32 MB per array
LBFGS_OPTIONS = {"maxiter": 2000, "ftol": 1e-10, "gtol": 1e-7}
WARM_START_CUSTOMERS = 20_000  # larger fits start from the estimate on this many customers
MAX_LOG_SD = 10.0  # an estimate whose log is this uncertain is not identified by the data


def invalid_parameters(names, draws: np.ndarray) -> str | None:
    """The first parameter with a value (in any draw: rows) that is not finite or not > 0."""
    for j, name in enumerate(names):
        values = draws[:, j]
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            return (f"parameter {name} is {show(values[bad][0])} (it must be a finite number > 0)"
                    + (f" in {int(bad.sum())} of {len(values)} draws" if len(values) > 1 else ""))
    return None


class FittedModel:
    """What every model shares: the not-fitted error, frame checks, horizons, saving."""

    fitted_attribute = "params_"

    def _check_fitted(self) -> None:
        if not hasattr(self, self.fitted_attribute):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call .fit(rfm) first, "
                "or load a saved model with clvmodels.load(path)"
            )

    def _prepare(self, rfm: pd.DataFrame, columns) -> pd.DataFrame:
        """Check a frame for prediction: fitted model, valid columns, the same time unit."""
        self._check_fitted()
        check_rfm(rfm, columns)
        unit = rfm_time_unit(rfm)
        if unit is not None and self.time_unit_ is not None and unit != self.time_unit_:
            raise DataError(
                f"the model was fitted in {UNIT_NAMES[self.time_unit_]} but this frame is in "
                f"{UNIT_NAMES[unit]}; rebuild the frame with time_unit={self.time_unit_!r}"
            )
        return rfm

    def _horizon(self, t, rfm: pd.DataFrame | None = None) -> np.ndarray | float:
        """A horizon in the model's time unit: a number, array, Series aligned to ``rfm``, or a
        ``pd.Timedelta`` (converted with the model's unit)."""
        if isinstance(t, (pd.Timedelta, np.timedelta64)):
            if self.time_unit_ is None:
                raise DataError("this model has no time unit, so give the horizon as a number")
            t = pd.Timedelta(t) / pd.Timedelta(days=days_per_unit(self.time_unit_))
        if isinstance(t, pd.Series) and rfm is not None:
            missing = ~rfm.index.isin(t.index)
            if missing.any():
                raise DataError(f"the horizon Series has no value for {int(missing.sum())} customer(s)")
            t = t.reindex(rfm.index)
        try:
            value = np.asarray(t, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise DataError(f"the horizon t={t!r} is not a number, a Series of numbers or a "
                            "pd.Timedelta") from err
        if not np.all(np.isfinite(value)) or np.any(value < 0):
            bad = value[~(np.isfinite(value) & (value >= 0))].ravel()[0]
            raise DataError(f"the horizon t must be finite and >= 0 (in {UNIT_NAMES.get(self.time_unit_, 'model time units')}), not {show(bad)}")
        return value

    def save(self, path) -> None:
        """Save the fitted model as format-versioned plain data (JSON; a posterior goes to a netCDF
        file beside it); read it back with clvmodels.load."""
        from ..persistence import save

        save(self, path)


class MaximumLikelihoodModel(FittedModel):
    """Base of the maximum-likelihood models.

    Subclasses define ``param_names``, ``_data(rfm)`` (what the likelihood needs, compressed to
    unique rows with their counts or to sufficient statistics, and the number of customers),
    ``_subsample(data, fraction, rng)`` (the same for a random share of the customers),
    ``_initial_params(data)`` and ``_loglik_grad(params, data)`` (total log-likelihood, gradient).
    The objective is the lifetimes one: mean negative log-likelihood + ``penalizer * sum(params**2)``.
    """

    param_names: tuple[str, ...] = ()

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, rfm: pd.DataFrame, weights=None):
        """Fit by maximum likelihood on the unique rows of ``rfm``; returns ``self``.

        ``weights`` (optional, one per row) counts how many customers each row stands for: a
        table of unique rows with their counts fits exactly like the customers themselves."""
        if not (np.isfinite(self.penalizer) and self.penalizer >= 0):
            raise DataError(f"{given('penalizer', self.penalizer)}: the penalizer must be a "
                            "finite number >= 0")
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != (len(rfm),) or not np.all(np.isfinite(weights) & (weights >= 0)):
                raise DataError("weights must be one finite number >= 0 per row of the frame")
        data, n = self._data(rfm, weights)
        return self._fit_data(data, n, rfm_time_unit(rfm))

    def _fit_data(self, data, n, time_unit):
        """Fit on what ``_data`` prepared (``n`` customers, in ``time_unit``); returns ``self``."""
        objective = self._objective(data, n)
        start = np.log(self._initial_params(data))
        if n > 2 * WARM_START_CUSTOMERS:
            # fit a random subsample first (fixed seed): starting near the optimum saves
            # evaluations on all the data
            small, n_small = self._subsample(data, WARM_START_CUSTOMERS / n,
                                             np.random.default_rng(0))
            warm = optimize.minimize(self._objective(small, n_small), start, jac=True,
                                     method="L-BFGS-B", options=LBFGS_OPTIONS)
            if np.all(np.isfinite(warm.x)):
                start = warm.x
        result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                                   options=LBFGS_OPTIONS)
        # one Newton step with the Hessian that the standard errors need anyway: from L-BFGS-B's
        # ~1e-5 relative accuracy to ~1e-10, for fewer evaluations than tighter tolerances
        params = np.exp(result.x)
        grad_at = self._penalised_grad(params, data, n)
        hessian = self._hessian(params, data, n, grad_at)
        value, gradient = result.fun, result.jac
        if np.all(np.isfinite(hessian)):
            with np.errstate(all="ignore"):
                newton = params - np.linalg.lstsq(hessian, grad_at, rcond=None)[0]
            if np.all(newton > 0):
                newton_value, newton_gradient = objective(np.log(newton))
                if newton_value <= value:
                    params, value, gradient = newton, newton_value, newton_gradient
        grad_norm = np.max(np.abs(gradient))
        if not (np.all(np.isfinite(params)) and np.isfinite(value) and grad_norm < 1e-5):
            raise ConvergenceError(
                f"{type(self).__name__} did not converge ({result.message}; largest gradient "
                f"{grad_norm:.2g}). Try: a small penalizer (penalizer=0.001), rescaling time "
                "(time_unit='W' rather than 'D'), removing customers with implausible histories, "
                "or another model."
            )
        covariance = self._covariance(hessian)
        self._check_identified(params, covariance, n)
        self.params_ = pd.Series(params, index=list(self.param_names), dtype=float)
        self.log_likelihood_ = float(-n * (value - self.penalizer * (params @ params)))
        self.n_customers_ = round(n)
        self.time_unit_ = time_unit
        self.covariance_ = covariance
        self._check_estimate()
        return self

    def _check_identified(self, params, covariance: pd.DataFrame, n) -> None:
        """A ConvergenceError where the data do not determine the estimate: the likelihood is
        flat around it (its Hessian is not positive definite), or some parameter is not known
        within a factor of e^10 (a standard error of its logarithm above 10). Such estimates
        (r ~ 1e56 on two customers) are points on a ridge, not numbers to score with."""
        cov = covariance.to_numpy()
        with np.errstate(all="ignore"):
            log_sd = np.sqrt(np.diag(cov)) / params
        shown = ", ".join(f"{k}={v:.3g}" for k, v in zip(self.param_names, params))
        if np.all(np.isfinite(log_sd)) and np.all(log_sd <= MAX_LOG_SD):
            return
        if np.all(np.isfinite(log_sd)):
            worst = self.param_names[int(np.argmax(log_sd))]
            why = (f"{worst} is not determined by the data (the standard error of log({worst}) "
                   f"is {log_sd.max():.3g})")
        else:
            why = "the likelihood is flat around it (its Hessian is not positive definite)"
        raise ConvergenceError(
            f"{type(self).__name__}: the data of {n:,.0f} customer(s) do not identify the "
            f"parameters: the estimate ({shown}) is a point on a ridge, since {why}. Try: more "
            "customers or a longer observation window, a small penalizer (penalizer=0.001), or "
            "a simpler model."
        )

    def _check_estimate(self) -> None:
        """Warnings about an estimate that is identified but limits what it predicts."""

    def parameter_problem(self) -> str | None:
        """Why the parameters cannot be used (not finite, not > 0), or None: checked on every
        fit and every load."""
        return invalid_parameters(self.param_names, self.params_.to_numpy()[None, :])

    def _objective(self, data, n):
        """Mean penalised negative log-likelihood and its gradient, in log-parameters."""

        def objective(log_params):
            with np.errstate(all="ignore"):  # a non-finite trial point is rejected below
                params = np.exp(log_params)
                ll, grad = self._loglik_grad(params, data)
                value = -ll / n + self.penalizer * (params @ params)
                gradient = (-grad / n + 2 * self.penalizer * params) * params
            if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
                return np.inf, np.zeros_like(log_params)
            return value, gradient

        return objective

    def _penalised_grad(self, params, data, n) -> np.ndarray:
        """Gradient of the penalised total negative log-likelihood in natural parameters."""
        with np.errstate(all="ignore"):
            g = self._loglik_grad(params, data)[1]
        return -g + 2 * self.penalizer * n * params

    def _hessian(self, params, data, n, at) -> np.ndarray:
        """Hessian of the penalised total negative log-likelihood: forward differences of the
        analytic gradient (``at``: its value at ``params``; relative step 1e-7), symmetrised."""
        k = len(params)
        hessian = np.empty((k, k))
        for j in range(k):
            step = np.zeros(k)
            step[j] = 1e-7 * params[j]
            hessian[:, j] = (self._penalised_grad(params + step, data, n) - at) / step[j]
        return (hessian + hessian.T) / 2

    def _covariance(self, hessian) -> pd.DataFrame:
        """Inverse Hessian: the asymptotic covariance of the estimate."""
        k = len(self.param_names)
        names = list(self.param_names)
        try:
            np.linalg.cholesky(hessian)
            cov = np.linalg.inv(hessian)
        except np.linalg.LinAlgError:  # refused by _check_identified
            cov = np.full((k, k), np.nan)
        return pd.DataFrame(cov, index=names, columns=names)

    # -- reporting -----------------------------------------------------------------------------
    @property
    def standard_errors_(self) -> pd.Series:
        self._check_fitted()
        return pd.Series(np.sqrt(np.diag(self.covariance_.to_numpy())), index=self.params_.index)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates with standard errors and Wald intervals at ``level``."""
        self._check_fitted()
        z = stats.norm.ppf(0.5 + level / 2)
        se = self.standard_errors_
        table = pd.DataFrame({
            "estimate": self.params_, "std_error": se,
            "lower": self.params_ - z * se, "upper": self.params_ + z * se,
        }).rename_axis("parameter")
        table.attrs.update(
            model=type(self).__name__, log_likelihood=self.log_likelihood_,
            n_customers=self.n_customers_, time_unit=self.time_unit_, level=level,
        )
        return table

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"{name}(penalizer={self.penalizer})"
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        unit = UNIT_NAMES.get(self.time_unit_, "unknown units")
        return (f"{name}({params}; fitted on {self.n_customers_} customers in {unit}, "
                f"log-likelihood {self.log_likelihood_:.2f})")


def summarise_draws(compute, n_rows: int, n_draws: int, interval, name: str, index,
                    expand=None, return_draws: bool = False):
    """Posterior mean (and equal-tailed interval) of ``compute(rows) -> (len(rows), n_draws)``,
    evaluated in chunks of rows; ``expand`` maps customers to rows (unique histories)."""
    if return_draws:
        rows = np.arange(n_rows) if expand is None else expand
        if len(rows) > 10_000:
            raise ValueError("return_draws is for small sets (<= 10,000 customers): pass a subset")
        return pd.DataFrame(compute(rows), index=index)
    if interval is not None and not 0 < interval < 1:
        raise ValueError(f"interval must be a probability mass in (0, 1), not {interval!r}")
    chunk = max(1, CHUNK_ELEMENTS // max(n_draws, 1))
    out = np.empty((n_rows, 1 if interval is None else 3))
    for start in range(0, n_rows, chunk):
        rows = np.arange(start, min(start + chunk, n_rows))
        values = compute(rows)
        out[rows, 0] = values.mean(axis=1)
        if interval is not None:
            out[rows, 1:] = np.quantile(values, [(1 - interval) / 2, (1 + interval) / 2], axis=1).T
    if expand is not None:
        out = out[expand]
    if interval is None:
        return pd.Series(out[:, 0], index=index, name=name)
    return pd.DataFrame(out, index=index, columns=["mean", "lower", "upper"])
