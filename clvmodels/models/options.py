"""The settings of the maximum-likelihood engine, in one typed object a specification may
override (``fit_options``), instead of attributes the engine looks up one by one."""

from __future__ import annotations

from dataclasses import dataclass, field


def default_lbfgs() -> dict:
    return {"maxiter": 2000, "ftol": 1e-10, "gtol": 1e-7}


@dataclass(frozen=True)
class FitOptions:
    """How :func:`clvmodels.models.base.maximum_likelihood` fits a specification.

    Parameters
    ----------
    lbfgs : dict
        Options of scipy's L-BFGS-B (``maxiter``, ``ftol``, ``gtol`` of the mean objective).
    lbfgs_gtol : float, optional
        Stop L-BFGS-B at this gradient and let the Newton steps finish; default: ``lbfgs``'s
        ``gtol``, or 1e-5 for a specification with its own ``loglik_hessian``.
    newton_steps : int
        Newton steps after L-BFGS-B (each while it lowers the objective).
    hessian_reuse : float
        Keep the Hessian of the first Newton step for the covariance while the estimate moved
        less than ``hessian_reuse * sqrt(n)`` of its standard errors (0: always take it again
        where the estimate ends).
    """

    lbfgs: dict = field(default_factory=default_lbfgs)
    lbfgs_gtol: float | None = None
    newton_steps: int = 3
    hessian_reuse: float = 0.0

    def lbfgs_options(self, has_hessian: bool) -> dict:
        """A fresh dict of L-BFGS-B options for a specification (with its own Hessian or not)."""
        gtol = self.lbfgs_gtol
        if gtol is None:
            gtol = 1e-5 if has_hessian else self.lbfgs["gtol"]
        return {**self.lbfgs, "gtol": gtol}
