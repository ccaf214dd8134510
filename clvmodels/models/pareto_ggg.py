"""Pareto/GGG (Platzer & Reutterer 2016): timing regularity, sampled with every customer's latent
variables (:mod:`clvmodels._math.pggg` has the model and its formulas).

The sampler follows BTYDplus's ``pggg.mcmc.DrawParameters`` (a Gibbs cycle of slice updates
over the customers' regularity ``k``, purchase rate ``lambda`` and dropout rate ``mu``, then
the population's Gamma parameters) with changes that keep it exact and make it fast: every
customer is updated at once in array form (independence Metropolis steps for ``lambda`` and
``mu``, and for ``k`` a slice update of the cheap part of its conditional corrected by the
rest, :func:`clvmodels.models.latent.corrected_slice_update`); the lifetime is integrated out in
closed form (:func:`clvmodels._math.pggg.loglik`) instead of being drawn as a latent variable
(BTYDplus's ``tau`` and ``mu`` move each other slowly: on 1,525 simulated customers the effective
sample size of the dropout population was 0.02 per draw with ``tau``); each population shape is
sliced with its rate integrated out (:func:`clvmodels.models.latent.draw_gamma_population`), and
moves that carry the members along (:func:`clvmodels.models.latent.shift_populations`): the rate
and the spread at the mean of each weakly informed population with all its members, and the
purchase and dropout populations together with their weakly informed members only. Chains run
in their own processes; predictions draw each customer's variables given the population's
posterior (:class:`clvmodels.models.latent_model.LatentModel`, :func:`sample_customers`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from scipy import special

from .._math import pggg
from ..arguments import check_count
from ..data import RFM_COLUMNS
from ..exceptions import DataError
from ..priors import Prior
from .cnbd import litt_column, simulated_frame
from .latent import (AdaptiveWalk, CustomerStreams, SharedStream, corrected_slice_update,
                     draw_gamma_population, draw_keys, shift_populations)
from .latent_model import LatentModel, run_chains

POPULATION = ("t", "gamma", "r", "alpha", "s", "beta")
# each process's Gamma: the latent variable it describes and its (shape, rate) names
PROCESSES = (("k", "t", "gamma"), ("lambda", "r", "alpha"), ("mu", "s", "beta"))
SHAPES = {name: shape for name, shape, _ in PROCESSES}
RATES = {name: rate for name, _, rate in PROCESSES}
RESCALED = ("k", "mu")  # weakly informed members: their rate also moves with them (below)
# per iteration: moves of each weakly informed population with all its members carried (its
# rate and its spread, below), independence steps of each customer's lambda and mu; chosen by
# the smallest effective sample size per second on 30,000 simulated customers
# (benchmarks/latent.py): 1.5 with these, 1.4 with 2 and 3 moves, 0.9 with 6 for mu, 1.2 with
# 4 steps for mu (the sampler before the spread moves and the corrected slices of k: 0.7);
# mu's rounds went from 2 to 1 when the conditional moves below took over half their work
POPULATION_MOVES = {"k": 1, "mu": 1}
INDEPENDENCE_STEPS = {"lambda": 1, "mu": 2}
# then moves of the dropout population (s, beta) with every dropout rate keeping her place in
# her own conditional Gamma(s, beta + t_x) (``exposures`` of shift_populations), and joint
# moves of the purchase and dropout populations with their weakly informed members. On
# BTYDplus's grocery data (random_state 7, 4 x 6,000 draws) the slowest effective sample size
# (beta) per 1,000 draws: 45 with one round of mu's moves above and 4 joint moves, 54 with 8
# joint moves and a conditional move of beta alone, 62 with these (2 conditional moves, 8
# joint, one round above: the most per second), 67 with 2 rounds above (slower), 71 with 3
# conditional and 12 joint moves (35 % slower)
CONDITIONAL_MOVES = 2
JOINT = ("lambda", "mu")
JOINT_MOVES = 8
VAGUE = (1e-3, 1e-3)  # BTYDplus's Gamma(0.001, 0.001) hyperpriors
MIN_MU = np.exp(-30)  # BTYDplus's floor on drawn rates (avoids underflow)


def _chain(arguments):
    """One chain (a function of picklable arguments, for a process of its own): per iteration
    every customer's ``lambda`` and ``mu`` by independence Metropolis and ``log k`` by a slice
    update on the likelihood with the lifetime integrated out (:func:`clvmodels._math.pggg.
    loglik`), then the three populations (each given its members, then with its members carried
    along: :func:`clvmodels.models.latent.shift_populations`). Each customer's two likelihood
    terms at the current state (the gaps' density and the silence since the last purchase) are
    kept and updated with every accepted move, so that no pass over the customers recomputes
    what is known (the silence term's incomplete Gamma function is most of the cost)."""
    (x, t_x, T, litt, start, draws, tune, priors, rng) = arguments
    n = x.size
    pop = dict(start)
    state = {"k": np.full(n, start["t"] / start["gamma"]),
             "lambda": np.full(n, np.mean(x) / np.mean(np.where(t_x == 0, T, t_x))),
             "mu": np.full(n, start["s"] / start["beta"])}
    population = np.empty((draws, len(POPULATION)))
    shared = SharedStream(rng, n)
    steps = {parameter: 0.1 for name, shape, rate in PROCESSES if name in RESCALED
             for parameter in (shape, rate)}
    width = 1.0  # of the customers' slices of log k
    with np.errstate(all="ignore"):
        terms = {"gaps": pggg.gaps_loglik(state["k"], state["lambda"], x, t_x, litt),
                 "silence": pggg.silence_loglik(state["k"], state["lambda"], state["mu"], t_x,
                                                T)}
    evaluated = np.empty(n)  # the gaps' term where the slice last looked

    def log_density_k(log_k, rows):
        """The cheap part of log k's conditional for the customers ``rows``: the population's
        Gamma in log k (its Jacobian included) and the gaps' density; the gaps' term is noted
        per customer (the last point a slice update evaluates is the one it accepts)."""
        k = np.exp(log_k)
        gaps = pggg.gaps_loglik(k, state["lambda"][rows], x[rows], t_x[rows], litt[rows])
        evaluated[rows] = gaps
        return pop["t"] * log_k - pop["gamma"] * k + gaps

    # the members the data say little about, carried by the joint moves: a purchase rate
    # whose gaps weigh less than its population's shape (k x <= r at the start, BTYDplus's
    # Pareto/NBD estimate: in practice no repeat purchase) and a dropout rate whose exposure
    # weighs less than its population's rate (t_x <= beta: her conditional Gamma(s, beta + t_x)
    # is mostly the population's); fixed by the data, so the moves are reversible
    weak = {"lambda": x * start["t"] / start["gamma"] <= start["r"], "mu": t_x <= start["beta"]}
    movers = {True: slice(None), False: np.flatnonzero(weak["lambda"] | weak["mu"])}
    walk = AdaptiveWalk(2 * len(JOINT), tune)
    conditional_walk = AdaptiveWalk(2, tune)
    dropout_exposure = {"mu": t_x}  # a dropout rate's conditional: Gamma(s, beta + t_x) (x rest)

    def carry_populations(names, carried, factor, exposures=None) -> bool:
        """One :func:`clvmodels.models.latent.shift_populations` move of the populations of
        ``names`` with their ``carried`` members (None: all of them; each keeping her place in
        the population, or with ``exposures`` in her own conditional); the likelihood's terms
        are recomputed only for the customers who move, and kept if the move is accepted."""
        where = movers[carried is None]
        moved_terms = ("silence",) if set(names) == {"mu"} else ("gaps", "silence")  # no mu in gaps
        proposed_terms = {}

        def total(members):
            values = dict(state)
            values.update(members)
            k, lam, mu = (values[name][where] for name in ("k", "lambda", "mu"))
            with np.errstate(all="ignore"):
                for term in moved_terms:
                    proposed_terms[term] = terms[term].copy()
                    proposed_terms[term][where] = (
                        pggg.gaps_loglik(k, lam, x[where], t_x[where], litt[where])
                        if term == "gaps" else pggg.silence_loglik(k, lam, mu, t_x[where],
                                                                   T[where]))
            return float(sum(np.sum(v) for v in proposed_terms.values()))

        current = float(sum(np.sum(terms[term]) for term in moved_terms))
        populations = {name: (pop[SHAPES[name]], pop[RATES[name]]) for name in names}
        new_populations, members, _, accepted = shift_populations(
            {name: state[name] for name in names}, populations,
            {name: None if carried is None else carried[name] for name in names}, total,
            current, rng, {name: (priors[SHAPES[name]], priors[RATES[name]]) for name in names},
            np.asarray(factor, dtype=np.float64), exposures)
        if accepted:
            terms.update(proposed_terms)
            state.update(members)
            for name in names:
                pop[SHAPES[name]], pop[RATES[name]] = new_populations[name]
        return accepted

    def silence_at_k(log_k):
        return pggg.silence_loglik(np.maximum(np.exp(log_k), MIN_MU), state["lambda"],
                                   state["mu"], t_x, T)

    for step in range(tune + draws):
        with np.errstate(all="ignore"):
            # lambda: its Gamma prior times the gaps' density is Gamma(r + k x, alpha + k t_x),
            # the rest of the likelihood (the silence since the last purchase) a factor <= 1,
            # so an independence sampler from that Gamma accepts with the ratio of the factors
            # (one pass over the customers per step, against about five for a slice update);
            # mu likewise: Gamma(s, beta + t_x) times the rest of the silence term
            for name, shape, rate in (("lambda", pop["r"] + state["k"] * x,
                                       pop["alpha"] + state["k"] * t_x),
                                      ("mu", np.full(n, pop["s"]), pop["beta"] + t_x)):
                for _ in range(INDEPENDENCE_STEPS[name]):
                    proposal = np.maximum(rng.gamma(shape, 1.0 / rate), MIN_MU)
                    values = dict(state)
                    values[name] = proposal
                    proposed = pggg.silence_loglik(values["k"], values["lambda"], values["mu"],
                                                   t_x, T)
                    take = (np.log(rng.uniform(size=n)) < proposed + values["mu"] * t_x
                            - terms["silence"] - state["mu"] * t_x)
                    state[name] = np.where(take, proposal, state[name])
                    terms["silence"] = np.where(take, proposed, terms["silence"])
            terms["gaps"] = pggg.gaps_loglik(state["k"], state["lambda"], x, t_x, litt)
            # log k: a slice update of the cheap part of its conditional (the population's
            # Gamma times the gaps' density) corrected by the silence term: one incomplete
            # Gamma function per customer instead of about five (a slice update on the whole)
            before = np.log(state["k"])
            current = pop["t"] * before - pop["gamma"] * state["k"] + terms["gaps"]
            after, moved_k, terms["silence"] = corrected_slice_update(
                log_density_k, silence_at_k, before, shared, width, current, terms["silence"])
            state["k"] = np.maximum(np.exp(after), MIN_MU)
            terms["gaps"] = np.where(moved_k, evaluated, terms["gaps"])
            if np.any(state["k"] != np.exp(after)):  # at the floor: the gaps' term there
                terms["gaps"] = pggg.gaps_loglik(state["k"], state["lambda"], x, t_x, litt)
        if step < tune:  # warm-up: the width towards twice the typical move (Neal 2003)
            moved = float(np.mean(np.abs(after - before)))
            width = float(np.clip(0.8 * width + 0.2 * 2.0 * moved, 0.05, 5.0))
        # the populations: each one's centred update given its members; where the members are
        # weakly informed (k, mu) the population is what mixes slowly, so it also moves with
        # its members (its rate, then its spread at its mean); then the dropout population
        # with each member kept in her own conditional, and the purchase and dropout
        # populations together with their weakly informed members (below)
        for name, shape, rate in PROCESSES:
            for _ in range(POPULATION_MOVES.get(name, 1)):
                pop[shape], pop[rate] = draw_gamma_population(
                    state[name], pop[shape], rng, priors[shape], priors[rate])
                if name not in RESCALED:
                    continue
                for key, factor in ((rate, [[0.0, 0.0], [0.0, steps[rate]]]),
                                    (shape, [[steps[shape], 0.0], [steps[shape], 0.0]])):
                    moved = carry_populations((name,), None, factor)
                    if step < tune:  # warm-up: each step size towards 40 % acceptance
                        steps[key] *= np.exp((moved - 0.4) / np.sqrt(step + 1.0))
        for _ in range(CONDITIONAL_MOVES):
            moved = carry_populations(("mu",), None, conditional_walk.factor, dropout_exposure)
            conditional_walk.update(step, np.log([pop["s"], pop["beta"]]), moved)
        for _ in range(JOINT_MOVES):
            moved = carry_populations(JOINT, weak, walk.factor)
            walk.update(step, np.log([pop[parameter] for name in JOINT
                                      for parameter in (SHAPES[name], RATES[name])]), moved)
        if step >= tune:
            population[step - tune] = [pop[name] for name in POPULATION]
    return {"population": population, "width": width}


# -- the customers given the population's posterior ------------------------------------------
CUSTOMER_THIN = 2  # iterations of a customer's chain per kept draw (each given its own row)
PLACES = {"lambda": 2, "mu": 3, "k": 4, "start": 5, "future": 6, "k_prior": 7}  # streams


def sample_customers(population, width, x, t_x, T, litt, keys, tune: int, draws: int):
    """Each customer's latent ``k``, ``lambda`` and ``mu`` drawn given her history and the
    population's posterior draws ``population`` (``(draws, 6)``, columns :data:`POPULATION`):
    her draw ``d`` is given row ``d``, the same row for every customer, so that draw ``d`` of
    all customers is one draw of the joint posterior and sums over customers per draw carry
    the uncertainty they share (:func:`clvmodels.total`). Her chain runs ``tune`` iterations
    given row 0, then :data:`CUSTOMER_THIN` given each row and keeps the last: her lambda and
    mu by independence Metropolis, her k by independence Metropolis from the row's Gamma (so
    that where her data say little of it, it follows the row at once) and by a slice update of
    its cheap part corrected by the silence term, as in the fit. Its target given row ``d`` is ``p(theta | pop_d,
    history)``, so over the rows ``p(theta | fit)``: exact for a customer in the fit; for
    one outside it, her own history is left out of the population's posterior (one customer
    among the fit's thousands). The rows are consecutive draws spread over the posterior
    (:meth:`~clvmodels.models.latent_model.LatentModel._customers`): a customer's variables
    given two of them differ by far less than their own spread, so a few iterations follow.

    Every random number comes from :class:`~clvmodels.models.latent.CustomerStreams` with
    ``keys``, so a customer's draws depend on her key (and the rows) alone.

    Returns
    -------
    (k, lambda, mu)
        Each ``(customers, draws)``.
    """
    n = x.size
    streams = CustomerStreams(keys)
    everyone = slice(None)
    shapes = {name: population[:, POPULATION.index(shape)] for name, shape, _ in PROCESSES}
    rates = {name: population[:, POPULATION.index(rate)] for name, _, rate in PROCESSES}
    state = {"k": np.full(n, shapes["k"][0] / rates["k"][0]),
             "mu": np.full(n, shapes["mu"][0] / rates["mu"][0])}
    state["lambda"] = np.maximum(streams.gamma(everyone, shapes["lambda"][0] + state["k"] * x,
                                               PLACES["start"], 1)
                                 / (rates["lambda"][0] + state["k"] * t_x), MIN_MU)
    out = {name: np.empty((n, draws)) for name in state}
    with np.errstate(all="ignore"):  # her silence term at the current state, kept up to date
        silence = pggg.silence_loglik(state["k"], state["lambda"], state["mu"], t_x, T)

    for step in range(tune + draws * CUSTOMER_THIN):
        j = max(step - tune, 0) // CUSTOMER_THIN  # the population's row of this iteration
        with np.errstate(all="ignore"):
            for name, shape, rate in (
                    ("lambda", shapes["lambda"][j] + state["k"] * x,
                     rates["lambda"][j] + state["k"] * t_x),
                    ("mu", np.full(n, shapes["mu"][j]), rates["mu"][j] + t_x)):
                for attempt in range(INDEPENDENCE_STEPS[name]):
                    where = (step, PLACES[name], attempt)
                    values = dict(state)
                    values[name] = np.maximum(streams.gamma(everyone, shape, *where, 0) / rate,
                                              MIN_MU)
                    proposed = pggg.silence_loglik(values["k"], values["lambda"],
                                                   values["mu"], t_x, T)
                    take = (np.log(streams.uniform(everyone, *where, 1))
                            < proposed + values["mu"] * t_x - silence - state["mu"] * t_x)
                    state[name] = np.where(take, values[name], state[name])
                    silence = np.where(take, proposed, silence)

            # her k proposed from the row's Gamma, accepted with the likelihood's ratio: where
            # the data say little of k (few purchases) it follows a new row at once
            values = dict(state)
            values["k"] = np.maximum(streams.gamma(everyone, np.full(n, shapes["k"][j]), step,
                                                   PLACES["k_prior"], 0) / rates["k"][j], MIN_MU)
            proposed = pggg.silence_loglik(values["k"], state["lambda"], state["mu"], t_x, T)
            take = (np.log(streams.uniform(everyone, step, PLACES["k_prior"], 1))
                    < proposed - silence
                    + pggg.gaps_loglik(values["k"], state["lambda"], x, t_x, litt)
                    - pggg.gaps_loglik(state["k"], state["lambda"], x, t_x, litt))
            state["k"] = np.where(take, values["k"], state["k"])
            silence = np.where(take, proposed, silence)

            def log_density(log_k, rows):
                """The cheap part of log k's conditional (as in the fit)."""
                k = np.exp(log_k)
                return (shapes["k"][j] * log_k - rates["k"][j] * k
                        + pggg.gaps_loglik(k, state["lambda"][rows], x[rows], t_x[rows],
                                           litt[rows]))

            log_k, _, silence = corrected_slice_update(
                log_density, lambda log_k: pggg.silence_loglik(
                    np.maximum(np.exp(log_k), MIN_MU), state["lambda"], state["mu"], t_x, T),
                np.log(state["k"]), streams, width,
                log_density(np.log(state["k"]), everyone), silence, place=(step, PLACES["k"]))
            state["k"] = np.maximum(np.exp(log_k), MIN_MU)
        done = step - tune + 1
        if done > 0 and done % CUSTOMER_THIN == 0:  # the last iteration given row j
            for name, value in state.items():
                out[name][:, j] = value
    return out["k"], out["lambda"], out["mu"]


def future_purchases(k, lam, mu, alive, t_x, T, horizons, keys):
    """Expected purchases by each horizon (after ``T``) per element (customer and draw;
    arrays of one shape, ``keys`` one per element): the time of the next purchase drawn (the
    rest of the Gamma(k, k lambda) gap that began at ``t_x`` and has lasted ``T - t_x``, by
    inverting its distribution), the later gaps and the lifetime integrated out
    (:func:`clvmodels._math.pggg.expected_purchases_after`), with ``alive`` P(alive at ``T``).
    ``horizons`` is ``(m,)`` for all elements or ``(elements, m)``; returns ``(elements,
    m)``."""
    kk, ll, mm, aa, tx, TT = (np.asarray(v, dtype=np.float64).ravel()
                              for v in (k, lam, mu, alive, t_x, T))
    n = kk.size
    horizons = np.asarray(horizons, dtype=np.float64)
    horizons = np.broadcast_to(horizons, (n, horizons.shape[-1]))
    streams = CustomerStreams(np.asarray(keys, dtype=np.uint64).ravel())
    c = kk * ll
    D = TT - tx
    with np.errstate(all="ignore"):
        beyond = special.gammaincc(kk, c * D)
        u = streams.uniform(slice(None), PLACES["future"], 0)
        first = special.gammainccinv(kk, u * beyond) / c
        # where the tail is too thin to invert, it is exponential at rate c beyond D
        thin = np.flatnonzero(~(beyond > 1e-250) | ~np.isfinite(first) | (first < D))
        first[thin] = D[thin] + streams.exponential(thin, PLACES["future"], 1) / c[thin]
    return pggg.expected_purchases_after(kk, ll, mm, aa, first - D, horizons)


class ParetoGGG(LatentModel):
    """Pareto/GGG (Platzer & Reutterer 2016) sampled with its per-customer latent variables.

    The fit samples the population's posterior with every customer's variables (module
    docstring); predictions for any frame of customers, in the fit or not, draw each customer's
    variables given her history and the population's draws (:func:`sample_customers`), with
    random numbers of her own: a customer's prediction is the same alone, in any frame or chunk,
    and after a model file's round trip.

    Parameters
    ----------
    draws, tune, chains : int
        Draws kept per chain, warm-up iterations per chain, chains (defaults: 4 x (500 +
        2,000), the issue's measure; BTYDplus runs 2 x (500 + 2,500) thinned to 50).
    customer_draws, customer_tune : int
        Per customer, in predictions: the draws of her variables (two iterations of her chain
        each, draw ``d`` given population draw ``d`` of a schedule every customer shares, so
        that totals over customers carry the population's uncertainty) and the warm-up
        iterations before them.
        A prediction is the mean of her draws, so it carries their Monte Carlo error: for a
        customer without repeat purchases (alive in few draws) about a third of the value at
        200 draws (the models guide); set 1,000 or more where such customers' values are used
        one by one (the time grows in proportion).
    priors : dict, optional
        Gamma hyperpriors on any of ``t, gamma, r, alpha, s, beta``, as
        ``{"r": clvmodels.Prior("Gamma", alpha=shape, beta=rate)}`` or ``{"r": (shape,
        rate)}``; default Gamma(0.001, 0.001) for all (BTYDplus's).
    random_state : int, optional
        Seeds the fit's chains and the customers' random numbers in predictions.
    cores : int, optional
        Processes for the chains (default: one per chain, at most the CPUs).

    Attributes
    ----------
    idata_ : arviz.InferenceData
        The population parameters' posterior.
    params_ : pandas.Series
        Their posterior means.
    """

    name = "pggg"
    title = "Pareto/GGG"
    param_names = POPULATION
    statistics = ("litt",)
    columns = (*RFM_COLUMNS, "litt")
    facts = ("slice_width",)

    def __init__(self, draws=2000, tune=500, chains=4, customer_draws=200, customer_tune=100,
                 priors=None, random_state=None, cores=None):
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.customer_draws = customer_draws
        self.customer_tune = customer_tune
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

    def _run(self, rfm, unit):
        """The chains on the frame's histories with ``litt`` (``rfm_summary(...,
        statistics=["litt"])``)."""
        litt = litt_column(rfm, self.title)
        x, t_x, T = (rfm[c].to_numpy(dtype=np.float64) for c in RFM_COLUMNS)
        priors = self._priors()
        start = self._start(rfm, x, t_x, litt, unit)
        jobs = self._seeded_jobs((x, t_x, T, litt, start, self.draws, self.tune, priors))
        return run_chains(_chain, jobs, self.cores)

    def _record(self, results):
        self.slice_width_ = float(np.mean([r["width"] for r in results]))

    def _start(self, rfm, x, t_x, litt, unit) -> dict:
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
                estimate = ParetoNBD().fit(rfm[list(RFM_COLUMNS)], time_unit=unit)
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

    # -- predictions ----------------------------------------------------------------------------
    def _history(self, rfm):
        return [*(rfm[c].to_numpy(dtype=np.float64) for c in RFM_COLUMNS),
                litt_column(rfm, self.title)]

    def _sample(self, population, history, keys):
        x, t_x, T, litt = history.T
        return sample_customers(population, self.slice_width_, x, t_x, T, litt, keys,
                                self.customer_tune, self.customer_draws)

    def _alive(self, latent, history):
        k, lam, mu = latent
        return pggg.probability_alive(k, lam, mu, history[:, 1:2], history[:, 2:3])

    def _any_purchase(self, latent, history, ends):
        k, lam, mu = latent
        return pggg.probability_any_purchase(k, lam, mu, history[:, 1:2], history[:, 2:3],
                                             ends)

    def _expected(self, latent, history, ends, keys):
        """Per draw, the next purchase's time drawn and the rest integrated out
        (:func:`future_purchases`)."""
        k, lam, mu = latent
        t_x, T = (np.broadcast_to(history[:, j:j + 1], k.shape) for j in (1, 2))
        alive = pggg.probability_alive(k, lam, mu, t_x, T)
        if np.ndim(ends) == 2:  # one horizon per customer: one per customer and draw
            ends = np.repeat(ends[:, 0], k.shape[1])[:, None]
        values = future_purchases(k, lam, mu, alive, t_x, T, ends, draw_keys(keys, k.shape[1]))
        return values.reshape(*k.shape, -1)

    # -- model files ----------------------------------------------------------------------------
    def _settings_state(self) -> dict:
        settings = self.constructor_settings()
        settings["priors"] = None if self.priors is None else {
            name: list(pair) for name, pair in self._priors().items() if name in self.priors}
        return settings

    def _check_restored(self) -> None:
        self._priors()
        if not (isinstance(getattr(self, "slice_width_", None), float)
                and 0 < self.slice_width_ < np.inf):
            raise ValueError("slice_width must be a number > 0")


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
