r"""The hierarchical Pareto/NBD of Abe (2009, "Counting Your Customers One by One: A
Hierarchical Bayes Extension to the Pareto/NBD Model", Marketing Science 28(3); BTYDplus
``abe.mcmc.DrawParameters``): each customer buys at rate :math:`\lambda_i` while alive and dies
at rate :math:`\mu_i`, and across customers

.. math:: (\log\lambda_i, \log\mu_i) \sim N(B^\top d_i, \Sigma)

with :math:`d_i` her covariates (an intercept first): covariates move both rates, and the rates
are correlated (``cov_log_lambda_log_mu``), which the Pareto/NBD's independent Gammas cannot.

Sampled with every customer's rates as latent variables: per iteration a slice update of every
customer's :math:`\log\lambda` and :math:`\log\mu` (each given the other: its prior is the
conditional normal) on her likelihood with the lifetime integrated out
(:func:`clvmodels._math.pnbd.individual_loglik`; BTYDplus draws the lifetime and the alive
indicator as latent variables too, and moves the rates by a random walk), then the population
by the conjugate multivariate-regression draw (``B`` and ``Sigma`` given the rates; Rossi,
Allenby & McCulloch 2005, ``bayesm::rmultireg``), then a move of the intercepts with every
customer's rates carried along (the non-centred half of an interweaving strategy, Yu & Meng
2011: the dropout rates are weakly informed, so their mean mixes slowly without it) and of each
log rate's spread (its residuals and its row and column of the covariance scaled together).
Hyperpriors as BTYDplus: :math:`B \sim N(B_0, \Sigma \otimes A_0^{-1})`, :math:`A_0 = 0.01 I`,
:math:`B_0` zero but for the intercepts at the logarithms of the starting rates' means,
:math:`\Sigma \sim IW(3 + K, (3 + K) I)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg, stats

from .._math import linear_predictor, pnbd
from ..arguments import check_count
from ..data import RFM_COLUMNS
from ..exceptions import DataError
from ..interface import arg
from .latent import CustomerStreams, SharedStream, slice_update
from .latent_model import LatentModel, run_chains

PRIOR_PRECISION = 0.01  # A_0 = 0.01 I: BTYDplus's diffuse prior on the coefficients
# the user's priors (``priors=``): what each is, the bound its first number must exceed (its
# second must be > 0), and BTYDplus's default for K columns of the design (the intercepts'
# prior is always BTYDplus's)
PRIOR_DEFAULTS = {
    "coefficients": ("(mean, precision) of each covariate's coefficients, precision > 0",
                     -np.inf, lambda K: (0.0, PRIOR_PRECISION)),
    "covariance": ("(degrees, scale) of the covariance's inverse Wishart, degrees > 1 and "
                   "scale > 0", 1.0, lambda K: (3.0 + K, 3.0 + K)),
}
MAX_LOG_RATE = 70.0  # BTYDplus's bounds on a customer's log rates (no overflow)
GROUP_MOVES = 3  # rounds of the population's group moves per iteration (see _chain)
RATE_SWEEPS = 1  # slice updates of every customer's two log rates per iteration
CUSTOMER_THIN = 2  # iterations of a customer's chain per kept draw (each given its own row)
PLACES = {"rates": 2, "prior": 3}  # of the customers' streams


def covariance_names() -> tuple[str, ...]:
    return ("var_log_lambda", "cov_log_lambda_log_mu", "var_log_mu")


def coefficient_names(covariates) -> tuple[str, ...]:
    """BTYDplus's names: ``log_lambda``, ``log_mu`` without covariates, else
    ``log_lambda_intercept, log_mu_intercept, log_lambda_<column>, log_mu_<column>, ...``."""
    if not covariates:
        return ("log_lambda", "log_mu")
    return tuple(f"log_{rate}_{column}" for column in ("intercept", *covariates)
                 for rate in ("lambda", "mu"))


def draw_regression(Y, X, B0, A0, nu, V, rng):
    """One draw of ``(B, Sigma)`` in the multivariate regression ``Y = X B + E``, rows of
    ``E`` ``N(0, Sigma)``, under ``B | Sigma ~ N(B0, Sigma (x) A0^-1)`` and ``Sigma ~ IW(nu,
    V)`` (conjugate: Rossi, Allenby & McCulloch 2005, section 2.8): ``Sigma`` from ``IW(nu + n,
    V + S)``, then ``B`` around ``(X'X + A0)^-1 (X'Y + A0 B0)``."""
    n = len(Y)
    precision = X.T @ X + A0
    lower = linalg.cholesky(precision, lower=True)
    center = linalg.cho_solve((lower, True), X.T @ Y + A0 @ B0)
    residual = Y - X @ center
    shift = center - B0
    scatter = residual.T @ residual + shift.T @ A0 @ shift
    sigma = stats.invwishart.rvs(df=nu + n, scale=V + scatter, random_state=rng)
    noise = rng.standard_normal(center.shape)
    B = center + linalg.solve_triangular(lower.T, noise, lower=False) @ linalg.cholesky(
        sigma, lower=True).T
    return B, sigma


def conditional_normal(theta, mean, sigma, which: int):
    """Mean and variance of coordinate ``which`` (0: log lambda, 1: log mu) of a bivariate
    normal ``N(mean, sigma)`` (``sigma`` one ``2 x 2`` or one per row) given the other's
    value in ``theta``."""
    other = 1 - which
    sigma = np.asarray(sigma)
    s_ww, s_wo, s_oo = sigma[..., which, which], sigma[..., which, other], sigma[..., other, other]
    center = mean[:, which] + s_wo / s_oo * (theta[:, other] - mean[:, other])
    return center, s_ww - s_wo ** 2 / s_oo


def _update_rates(theta, mean, sigma, x, t_x, T, stream, widths, place=()):
    """A slice update of every customer's log lambda, then of her log mu, each given the
    other (its prior the conditional normal), on her likelihood; returns the moves' mean
    absolute sizes (for tuning the widths)."""
    moved = []
    for which in (0, 1):
        center, variance = conditional_normal(theta, mean, sigma, which)

        def log_density(value, rows, which=which, center=center, variance=variance):
            log_lam = value if which == 0 else theta[rows, 0]
            log_mu = value if which == 1 else theta[rows, 1]
            inside = np.abs(value) <= MAX_LOG_RATE
            with np.errstate(all="ignore"):
                density = (-0.5 * (value - center[rows]) ** 2 / np.broadcast_to(
                    variance, center.shape)[rows]
                    + pnbd.individual_loglik(np.exp(log_lam), np.exp(log_mu), x[rows],
                                             t_x[rows], T[rows]))
            return np.where(inside, density, -np.inf)

        before = theta[:, which].copy()
        theta[:, which] = slice_update(log_density, before, stream, widths[which],
                                       place=(*place, which))
        moved.append(float(np.mean(np.abs(theta[:, which] - before))))
    return moved


def _chain(arguments):
    """One chain: per iteration the customers' rates (:func:`_update_rates`), the population
    (:func:`draw_regression`), then :data:`GROUP_MOVES` rounds of the population's group moves
    with the rates carried along."""
    x, t_x, T, X, prior, draws, tune, rng = arguments
    n, K = X.shape
    lam0 = np.mean(x) / np.mean(np.where(t_x == 0, T, t_x))
    theta = np.column_stack([np.full(n, np.log(lam0)), np.log(1.0 / (t_x + 0.5 / lam0))])
    B0 = np.full((K, 2), prior["coefficients"][0])
    B0[0] = np.log(np.mean(np.exp(theta), axis=0))  # BTYDplus's: the start's log mean rates
    A0 = np.diag([PRIOR_PRECISION] + [prior["coefficients"][1]] * (K - 1))
    nu, scale = prior["covariance"]
    V = scale * np.eye(2)
    B, sigma = B0.copy(), np.eye(2)
    stream = SharedStream(rng, n)
    widths = [1.0, 1.0]
    sizes = {("shift", 0): 0.1, ("shift", 1): 0.1, ("scale", 0): 0.05, ("scale", 1): 0.05,
             ("shear", 1): 0.05}
    population = np.empty((draws, 2 * K + 3))

    def loglik(values):
        with np.errstate(all="ignore"):
            return pnbd.individual_loglik(np.exp(values[:, 0]), np.exp(values[:, 1]), x, t_x, T)

    for step in range(tune + draws):
        for _ in range(RATE_SWEEPS):
            moved = _update_rates(theta, X @ B, sigma, x, t_x, T, stream, widths)
        if step < tune:
            widths = [float(np.clip(0.8 * w + 0.4 * m, 0.05, 5.0)) for w, m in zip(widths, moved)]
        B, sigma = draw_regression(theta, X, B0, A0, nu, V, rng)
        # group moves with every customer's log rates carried along, each accepted with the
        # target's ratio times the move's Jacobian (Liu & Wu 1999): shift an intercept (the
        # residuals stay put), scale one log rate's residuals with its row and column of Sigma,
        # shear the log mu residuals along the log lambda ones with Sigma (the standardised
        # residuals stay put in both). Each costs one pass of the likelihood; the dropout rates
        # are weakly informed, so without them their mean, spread and correlation mix slowly
        current = loglik(theta)
        current_prior = hyperprior(B, sigma, B0, A0, nu, V)
        for _ in range(GROUP_MOVES):
            for move, which in (("shift", 0), ("shift", 1), ("scale", 0), ("scale", 1),
                                ("shear", 1)):
                size = sizes[move, which] * rng.standard_normal()
                mean = X @ B
                residual = theta - mean
                proposal, new_B, new_sigma = theta.copy(), B, sigma
                jacobian = 0.0
                if move == "shift":
                    proposal[:, which] += size
                    new_B = B.copy()
                    new_B[0, which] += size
                elif move == "scale":
                    rho = np.exp(size)
                    proposal[:, which] = mean[:, which] + rho * residual[:, which]
                    factor = np.ones(2)
                    factor[which] = rho
                    new_sigma = sigma * np.outer(factor, factor)
                    jacobian = 3.0 * size  # the residuals' rho^n cancels their density's
                else:
                    proposal[:, 1] = mean[:, 1] + residual[:, 1] + size * residual[:, 0]
                    shear = np.array([[1.0, 0.0], [size, 1.0]])
                    new_sigma = shear @ sigma @ shear.T
                proposed = loglik(proposal)
                proposed_prior = hyperprior(new_B, new_sigma, B0, A0, nu, V)
                ratio = (float(np.sum(proposed - current)) + jacobian
                         + proposed_prior - current_prior)
                accepted = np.log(rng.uniform()) < ratio
                if accepted:
                    theta, B, sigma, current = proposal, new_B, new_sigma, proposed
                    current_prior = proposed_prior
                if step < tune:  # warm-up: each move's size towards 40 % acceptance
                    sizes[move, which] *= np.exp((float(accepted) - 0.4) / np.sqrt(step + 1.0))
        if step >= tune:
            population[step - tune] = [*B.ravel(), sigma[0, 0], sigma[0, 1], sigma[1, 1]]
    return {"population": population, "widths": widths}


def hyperprior(B, sigma, B0, A0, nu, V) -> float:
    """``log p(B | Sigma) + log p(Sigma)`` up to a constant: ``N(B0, Sigma (x) A0^-1)`` and
    ``IW(nu, V)``."""
    inverse = np.linalg.inv(sigma)
    log_det = np.linalg.slogdet(sigma)[1]
    d = B - B0
    K, p = B.shape
    return float(-0.5 * K * log_det - 0.5 * np.trace(inverse @ d.T @ A0 @ d)
                 - 0.5 * (nu + p + 1) * log_det - 0.5 * np.trace(V @ inverse))


def sample_customers(population, K: int, widths, x, t_x, T, X, keys, tune: int, draws: int):
    """Each customer's ``lambda`` and ``mu`` drawn given her history, her covariates ``X``
    and the population's posterior draws (``(draws, 2K + 3)``: ``B`` row by row, then the
    covariance), as :func:`clvmodels.models.pareto_ggg.sample_customers`: her draw ``d`` given
    row ``d``, the same row for every customer (so that sums over customers per draw carry the
    uncertainty they share), her chain ``tune`` iterations given row 0, then
    :data:`CUSTOMER_THIN` given each row, keeping the last. An iteration: both her log rates by
    independence Metropolis from the row's normal (so that where her data say little, they
    follow the row at once), then each by a slice update given the other; random numbers of
    her own (``keys``). Returns ``(lambda, mu)``, each ``(customers, draws)``."""
    n = x.size
    streams = CustomerStreams(keys)
    Bs = population[:, :2 * K].reshape(len(population), K, 2)
    sigmas = np.empty((len(population), 2, 2))
    sigmas[:, 0, 0], sigmas[:, 0, 1], sigmas[:, 1, 1] = population[:, 2 * K:].T
    sigmas[:, 1, 0] = sigmas[:, 0, 1]
    roots = np.linalg.cholesky(sigmas)

    def means(row):  # column by column: a customer's numbers are hers alone
        return linear_predictor(X, Bs[row])

    theta = means(0)  # each customer starts at her mean under the first row
    with np.errstate(all="ignore"):
        current = pnbd.individual_loglik(*np.exp(theta.T), x, t_x, T)
    out = np.empty((2, n, draws))
    for step in range(tune + draws * CUSTOMER_THIN):
        j = max(step - tune, 0) // CUSTOMER_THIN  # the population's row of this iteration
        mean = means(j)
        # both log rates proposed from the row's normal, accepted with the likelihood's
        # ratio: where her data say little (no repeat purchase) they follow a new row at once
        z0, z1 = (streams.normal(slice(None), step, PLACES["prior"], i) for i in (0, 1))
        root = roots[j]
        proposal = mean + np.column_stack([root[0, 0] * z0, root[1, 0] * z0 + root[1, 1] * z1])
        with np.errstate(all="ignore"):
            proposed = np.where(np.all(np.abs(proposal) <= MAX_LOG_RATE, axis=1),
                                pnbd.individual_loglik(*np.exp(proposal.T), x, t_x, T), -np.inf)
            take = (np.log(streams.uniform(slice(None), step, PLACES["prior"], 2))
                    < proposed - current)
        theta[take] = proposal[take]
        _update_rates(theta, mean, sigmas[j], x, t_x, T, streams, widths,
                      place=(step, PLACES["rates"]))
        with np.errstate(all="ignore"):
            current = pnbd.individual_loglik(*np.exp(theta.T), x, t_x, T)
        done = step - tune + 1
        if done > 0 and done % CUSTOMER_THIN == 0:  # the last iteration given row j
            out[:, :, j] = np.exp(theta.T)
    return out[0], out[1]


class HierarchicalParetoNBD(LatentModel):
    """The hierarchical Pareto/NBD (Abe 2009): log-normal rates correlated across customers
    and moved by covariates, sampled with every customer's rates (module docstring).

    Parameters
    ----------
    customer_covariates : list of str, optional
        Numeric columns of the RFM frame (joined from the customer table) that move both log
        rates; an intercept is added.
    draws, tune, chains : int
        Draws kept per chain, warm-up iterations per chain, chains (default 4 x (500 +
        2,000)).
    customer_draws, customer_tune : int
        Per customer, in predictions: the draws of her rates (two iterations of her chain
        each, draw ``d`` given population draw ``d`` of a schedule every customer shares, so
        that totals over customers carry the population's uncertainty) and the warm-up
        iterations before them.
        A prediction is the mean of her draws, so it carries their Monte Carlo error: for a
        customer without repeat purchases on CDNOW about an eighth of the value at 200 draws
        (32 weeks after her only purchase, 39 weeks ahead: 0.171 by 5,000 draws, sd 0.31 per
        draw; eight seeds of 200: 0.155 to 0.207); set 1,000 or more where
        such customers' values are used one by one (the time grows in proportion).
    priors : dict, optional
        The conjugate priors (Rossi, Allenby & McCulloch 2005, 2.8), defaults BTYDplus's:
        ``{"coefficients": (mean, precision)}``: each covariate's coefficient on each log rate
        ``~ N(mean, Sigma_rate / precision)`` (default ``(0, 0.01)``; a large precision holds
        the coefficients at ``mean``; the intercepts keep BTYDplus's diffuse prior around the
        log mean rates); ``{"covariance": (degrees, scale)}``: ``Sigma ~ IW(degrees, scale
        I)`` (default ``(3 + K, 3 + K)`` with ``K`` the covariates plus the intercept; its
        mean is ``scale / (degrees - 3) I``).
    random_state : int, optional
        Seeds the fit's chains and the customers' random numbers in predictions.
    cores : int, optional
        Processes for the chains (default: one per chain, at most the CPUs).

    Attributes
    ----------
    idata_ : arviz.InferenceData
        The population's posterior: the coefficients (BTYDplus's names: ``log_lambda``,
        ``log_mu``, or with covariates ``log_lambda_intercept``, ``log_mu_intercept``,
        ``log_lambda_<column>``...) and ``var_log_lambda``, ``cov_log_lambda_log_mu``,
        ``var_log_mu``.
    params_ : pandas.Series
        Their posterior means.
    """

    name = "pnbd_abe"
    title = "Pareto/NBD (Abe)"
    param_names = (*coefficient_names(()), *covariance_names())
    columns = RFM_COLUMNS
    facts = ("width_lambda", "width_mu")  # the customers' slices, tuned in the warm-up

    def __init__(self, customer_covariates=None, draws=2000, tune=500, chains=4,
                 customer_draws=200, customer_tune=100, priors=None, random_state=None,
                 cores=None):
        self.customer_covariates = customer_covariates
        self.priors = priors
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.customer_draws = customer_draws
        self.customer_tune = customer_tune
        self.random_state = random_state
        self.cores = cores

    @property
    def covariate_columns(self) -> tuple[str, ...]:
        """The covariates, checked: a list of distinct column names."""
        given = self.customer_covariates
        if given is None:
            return ()
        names = (given,) if isinstance(given, str) else tuple(given)
        if not all(isinstance(c, str) for c in names) or len(set(names)) != len(names):
            raise DataError(f"{arg('customer_covariates')}{list(names)!r}: give distinct "
                            "column names")
        return names

    @property
    def covariates(self) -> dict:
        """``{"rates": columns}``: what scoring joins from the customer table (both rates)."""
        return {"rates": self.covariate_columns} if self.covariate_columns else {}

    @property
    def population_names_(self) -> tuple[str, ...]:
        return (*coefficient_names(self.covariate_columns), *covariance_names())

    @property
    def positive_population(self):
        K = 1 + len(self.covariate_columns)
        return np.array([False] * (2 * K) + [True, False, True])

    def _design(self, rfm: pd.DataFrame) -> np.ndarray:
        """The intercept and the covariate columns, each checked to be numbers."""
        columns = [np.ones(len(rfm))]
        for column in self.covariate_columns:
            if column not in rfm.columns:
                raise DataError(f"{arg('customer_covariates')}: the frame has no column "
                                f"{column!r}; "
                                f"its columns are {list(rfm.columns)}")
            values = pd.to_numeric(rfm[column], errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(values)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"covariate {column!r} must be finite numbers (encode a "
                                f"category as 0/1 columns): customer {rfm.index[i]!r} has "
                                f"{rfm[column].iloc[i]!r}")
            columns.append(values)
        return np.column_stack(columns)

    def _run(self, rfm, unit):
        """The chains on the frame's histories and covariates."""
        X = self._design(rfm)
        x, t_x, T = (rfm[c].to_numpy(dtype=np.float64) for c in RFM_COLUMNS)
        prior = self._prior(X.shape[1])
        return run_chains(_chain, self._seeded_jobs((x, t_x, T, X, prior, self.draws,
                                                     self.tune)), self.cores)

    def _prior(self, K: int) -> dict:
        """``priors`` checked, BTYDplus's defaults filled in: ``{"coefficients": (mean,
        precision), "covariance": (degrees, scale)}`` for ``K`` columns of the design."""
        given = {} if self.priors is None else self.priors
        unknown = sorted(set(given) - set(PRIOR_DEFAULTS)) if isinstance(given, dict) else given
        if unknown:
            raise DataError(f"{arg('priors')}{unknown!r}: give a dict with 'coefficients': "
                            "(mean, precision) and/or 'covariance': (degrees, scale)")
        out = {}
        for name, (rule, low, default) in PRIOR_DEFAULTS.items():
            value = given.get(name, default(K))
            try:
                if isinstance(value, (str, bytes)):  # "12" is not two numbers
                    raise TypeError
                first, second = (float(v) for v in value)
            except (TypeError, ValueError):
                raise DataError(f"{arg('priors')}[{name!r}] = {value!r}: give two numbers, "
                                f"{rule}") from None
            if not (np.isfinite(first) and np.isfinite(second) and first > low and second > 0):
                raise DataError(f"{arg('priors')}[{name!r}] = {value!r}: {rule}")
            out[name] = (first, second)
        return out

    def _record(self, results):
        self.width_lambda_, self.width_mu_ = (float(np.mean([r["widths"][i] for r in results]))
                                              for i in (0, 1))

    def _settings_state(self) -> dict:
        settings = self.constructor_settings()
        if self.priors is not None:
            given = self._prior(1 + len(self.covariate_columns))
            settings["priors"] = {name: list(given[name]) for name in self.priors}
        return settings

    def _check_restored(self) -> None:
        self._prior(1 + len(self.covariate_columns))
        for fact in self.facts:
            width = getattr(self, fact + "_", None)
            if not (isinstance(width, float) and 0 < width < np.inf):
                raise ValueError(f"{fact} must be a number > 0")

    # -- predictions ----------------------------------------------------------------------------
    def _history(self, rfm):
        return [*(rfm[c].to_numpy(dtype=np.float64) for c in RFM_COLUMNS),
                *self._design(rfm)[:, 1:].T]

    def _sample(self, population, history, keys):
        x, t_x, T = history[:, :3].T
        X = np.column_stack([np.ones(len(history)), history[:, 3:]])
        return sample_customers(population, X.shape[1], [self.width_lambda_, self.width_mu_],
                                x, t_x, T, X, keys, self.customer_tune, self.customer_draws)

    def _alive(self, latent, history):
        lam, mu = latent
        return pnbd.individual_probability_alive(lam, mu, history[:, 1:2], history[:, 2:3])

    def _any_purchase(self, latent, history, ends):
        lam, mu = latent
        return pnbd.individual_probability_any_purchase(lam, mu, self._alive(latent, history),
                                                        ends)

    def _expected(self, latent, history, ends, keys):
        """Closed form per draw: ``P(alive) lambda / mu (1 - e^{-mu t})``."""
        lam, mu = latent
        alive = self._alive(latent, history)
        ends = np.asarray(ends, dtype=np.float64)
        if ends.ndim == 2:  # one horizon per customer
            ends = ends[:, None, :]
        return pnbd.individual_expected_purchases(lam[..., None], mu[..., None],
                                                  alive[..., None], ends)


