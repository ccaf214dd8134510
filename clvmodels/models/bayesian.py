"""The Bayesian engine: any model specification (``clvmodels.models.base``) sampled in PyMC on
the likelihood formulas of the maximum-likelihood models (written once in ``clvmodels._math``),
full posteriors, per-customer intervals.

Every parameter has a log-normal prior, ``log(theta) ~ Normal(mu, sigma)``, and is sampled on the
log scale. Defaults are weakly informative: ``mu = 0, sigma = 2`` for the shape parameters (95 % of
the prior mass between 0.02 and 50) and, for the scale parameters whose size depends on the unit of
time or money, ``mu`` at the data's own scale (``alpha``: log of the mean T; ``v``: log of the mean
spend) with ``sigma = 3``. Pass ``priors={"r": (mu, sigma), ...}`` to change any of them.

Fit methods: ``"nuts"`` (default; PyMC's sampler with a dense mass matrix started from the
maximum-likelihood estimate and its covariance, ``init="laplace"``, and the likelihood evaluated by
the numpy code of the MLE; or ``sampler="nutpie"`` / ``"numpyro"`` where installed), ``"map"`` (the posterior mode, one point) and ``"advi"``
(mean-field variational inference: fast, fine for BG/NBD on CDNOW, but it misses the strongly
correlated q-v posterior of Gamma-Gamma, so prefer NUTS there).

Predictions are the posterior mean of the quantity (not the quantity at the mean parameters);
``interval=0.94`` adds equal-tailed posterior intervals. They are computed per unique history, in
chunks, so memory stays bounded whatever the number of customers.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

import numpy as np
import pandas as pd

from .._math import pytensor_namespace
from ..arguments import check_draw_options, check_mass
from ..interface import given
from ..draws import ParameterDraws, thin
from ..exceptions import ConvergenceError, DataError, ModelFormatError
from ..files import write_atomic
from ..priors import BetaPrior, Prior, prior_from_state, prior_state
from .regression import covariate_options
from .base import (COVARIATE_OPTIONS, FittedModel, check_no_arrays, free_scale, invalid_parameters,
                   maximum_likelihood, positive_mask, prepare_fit, read_posterior,
                   save_with_posterior, to_free)

METHODS = ("nuts", "map", "advi")
SAMPLERS = {"pymc": None, "nutpie": "nutpie", "numpyro": "numpyro"}
MIN_ESS = 400
MAX_RHAT = 1.01


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics (r_hat, effective sample size, divergences) look bad."""


class BoundLoglik:
    """``theta -> model.loglik_grad(theta, data)``: a model's total log-likelihood and gradient
    on fixed data (a picklable callable for the sampler processes)."""

    def __init__(self, model, data):
        self.model, self.data = model, data
        self.home = os.getpid()
        self.limited = False

    def __call__(self, theta):
        if not self.limited and os.getpid() != self.home:
            # in a chain's own process every core already runs a chain: a BLAS thread pool
            # there only fights the others (a covariate fit ran 3.4x slower with it)
            from threadpoolctl import threadpool_limits

            threadpool_limits(1)
            self.limited = True
        return self.model.loglik_grad(theta, self.data)


def numpy_loglik_op(loglik_grad):
    """A PyTensor Op for the total log-likelihood computed by ``loglik_grad(theta) -> (value,
    gradient)``: the numpy code of the maximum-likelihood fit, with its analytic gradient, so one
    evaluation gives both (PyTensor merges the two uses of the node). On a million customers it
    is about 10x faster than the same formula as a PyTensor graph (BG/NBD's log density and
    gradient: 2.7 ms on 298k histories with its compiled per-history pass, against about 30 ms
    for the graph on 216k; 2 cores). Python-level, so it serves
    PyMC's own samplers; nutpie and numpyro compile the PyTensor graph of the same formula."""
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class LogLikGrad(Op):
        __props__ = ("loglik_grad",)

        def __init__(self, loglik_grad):
            self.loglik_grad = loglik_grad

        def make_node(self, theta):
            theta = pt.as_tensor_variable(theta)
            return Apply(self, [theta], [pt.dscalar(), pt.dvector()])

        def perform(self, node, inputs, outputs):
            value, gradient = self.loglik_grad(inputs[0])
            outputs[0][0] = np.asarray(value, dtype=np.float64)
            outputs[1][0] = np.asarray(gradient, dtype=np.float64)

        def grad(self, inputs, output_grads):
            return [output_grads[0] * self(inputs[0])[1]]

    return LogLikGrad(loglik_grad)


