"""What the models sampled with every customer's latent variables share (Pareto/GGG, the
hierarchical Pareto/NBD): the fit keeps the population's posterior only (a few thousand draws
of a few numbers, whatever the number of customers), and a prediction draws each customer's
variables given her history and that posterior with a short chain of her own and random numbers
of her own (:class:`clvmodels.models.latent.CustomerStreams`), so that her prediction is the
same alone, in any frame or chunk and after a model file's round trip. Her draw ``d`` is given
the population's draw ``d`` of a schedule shared by every customer (``customer_draws`` draws
spread evenly over the posterior), so that draw ``d`` of all customers is one draw of the joint
posterior: sums over customers per draw (:func:`clvmodels.total`, the customer equity) carry
the uncertainty about the population that all customers share.

A model defines its chain (a function of picklable arguments: ``(..., rng)`` to ``{"population":
(draws, p) array, **facts}``), what a fit records, the history columns a customer's key and
prediction read (:meth:`LatentModel._history`), and how one customer's variables are drawn
given population draws (:meth:`LatentModel._sample`); this class runs the chains, summarises
them, checks convergence and writes and reads model files.
"""

from __future__ import annotations

import os
import warnings
from abc import ABC, abstractmethod
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context

import numpy as np
import pandas as pd

from ..arguments import check_count
from ..data import RFM_COLUMNS, check_rfm
from ..draws import summarise_draws
from ..exceptions import DataError, ModelFormatError
from ..files import write_atomic
from ..interface import arg
from .base import (FittedModel, check_no_arrays, invalid_parameters, read_posterior,
                   save_with_posterior)
from .latent import customer_keys

MIN_ESS, MAX_R_HAT = 400, 1.01  # the convergence the issue asks of a population parameter


def run_chains(chain, jobs, cores=None) -> list:
    """``chain(job)`` for every job, in processes of their own (forked where the platform
    forks: no main-module guard needed in the user's script) on ``cores`` processes (default:
    one per job, at most the CPUs); in this process where there is one job or one core."""
    workers = cores or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        return [chain(job) for job in jobs]
    context = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_blas_thread) as pool:
        return list(pool.map(chain, jobs))