def simulate_pareto_nbd_abe(n_customers: int, *, B, sigma, T: float, holdout: float = 0.0,
                            covariates=None, seed=None, time_unit: str = "W") -> pd.DataFrame:
    """Customers drawn from the hierarchical Pareto/NBD (BTYDplus ``abe.GenerateData``), all
    acquired at time 0 and observed for ``T`` (then ``holdout`` more): ``(log lambda, log mu)
    ~ N(B' d, sigma)`` with ``d`` an intercept and the covariates, drawn uniform on (-1, 1)
    as BTYDplus's (columns ``covariate_1``, ...), lifetime ``Exp(mu)``, purchases at rate
    ``lambda`` while alive.

    Parameters
    ----------
    n_customers : int
    B : array-like
        ``(1 + covariates, 2)``: the intercepts' row, then one row per covariate.
    sigma : array-like
        ``2 x 2`` covariance of the log rates.
    T, holdout : float
    covariates : int, optional
        How many covariates (default: ``len(B) - 1``).
    seed : int, optional
    time_unit : str

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T``, the covariates (and ``frequency_holdout``,
        ``duration_holdout``); ``attrs`` hold the truth.
    """
    n = check_count(n_customers, "n_customers", low=1)
    B, sigma = np.atleast_2d(np.asarray(B, dtype=np.float64)), np.asarray(sigma, dtype=float)
    rng = np.random.default_rng(seed)
    K = B.shape[0]
    X = np.column_stack([np.ones(n), rng.uniform(-1, 1, (n, K - 1))])
    theta = X @ B + rng.multivariate_normal(np.zeros(2), sigma, n)
    lam, mu = np.exp(theta.T)
    tau = rng.exponential(size=n) / mu
    x = rng.poisson(lam * np.minimum(tau, T))
    # given x purchases in (0, min(tau, T)], the last is the largest of x uniform times
    span = np.minimum(tau, T)
    t_x = np.where(x > 0, span * rng.uniform(size=n) ** (1.0 / np.maximum(x, 1)), 0.0)
    future = rng.poisson(lam * np.clip(np.minimum(tau, T + holdout) - T, 0.0, None))
    frame = pd.DataFrame({"frequency": x.astype(float), "recency": t_x, "T": float(T)})
    for k in range(1, K):
        frame[f"covariate_{k}"] = X[:, k]
    if holdout:
        frame["frequency_holdout"] = future.astype(float)
        frame["duration_holdout"] = float(holdout)
    frame.index.name = "customer_id"
    frame.attrs = {"time_unit": time_unit, "truth": {"B": B.tolist(), "sigma": sigma.tolist()}}
    return frame
