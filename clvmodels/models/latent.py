"""Samplers for models with per-customer latent variables (Pareto/GGG): every customer's
variables updated at once in vectorised form, the population's parameters on top.

The building blocks, written once:

- :class:`CustomerStreams`: random numbers that belong to customers (a counter-based generator),
  so that a customer's draws do not depend on who else is sampled with her: predictions are
  the same for a customer alone, in any frame, in any chunk, before and after a model file's
  round trip. :class:`SharedStream` gives a numpy Generator the same interface (the fit, where
  all customers are sampled together anyway).

- :func:`slice_update`: one univariate slice-sampling update (Neal 2003, "Slice sampling",
  Annals of Statistics 31(3): stepping out with a random split of ``m`` steps, then shrinkage) of
  many independent variables at once; each step evaluates the log density only for the variables
  still moving. This is BTYDplus's per-customer sampler (``slice_sample_cpp``), run for every
  customer in one array pass instead of a loop.
- :func:`draw_gamma_population`: a Gamma population's shape and rate given its members' values,
  with Gamma priors on both: the rate integrated out for the shape's slice update (its
  conditional is Gamma, so the collapsed density is closed form), then the rate drawn exactly.
  BTYDplus slices both jointly; collapsing mixes faster for the same work.
- :func:`shift_populations`: moves of one or more Gamma populations with their members carried
  along (all of them, or those the data say little about), with :class:`AdaptiveWalk`, a
  random walk's proposal learned in the warm-up.
"""

from __future__ import annotations

import numpy as np
from scipy import special


GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment
MASK = (1 << 64) - 1


