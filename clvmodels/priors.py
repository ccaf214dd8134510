"""A user's prior on a parameter of a Bayesian model: a PyMC distribution by name with numeric
parameters, ``Prior("Gamma", alpha=2, beta=4)``, given in ``priors={"r": Prior(...)}`` beside or
instead of the default log-normal ``(mu, sigma)`` pairs.

A prior is plain data (its name and numbers), so a model file records it and rebuilds it; one
that cannot be rebuilt (an unknown distribution, a parameter the distribution does not take, a
value that is not a finite number) is refused when given and when a file is read. Its support
must be the parameter's: positive for the population parameters, the real line for covariate
coefficients.

The sampler moves every positive parameter as its logarithm (so that the start, the mass
matrix and the diagnostics are the same whatever the prior), with the prior's density and the
Jacobian of the logarithm added; ``method="map"`` maximises the posterior density in the
parameters themselves (no Jacobian), as PyMC's ``find_MAP`` and PyMC-Marketing do, so that a
flat prior gives the maximum-likelihood estimate.
"""

from __future__ import annotations

import math

from .exceptions import DataError, ModelFormatError

__all__ = ["Prior", "BetaPrior"]

# distributions on (0, inf) and on the real line, by PyMC name
POSITIVE = ("Gamma", "LogNormal", "HalfNormal", "HalfCauchy", "HalfStudentT", "Exponential",
            "InverseGamma", "Weibull", "HalfFlat")
REAL = ("Normal", "StudentT", "Laplace", "Cauchy", "Flat")
BOUNDED = ("Uniform", "Pareto")  # on [lower, upper], [m, inf): positive where lower, m >= 0


class Prior:
    """A PyMC distribution by name, with numeric parameters, as a prior.

    Parameters
    ----------
    distribution : str
        A PyMC distribution: on (0, inf) ``Gamma``, ``LogNormal``, ``HalfNormal``,
        ``HalfCauchy``, ``HalfStudentT``, ``Exponential``, ``InverseGamma``, ``Weibull``,
        ``HalfFlat``, ``Pareto`` (on ``[m, inf)``); on the real line (covariate coefficients)
        ``Normal``, ``StudentT``, ``Laplace``, ``Cauchy``, ``Flat``; ``Uniform`` on
        ``[lower, upper]``.
    **parameters : float
        The distribution's parameters, by PyMC's names (``Gamma``: ``alpha, beta`` or ``mu,
        sigma``).

    Examples
    --------
    >>> from clvmodels import Prior
    >>> Prior("Gamma", alpha=2, beta=4)
    Prior('Gamma', alpha=2.0, beta=4.0)
    >>> Prior("Gamma", alpha=2, rate=4)
    Traceback (most recent call last):
    ...
    clvmodels.exceptions.DataError: Prior('Gamma', alpha=2.0, rate=4.0) cannot be built: ...
    """

    def __init__(self, distribution: str, **parameters):
        if distribution not in (*POSITIVE, *REAL, *BOUNDED):
            raise DataError(f"Prior({distribution!r}): not a distribution a prior can be here; "
                            f"choose from {', '.join((*POSITIVE, *REAL, *BOUNDED))}")
        values = {}
        for name, value in parameters.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(float(value))):
                raise DataError(f"Prior({distribution!r}, {name}={value!r}): every parameter "
                                "must be a finite number")
            values[name] = float(value)
        self.distribution, self.parameters = distribution, values
        try:
            self.dist()
        except (TypeError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DataError(f"{self!r} cannot be built: {first}; give the parameters by "
                            f"PyMC's names for {distribution}") from err

    def __repr__(self) -> str:
        shown = "".join(f", {k}={v!r}" for k, v in self.parameters.items())
        return f"Prior({self.distribution!r}{shown})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, Prior) and other.distribution == self.distribution
                and other.parameters == self.parameters)

    def __hash__(self) -> int:
        return hash((self.distribution, tuple(sorted(self.parameters.items()))))

    @property
    def support(self) -> str:
        """``"positive"`` or ``"real"`` (a Uniform: positive where ``lower >= 0``)."""
        if self.distribution in POSITIVE:
            return "positive"
        if self.distribution == "Uniform":
            return "positive" if self.parameters.get("lower", 0.0) >= 0 else "real"
        if self.distribution == "Pareto":
            return "positive"  # PyMC's Pareto needs m > 0
        return "real"

    def dist(self):
        """The PyMC distribution (``pm.<Distribution>.dist(**parameters)``)."""
        import pymc as pm

        return getattr(pm, self.distribution).dist(**self.parameters)

    def logp(self, value):
        """The log density at ``value`` (a PyTensor expression)."""
        import pymc as pm

        return pm.logp(self.dist(), value)

    def draw(self, size: int, seed=None):
        """``size`` draws (a numpy array); a flat prior has none.

        Parameters
        ----------
        size : int
        seed : int or numpy.random.Generator, optional

        Returns
        -------
        numpy.ndarray
        """
        import pymc as pm

        if self.distribution in ("Flat", "HalfFlat"):
            raise DataError(f"{self!r} is improper: it has no draws (a prior predictive check "
                            "needs proper priors)")
        return pm.draw(self.dist(), draws=int(size), random_seed=seed)

    def to_dict(self) -> dict:
        """``{"distribution": name, **parameters}``: what a model file records."""
        return {"distribution": self.distribution, **self.parameters}

    @classmethod
    def from_dict(cls, data, where: str = "a model file") -> Prior:
        """The prior :meth:`to_dict` wrote; a ModelFormatError naming ``where`` if it cannot
        be rebuilt.

        Parameters
        ----------
        data : dict
        where : str

        Returns
        -------
        Prior
        """
        if not isinstance(data, dict) or not isinstance(data.get("distribution"), str):
            raise ModelFormatError(f"{where} records a prior that is not "
                                   "{'distribution': name, parameter: value, ...}; refit the model")
        rest = {k: v for k, v in data.items() if k != "distribution"}
        try:
            return cls(data["distribution"], **rest)
        except DataError as err:
            raise ModelFormatError(f"{where} records a prior this version cannot rebuild "
                                   f"({err}); refit the model") from err