class BayesianModel(FittedModel):
    """The Bayesian engine: priors, sampling, diagnostics, posterior draws, summaries, for any
    model specification.

    Parameters
    ----------
    priors : dict, optional
        Per parameter, replacing its default: ``(mu, sigma)`` for ``log(theta) ~ Normal(mu,
        sigma)`` (a coefficient: ``Normal(mu, sigma)``), or any :class:`clvmodels.Prior` (a
        PyMC distribution by name, on the parameter itself: ``Prior("Gamma", alpha=2,
        beta=4)``); the two shapes of a Beta through its mean and concentration with
        ``{"a,b": clvmodels.BetaPrior(mean, concentration)}`` (PyMC-Marketing's phi and kappa).
        Model files record them.
    draws, tune, chains : int
        Posterior draws and tuning steps per chain, and chains (NUTS); draws of ADVI. The
        defaults (4 x (300 + 300)) reach the targets (r_hat <= 1.01, bulk ESS >= 400) on the
        data sets measured, started at the maximum-likelihood fit; ``until_converged`` covers
        the others.
    shared_covariates : list of str, optional
        Covariates given to both processes whose coefficient is one (as the
        maximum-likelihood engine's).
    until_converged : bool, default True
        Where the first round misses r_hat <= 1.01 or bulk ESS >= 400, sample once more with
        twice the draws and tuning (``sampling_`` says what was done).
    method : {"nuts", "map", "advi"}
    sampler : {"pymc", "nutpie", "numpyro"}
    target_accept : float
    random_state : int, optional
    cores : int, optional
        Processes for the chains (default: one per chain, at most the CPUs).
    init : str
        ``"laplace"`` (start at the maximum-likelihood estimate with its covariance as the mass
        matrix) or a PyMC init method.
    progressbar : bool
    advi_iterations : int

    Attributes
    ----------
    idata_ : arviz.InferenceData
        The posterior (and sampler statistics).
    params_ : pandas.Series
        Posterior means of the parameters.
    prior_ : dict
        The priors used.
    n_customers_ : int
    time_unit_ : str or None
    """

    engine = "bayes"
    _fitted_attribute = "idata_"

    def __init__(self, priors=None, draws=300, tune=300, chains=4, method="nuts",
                 sampler="pymc", target_accept=0.9, random_state=None, cores=None,
                 init="laplace", progressbar=False, advi_iterations=30_000,
                 until_converged=True, shared_covariates=None, **covariates):
        self._set_covariates(covariates)
        self.shared_covariates, _ = covariate_options(type(self), self.covariates,
                                                      shared_covariates, None)
        self.priors = priors
        self.until_converged = until_converged
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.method = method
        self.sampler = sampler
        self.target_accept = target_accept
        self.random_state = random_state
        self.cores = cores
        self.init = init
        self.progressbar = progressbar
        self.advi_iterations = advi_iterations

    def _check_settings(self) -> None:
        """A DataError naming the first setting that cannot work (before any sampling):
        ``draws``, ``tune``, ``chains`` and ``advi_iterations`` whole numbers (>= 1; ``tune``
        >= 0), ``target_accept`` in (0, 1), a known ``method`` and ``sampler``."""
        def whole(value, low):
            return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                    and value >= low)

        for setting, low in (("draws", 1), ("tune", 0), ("chains", 1), ("advi_iterations", 1)):
            value = getattr(self, setting)
            if not whole(value, low):
                raise DataError(f"{given(setting, value)}: {setting} must be a whole number "
                                f">= {low}")
        if self.cores is not None and not whole(self.cores, 1):
            raise DataError(f"{given('cores', self.cores)}: cores must be a whole number >= 1")
        if not (isinstance(self.target_accept, (int, float, np.floating))
                and 0 < self.target_accept < 1):
            raise DataError(f"{given('target_accept', self.target_accept)}: target_accept must "
                            "be a probability in (0, 1), such as 0.9")
        if self.method not in METHODS:
            raise DataError(f"{given('method', self.method)}: method must be one of {METHODS}")
        if self.sampler not in SAMPLERS:
            raise DataError(f"{given('sampler', self.sampler)}: sampler must be one of "
                            f"{list(SAMPLERS)}")

    # -- priors and the PyMC model -------------------------------------------------------------
    def prior_parameters(self, data=None, spec=None) -> dict:
        """(mu, sigma) of ``log(theta) ~ Normal(mu, sigma)`` for each parameter (of
        ``coefficient ~ Normal(mu, sigma)`` for a covariate coefficient): the defaults for
        ``data`` (a prepared object), with ``priors`` applied.

        Parameters
        ----------
        data : prepared data, optional
        spec : specification, optional
            What is fitted (:meth:`specification`); the model itself by default.

        Returns
        -------
        dict
        """
        spec = self if spec is None else spec
        priors = spec.default_priors(data) if data is not None else {}
        positive = dict(zip(spec.param_names, positive_mask(spec, len(spec.param_names))))
        named = {n for key in (self.priors or {}) for n in str(key).split(",")}
        unknown = named - set(spec.param_names)
        if unknown:
            raise ValueError(f"priors for unknown parameters {sorted(unknown)}; "
                             f"this model has {list(spec.param_names)}")
        for name, value in (self.priors or {}).items():
            if isinstance(value, BetaPrior) or "," in str(name):
                pair = str(name).split(",")
                if not isinstance(value, BetaPrior) or len(pair) != 2 or not all(
                        positive[n] for n in pair):
                    raise DataError(f"priors[{name!r}]: two positive shapes joined by a comma "
                                    "take a clvmodels.BetaPrior (mean, concentration), and a "
                                    "BetaPrior takes such a pair, such as 'a,b'")
                for n in pair:
                    priors.pop(n, None)
                    if n in (self.priors or {}):
                        raise DataError(f"{n} has two priors: priors[{n!r}] and "
                                        f"priors[{name!r}]; keep one")
                priors[name] = value
                continue
            if isinstance(value, Prior):
                wanted = "positive" if positive[name] else "real"
                if value.support != wanted:
                    what = ("a positive parameter: choose a distribution on (0, inf), such as "
                            "Gamma or LogNormal" if positive[name] else
                            "a coefficient, any real number: choose one on the real line, "
                            "such as Normal or StudentT")
                    raise DataError(f"priors[{name!r}] = {value!r} has {value.support} support, "
                                    f"but {name} is {what}")
                priors[name] = value
                continue
            mu, sigma = value
            if not (np.isfinite(mu) and np.isfinite(sigma) and sigma > 0):
                raise ValueError(f"prior of {name}: (mu, sigma) must be finite with sigma > 0")
            priors[name] = (float(mu), float(sigma))
        return priors

    def pymc_model(self, data, numpy_loglik: bool = False, spec=None):
        """The PyMC model on prepared ``data``; its likelihood is the PyTensor graph of the
        formula (``loglik_tensor``), or with ``numpy_loglik`` the numpy code of the
        maximum-likelihood fit (:func:`numpy_loglik_op`).

        Parameters
        ----------
        data : prepared data
        numpy_loglik : bool
        spec : specification, optional
            What is fitted (:meth:`specification`; a model with covariates needs
            ``numpy_loglik``).

        Returns
        -------
        pymc.Model
        """
        import pymc as pm
        import pytensor.tensor as pt

        spec = self if spec is None else spec
        priors = self.prior_parameters(data, spec)
        positive = positive_mask(spec, len(spec.param_names))
        with pm.Model() as model:
            params, logs = {}, {}
            pairs = {n for key, v in priors.items() if isinstance(v, BetaPrior)
                     for n in key.split(",")}
            for name, logged in zip(spec.param_names, positive):
                if name in pairs:  # moved as its logarithm; the pair's prior below
                    logs[name] = pm.Flat(f"log_{name}")
                    params[name] = pm.Deterministic(name, pm.math.exp(logs[name]))
                    continue
                if isinstance(priors[name], Prior):
                    params[name] = self._user_prior(pm, name, priors[name], logged)
                    continue
                mu, sigma = priors[name]
                if logged:
                    log_value = pm.Normal(f"log_{name}", mu, sigma)
                    params[name] = pm.Deterministic(name, pm.math.exp(log_value))
                else:
                    params[name] = pm.Normal(name, mu, sigma)
            for key, prior in priors.items():
                if isinstance(prior, BetaPrior):
                    first, second = key.split(",")
                    jacobian = (() if self.method == "map" else (logs[first], logs[second]))
                    pm.Potential(f"prior_{first}_{second}",
                                 prior.logp(params[first], params[second], *jacobian))
            if numpy_loglik:
                op = numpy_loglik_op(BoundLoglik(spec, data))
                loglik = op(pt.stack([params[k] for k in spec.param_names]))[0]
            elif spec is not self:
                raise DataError("a model with covariates is sampled with sampler='pymc' (its "
                                "likelihood is the numpy code of the maximum-likelihood fit)")
            else:
                loglik = self.loglik_tensor(params, data, pytensor_namespace())
            pm.Potential("loglik", loglik)
        self.prior_ = priors
        return model

    def _user_prior(self, pm, name: str, prior: Prior, logged: bool):
        """A parameter with a user's :class:`~clvmodels.priors.Prior`: moved as its logarithm
        where it is positive (the same free coordinates as the default priors), its density
        added, with the Jacobian of the logarithm for sampling; ``method="map"`` leaves the
        Jacobian out, so that the mode is the parameters' own (as PyMC's find_MAP)."""
        if not logged:
            value = pm.Flat(name)
            pm.Potential(f"prior_{name}", prior.logp(value))
            return value
        log_value = pm.Flat(f"log_{name}")
        value = pm.Deterministic(name, pm.math.exp(log_value))
        jacobian = log_value if self.method != "map" else 0.0
        pm.Potential(f"prior_{name}", prior.logp(value) + jacobian)
        return value

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, rfm: pd.DataFrame, weights=None, *arrays, time_unit: str | None = None):
        """Sample the posterior (or find the MAP, or fit ADVI) on the unique rows of ``rfm``.

        Parameters
        ----------
        rfm : pandas.DataFrame
            An RFM frame.
        weights : pandas.Series or array-like, optional
            How many customers each row stands for (a Series matched by its index).
        time_unit : str, optional
            The unit of ``recency`` and ``T`` for a frame that records none.

        Returns
        -------
        self
        """
        check_no_arrays(self, arrays)
        import arviz as az
        import pymc as pm

        self._check_settings()
        if SAMPLERS[self.sampler] and importlib.util.find_spec(self.sampler) is None:
            raise ImportError(f"sampler={self.sampler!r} needs the package: pip install {self.sampler}")
        spec, data, unit = prepare_fit(self, rfm, weights, time_unit=time_unit)
        for fact, value in data.facts.items():
            setattr(self, fact + "_", value)
        model = self.pymc_model(data, numpy_loglik=self.sampler == "pymc", spec=spec)
        self._fitted_specification(spec)
        names = list(spec.param_names)
        with model:
            if self.method == "nuts":
                # the start, the mass matrix and the step once for both rounds (the
                # maximum-likelihood fit behind them is not repeated)
                settings = ({"nuts_sampler": self.sampler, "target_accept": self.target_accept}
                            if SAMPLERS[self.sampler] else self._pymc_nuts_settings(data, spec))
                idata = self._nuts(pm, settings, self.draws, self.tune)
                self.sampling_ = {"rounds": 1, "draws": self.draws, "tune": self.tune,
                                  "chains": self.chains}
                problems = self._convergence_problems(idata) if self.until_converged else []
                if problems:  # a second round, twice as long
                    idata = self._nuts(pm, settings, 2 * self.draws, 2 * self.tune)
                    self.sampling_ = {"rounds": 2, "draws": 2 * self.draws,
                                      "tune": 2 * self.tune, "chains": self.chains,
                                      "first_round": "; ".join(problems)}
            elif self.method == "map":
                # tighter than scipy's defaults, which stop 1e-4 short of the mode
                point = pm.find_MAP(progressbar=False, seed=self.random_state, maxeval=20_000,
                                    options={"ftol": 1e-15, "gtol": 1e-8, "maxiter": 10_000})
                idata = az.from_dict(posterior={k: np.array([[point[k]]]) for k in names})
            else:
                approx = pm.fit(n=self.advi_iterations, method="advi", progressbar=False,
                                random_seed=self.random_state)
                idata = approx.sample(self.draws, random_seed=self.random_state)
        self.idata_ = idata
        self.n_customers_ = int(round(data.n))
        self.time_unit_ = unit
        self.params_ = pd.Series([float(idata.posterior[k].mean()) for k in names], index=names)
        if self.method == "nuts":
            self._warn_if_not_converged()
        spec.check_estimate(self.params_)
        return self

    def _pymc_nuts_settings(self, data, spec) -> dict:
        """With ``init="laplace"``: chains start dispersed around the maximum-likelihood estimate
        (draws from N(mode, 4 x its covariance), in log parameters) and the dense mass matrix
        starts from that covariance, so no warm-up is spent finding the scale of a posterior that
        a million customers make very narrow. Falls back to PyMC's ``jitter+adapt_full`` where the
        MLE or its covariance is not available."""
        if self.init != "laplace":
            return {"init": self.init, "target_accept": self.target_accept}
        import pymc as pm
        from pymc.step_methods.hmc.quadpotential import QuadPotentialFullAdapt

        try:
            estimate = maximum_likelihood(spec, data)
        except (ConvergenceError, DataError, ValueError, np.linalg.LinAlgError):  # no usable mode
            return {"init": "jitter+adapt_full", "target_accept": self.target_accept}
        theta = estimate.params
        positive = positive_mask(spec, len(theta))
        scale = free_scale(theta, positive)
        cov = estimate.covariance / np.outer(scale, scale)  # delta method: log scale
        if not (np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > 0)):
            return {"init": "jitter+adapt_full", "target_accept": self.target_accept}
        mean = to_free(theta, positive)
        rng = np.random.default_rng(self.random_state)
        starts = rng.multivariate_normal(mean, 4 * cov, size=self.chains)
        with warnings.catch_warnings():  # chosen on purpose: measured in the docstring above
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
            potential = QuadPotentialFullAdapt(len(theta), mean, cov, initial_weight=10)
        step = pm.NUTS(potential=potential, target_accept=self.target_accept)
        return {"step": step, "initvals": [
            {(f"log_{k}" if logged else k): v for k, v, logged in zip(spec.param_names, start,
                                                                       positive)}
            for start in starts]}

    def _nuts(self, pm, kwargs: dict, draws: int, tune: int):
        """NUTS on every core with ``kwargs`` (PyMC's sampler gets a dense mass matrix: the
        r-alpha and a-b pairs are strongly correlated, 3 leapfrog steps a draw instead of 10)."""
        with warnings.catch_warnings():  # chosen on purpose, measured above
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
            return pm.sample(
                draws=draws, tune=tune, chains=self.chains,
                cores=self.cores or min(self.chains, os.cpu_count() or 1),
                random_seed=self.random_state, progressbar=self.progressbar,
                compute_convergence_checks=False, **kwargs,
            )

    def _convergence_problems(self, idata) -> list[str]:
        """What falls short of r_hat <= 1.01, bulk ESS >= 400 and no divergences."""
        import arviz as az

        summary = az.summary(idata, var_names=list(self.parameter_names_), kind="diagnostics")
        problems = []
        if (summary["r_hat"] > MAX_RHAT).any():
            problems.append(f"r_hat up to {summary['r_hat'].max():.3f} (> {MAX_RHAT})")
        if (summary["ess_bulk"] < MIN_ESS).any():
            problems.append(f"bulk ESS down to {summary['ess_bulk'].min():.0f} (< {MIN_ESS})")
        divergent = int(idata.sample_stats["diverging"].sum())
        if divergent:
            problems.append(f"{divergent} divergent transitions")
        return problems

    def _warn_if_not_converged(self) -> None:
        problems = self._convergence_problems(self.idata_)
        if problems:
            warnings.warn(
                f"{type(self).__name__}: the sampler may not have converged: "
                + "; ".join(problems)
                + ". Try more tune/draws, a higher target_accept (0.95), or tighter priors.",
                ConvergenceWarning, stacklevel=3,
            )

    # -- reporting ----------------------------------------------------------------------------
    def summary(self, hdi_prob: float = 0.94) -> pd.DataFrame:
        """Posterior mean, sd, highest-density interval, r_hat and effective sample sizes.

        Parameters
        ----------
        hdi_prob : float, default 0.94

        Returns
        -------
        pandas.DataFrame
            ArviZ's summary, one row per parameter.
        """
        import arviz as az

        self.check_fitted()
        check_mass(hdi_prob, "hdi_prob")
        table = az.summary(self.idata_, var_names=list(self.parameter_names_), hdi_prob=hdi_prob)
        table.index.name = "parameter"
        if getattr(self, "sampling_", None):  # what the sampler was asked to do, in words
            done = self.sampling_
            table.attrs["sampling"] = (
                f"{done['chains']} chains x ({done['tune']} tune + {done['draws']} draws)"
                + (f", a second round after the first fell short ({done['first_round']})"
                   if done["rounds"] == 2 else ""))
        return table

    def _parameter_problem(self) -> str | None:
        """Why the posterior draws cannot be used (a draw not finite or not > 0), or None."""
        return invalid_parameters(self.parameter_names_, self.posterior_draws().to_numpy(),
                                  self._positive_parameters())

    def posterior_draws(self, max_draws: int | None = None) -> pd.DataFrame:
        """Posterior draws of the parameters, chains stacked, evenly thinned to ``max_draws``.

        Parameters
        ----------
        max_draws : int, optional

        Returns
        -------
        pandas.DataFrame
            One row per draw, one column per parameter.
        """
        self.check_fitted()
        post = self.idata_.posterior
        values = np.column_stack([post[k].to_numpy().ravel() for k in self.parameter_names_])
        return pd.DataFrame(thin(values, max_draws), columns=list(self.parameter_names_))

    def parameter_draws(self, max_draws: int | None = None, interval=None) -> list[np.ndarray]:
        """Each parameter as a ``(1, D)`` row vector of posterior draws (thinned to
        ``max_draws``).

        Parameters
        ----------
        max_draws : int, optional
        interval : float, optional
            Unused: a posterior always has its draws (the same ones with or without an
            interval, so the ``mean`` of an interval is the plain prediction).

        Returns
        -------
        list of numpy.ndarray
        """
        check_draw_options(max_draws, interval)
        draws = self.posterior_draws(max_draws)
        return ParameterDraws((draws[k].to_numpy()[None, :] for k in self.parameter_names_),
                              center="mean")

    # -- state ----------------------------------------------------------------------------------
    def to_dict(self, posterior_file: str | None = None) -> dict:
        """The plain-data form: settings, priors and the name of the netCDF posterior file.

        Parameters
        ----------
        posterior_file : str, optional
            The posterior's file name, beside the JSON.

        Returns
        -------
        dict
        """
        self.check_fitted()
        settings = self.constructor_settings()
        if settings["priors"] is not None:
            settings["priors"] = {k: prior_state(v) for k, v in settings["priors"].items()}
        return {**self._state_header(), "settings": settings,
                "prior": {k: prior_state(v) for k, v in self.prior_.items()},
                "posterior_file": posterior_file, **self._covariate_state()}

    def write_posterior(self, path) -> None:
        """The posterior as netCDF at ``path``, atomically.

        Parameters
        ----------
        path : str or path-like
        """
        self.check_fitted()
        write_atomic(path, self.idata_.to_netcdf)

    def save(self, path) -> None:
        """Save as JSON (settings, priors) with the posterior in ``<name>.nc`` beside it.

        Parameters
        ----------
        path : str or path-like
        """
        save_with_posterior(self, path)

    @classmethod
    def from_dict(cls, data: dict, folder: str | None = None):
        """Rebuild from :meth:`to_dict` output and the posterior file in ``folder``.

        Parameters
        ----------
        data : dict
        folder : str, optional

        Returns
        -------
        BayesianModel
        """
        try:
            unknown = set(data["settings"]) - set(cls.constructor_setting_names())
            if unknown:
                raise KeyError(f"unknown settings {sorted(unknown)}")
            settings = dict(data["settings"])
            if settings.get("priors") is not None:
                settings["priors"] = {k: prior_from_state(v, f"the {cls.__name__} model file")
                                      for k, v in settings["priors"].items()}
            options = {k: settings.pop(k) for k in COVARIATE_OPTIONS if k in settings}
            model = cls(**settings)
            idata = read_posterior(data, folder)
            model.idata_ = idata
            model._restore_header(data)
            model._restore_covariates(data, options)
            model.prior_ = {k: prior_from_state(v, f"the {cls.__name__} model file") for k, v in data["prior"].items()}
            model.params_ = pd.Series([float(idata.posterior[k].mean())
                                       for k in model.parameter_names_], index=list(model.parameter_names_))
        except ModelFormatError:
            raise
        except Exception as err:  # noqa: BLE001 - whatever a damaged netCDF file raises
            raise ModelFormatError(f"the {cls.__name__} model file or its posterior file is "
                                   f"incomplete or damaged: {err!r}") from err
        model._check_loaded()
        return model

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "idata_"):
            return f"{name}(method={self.method!r}, draws={self.draws}, chains={self.chains})"
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{name}(posterior means {params}; {self.n_customers_} customers, {self.method})"