def _mix(z):
    """splitmix64's finaliser (Steele, Lea & Flood 2014) on unsigned 64-bit arrays: a
    bijection whose outputs pass BigCrush for consecutive inputs."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def place_number(place) -> np.uint64:
    """One 64-bit number for a place in an algorithm, a tuple of whole numbers (the counter of
    :class:`CustomerStreams`)."""
    value = 0
    for part in place:
        value = int(_mix(np.array([(value * 0x100000001B3 + int(part) + 1) & MASK],
                                  dtype=np.uint64))[0])
    return np.uint64(value)


def customer_keys(seed: int, *columns) -> np.ndarray:
    """A 64-bit key per row: a hash of ``seed`` and the row's values in ``columns`` (float64
    arrays), so that equal rows get equal keys and so equal draws."""
    key = np.full(len(columns[0]), place_number((seed,)), dtype=np.uint64)
    for column in columns:
        bits = np.ascontiguousarray(column, dtype=np.float64).view(np.uint64)
        with np.errstate(over="ignore"):
            key = _mix(key * GOLDEN + bits)
    return key


def draw_keys(keys, draws: int) -> np.ndarray:
    """``(len(keys), draws)`` keys: one per customer and draw, derived from her key."""
    index = np.arange(draws, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix(np.asarray(keys, dtype=np.uint64)[:, None] * GOLDEN + index + np.uint64(1))


class CustomerStreams:
    """Random numbers that belong to customers: the number a customer draws at a place of the
    algorithm (a tuple of whole numbers: iteration, step, attempt) is splitmix64's output for
    her key and that place (a counter-based generator; Salmon et al. 2011, "Parallel random
    numbers: as easy as 1, 2, 3"), so it depends on nothing else: not on the other customers
    sampled with her, their order or the chunk she is in.

    Parameters
    ----------
    keys : numpy.ndarray
        One unsigned 64-bit key per customer (:func:`customer_keys`).
    """

    def __init__(self, keys):
        self.keys = np.asarray(keys, dtype=np.uint64)

    def uniform(self, rows, *place):
        """A uniform number in (0, 1) per customer ``rows`` (an index array or a slice)."""
        with np.errstate(over="ignore"):
            bits = _mix(self.keys[rows] + place_number(place) * GOLDEN)
        return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53

    def exponential(self, rows, *place):
        """A standard exponential number per customer ``rows``."""
        return -np.log(self.uniform(rows, *place))

    def normal(self, rows, *place):
        """A standard normal number per customer ``rows`` (Box-Muller)."""
        radius = np.sqrt(2.0 * self.exponential(rows, *place, 0))
        return radius * np.cos(2.0 * np.pi * self.uniform(rows, *place, 1))

    def gamma(self, rows, shape, *place):
        """A Gamma(``shape``, 1) number per customer ``rows`` (``shape`` one per row):
        Marsaglia & Tsang (2000), with ``Gamma(a) = Gamma(a + 1) U^(1/a)`` for ``a < 1``."""
        shape = np.asarray(shape, dtype=np.float64)
        index = np.arange(self.keys.size)[rows]
        boost = shape < 1.0
        a = np.where(boost, shape + 1.0, shape)
        d = a - 1.0 / 3.0
        c = 1.0 / np.sqrt(9.0 * d)
        out = np.empty(index.size)
        todo = np.arange(index.size)
        attempt = 0
        while todo.size:
            z = self.normal(index[todo], *place, 2, attempt)
            u = self.uniform(index[todo], *place, 3, attempt)
            v = (1.0 + c[todo] * z) ** 3
            with np.errstate(invalid="ignore", divide="ignore"):
                ok = (v > 0) & (np.log(u) < 0.5 * z * z + d[todo] * (1.0 - v + np.log(v)))
            out[todo[ok]] = d[todo[ok]] * v[ok]
            todo = todo[~ok]
            attempt += 1
        if boost.any():
            u = self.uniform(index[boost], *place, 4)
            out[boost] *= u ** (1.0 / shape[boost])
        return out


class SharedStream:
    """A numpy Generator behind :class:`CustomerStreams`' interface (the place is ignored):
    for a sampler of all customers together, where the draws need not belong to anyone."""

    def __init__(self, rng, n: int):
        self.rng, self.n = rng, n

    def _size(self, rows) -> int:
        return self.n if isinstance(rows, slice) else len(rows)

    def uniform(self, rows, *place):
        return self.rng.uniform(size=self._size(rows))

    def exponential(self, rows, *place):
        return self.rng.exponential(size=self._size(rows))


def slice_update(logf, x, rng, width, steps_out: int = 8, place=(), current=None):
    """One slice-sampling update of every element of ``x`` (independent targets).

    Parameters
    ----------
    logf : callable
        ``logf(values, rows)``: the log densities at ``values`` of the targets ``rows`` (an
        index array, or ``slice(None)`` for all of them; NaN is taken as -inf).
    x : numpy.ndarray
        Current values, one per target.
    rng : CustomerStreams or SharedStream
        The random numbers (per target, or shared).
    width : float or numpy.ndarray
        The initial interval's width (per target or one for all).
    steps_out : int
        Most steps of ``width`` the interval may grow by (split at random between the sides, so
        the update leaves the target invariant).
    place : tuple of int
        Where in its algorithm this update is (for :class:`CustomerStreams`: a different place
        for every update of a chain).
    current : numpy.ndarray, optional
        ``logf(x, slice(None))`` where the caller knows it (one pass fewer).

    Returns
    -------
    numpy.ndarray
        The new values.
    """
    n = x.size
    width = np.broadcast_to(np.asarray(width, dtype=np.float64), (n,))
    everyone = slice(None)
    if current is None:
        current = logf(x, everyone)
    level = np.nan_to_num(current, nan=-np.inf) - rng.exponential(everyone, *place, 0)
    left = x - width * rng.uniform(everyone, *place, 1)
    right = left + width
    left_steps = np.floor(steps_out * rng.uniform(everyone, *place, 2)).astype(np.int64)
    right_steps = steps_out - 1 - left_steps
    for edge, steps, sign in ((left, left_steps, -1.0), (right, right_steps, 1.0)):
        active = np.flatnonzero(steps > 0)
        while active.size:
            above = logf(edge[active], active) > level[active]  # NaN compares False
            grow = active[above]
            edge[grow] += sign * width[grow]
            steps[grow] -= 1
            active = grow[steps[grow] > 0]
    new = x.copy()
    todo = np.arange(n)
    attempt = 0
    while todo.size:
        proposal = left[todo] + rng.uniform(todo, *place, 3, attempt) * (right[todo] - left[todo])
        inside = logf(proposal, todo) > level[todo]
        new[todo[inside]] = proposal[inside]
        out, miss = todo[~inside], proposal[~inside]
        lower = miss < x[out]
        left[out[lower]] = miss[lower]
        right[out[~lower]] = miss[~lower]
        todo = out
        attempt += 1
    return new


def corrected_slice_update(logf, correction, x, rng, width, current, current_correction,
                           place=()):
    """One update of every element of ``x`` whose target is ``exp(logf + correction)`` with
    ``correction`` the costly part: a slice update (:func:`slice_update`) on the cheap part
    ``logf`` proposes, and the proposal is accepted with ``exp(correction(new) -
    correction(old))``. The slice update is reversible for ``logf`` (Neal 2003, "Slice
    Sampling", Annals of Statistics 31(3)), so this Metropolis-Hastings step leaves the whole
    target invariant (Liu 2001, "Monte Carlo Strategies in Scientific Computing", the surrogate
    transition method), and the costly part is evaluated once per element instead of at every
    point the slice looks at.

    Parameters
    ----------
    logf : callable
        As :func:`slice_update`'s.
    correction : callable
        ``correction(values)``: the costly part at ``values`` (one per element, all rows).
    x, rng, width, place
        As :func:`slice_update`'s (``place + (5,)`` draws the acceptances).
    current, current_correction : numpy.ndarray
        ``logf`` and ``correction`` at ``x``.

    Returns
    -------
    (new, accepted, correction_at_new)
        The new values, which elements moved, and ``correction`` at the new values.
    """
    proposal = slice_update(logf, x, rng, width, place=place, current=current)
    proposed = correction(proposal)
    with np.errstate(invalid="ignore"):
        accepted = (np.log(rng.uniform(slice(None), *place, 5))
                    < np.nan_to_num(proposed, nan=-np.inf) - current_correction)
    return (np.where(accepted, proposal, x), accepted,
            np.where(accepted, proposed, current_correction))


def gamma_log_prior(value, prior):
    """Log density of a Gamma(shape, rate) prior ``prior`` at ``value``, up to a constant."""
    shape, rate = prior
    return (shape - 1.0) * np.log(value) - rate * value


def draw_gamma_population(values, shape, rng, shape_prior, rate_prior, width: float = 0.5):
    """New ``(shape, rate)`` of a Gamma population given its members' ``values``.

    With ``rate ~ Gamma(h1, h2)``, the rate's conditional is ``Gamma(n shape + h1, sum + h2)``,
    so the shape's density with the rate integrated out is

    ``prior(shape) (prod values)^(shape - 1) / Gamma(shape)^n * Gamma(n shape + h1) /
    (sum + h2)^(n shape + h1)``,

    sliced in ``log(shape)``; the rate is then drawn from its conditional.
    """
    n = values.size
    total, log_total = float(values.sum()), float(np.log(values).sum())
    h1, h2 = rate_prior

    def logf(log_shape, rows):
        a = np.exp(log_shape)
        return (gamma_log_prior(a, shape_prior) + log_shape + (a - 1.0) * log_total
                - n * special.gammaln(a) + special.gammaln(n * a + h1)
                - (n * a + h1) * np.log(total + h2))

    log_shape = slice_update(logf, np.array([np.log(shape)]), SharedStream(rng, 1), width)
    shape = float(np.exp(log_shape[0]))
    rate = float(rng.gamma(n * shape + h1, 1.0 / (total + h2)))
    return shape, rate


def shift_populations(members, populations, carried, total_loglik, current, rng, priors,
                      factor, exposures=None):
    """A Metropolis-Hastings move of one or more Gamma populations' shapes and rates at once,
    each member either carried along or left where she is: the non-centred half of an
    interweaving strategy (Yu & Meng 2011, "To Center or Not to Center: That Is Not the
    Question", JCGS 20(3)), partially non-centred where only some members are carried
    (Papaspiliopoulos, Roberts & Sköld 2007, "A General Framework for the Parametrization of
    Hierarchical Models", Statistical Science 22(1)).

    A centred update of a population given its members barely moves it where the members are
    weakly informed by their data (the members follow the population and the population the
    members); a move that carries them slides both together, but is rejected where the members
    are strongly informed. So carry the members the data say little about and leave the others.
    A carried member keeps her standardised place on the log scale, ``(log v - E log v) /
    sd(log v)`` (``E log v = psi(shape) - log(rate)``, ``var log v = psi'(shape)``): with
    the shape fixed that is ``v * rate`` fixed (a move of the rate), with shape and rate
    multiplied by one factor the population's mean is kept (a move of its spread). Exact by
    the Jacobians of the members' map and of the random walk on the logarithms; the map is its
    own inverse for the reverse step, so the move is reversible whatever the proposal's
    ``factor``.

    With ``exposures``, a member keeps her standardised place in her own conditional instead:
    where her data contribute ``exp(-v e)`` (``e`` her exposure), her conditional is
    ``Gamma(shape, rate + e)`` up to the rest of her likelihood, with ``E log v = psi(shape) -
    log(rate + e)``. A move of the rate then scales each member by ``(rate + e) / (rate' +
    e)``: a member with no exposure moves with the population, one with a long exposure
    hardly at all, and each stays where her data put her (``e = 0`` for all is the move
    above).

    Parameters
    ----------
    members : dict
        Each population's members' values (arrays), by name.
    populations : dict
        Each population's ``(shape, rate)``, by the same names.
    carried : dict
        Each population's members that move with it: a boolean array fixed by the data, not by
        the state (so that the move is reversible), or None for all of them.
    total_loglik : callable
        ``total_loglik(new_members)``: the data's log-likelihood with the populations' members
        at ``new_members`` (a dict like ``members``).
    current : float
        That log-likelihood now.
    rng : numpy.random.Generator
    priors : dict
        Each population's Gamma priors ``((shape, rate) of its shape, (shape, rate) of its
        rate)``.
    factor : numpy.ndarray
        ``(2 m, 2 m)`` for ``m`` populations: the proposal is ``factor @ z``, ``z`` standard
        normal, on the log shapes and log rates in the order of ``members`` (each population's
        shape, then its rate).
    exposures : dict, optional
        Each population's members' exposures (arrays fixed by the data, or None for none):
        the carried members keep their place in ``Gamma(shape, rate + exposure)``.

    Returns
    -------
    (populations, members, loglik, accepted)
        The new (or unchanged) populations and members, the log-likelihood there, and whether
        the move was accepted.
    """
    d = np.asarray(factor) @ rng.standard_normal(np.shape(factor)[0])
    new_populations, new_members = {}, {}
    log_ratio = float(np.sum(d))  # the random walk is on the logarithms
    for j, name in enumerate(members):
        shape, rate = populations[name]
        new_shape, new_rate = shape * np.exp(d[2 * j]), rate * np.exp(d[2 * j + 1])
        shape_prior, rate_prior = priors[name]
        log_ratio += (gamma_log_prior(new_shape, shape_prior) - gamma_log_prior(shape, shape_prior)
                      + gamma_log_prior(new_rate, rate_prior) - gamma_log_prior(rate, rate_prior))
        values = members[name]
        log_values = np.log(values)
        moved = (np.ones(values.size, dtype=bool) if carried[name] is None
                 else np.asarray(carried[name], dtype=bool))
        exposure = 0.0 if exposures is None or exposures.get(name) is None \
            else np.asarray(exposures[name], dtype=np.float64)
        spread = np.sqrt(special.polygamma(1, [shape, new_shape]))
        standardised = (log_values - special.digamma(shape) + np.log(rate + exposure)) / spread[0]
        new_log = np.where(moved, special.digamma(new_shape) - np.log(new_rate + exposure)
                           + spread[1] * standardised, log_values)
        new_values = np.where(moved, np.exp(new_log), values)  # the others exactly as they were
        log_ratio += (np.sum(gamma_log_density(new_values, new_shape, new_rate))
                      - np.sum(gamma_log_density(values, shape, rate))
                      + (new_log - log_values).sum() + moved.sum() * np.log(spread[1] / spread[0]))
        new_populations[name] = (float(new_shape), float(new_rate))
        new_members[name] = new_values
    if not np.isfinite(log_ratio):
        return populations, members, current, False
    proposed = total_loglik(new_members)
    if np.log(rng.uniform()) < log_ratio + proposed - current:
        return new_populations, new_members, proposed, True
    return populations, members, current, False


def gamma_log_density(value, shape, rate):
    """``log Gamma(value; shape, rate)``, elementwise."""
    return shape * np.log(rate) - special.gammaln(shape) + (shape - 1.0) * np.log(value) \
        - rate * value


class AdaptiveWalk:
    """The proposal of a random walk on ``size`` parameters (their logarithms), learned in the
    warm-up (Haario, Saksman & Tamminen 2001, "An Adaptive Metropolis Algorithm", Bernoulli
    7(2)): independent steps of ``initial`` until half the warm-up, then the covariance of the
    values seen since a fifth of it times ``2.38^2 / size`` (Roberts & Rosenthal 2001); all
    through the warm-up a scale on it towards ``target`` acceptance. Fixed after the warm-up,
    so the draws kept come from one Metropolis-Hastings kernel.

    Parameters
    ----------
    size : int
    tune : int
        The warm-up's iterations.
    initial : float
    target : float
    """

    def __init__(self, size: int, tune: int, initial: float = 0.05, target: float = 0.3):
        self.size, self.tune, self.target = size, tune, target
        self.shape = np.eye(size) * initial
        self.scale = 1.0
        self.seen = []

    @property
    def factor(self) -> np.ndarray:
        """The proposal's ``factor`` (:func:`shift_populations`)."""
        return self.shape * self.scale

    def update(self, step: int, values, accepted: bool) -> None:
        """After iteration ``step``: note the parameters' ``values`` (logarithms) and whether
        the move was accepted; adapts only while ``step < tune``."""
        if step >= self.tune:
            return
        self.scale *= np.exp((float(accepted) - self.target) / np.sqrt(step + 1.0))
        self.seen.append(np.asarray(values, dtype=np.float64))
        if step == self.tune // 2 and len(self.seen) - self.tune // 5 > 2 * self.size:
            covariance = np.cov(np.array(self.seen[self.tune // 5:]).T)
            try:
                lower = np.linalg.cholesky(covariance + 1e-10 * np.eye(self.size))
            except np.linalg.LinAlgError:  # noqa: PERF203 - a degenerate warm-up: keep steps
                return
            self.shape = lower * 2.38 / np.sqrt(self.size)
            self.scale = 1.0
