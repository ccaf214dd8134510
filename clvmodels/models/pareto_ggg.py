"""Pareto/GGG (Platzer & Reutterer 2016): timing regularity, sampled with every customer's latent
variables (:mod:`clvmodels._math.pggg` has the model and its formulas).

The sampler follows BTYDplus's ``pggg.mcmc.DrawParameters`` (a Gibbs cycle of slice updates
over the customers' regularity ``k``, purchase rate ``lambda`` and dropout rate ``mu``, then
the population's Gamma parameters) with three changes that keep it exact and make it fast:
every customer is updated at once in array form
(:func:`clvmodels.models.latent.slice_update`); the lifetime is integrated out in closed form
(:func:`clvmodels._math.pggg.loglik`) instead of being drawn as a latent variable (BTYDplus's
``tau`` and ``mu`` move each other slowly: on 1,525 simulated customers the effective sample size
of the dropout population was 0.02 per draw with ``tau``); and each population shape is sliced
with its rate integrated out (:func:`clvmodels.models.latent.draw_gamma_population`).
P(alive) is averaged in closed form over the kept draws. Chains run in their own processes.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context

import numpy as np
import pandas as pd

from .._math import pggg
from ..arguments import check_count
from ..data import RFM_COLUMNS, check_rfm
from ..draws import summarise_draws
from ..exceptions import DataError, NotFittedError
from ..priors import Prior
from .cnbd import litt_column, simulated_frame
from .latent import (draw_gamma_population, rescale_population, reshape_population,
                     slice_update)

POPULATION = ("t", "gamma", "r", "alpha", "s", "beta")
# each process's Gamma: the latent variable it describes and its (shape, rate) names
PROCESSES = (("k", "t", "gamma"), ("lambda", "r", "alpha"), ("mu", "s", "beta"))
RESCALED = ("k", "mu")  # weakly informed members: their rate also moves with them (below)
# per iteration: interweaving moves of each weakly informed population (below), independence
# steps of each customer's lambda and mu; chosen by effective sample size per second on 10,000
# simulated customers (benchmarks/latent.py): 2.8 against 1.0 with 4 and 3 of each
POPULATION_MOVES = {"k": 2, "mu": 3}
INDEPENDENCE_STEPS = {"lambda": 1, "mu": 2}
VAGUE = (1e-3, 1e-3)  # BTYDplus's Gamma(0.001, 0.001) hyperpriors
MIN_MU = np.exp(-30)  # BTYDplus's floor on drawn rates (avoids underflow)


def _chain(arguments):
    """One chain (a function of picklable arguments, for a process of its own): per iteration
    a slice update of every customer's ``log k``, ``log lambda`` and ``log mu`` on the
    likelihood with the lifetime integrated out (:func:`clvmodels._math.pggg.loglik`), then
    the three populations."""
    (x, t_x, T, litt, start, draws, tune, keep, rng, priors) = arguments
    n = x.size
    pop = dict(start)
    state = {"k": np.full(n, start["t"] / start["gamma"]),
             "lambda": np.full(n, np.mean(x) / np.mean(np.where(t_x == 0, T, t_x))),
             "mu": np.full(n, start["s"] / start["beta"])}
    population = np.empty((draws, len(POPULATION)))
    every = max(1, draws // keep) if keep else draws + 1
    kept = {name: [] for name in state}
    steps = {parameter: 0.1 for name, shape, rate in PROCESSES if name in RESCALED
             for parameter in (shape, rate)}
    widths = {name: 1.0 for name in state}  # of the customers' slices, in log units

    def likelihood(name, values, rows):
        """The terms of the log-likelihood that ``name`` moves, for the customers ``rows``."""
        if name == "mu":  # mu is not in the gaps' density
            return pggg.silence_loglik(values["k"], values["lambda"], values["mu"], t_x[rows],
                                       T[rows])
        return pggg.loglik(values["k"], values["lambda"], values["mu"], x[rows], t_x[rows],
                           T[rows], litt[rows])

    for step in range(tune + draws):
        # lambda: its Gamma prior times the gaps' density is Gamma(r + k x, alpha + k t_x), the
        # rest of the likelihood (the silence since the last purchase) a factor <= 1, so an
        # independence sampler from that Gamma accepts with the ratio of the factors (one pass
        # over the customers per step, against about twenty for a slice update)
        # and mu likewise: Gamma(s, beta + t_x) times the rest of the silence term
        for name, shape, rate in (("lambda", pop["r"] + state["k"] * x,
                                   pop["alpha"] + state["k"] * t_x),
                                  ("mu", np.full(n, pop["s"]), pop["beta"] + t_x)):
            with np.errstate(all="ignore"):
                silence = pggg.silence_loglik(state["k"], state["lambda"], state["mu"], t_x, T)
                current = silence + state["mu"] * t_x
                for _ in range(INDEPENDENCE_STEPS[name]):
                    proposal = np.maximum(rng.gamma(shape, 1.0 / rate), MIN_MU)
                    values = dict(state)
                    values[name] = proposal
                    proposed = (pggg.silence_loglik(values["k"], values["lambda"], values["mu"],
                                                    t_x, T) + values["mu"] * t_x)
                    take = np.log(rng.uniform(size=n)) < proposed - current
                    state[name] = np.where(take, proposal, state[name])
                    current = np.where(take, proposed, current)
        for name, shape, rate in PROCESSES:
            if name != "k":
                continue

            def log_density(log_value, rows, name=name, shape=shape, rate=rate):
                values = {key: value[rows] for key, value in state.items()}
                values[name] = np.exp(log_value)
                # the population's Gamma in log(value) (its Jacobian included), the likelihood
                # (mu moves its silence term only)
                return (pop[shape] * log_value - pop[rate] * values[name]
                        + likelihood(name, values, rows))

            with np.errstate(all="ignore"):
                before = np.log(state[name])
                after = slice_update(log_density, before, rng, widths[name])
                state[name] = np.maximum(np.exp(after), MIN_MU)
            if step < tune:  # warm-up: the width towards twice the typical move (Neal 2003)
                moved = float(np.mean(np.abs(after - before)))
                widths[name] = float(np.clip(0.8 * widths[name] + 0.2 * 2.0 * moved, 0.05, 5.0))
        for name, shape, rate in PROCESSES:
            def total(members, name=name):
                values = dict(state)
                values[name] = members
                with np.errstate(all="ignore"):
                    return float(np.sum(likelihood(name, values, slice(None))))

            # the population moves cost one pass over the customers each, the customers'
            # updates about twenty: where the members are weakly informed (k, mu) the
            # population is what mixes slowly, so it moves several times per iteration
            current = total(state[name]) if name in RESCALED else None
            for _ in range(POPULATION_MOVES.get(name, 1)):
                pop[shape], pop[rate] = draw_gamma_population(
                    state[name], pop[shape], rng, priors[shape], priors[rate])
                if name not in RESCALED:
                    continue
                pop[rate], state[name], current, moved_rate = rescale_population(
                    state[name], pop[rate], total, current, rng, priors[rate], steps[rate])
                pop[shape], state[name], current, moved_shape = reshape_population(
                    state[name], pop[shape], pop[rate], total, current, rng, priors[shape],
                    steps[shape])
                if step < tune:  # warm-up: each step size towards 40 % acceptance
                    for key, moved in ((rate, moved_rate), (shape, moved_shape)):
                        steps[key] *= np.exp((moved - 0.4) / np.sqrt(step + 1.0))
        done = step - tune
        if done >= 0:
            population[done] = [pop[name] for name in POPULATION]
            if done % every == 0 and len(kept["k"]) < keep:
                for name, value in state.items():
                    kept[name].append(value.astype(np.float32))
    return {"population": population,
            **{name: np.array(values) for name, values in kept.items()}}


class ParetoGGG:
    """Pareto/GGG (Platzer & Reutterer 2016) sampled with its per-customer latent variables.

    Parameters
    ----------
    draws, tune, chains : int
        Draws kept per chain, warm-up iterations per chain, chains (defaults: 4 x (500 +
        2,000), the issue's measure; BTYDplus runs 2 x (500 + 2,500) thinned to 50).
    customer_draws : int
        Per-customer draws kept per chain for predictions (evenly spaced; float32).
    priors : dict, optional
        Gamma hyperpriors on any of ``t, gamma, r, alpha, s, beta``, as
        ``{"r": clvmodels.Prior("Gamma", alpha=shape, beta=rate)}`` or ``{"r": (shape,
        rate)}``; default Gamma(0.001, 0.001) for all (BTYDplus's).
    random_state : int, optional
    cores : int, optional
        Processes for the chains (default: one per chain, at most the CPUs).

    Attributes
    ----------
    idata_ : arviz.InferenceData
        The population parameters' posterior.
    params_ : pandas.Series
        Their posterior means.
    customers_ : pandas.Index
        The customers of the fit (predictions align on them by label).
    """

    name = "pggg"
    title = "Pareto/GGG"
    param_names = POPULATION

    def __init__(self, draws=2000, tune=500, chains=4, customer_draws=250, priors=None,
                 random_state=None, cores=None):
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.customer_draws = customer_draws
        self.priors = priors
        self.random_state = random_state
        self.cores = cores

    # -- fitting --------------------------------------------------------------------------------
    def _priors(self) -> dict:
        priors = {name: VAGUE for name in POPULATION}
        for name, value in (self.priors or {}).items():
            if name not in POPULATION:
                raise DataError(f"priors[{name!r}]: Pareto/GGG's population parameters are "
                                f"{list(POPULATION)}")
            if isinstance(value, Prior):  # the Bayesian models' prior object, a Gamma here
                if value.distribution != "Gamma" or set(value.parameters) != {"alpha", "beta"}:
                    raise DataError(f"priors[{name!r}] = {value!r}: Pareto/GGG's sampler takes "
                                    "Gamma priors on its population, Prior('Gamma', alpha=shape, "
                                    "beta=rate)")
                value = (value.parameters["alpha"], value.parameters["beta"])
            try:
                shape, rate = (float(v) for v in value)
            except (TypeError, ValueError):
                raise DataError(f"priors[{name!r}] = {value!r}: give a Gamma prior as (shape, "
                                "rate), both > 0, such as (1, 1)") from None
            if not (shape > 0 and rate > 0 and np.isfinite(shape) and np.isfinite(rate)):
                raise DataError(f"priors[{name!r}] = {value!r}: shape and rate must be finite "
                                "and > 0")
            priors[name] = (shape, rate)
        return priors

    def fit(self, rfm: pd.DataFrame):
        """Sample the posterior on an RFM frame with ``litt`` (``rfm_summary(...,
        statistics=["litt"])``).

        Parameters
        ----------
        rfm : pandas.DataFrame

        Returns
        -------
        self
        """
        import arviz as az

        for setting, low in (("draws", 1), ("tune", 0), ("chains", 1), ("customer_draws", 1)):
            check_count(getattr(self, setting), setting, low=low)
        check_rfm(rfm)
        litt = litt_column(rfm, self.title)
        x, t_x, T = (rfm[c].to_numpy(dtype=np.float64) for c in RFM_COLUMNS)
        priors = self._priors()
        start = self._start(rfm, x, t_x, litt)
        seeds = np.random.SeedSequence(self.random_state).spawn(self.chains)
        jobs = [(x, t_x, T, litt, start, self.draws, self.tune, self.customer_draws,
                 np.random.default_rng(seed), priors) for seed in seeds]
        workers = self.cores or min(self.chains, os.cpu_count() or 1)
        if workers > 1 and self.chains > 1:
            # fork where there is one: no main-module guard needed in the user's script, and
            # the chains start at once (they run numpy and scipy only)
            context = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = list(pool.map(_chain, jobs))
        else:
            results = [_chain(job) for job in jobs]
        self.idata_ = az.from_dict(posterior={
            name: np.stack([r["population"][:, j] for r in results])
            for j, name in enumerate(POPULATION)})
        self.params_ = pd.Series(
            [float(self.idata_.posterior[name].mean()) for name in POPULATION],
            index=list(POPULATION))
        self.customers_ = rfm.index.copy()
        self.history_ = {"x": x, "t_x": t_x, "T": T}
        self.latent_ = {name: np.concatenate([r[name] for r in results])
                        for name in ("k", "lambda", "mu")}  # (draws, customers)
        self.time_unit_ = rfm.attrs.get("time_unit")
        self._warn_if_not_converged()
        return self

    def _start(self, rfm, x, t_x, litt) -> dict:
        """Where the chains start: for r, alpha, s, beta the Pareto/NBD estimate (as BTYDplus,
        here on all customers); for the regularity, Gamma(1, 1/k0) with ``k0`` the median over
        customers with at least 3 repeat purchases of the approximate maximum-likelihood shape
        of their gaps (Minka 2002: with ``g = log(mean gap) - mean(log gap)``, ``k ~ (3 - g +
        sqrt((g - 3)^2 + 24 g)) / (12 g)``), so that the warm-up does not have to walk k from
        BTYDplus's 1 to, say, 5."""
        from .pareto_nbd import ParetoNBD

        start = {"t": 1.0, "gamma": 1.0, "r": 1.0, "alpha": 1.0, "s": 1.0, "beta": 1.0}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                estimate = ParetoNBD().fit(rfm[list(RFM_COLUMNS)])
            start.update({k: float(v) for k, v in estimate.params_.items()})
        except Exception:  # noqa: BLE001 - any failure keeps BTYDplus's fallback start
            pass
        some = (x >= 3) & (t_x > 0)
        if some.sum() >= 10:
            g = np.log(t_x[some] / x[some]) - litt[some] / x[some]
            g = np.maximum(g, 1e-6)
            shapes = (3.0 - g + np.sqrt((g - 3.0) ** 2 + 24.0 * g)) / (12.0 * g)
            start["gamma"] = 1.0 / float(np.clip(np.median(shapes), 0.2, 50.0))
        return start

    def _warn_if_not_converged(self) -> None:
        problems = self.convergence_problems()
        if problems:
            warnings.warn(f"Pareto/GGG: the sampler may not have converged: {'; '.join(problems)}."
                          " Sample longer (draws, tune).", UserWarning, stacklevel=3)

    def convergence_problems(self) -> list[str]:
        """What falls short of r_hat <= 1.01 and bulk ESS >= 400 for the population.

        Returns
        -------
        list of str
        """
        summary = self.summary()
        problems = []
        if (summary["r_hat"] > 1.01).any():
            problems.append(f"r_hat up to {summary['r_hat'].max():.3f} (> 1.01)")
        if (summary["ess_bulk"] < 400).any():
            problems.append(f"bulk ESS down to {summary['ess_bulk'].min():.0f} (< 400)")
        return problems

    def summary(self) -> pd.DataFrame:
        """Posterior summary of the population parameters (ArviZ).

        Returns
        -------
        pandas.DataFrame
        """
        import arviz as az

        self._check_fitted()
        table = az.summary(self.idata_, var_names=list(POPULATION))
        table.index.name = "parameter"
        return table

    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise NotFittedError("this ParetoGGG is not fitted yet: call .fit(rfm) first")

    def _draws(self, rfm):
        """For ``rfm``'s customers (by label; all of them in the fit): their index, histories
        and kept draws (each ``(customers, draws)``). A frame whose histories differ from the
        ones sampled is refused: the draws belong to those histories."""
        self._check_fitted()
        index = rfm.index if isinstance(rfm, pd.DataFrame) else pd.Index(rfm)
        rows = self.customers_.get_indexer(index)
        if (rows < 0).any():
            first = index[np.flatnonzero(rows < 0)[0]]
            raise DataError(f"customer {first!r} was not in the fit: Pareto/GGG predicts the "
                            "customers it sampled (refit with them)")
        history = {name: value[rows][:, None] for name, value in self.history_.items()}
        if isinstance(rfm, pd.DataFrame):
            for column, name in zip(RFM_COLUMNS, ("x", "t_x", "T")):
                if column not in rfm.columns:
                    continue
                given = pd.to_numeric(rfm[column], errors="coerce").to_numpy(dtype=np.float64)
                differ = ~np.isclose(given, history[name][:, 0], rtol=1e-12, atol=0)
                if differ.any():
                    i = np.flatnonzero(differ)[0]
                    raise DataError(
                        f"customer {index[i]!r} has {column} {given[i]:g} here but "
                        f"{history[name][i, 0]:g} in the fit: Pareto/GGG predicts from the "
                        "histories it sampled; refit on the new frame (or pass the customers' "
                        "ids alone, pd.Index, for the fitted histories)")
        latent = [self.latent_[name][:, rows].T for name in ("k", "lambda", "mu")]
        return index, history, latent

    def probability_alive(self, rfm, *, interval=None, return_draws: bool = False):
        """P(alive at the end of the fit's observation) per customer: the posterior mean over
        the kept draws of the closed-form probability given each draw's latent rates.

        Parameters
        ----------
        rfm : pandas.DataFrame or pandas.Index
            The customers (of the fit), by label.
        interval : float, optional
            Mass of an equal-tailed posterior interval (a DataFrame of ``mean``, ``lower``,
            ``upper``).
        return_draws : bool
            The per-draw values (a DataFrame, one column per draw).

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        index, h, (k, lam, mu) = self._draws(rfm)

        def compute(rows):
            kk, ll, mm = (v[rows].astype(np.float64) for v in (k, lam, mu))
            with np.errstate(all="ignore"):
                return pggg.probability_alive(kk, ll, mm, h["t_x"][rows], h["T"][rows])

        return summarise_draws(compute, len(index), k.shape[1], interval, "probability_alive",
                               index, return_draws=return_draws)

    def expected_purchases(self, rfm, t: float, *, interval=None, return_draws: bool = False,
                           paths: int = 8, seed=None):
        """Expected purchases in the next ``t`` per customer: the posterior mean over the kept
        draws of each draw's expectation, estimated by ``paths`` forward simulations (alive or
        not by the draw's P(alive), then the renewal process until the horizon or death).

        Parameters
        ----------
        rfm : pandas.DataFrame or pandas.Index
            The customers (of the fit), by label.
        t : float
            Horizon in the fit's time unit, > 0.
        interval : float, optional
        return_draws : bool
        paths : int
            Simulations per draw (the Monte Carlo error of a draw's value falls as its root).
        seed : int, optional

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        check_count(paths, "paths", low=1)
        if not (isinstance(t, (int, float, np.integer, np.floating)) and np.isfinite(t)
                and t > 0):
            raise DataError(f"t={t!r}: the horizon must be a number > 0 in the fit's time unit")
        index, h, (k, lam, mu) = self._draws(rfm)
        entropy = np.random.SeedSequence(seed).entropy

        def compute(rows):
            rng = np.random.default_rng([entropy, int(rows[0]) if len(rows) else 0])
            kk, ll, mm = (v[rows].astype(np.float64) for v in (k, lam, mu))
            t_x, T = h["t_x"][rows], h["T"][rows]
            total = np.zeros(kk.shape)
            for _ in range(paths):
                with np.errstate(all="ignore"):
                    alive = rng.uniform(size=kk.shape) < pggg.probability_alive(kk, ll, mm, t_x, T)
                total += pggg.simulate_future_purchases(kk, ll, mm, alive, t_x, T, t, rng)
            return total / paths

        return summarise_draws(compute, len(index), k.shape[1], interval, "expected_purchases",
                               index, return_draws=return_draws)


def simulate_pareto_ggg(n_customers: int, *, t: float, gamma: float, r: float, alpha: float,
                        s: float, beta: float, T: float, holdout: float = 0.0, seed=None,
                        time_unit: str = "W") -> pd.DataFrame:
    """Customers drawn from Pareto/GGG (BTYDplus ``pggg.GenerateData``), all acquired at time 0
    and observed for ``T`` (then ``holdout`` more): ``k ~ Gamma(t, gamma)`` (at least 0.1, as
    BTYDplus, so that no gap is 0), ``lambda ~ Gamma(r, alpha)``, ``mu ~ Gamma(s, beta)``,
    lifetime ``Exp(mu)``, gaps ``Gamma(k, k lambda)``.

    Parameters
    ----------
    n_customers : int
    t, gamma, r, alpha, s, beta : float
        The population parameters, > 0 (shape and rate of each Gamma).
    T, holdout : float
    seed : int, optional
    time_unit : str

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T``, ``litt`` (and ``frequency_holdout``,
        ``duration_holdout``), one row per customer; ``attrs`` hold the truth.
    """
    n = check_count(n_customers, "n_customers", low=1)
    values = dict(t=t, gamma=gamma, r=r, alpha=alpha, s=s, beta=beta)
    if not all(np.isfinite(v) and v > 0 for v in (*values.values(), T)) or holdout < 0:
        raise DataError("t, gamma, r, alpha, s, beta and T must be numbers > 0 (holdout >= 0)")
    rng = np.random.default_rng(seed)
    k = np.maximum(rng.gamma(t, 1.0 / gamma, n), 0.1)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    tau = rng.exponential(size=n) / mu
    end = np.minimum(tau, T + holdout)
    x, t_x, litt, future, now = (np.zeros(n) for _ in range(5))
    active = np.flatnonzero(end > 0)
    while active.size:
        gap = rng.gamma(k[active], 1.0 / (k[active] * lam[active]))
        now[active] += gap
        happened = now[active] < end[active]
        rows, gaps = active[happened], gap[happened]
        inside = now[rows] <= T
        x[rows[inside]] += 1
        t_x[rows[inside]] = now[rows[inside]]
        litt[rows[inside]] += np.log(gaps[inside])
        future[rows[~inside]] += 1
        active = rows
    return simulated_frame(x, t_x, T, litt, future, holdout, time_unit, values)
