"""MBG/NBD (Batislam, Denizel & Filiztekin 2007): the BG/NBD in which a customer may also drop
out right after the first purchase. Specified as BG/NBD's sibling: the same data, priors and
predictions, with its own formulas, likelihood included (:mod:`clvmodels._math.mbgnbd`);
:class:`ModifiedBetaGeo` fits it by maximum likelihood, :class:`BayesianModifiedBetaGeo` in PyMC."""

from __future__ import annotations

from .._math import mbgnbd
from .base import MaximumLikelihoodModel
from .bayesian import BayesianModel
from .beta_geo import BetaGeoModel
from .purchase import FrequencyCheck


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD: purchases at Poisson rate ``lambda ~ Gamma(r, alpha)`` while alive; dropout with
    probability ``p ~ Beta(a, b)`` at the first purchase and after each repeat purchase. So,
    unlike BG/NBD, a customer without repeat purchases has P(alive) below 1, which ranks
    one-time buyers instead of calling them all alive."""

    name = "mbgnbd"
    title = "MBG/NBD"
    formulas = mbgnbd


class ModifiedBetaGeo(ModifiedBetaGeoModel, MaximumLikelihoodModel):
    """MBG/NBD fitted by maximum likelihood; the estimate equals lifetimes'
    ``ModifiedBetaGeoFitter`` on the same data.

    Parameters
    ----------
    penalizer : float, default 0

    Examples
    --------
    >>> import clvmodels
    >>> tx = clvmodels.load_cdnow()
    >>> rfm = clvmodels.rfm_summary(tx[tx.date <= "1997-09-30"], observation_end="1997-09-30",
    ...                             time_unit="W")
    >>> model = clvmodels.ModifiedBetaGeo().fit(rfm)
    >>> model.params_.round(4).tolist(), round(model.log_likelihood_, 2)
    ([0.5248, 6.1831, 0.8914, 1.614], -9582.14)
    """


class BayesianModifiedBetaGeo(FrequencyCheck, ModifiedBetaGeoModel, BayesianModel):
    """MBG/NBD with a full posterior (PyMC); the same predictions as :class:`ModifiedBetaGeo`."""
