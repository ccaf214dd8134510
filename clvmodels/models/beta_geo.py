"""BG/NBD (Fader, Hardie & Lee 2005), specified once: its parameters, formulas, starting
values and priors (the data and predictions are :class:`~clvmodels.models.purchase.PurchaseModel`'s);
:class:`BetaGeo` fits it by maximum likelihood, :class:`BayesianBetaGeo` in PyMC."""

from __future__ import annotations

import numpy as np

from .._math import bgnbd
from .base import MaximumLikelihoodModel
from .bayesian import BayesianModel
from .purchase import FrequencyCheck, Histories, PurchaseModel


class BetaGeoModel(PurchaseModel):
    """BG/NBD: repeat purchases at Poisson rate ``lambda ~ Gamma(r, alpha)`` while alive, and
    dropout with probability ``p ~ Beta(a, b)`` after each purchase (Fader, Hardie & Lee 2005).

    The specification: parameters, formulas, covariate links, starting values and priors; the
    data and the predictions are :class:`~clvmodels.models.purchase.PurchaseModel`'s. Combined
    with an engine in :class:`BetaGeo` and :class:`BayesianBetaGeo`.
    """

    name = "bgnbd"
    title = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")
    formulas = bgnbd  # the module of clvmodels._math the predictions evaluate
    # what the covariates of each process move (Fader & Hardie 2007): alpha_i = alpha_0
    # exp(-g1'z), a_i = a_0 exp(g2'z), b_i = b_0 exp(g3'z) (clvmodels.models.regression)
    covariate_links = {"purchase": (("alpha", -1, "purchase rate"),),
                       "dropout": (("a", 1, "a"), ("b", 1, "b"))}

    def initial_params(self, data: Histories) -> np.ndarray:
        """A first guess: r = a = b = 1, alpha = mean T / mean x.

        Parameters
        ----------
        data : Histories

        Returns
        -------
        numpy.ndarray
        """
        mean_x = max(np.average(data.x, weights=data.weights), 0.1)
        return np.array([1.0, max(np.average(data.T, weights=data.weights) / mean_x, 1e-3),
                         1.0, 1.0])

    def default_priors(self, data: Histories) -> dict:
        """Shapes ``N(0, 2)`` on the log scale; ``alpha`` centred on the log of the mean T.

        Parameters
        ----------
        data : Histories

        Returns
        -------
        dict
            ``{name: (mu, sigma)}`` of ``log(theta) ~ Normal(mu, sigma)``.
        """
        mean_T = float(np.average(data.T, weights=data.weights))
        return {"r": (0.0, 2.0), "alpha": (float(np.log(mean_T + 1e-9)), 3.0),
                "a": (0.0, 2.0), "b": (0.0, 2.0)}

class BetaGeo(BetaGeoModel, MaximumLikelihoodModel):
    """BG/NBD fitted by maximum likelihood (parameters in the time unit of the frame).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty (as in lifetimes).

    Examples
    --------
    >>> import clvmodels
    >>> tx = clvmodels.load_cdnow()
    >>> rfm = clvmodels.rfm_summary(tx[tx.date <= "1997-09-30"], observation_end="1997-09-30",
    ...                             time_unit="W")
    >>> model = clvmodels.BetaGeo().fit(rfm)
    >>> model.params_.round(4).tolist()
    [0.2426, 4.4136, 0.7929, 2.4259]
    >>> round(model.log_likelihood_, 2)
    -9582.43
    """


class BayesianBetaGeo(FrequencyCheck, BetaGeoModel, BayesianModel):
    """BG/NBD with a full posterior (PyMC); the same predictions as :class:`BetaGeo`, as
    posterior means with intervals. Settings: :class:`clvmodels.models.bayesian.BayesianModel`.
    """