class BetaPrior:
    """A prior on the two shapes of a Beta mixing distribution through its mean and
    concentration: for ``priors={"a,b": BetaPrior(mean, concentration)}``, ``a = mean x
    concentration`` and ``b = (1 - mean) x concentration``, each of ``mean`` and
    ``concentration`` a :class:`Prior` (PyMC-Marketing's ``phi_dropout`` and ``kappa_dropout``
    for BG/NBD). The pair's key names the two parameters: ``"a,b"`` for BG/NBD and MBG/NBD's
    dropout, ``"alpha,beta"`` or ``"gamma,delta"`` for BG/BB.

    Parameters
    ----------
    mean : Prior
        On (0, 1): ``Prior("Uniform", lower=0, upper=1)`` or a ``Beta``-like choice.
    concentration : Prior
        Positive: ``Prior("Pareto", alpha=1, m=1)``, ``Prior("Gamma", ...)``.

    Examples
    --------
    >>> from clvmodels import BetaPrior, Prior
    >>> BetaPrior(Prior("Uniform", lower=0, upper=1), Prior("Pareto", alpha=1, m=1))
    BetaPrior(mean=Prior('Uniform', lower=0.0, upper=1.0), concentration=Prior('Pareto', alpha=1.0, m=1.0))
    """

    def __init__(self, mean: Prior, concentration: Prior):
        for name, value in (("mean", mean), ("concentration", concentration)):
            if not isinstance(value, Prior):
                raise DataError(f"BetaPrior({name}={value!r}): give a clvmodels.Prior")
            if value.support != "positive":
                raise DataError(f"BetaPrior({name}={value!r}): the {name} of a Beta is "
                                "positive; choose a distribution on (0, inf) or (0, 1)")
        self.mean, self.concentration = mean, concentration

    def __repr__(self) -> str:
        return f"BetaPrior(mean={self.mean!r}, concentration={self.concentration!r})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, BetaPrior) and other.mean == self.mean
                and other.concentration == self.concentration)

    def __hash__(self) -> int:
        return hash((self.mean, self.concentration))

    def logp(self, first, second, log_first=None, log_second=None):
        """The log density of the shapes ``(first, second)`` (PyTensor): the priors of the
        mean and the concentration at ``first / (first + second)`` and ``first + second``;
        given their logarithms, with the Jacobian of (log first, log second) -> (mean,
        concentration), ``log first + log second - log(first + second)``, for sampling in
        those coordinates."""
        import pymc as pm

        total = first + second
        value = self.mean.logp(first / total) + self.concentration.logp(total)
        if log_first is not None:
            value = value + log_first + log_second - pm.math.log(total)
        return value

    def draw(self, size: int, seed=None):
        """``size`` draws of the two shapes, as a pair of numpy arrays."""
        import numpy as np

        rng = np.random.default_rng(seed)
        mean = self.mean.draw(size, rng)
        concentration = self.concentration.draw(size, rng)
        return mean * concentration, (1 - mean) * concentration

    def to_dict(self) -> dict:
        """What a model file records."""
        return {"distribution": "BetaPrior", "mean": self.mean.to_dict(),
                "concentration": self.concentration.to_dict()}

    @classmethod
    def from_dict(cls, data, where: str = "a model file") -> BetaPrior:
        """The prior :meth:`to_dict` wrote (a ModelFormatError if it cannot be rebuilt)."""
        try:
            return cls(Prior.from_dict(data["mean"], where),
                       Prior.from_dict(data["concentration"], where))
        except (KeyError, TypeError, DataError) as err:
            raise ModelFormatError(f"{where} records a Beta prior this version cannot rebuild "
                                   f"({err}); refit the model") from err


def prior_from_state(state, where: str):
    """A prior as :func:`prior_state` recorded it: ``[mu, sigma]``, a :class:`Prior` or a
    :class:`BetaPrior` (refused, naming ``where``, if it cannot be rebuilt)."""
    if isinstance(state, dict):
        if state.get("distribution") == "BetaPrior":
            return BetaPrior.from_dict(state, where)
        return Prior.from_dict(state, where)
    return tuple(state)


def prior_state(prior):
    """A prior as a model file records it."""
    return prior.to_dict() if isinstance(prior, (Prior, BetaPrior)) else list(prior)


def prior_draws(priors: dict, names, size: int, seed=None) -> dict:
    """``size`` draws of each named parameter from ``priors`` (``(mu, sigma)`` of its
    logarithm, a :class:`Prior`, or a :class:`BetaPrior` keyed by two names)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = {}
    for key, prior in priors.items():
        if isinstance(prior, BetaPrior):
            first, second = key.split(",")
            out[first], out[second] = prior.draw(size, rng)
    for name in names:
        if name in out:
            continue
        prior = priors[name]
        out[name] = (prior.draw(size, rng) if isinstance(prior, Prior)
                     else np.exp(rng.normal(*prior, size=size)))
    return out