def _one_blas_thread() -> None:
    """In a chain's own process every core already runs a chain: a BLAS thread pool there only
    fights the others' (Abe's CDNOW fit, 4 chains on 2 cores: 104 s with them, 50 s without;
    the same as a PyMC chain's, :class:`clvmodels.models.bayesian.BoundLoglik`)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


class LatentModel(FittedModel, ABC):
    """The shared part of a model sampled with its customers' latent variables (module
    docstring). Subclasses set ``name``, ``title``, ``facts`` and the hooks below."""

    kind = "purchases"
    engine = "bayes"
    latent = True  # per-customer latent variables: no likelihood of the population alone
    covariate_links: dict = {}
    SETTINGS = (("draws", 1), ("tune", 0), ("chains", 1), ("customer_draws", 1),
                ("customer_tune", 0))

    # -- hooks ----------------------------------------------------------------------------------
    @abstractmethod
    def _history(self, rfm: pd.DataFrame) -> list[np.ndarray]:
        """The per-customer columns a customer's draws depend on (her key is made of them)."""

    @abstractmethod
    def _sample(self, population: np.ndarray, history: np.ndarray, keys: np.ndarray):
        """Her latent variables given the population draws ``population`` (``(customer_draws,
        p)``: her draw ``d`` given row ``d``, as every customer's), for rows of ``history``
        (``(rows, columns)``, :meth:`_history`'s): a tuple of ``(rows, customer_draws)``
        arrays."""

    @property
    def population_names_(self) -> tuple[str, ...]:
        """The population parameters, in the order of the chains' columns."""
        return tuple(self.param_names)

    positive_population = None  # which population parameters are > 0 (default: all)

    # -- fitting --------------------------------------------------------------------------------
    def _check_settings(self) -> None:
        for setting, low in self.SETTINGS:
            check_count(getattr(self, setting), setting, low=low)

    def _check_weights(self, weights) -> None:
        if weights is not None:
            raise DataError(f"{arg('weights')}: {self.title} samples every customer's own "
                            "latent variables, so a row cannot stand for several customers; "
                            "pass one row per customer")

    @abstractmethod
    def _run(self, rfm: pd.DataFrame, unit) -> list:
        """The chains' results on a checked frame (each ``{"population": (draws, p), ...}``),
        after recording what the model reads from the frame."""

    @abstractmethod
    def _record(self, results: list) -> None:
        """Set what the fit tuned (the model's facts) from the chains' results."""

    def fit(self, rfm: pd.DataFrame, weights=None, *arrays, time_unit: str | None = None):
        """Sample the posterior on an RFM frame (with the columns the model reads).

        Parameters
        ----------
        rfm : pandas.DataFrame
        weights : None
            Not taken: every customer has latent variables of her own, so a row cannot stand
            for several customers.
        time_unit : str, optional
            The unit of a frame that records none.

        Returns
        -------
        self
        """
        check_no_arrays(self, arrays)
        self._check_weights(weights)
        self._check_settings()
        check_rfm(rfm)
        unit = self._fit_time_unit(rfm, time_unit)
        results = self._run(rfm, unit)
        self._set_posterior(results)
        self._record(results)
        self.time_unit_ = unit
        self.n_customers_ = len(rfm)
        self._warn_if_not_converged()
        return self

    def _seeded_jobs(self, common: tuple) -> list:
        """One job per chain: ``common`` and the chain's own random generator."""
        seeds = np.random.SeedSequence(self.random_state).spawn(self.chains)
        return [(*common, np.random.default_rng(seed)) for seed in seeds]

    def _set_posterior(self, results: list) -> None:
        """The population's posterior from the chains' ``population`` arrays."""
        import arviz as az

        self.idata_ = az.from_dict(posterior={
            name: np.stack([r["population"][:, j] for r in results])
            for j, name in enumerate(self.population_names_)})
        self._set_means()

    def _set_means(self) -> None:
        names = list(self.population_names_)
        self.params_ = pd.Series([float(self.idata_.posterior[name].mean()) for name in names],
                                 index=names)

    def _population(self) -> np.ndarray:
        """Every kept draw of the population, ``(chains x draws, p)``."""
        return np.column_stack([self.idata_.posterior[name].values.ravel()
                                for name in self.population_names_])

    def _warn_if_not_converged(self) -> None:
        problems = self.convergence_problems()
        if problems:
            warnings.warn(f"{self.title}: the sampler may not have converged: "
                          f"{'; '.join(problems)}. Sample longer (draws, tune).", UserWarning,
                          stacklevel=3)

    def convergence_problems(self) -> list[str]:
        """What falls short of r_hat <= 1.01 and bulk ESS >= 400 for the population.

        Returns
        -------
        list of str
        """
        summary = self.summary()
        problems = []
        if (summary["r_hat"] > MAX_R_HAT).any():
            problems.append(f"r_hat up to {summary['r_hat'].max():.3f} (> {MAX_R_HAT})")
        if (summary["ess_bulk"] < MIN_ESS).any():
            problems.append(f"bulk ESS down to {summary['ess_bulk'].min():.0f} (< {MIN_ESS})")
        return problems

    def summary(self) -> pd.DataFrame:
        """Posterior summary of the population parameters (ArviZ).

        Returns
        -------
        pandas.DataFrame
        """
        import arviz as az

        self.check_fitted()
        table = az.summary(self.idata_, var_names=list(self.population_names_))
        table.index.name = "parameter"
        return table

    # -- predictions ----------------------------------------------------------------------------
    def _customers(self, rfm, time_unit, max_draws, horizon=None):
        """The frame's distinct histories (with ``horizon``, one per customer, where given) and
        a function of rows of them to their draws: ``(histories, inverse, keys, D,
        draws_of)``. ``histories`` starts with ``frequency, recency, T`` and ends with the
        horizon; a customer's key (so her draws) depends on her history alone."""
        self.checked_frame(rfm, RFM_COLUMNS, time_unit)
        columns = self._history(rfm)
        width = len(columns)
        if horizon is not None:
            columns = [*columns, horizon]
        histories, inverse = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        keys = customer_keys(0 if self.random_state is None else self.random_state,
                             *histories[:, :width].T)
        population = self._population()
        rows = np.linspace(0, len(population) - 1, self.customer_draws).round().astype(int)
        population = population[rows]  # draw d of every customer is given row d
        kept = np.arange(self.customer_draws)
        if max_draws is not None:
            max_draws = check_count(max_draws, "max_draws", low=1)
            if max_draws < self.customer_draws:
                kept = np.linspace(0, self.customer_draws - 1, max_draws).round().astype(int)

        def draws_of(rows):
            latent = self._sample(population, histories[rows, :width], keys[rows])
            return [v[:, kept] for v in latent]

        return histories, inverse, keys, kept.size, draws_of

    # the formulas given each customer's draws (``latent``: her variables, ``(rows, D)`` each;
    # ``history``: her rows of :meth:`_history`'s columns), for the predictions below
    @abstractmethod
    def _alive(self, latent, history) -> np.ndarray:
        """P(alive at ``T``), ``(rows, D)``."""

    @abstractmethod
    def _any_purchase(self, latent, history, ends) -> np.ndarray:
        """P(a purchase by ``ends``: a number or one per row, ``(rows, 1)``), ``(rows, D)``."""

    @abstractmethod
    def _expected(self, latent, history, ends, keys) -> np.ndarray:
        """Expected purchases by each of ``ends`` (``(m,)``, or ``(rows, 1)``: one per row),
        ``(rows, D, m)``; ``keys`` the customers' (for a simulation's random numbers)."""

    def _predict(self, rfm, t, time_unit, max_draws, formula):
        """``(compute, rows, D, inverse)`` of ``formula(latent, history, ends, keys)`` over
        the frame's distinct histories, with ``t`` a horizon (one, or one per customer, aligned
        by label) or None."""
        horizon = None if t is None else self.horizon(t, rfm)
        per_customer = horizon is not None and horizon.ndim > 0
        histories, inverse, keys, n_draws, draws_of = self._customers(
            rfm, time_unit, max_draws, horizon if per_customer else None)
        width = histories.shape[1] - per_customer

        def compute(rows):
            ends = (histories[rows, -1:] if per_customer
                    else None if horizon is None else float(horizon))
            with np.errstate(all="ignore"):
                return formula(draws_of(rows), histories[rows, :width], ends, keys[rows])

        return compute, len(histories), n_draws, inverse

    def probability_alive(self, rfm: pd.DataFrame, *, interval=None, max_draws=None,
                          return_draws: bool = False, time_unit=None):
        """P(alive at the end of the customer's observation), the posterior mean over her
        draws of the closed form given her latent variables.

        Parameters
        ----------
        rfm : pandas.DataFrame
            The customers (with the columns the model reads), any of them: in the fit or not.
        interval : float, optional
            Mass of an equal-tailed posterior interval (a DataFrame of ``mean``, ``lower``,
            ``upper``).
        max_draws : int, optional
            At most this many of each customer's draws (evenly spaced).
        return_draws : bool
            The per-draw values (a DataFrame, one column per draw).
        time_unit : str, optional
            The unit of a frame that records none.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        compute, rows, n_draws, inverse = self._predict(
            rfm, None, time_unit, max_draws,
            lambda latent, history, ends, keys: self._alive(latent, history))
        return summarise_draws(compute, rows, n_draws, interval, "probability_alive", rfm.index,
                               expand=inverse, return_draws=return_draws)

    def probability_any_purchase(self, rfm: pd.DataFrame, t, *, interval=None, max_draws=None,
                                 return_draws: bool = False, time_unit=None):
        """P(at least one purchase in the next ``t``), the posterior mean over her draws of
        the closed form given her latent variables.

        Parameters
        ----------
        rfm : pandas.DataFrame
        t : float, pandas.Series or pandas.Timedelta
            Horizon in the fit's time unit: one for all, or one per customer (a Series matched
            by customer label).
        interval, max_draws, return_draws, time_unit
            As :meth:`probability_alive`.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        compute, rows, n_draws, inverse = self._predict(
            rfm, t, time_unit, max_draws,
            lambda latent, history, ends, keys: self._any_purchase(latent, history, ends))
        return summarise_draws(compute, rows, n_draws, interval, "probability_any_purchase",
                               rfm.index, expand=inverse, return_draws=return_draws)

    def expected_purchases(self, rfm: pd.DataFrame, t, *, interval=None, max_draws=None,
                           return_draws: bool = False, time_unit=None):
        """Expected purchases in the next ``t``, the posterior mean over her draws of each
        draw's expectation.

        Parameters
        ----------
        rfm : pandas.DataFrame
        t : float, pandas.Series or pandas.Timedelta
            Horizon in the fit's time unit: one for all, or one per customer (a Series matched
            by customer label).
        interval, max_draws, return_draws, time_unit
            As :meth:`probability_alive`.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        compute, rows, n_draws, inverse = self._predict(
            rfm, t, time_unit, max_draws,
            lambda latent, history, ends, keys: self._expected(
                latent, history, np.atleast_1d(ends), keys)[..., 0])
        return summarise_draws(compute, rows, n_draws, interval, "expected_purchases",
                               rfm.index, expand=inverse, return_draws=return_draws)

    def discounted_purchases(self, rfm: pd.DataFrame, times, coefficients, max_draws=None,
                             time_unit=None, interval=None):
        """The purchase-model protocol of :func:`clvmodels.customer_value`: per draw,
        ``sum_k coefficients[k] * E[purchases by times[k]]``.

        Parameters
        ----------
        rfm : pandas.DataFrame
        times : array-like
            Horizons, in the model's unit.
        coefficients : array-like
            One per time (or a matrix: one column of results per column).
        max_draws : int, optional
        time_unit : str, optional
        interval : float, optional
            Unused: the draws are always a posterior's.

        Returns
        -------
        (compute, n_histories, inverse)
        """
        times = np.asarray(times, dtype=np.float64).ravel()
        coefficients = np.asarray(coefficients, dtype=np.float64)
        compute, rows, _, inverse = self._predict(
            rfm, None, time_unit, max_draws,
            lambda latent, history, ends, keys: self._expected(latent, history, times, keys)
            @ coefficients)
        return compute, rows, inverse

    # -- model files ----------------------------------------------------------------------------
    def _parameter_problem(self) -> str | None:
        return invalid_parameters(self.population_names_, self._population(),
                                  self.positive_population)

    def _settings_state(self) -> dict:
        """The constructor's settings as plain data."""
        return self.constructor_settings()

    def to_dict(self, posterior_file: str | None = None) -> dict:
        """The plain-data form: settings, what the fit recorded and the name of the netCDF file
        of the population's posterior.

        Parameters
        ----------
        posterior_file : str, optional
            The posterior's file name, beside the JSON.

        Returns
        -------
        dict
        """
        self.check_fitted()
        return {**self._state_header(), "settings": self._settings_state(),
                "posterior_file": posterior_file}

    def write_posterior(self, path) -> None:
        """The population's posterior as netCDF at ``path``, atomically.

        Parameters
        ----------
        path : str or path-like
        """
        self.check_fitted()
        write_atomic(path, self.idata_.to_netcdf)

    def save(self, path) -> None:
        """Save as JSON (settings) with the posterior in ``<name>.nc`` beside it; a loaded
        model predicts exactly what this one does.

        Parameters
        ----------
        path : str or path-like
        """
        save_with_posterior(self, path)

    def _check_restored(self) -> None:
        """A subclass's checks of what a model file restored (a KeyError or ValueError)."""

    @classmethod
    def from_dict(cls, data: dict, folder: str | None = None):
        """Rebuild from :meth:`to_dict` output and the posterior file in ``folder``.

        Parameters
        ----------
        data : dict
        folder : str, optional

        Returns
        -------
        LatentModel
        """
        try:
            unknown = set(data["settings"]) - set(cls.constructor_setting_names())
            if unknown:
                raise KeyError(f"unknown settings {sorted(unknown)}")
            model = cls(**data["settings"])
            model._check_settings()
            idata = read_posterior(data, folder)
            model._restore_header(data)
            missing = [name for name in model.population_names_ if name not in idata.posterior]
            if missing:
                raise KeyError(f"the posterior has no {missing}")
            model.idata_ = idata
            model._check_restored()
            model._set_means()
        except ModelFormatError:
            raise
        except Exception as err:  # noqa: BLE001 - whatever a damaged file raises
            raise ModelFormatError(f"the {cls.__name__} model file or its posterior file is "
                                   f"incomplete or damaged: {err!r}") from err
        model._check_loaded()
        return model

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "idata_"):
            return f"{name}(draws={self.draws}, tune={self.tune}, chains={self.chains}) " \
                   "(not fitted)"
        means = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{name}({means}; posterior means of {self.n_customers_:,} customers)"
