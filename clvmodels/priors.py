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

__all__ = ["Prior"]

# distributions on (0, inf) and on the real line, by PyMC name
POSITIVE = ("Gamma", "LogNormal", "HalfNormal", "HalfCauchy", "HalfStudentT", "Exponential",
            "InverseGamma", "Weibull", "HalfFlat")
REAL = ("Normal", "StudentT", "Laplace", "Cauchy", "Flat")
BOUNDED = ("Uniform",)  # on [lower, upper]: positive where lower >= 0


class Prior:
    """A PyMC distribution by name, with numeric parameters, as a prior.

    Parameters
    ----------
    distribution : str
        A PyMC distribution: on (0, inf) ``Gamma``, ``LogNormal``, ``HalfNormal``,
        ``HalfCauchy``, ``HalfStudentT``, ``Exponential``, ``InverseGamma``, ``Weibull``,
        ``HalfFlat``; on the real line (covariate coefficients) ``Normal``, ``StudentT``,
        ``Laplace``, ``Cauchy``, ``Flat``; ``Uniform`` on ``[lower, upper]``.
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
        if self.distribution in BOUNDED:
            return "positive" if self.parameters.get("lower", 0.0) >= 0 else "real"
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
