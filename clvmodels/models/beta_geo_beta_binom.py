"""BG/BB (Fader, Hardie & Shang 2010), the discrete-time model: transactions in ``n`` discrete
opportunities (a yearly charity appeal, an annual event, a weekly draw). Specified once on
BG/NBD's data and protocol of predictions, with its own formulas (:mod:`clvmodels._math.bgbb`);
:class:`BetaGeoBetaBinom` fits it by maximum likelihood, :class:`BayesianBetaGeoBetaBinom` in
PyMC. Build its frame from a transaction log with :func:`clvmodels.opportunity_summary`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._math import bgbb
from ..data import RFM_COLUMNS, check_rfm
from ..exceptions import DataError
from ..interface import show
from .base import MaximumLikelihoodModel
from .bayesian import BayesianModel
from .purchase import FrequencyCheck, Histories, PurchaseModel, rfm_arrays
from .pareto_nbd import ResidualPredictions


class BetaGeoBetaBinomModel(ResidualPredictions, PurchaseModel):
    """BG/BB: while alive a customer transacts at each opportunity with probability
    ``p ~ Beta(alpha, beta)``, and dies before each with probability
    ``theta ~ Beta(gamma, delta)`` (Fader, Hardie & Shang 2010). Parameters as in the paper:
    ``alpha, beta, gamma, delta``.

    The frame's ``frequency`` (x), ``recency`` (t_x) and ``T`` (n) count opportunities after the
    first transaction: whole numbers with 0 <= x <= t_x <= n. Horizons are whole numbers of
    opportunities; the predictions are BG/NBD's, plus P(alive) at a later opportunity, the
    conditional distribution of future transactions and DERT.
    """

    name = "bgbb"
    title = "BG/BB"
    kind = "purchases"
    discrete = True  # its frame counts opportunities: not fitted on a continuous-time frame
    param_names = ("alpha", "beta", "gamma", "delta")
    formulas = bgbb
    covariate_links: dict = {}  # none (not asked of the discrete-time model yet)

    def prepare(self, rfm: pd.DataFrame, weights=None) -> Histories:
        """The unique (x, t_x, n) histories with their counts, after checking that they are
        opportunity counts.

        Parameters
        ----------
        rfm : pandas.DataFrame
            ``frequency``, ``recency`` and ``T`` in opportunities.
        weights : numpy.ndarray, optional
            Customers per row.

        Returns
        -------
        Histories
        """
        check_rfm(rfm)  # finite numbers >= 0 first, then whole opportunities
        check_opportunities(rfm)
        return super().prepare(rfm, weights)

    def initial_params(self, data: Histories) -> np.ndarray:
        """A first guess: every parameter 1.

        Parameters
        ----------
        data : Histories

        Returns
        -------
        numpy.ndarray
        """
        return np.ones(4)

    def default_priors(self, data: Histories) -> dict:
        """``log(theta) ~ N(0, 2)`` for each of the four Beta shapes.

        Parameters
        ----------
        data : Histories

        Returns
        -------
        dict
        """
        return {name: (0.0, 2.0) for name in self.param_names}

    def horizon(self, t, rfm: pd.DataFrame | None = None) -> np.ndarray:
        """A horizon in opportunities: whole numbers >= 0 (see
        :meth:`clvmodels.models.base.FittedModel.horizon`).

        Parameters
        ----------
        t : int, array-like or pandas.Series
        rfm : pandas.DataFrame, optional

        Returns
        -------
        numpy.ndarray
        """
        value = super().horizon(t, rfm)
        if np.any(value != np.round(value)):
            bad = value[value != np.round(value)].ravel()[0]
            raise DataError(f"BG/BB counts opportunities: the horizon must be a whole number "
                            f"of them, not {show(bad)}")
        return value

    def checked_frame(self, rfm: pd.DataFrame, columns, time_unit: str | None = None,
                      timed: bool = True) -> pd.DataFrame:
        """:meth:`clvmodels.models.base.FittedModel.checked_frame`, and the frame's counts
        must be opportunities (:func:`check_opportunities`): every prediction passes here.

        Parameters
        ----------
        rfm, columns, time_unit, timed
            As the base method.

        Returns
        -------
        pandas.DataFrame
        """
        super().checked_frame(rfm, columns, time_unit, timed)
        check_opportunities(rfm)
        return rfm

    def discounted_purchases(self, rfm, times, coefficients, max_draws=None, time_unit=None,
                             interval=None):
        """As :meth:`PurchaseModel.discounted_purchases`, at whole numbers of opportunities.

        Parameters
        ----------
        rfm, times, coefficients, max_draws, time_unit, interval
            As :meth:`PurchaseModel.discounted_purchases`.

        Returns
        -------
        (compute, n_histories, inverse)
        """
        self.horizon(np.asarray(times, dtype=float))
        return super().discounted_purchases(rfm, times, coefficients, max_draws, time_unit,
                                            interval)


def check_opportunities(rfm: pd.DataFrame) -> None:
    """A DataError unless ``frequency``, ``recency`` and ``T`` are whole numbers of
    opportunities with 0 <= frequency <= recency <= T and recency 0 without transactions."""
    x, t_x, n = rfm_arrays(rfm, RFM_COLUMNS)
    rules = [
        (np.isfinite(x) & np.isfinite(t_x) & np.isfinite(n)
         & (x == np.round(x)) & (t_x == np.round(t_x)) & (n == np.round(n)),
         "must be whole numbers of opportunities"),
        ((x >= 0) & (x <= t_x) & (t_x <= n), "must satisfy 0 <= frequency <= recency <= T"),
        ((x > 0) | (t_x == 0), "must have recency 0 where frequency is 0"),
    ]
    for ok, rule in rules:
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise DataError(
                f"BG/BB counts opportunities: frequency, recency and T {rule}; customer "
                f"{show(rfm.index[i])} has frequency={show(x[i])}, recency={show(t_x[i])}, "
                f"T={show(n[i])}. Build the frame with clvmodels.opportunity_summary(log, "
                "period='Y') (one opportunity per period)")


class BetaGeoBetaBinom(BetaGeoBetaBinomModel, MaximumLikelihoodModel):
    """BG/BB fitted by maximum likelihood.

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty (as in lifetimes).

    Examples
    --------
    The donations data (11,104 donors, six annual opportunities; Fader, Hardie & Shang 2010:
    alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, log-likelihood -33,225.6):

    >>> import clvmodels
    >>> from lifetimes.datasets import load_donations
    >>> d = load_donations().rename(columns={"periods": "T"})
    >>> model = clvmodels.BetaGeoBetaBinom().fit(d, weights=d["weights"])
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 1)
    ([1.204, 0.75, 0.657, 2.783], -33225.6)
    """


class BayesianBetaGeoBetaBinom(FrequencyCheck, BetaGeoBetaBinomModel, BayesianModel):
    """BG/BB with a full posterior (PyMC); the same predictions as :class:`BetaGeoBetaBinom`.
    Settings: :class:`clvmodels.models.bayesian.BayesianModel`."""
