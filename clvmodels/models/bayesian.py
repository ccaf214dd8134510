"""Bayesian BG/NBD and Gamma-Gamma in PyMC: the likelihood formulas of the maximum-likelihood
models (written once in ``clvmodels._math``), full posteriors, per-customer intervals.

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
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .._math import bgnbd, gamma_gamma
from ..data import RFM_COLUMNS, rfm_time_unit, unique_rows
from ..exceptions import ConvergenceError, DataError
from .base import FittedModel, invalid_parameters, summarise_draws
from .beta_geo import BetaGeo, discounted_purchases_draws, rfm_arrays
from .gamma_gamma import SPEND_COLUMNS, GammaGamma, spend_draws

METHODS = ("nuts", "map", "advi")
SAMPLERS = {"pymc": None, "nutpie": "nutpie", "numpyro": "numpyro"}
MIN_ESS = 400
MAX_RHAT = 1.01


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics (r_hat, effective sample size, divergences) look bad."""


def pytensor_namespace() -> SimpleNamespace:
    """The array namespace of the log-likelihood formulas, for PyTensor."""
    import pytensor.tensor as pt

    return SimpleNamespace(gammaln=pt.gammaln, betaln=pt.special.betaln, log=pt.log,
                           logaddexp=pt.logaddexp, maximum=pt.maximum, where=pt.switch)


class BoundLoglik:
    """``theta -> model._loglik_grad(theta, data)``: a maximum-likelihood model's total
    log-likelihood and gradient on fixed data (a picklable callable for the sampler processes)."""

    def __init__(self, model, data):
        self.model, self.data = model, data

    def __call__(self, theta):
        return self.model._loglik_grad(theta, self.data)


def numpy_loglik_op(loglik_grad):
    """A PyTensor Op for the total log-likelihood computed by ``loglik_grad(theta) -> (value,
    gradient)``: the numpy code of the maximum-likelihood fit, with its analytic gradient, so one
    evaluation gives both (PyTensor merges the two uses of the node). On a million customers it
    is about 3x faster than the same formula as a PyTensor graph (9 ms against 30 ms for
    BG/NBD's log density and gradient on 216k histories, 2 cores). Python-level, so it serves
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
    """Shared machinery: priors, sampling, diagnostics, posterior draws, summaries."""

    fitted_attribute = "idata_"
    param_names: tuple[str, ...] = ()
    mle_class = None  # the maximum-likelihood model whose data preparation is reused

    def __init__(self, priors=None, draws=1000, tune=1000, chains=4, method="nuts",
                 sampler="pymc", target_accept=0.9, random_state=None, cores=None,
                 init="laplace", progressbar=False, advi_iterations=30_000):
        self.priors = priors
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

    # -- priors and the PyMC model -------------------------------------------------------------
    def _default_priors(self, data) -> dict:
        return {name: (0.0, 2.0) for name in self.param_names}

    def prior_parameters(self, data=None) -> dict:
        """(mu, sigma) of ``log(theta) ~ Normal(mu, sigma)`` for each parameter."""
        priors = self._default_priors(data) if data is not None else {}
        unknown = set(self.priors or {}) - set(self.param_names)
        if unknown:
            raise ValueError(f"priors for unknown parameters {sorted(unknown)}; "
                             f"this model has {list(self.param_names)}")
        for name, value in (self.priors or {}).items():
            mu, sigma = value
            if not (np.isfinite(mu) and np.isfinite(sigma) and sigma > 0):
                raise ValueError(f"prior of {name}: (mu, sigma) must be finite with sigma > 0")
            priors[name] = (float(mu), float(sigma))
        return priors

    def _pymc_model(self, data, numpy_loglik: bool = False):
        """The PyMC model; its likelihood is the PyTensor graph of the formula, or with
        ``numpy_loglik`` the numpy code of the maximum-likelihood fit (:func:`numpy_loglik_op`)."""
        import pymc as pm
        import pytensor.tensor as pt

        priors = self.prior_parameters(data)
        with pm.Model() as model:
            params = {}
            for name in self.param_names:
                mu, sigma = priors[name]
                log_value = pm.Normal(f"log_{name}", mu, sigma)
                params[name] = pm.Deterministic(name, pm.math.exp(log_value))
            if numpy_loglik:
                op = numpy_loglik_op(BoundLoglik(self.mle_class(), data))
                loglik = op(pt.stack([params[k] for k in self.param_names]))[0]
            else:
                loglik = self._loglik(params, data, pytensor_namespace())
            pm.Potential("loglik", loglik)
        self.prior_ = priors
        return model

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, rfm: pd.DataFrame):
        """Sample the posterior (or find the MAP, or fit ADVI) on the unique rows of ``rfm``."""
        import arviz as az
        import pymc as pm

        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {self.method!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {list(SAMPLERS)}, not {self.sampler!r}")
        if SAMPLERS[self.sampler] and importlib.util.find_spec(self.sampler) is None:
            raise ImportError(f"sampler={self.sampler!r} needs the package: pip install {self.sampler}")
        mle = self.mle_class()
        data, n = mle._data(rfm)  # checks the frame; GammaGamma counts frequency-0 customers
        if hasattr(mle, "n_zero_frequency_"):
            self.n_zero_frequency_ = mle.n_zero_frequency_
        model = self._pymc_model(data, numpy_loglik=self.sampler == "pymc")
        names = list(self.param_names)
        with model:
            if self.method == "nuts":
                # chains on every core; PyMC's sampler gets a dense mass matrix (the r-alpha and
                # a-b pairs are strongly correlated: 3 leapfrog steps a draw instead of 10)
                kwargs = ({"nuts_sampler": self.sampler, "target_accept": self.target_accept}
                          if SAMPLERS[self.sampler]
                          else self._pymc_nuts_settings(mle, data, n, rfm_time_unit(rfm)))
                with warnings.catch_warnings():  # chosen on purpose, measured above
                    warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
                    idata = pm.sample(
                        draws=self.draws, tune=self.tune, chains=self.chains,
                        cores=self.cores or min(self.chains, os.cpu_count() or 1),
                        random_seed=self.random_state, progressbar=self.progressbar,
                        compute_convergence_checks=False, **kwargs,
                    )
            elif self.method == "map":
                point = pm.find_MAP(progressbar=False, seed=self.random_state)
                idata = az.from_dict(posterior={k: np.array([[point[k]]]) for k in names})
            else:
                approx = pm.fit(n=self.advi_iterations, method="advi", progressbar=False,
                                random_seed=self.random_state)
                idata = approx.sample(self.draws, random_seed=self.random_state)
        self.idata_ = idata
        self.n_customers_ = int(n)
        self.time_unit_ = rfm_time_unit(rfm)
        self.params_ = pd.Series([float(idata.posterior[k].mean()) for k in names], index=names)
        if self.method == "nuts":
            self._warn_if_not_converged()
        return self

    def _pymc_nuts_settings(self, mle, data, n, time_unit) -> dict:
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
            mle._fit_data(data, n, time_unit)
        except (ConvergenceError, DataError, ValueError, np.linalg.LinAlgError):  # no usable mode
            return {"init": "jitter+adapt_full", "target_accept": self.target_accept}
        theta = mle.params_.to_numpy()
        cov = mle.covariance_.to_numpy() / np.outer(theta, theta)  # delta method: log scale
        if not (np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > 0)):
            return {"init": "jitter+adapt_full", "target_accept": self.target_accept}
        mean = np.log(theta)
        rng = np.random.default_rng(self.random_state)
        starts = rng.multivariate_normal(mean, 4 * cov, size=self.chains)
        with warnings.catch_warnings():  # chosen on purpose: measured in the docstring above
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
            potential = QuadPotentialFullAdapt(len(theta), mean, cov, initial_weight=10)
        step = pm.NUTS(potential=potential, target_accept=self.target_accept)
        return {"step": step, "initvals": [
            {f"log_{k}": v for k, v in zip(self.param_names, start)} for start in starts]}

    def _warn_if_not_converged(self) -> None:
        summary = self.summary()
        problems = []
        if (summary["r_hat"] > MAX_RHAT).any():
            problems.append(f"r_hat up to {summary['r_hat'].max():.3f} (> {MAX_RHAT})")
        if (summary["ess_bulk"] < MIN_ESS).any():
            problems.append(f"bulk ESS down to {summary['ess_bulk'].min():.0f} (< {MIN_ESS})")
        divergent = int(self.idata_.sample_stats["diverging"].sum())
        if divergent:
            problems.append(f"{divergent} divergent transitions")
        if problems:
            warnings.warn(
                f"{type(self).__name__}: the sampler may not have converged: "
                + "; ".join(problems)
                + ". Try more tune/draws, a higher target_accept (0.95), or tighter priors.",
                ConvergenceWarning, stacklevel=3,
            )

    # -- reporting ----------------------------------------------------------------------------
    def summary(self, hdi_prob: float = 0.94) -> pd.DataFrame:
        """Posterior mean, sd, highest-density interval, r_hat and effective sample sizes."""
        import arviz as az

        self._check_fitted()
        table = az.summary(self.idata_, var_names=list(self.param_names), hdi_prob=hdi_prob)
        table.index.name = "parameter"
        return table

    def parameter_problem(self) -> str | None:
        """Why the posterior draws cannot be used (a draw not finite or not > 0), or None."""
        return invalid_parameters(self.param_names, self.posterior_draws().to_numpy())

    def posterior_draws(self, max_draws: int | None = None) -> pd.DataFrame:
        """Posterior draws of the parameters, chains stacked, evenly thinned to ``max_draws``."""
        self._check_fitted()
        post = self.idata_.posterior
        values = np.column_stack([post[k].to_numpy().ravel() for k in self.param_names])
        if max_draws is not None and len(values) > max_draws:
            values = values[np.linspace(0, len(values) - 1, max_draws).round().astype(int)]
        return pd.DataFrame(values, columns=list(self.param_names))

    def _n_draws(self, max_draws) -> int:
        post = self.idata_.posterior
        total = post.sizes["chain"] * post.sizes["draw"]
        return total if max_draws is None else min(total, max_draws)

    def _param_rows(self, max_draws):
        """Each parameter as a row vector of draws, ready to broadcast against customers."""
        draws = self.posterior_draws(max_draws)
        return [draws[k].to_numpy()[None, :] for k in self.param_names]

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "idata_"):
            return f"{name}(method={self.method!r}, draws={self.draws}, chains={self.chains})"
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{name}(posterior means {params}; {self.n_customers_} customers, {self.method})"


class BayesianBetaGeo(BayesianModel):
    """BG/NBD with a full posterior (PyMC). Same vocabulary as :class:`BetaGeo`.

    Predictions take ``interval=None`` (posterior mean, a Series) or a mass such as 0.94 (a
    DataFrame with ``mean``, ``lower``, ``upper``), ``max_draws`` to thin the posterior, and
    ``return_draws=True`` for the draws themselves (small sets of customers only).
    """

    param_names = ("r", "alpha", "a", "b")
    mle_class = BetaGeo

    def _default_priors(self, data):
        _, _, T, _, _, weights = data
        return {"r": (0.0, 2.0), "alpha": (float(np.log(np.average(T, weights=weights) + 1e-9)), 3.0),
                "a": (0.0, 2.0), "b": (0.0, 2.0)}

    def _loglik(self, params, data, xp):
        import pytensor.tensor as pt

        x, t_x, T, x_levels, time_levels, weights = data
        ll = bgnbd.loglik(params["r"], params["alpha"], params["a"], params["b"], x, t_x, T,
                          xp=xp, x_levels=x_levels, time_levels=time_levels)
        return pt.dot(weights, ll)

    def _histories(self, rfm):
        self._prepare(rfm, RFM_COLUMNS)
        x, t_x, T = rfm_arrays(rfm)
        first, inverse, _ = unique_rows(x, t_x, T)
        return (x[first][:, None], t_x[first][:, None], T[first][:, None]), inverse

    def probability_alive(self, rfm, *, interval=None, max_draws=None, return_draws=False):
        """Posterior mean (and interval) of P(alive | history) for each customer."""
        (x, t_x, T), inverse = self._histories(rfm)
        params = self._param_rows(max_draws)
        return summarise_draws(
            lambda rows: bgnbd.probability_alive(*params, x[rows], t_x[rows], T[rows]),
            len(x), params[0].shape[1], interval, "probability_alive", rfm.index,
            expand=inverse, return_draws=return_draws)

    def probability_any_purchase(self, rfm, t, *, interval=None, max_draws=None,
                                 return_draws=False):
        """Posterior mean (and interval) of P(at least one purchase in the next ``t``)."""
        t = self._horizon(t)
        if np.ndim(t):
            raise ValueError("give one horizon for all customers (a number or a Timedelta)")
        (x, t_x, T), inverse = self._histories(rfm)
        params = self._param_rows(max_draws)
        return summarise_draws(
            lambda rows: bgnbd.probability_any_purchase(*params, x[rows], t_x[rows], T[rows], t),
            len(x), params[0].shape[1], interval, "probability_any_purchase", rfm.index,
            expand=inverse, return_draws=return_draws)

    def expected_purchases(self, rfm, t, *, interval=None, max_draws=None, return_draws=False):
        """Posterior mean (and interval) of the purchases in the next ``t`` (a number, or a
        ``pd.Timedelta``), given each customer's history."""
        t = self._horizon(t)
        if np.ndim(t):
            raise ValueError("give one horizon for all customers (a number or a Timedelta)")
        compute, n_rows, inverse = self._discounted_purchases_draws(rfm, [float(t)], [1.0],
                                                                    max_draws)
        return summarise_draws(compute, n_rows, self._n_draws(max_draws), interval,
                               "expected_purchases", rfm.index, expand=inverse,
                               return_draws=return_draws)

    def expected_purchases_path(self, rfm, times) -> pd.DataFrame:
        """Posterior mean of the cumulative expected purchases at each of ``times``."""
        times = np.atleast_1d(np.asarray(times, dtype=float))
        return pd.DataFrame({t: self.expected_purchases(rfm, t) for t in times}, index=rfm.index)

    def _discounted_purchases_draws(self, rfm, times, coefficients, max_draws=None):
        self._prepare(rfm, RFM_COLUMNS)
        return discounted_purchases_draws(rfm, self._param_rows(max_draws), times, coefficients)

    def predictive_check(self, rfm, *, kind="prior", max_frequency=7, draws=500, interval=0.94,
                         random_state=None) -> pd.DataFrame:
        """Prior or posterior predictive check of the calibration frequencies.

        For each parameter draw (from the priors, or the posterior), the expected share of
        customers with 0, 1, ..., ``max_frequency``+ repeat purchases in their own window T is
        the mean over customers of P(X(T) = n) (FHL 2005, eq. 8). Returns, per frequency, the
        observed share and the predicted mean share with an equal-tailed interval. The prior
        check needs no fit.
        """
        if kind not in ("prior", "posterior"):
            raise ValueError("kind must be 'prior' or 'posterior'")
        data, _ = BetaGeo()._data(rfm)
        x, _, T, _, _, weights = data
        if kind == "prior":
            rng = np.random.default_rng(random_state)
            priors = self.prior_parameters(data)
            params = [np.exp(rng.normal(*priors[k], size=draws))[:, None, None]
                      for k in self.param_names]
        else:
            params = [p.ravel()[:, None, None] for p in self._param_rows(draws)]
        ages, index = np.unique(T, return_inverse=True)
        age_weights = np.bincount(index, weights=weights) / weights.sum()
        n = np.arange(max_frequency)[None, None, :]
        with np.errstate(all="ignore"):
            p = bgnbd.probability_of_purchases(*params, n, ages[None, :, None])  # draw, age, n
        shares = np.einsum("dan,a->dn", p, age_weights)
        shares = np.concatenate([shares, 1 - shares.sum(axis=1, keepdims=True)], axis=1)
        observed = np.bincount(np.minimum(x, max_frequency).astype(int), weights=weights,
                               minlength=max_frequency + 1) / weights.sum()
        lower, upper = np.nanquantile(shares, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
        labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
        return pd.DataFrame({"observed": observed, "mean": np.nanmean(shares, axis=0),
                             "lower": lower, "upper": upper},
                            index=pd.Index(labels, name="frequency"))

    def expected_purchases_new_customer(self, t):
        """Posterior mean of the expected purchases by ``t`` of a customer just acquired."""
        self._check_fitted()
        params = self._param_rows(None)
        t = np.asarray(self._horizon(t), dtype=float)
        return bgnbd.expected_purchases_new(*(p[..., None] for p in params), t[None, None]
                                            if t.ndim == 0 else t[None, None, :]).mean(axis=1).squeeze()

    def probability_of_purchases(self, n, t):
        """Posterior mean of P(X(t) = n) for a customer just acquired."""
        self._check_fitted()
        params = self._param_rows(None)
        n = np.asarray(n, dtype=float)
        value = bgnbd.probability_of_purchases(*(p.ravel()[:, None] for p in params),
                                               n.reshape(1, -1), float(t))
        return value.mean(axis=0).reshape(n.shape)


class BayesianGammaGamma(BayesianModel):
    """Gamma-Gamma with a full posterior (PyMC). Same vocabulary as :class:`GammaGamma`."""

    param_names = ("p", "q", "v")
    mle_class = GammaGamma

    def _default_priors(self, stats):
        return {"p": (0.0, 2.0), "q": (0.0, 2.0),
                "v": (float(np.log(np.average(stats["m"], weights=stats["w"]))), 3.0)}

    def _loglik(self, params, stats, xp):
        import pytensor.tensor as pt

        ll = gamma_gamma.loglik(params["p"], params["q"], params["v"], stats["x"], stats["m"],
                                xp=xp, x_levels=(stats["levels"], stats["level_index"]))
        return pt.dot(stats["w"], ll)

    def _spend_draws(self, rfm, max_draws=None):
        self._prepare(rfm, SPEND_COLUMNS)
        return spend_draws(rfm, self._param_rows(max_draws))

    def expected_spend(self, rfm, *, interval=None, max_draws=None, return_draws=False):
        """Posterior mean (and interval) of each customer's expected spend per purchase."""
        return summarise_draws(self._spend_draws(rfm, max_draws), len(rfm),
                               self._n_draws(max_draws), interval, "expected_spend", rfm.index,
                               return_draws=return_draws)
