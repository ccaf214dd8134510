"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), specified once: a customer may die at any
time, not only after a purchase. The data and the protocol of predictions are BG/NBD's; the
formulas are its own (:mod:`clvmodels._math.pnbd`). :class:`ParetoNBD` fits it by maximum
likelihood, :class:`BayesianParetoNBD` in PyMC."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._math import pnbd
from ..draws import fill_doc
from ..exceptions import DataError
from .base import MaximumLikelihoodModel
from .bayesian import BayesianModel
from .purchase import FrequencyCheck, Histories, PurchaseModel


@dataclass
class PairedHistories(Histories):
    """Pareto/NBD's prepared data: :class:`Histories` and the distinct (x, time) pairs."""

    pairs: tuple = field(init=False)

    def __post_init__(self):
        super().__post_init__()
        self.pairs = pnbd.pair_levels(self.x, self.t_x, self.T)


class ResidualPredictions:
    """DERT, for a model whose ``formulas`` give ``discounted_expected_residual_transactions``:
    Pareto/NBD and BG/BB."""

    @fill_doc
    def discounted_expected_residual_transactions(self, rfm: pd.DataFrame, discount_rate, *,
                                                  interval=None, max_draws=None,
                                                  return_draws=False, time_unit=None):
        """DERT: the expected number of future purchases, discounted at ``discount_rate``
        (Pareto/NBD: continuously, per time unit, Fader, Hardie & Lee 2005, "RFM and CLV",
        eq. 2; BG/BB: per opportunity, Fader, Hardie & Shang 2010, eq. 14). Times a margin
        per purchase it is a customer's residual lifetime value: a second route to CLV beside
        :func:`clvmodels.customer_value`.

        Parameters
        ----------
        {rfm}
        discount_rate : float
            > 0. Pareto/NBD: the continuous rate per time unit of the model (15 % a year is
            ``log(1.15) / 52`` a week); BG/BB: the rate per opportunity (0.1 for 10 %).
        {options}

        Returns
        -------
        {returns}
        """
        if not (np.ndim(discount_rate) == 0 and np.isfinite(discount_rate)
                and discount_rate > 0):
            raise DataError(f"discount_rate must be a number > 0, not {discount_rate!r}")
        return self.per_history(
            lambda *args: self.formulas.discounted_expected_residual_transactions(
                *args, float(discount_rate)),
            "dert", rfm, interval=interval, max_draws=max_draws, return_draws=return_draws,
            time_unit=time_unit)


class ParetoNBDModel(ResidualPredictions, PurchaseModel):
    """Pareto/NBD: purchases at Poisson rate ``lambda ~ Gamma(r, alpha)`` while alive, and an
    exponential lifetime of rate ``mu ~ Gamma(s, beta)``, independent (Schmittlein, Morrison &
    Colombo 1987). Parameters as in the paper: ``r, alpha, s, beta``.

    Besides BG/NBD's predictions (``expected_purchases``, ``probability_alive``,
    ``probability_any_purchase``, ``expected_purchases_new_customer``,
    ``probability_of_purchases``) it gives P(alive) at a future time, the conditional
    distribution of future purchases, and discounted expected residual transactions (DERT).
    """

    name = "pnbd"
    title = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    formulas = pnbd
    numerical_gradient = True  # its gradient is central differences (and it has loglik_hessian)
    row_numerical_gradient = True  # so is its per-customer gradient (covariates)
    # Fader & Hardie 2007: alpha_i = alpha_0 exp(-g1'z), beta_i = beta_0 exp(-g2'z), so that
    # exp(g) multiplies the mean purchase rate r / alpha and the mean dropout rate s / beta
    covariate_links = {"purchase": (("alpha", -1, "purchase rate"),),
                       "dropout": (("beta", -1, "dropout rate"),)}

    def prepare(self, rfm: pd.DataFrame, weights=None) -> PairedHistories:
        """BG/NBD's unique histories, with the distinct (x, time) pairs of the hypergeometric
        terms (:func:`clvmodels._math.pnbd.pair_levels`).

        Parameters
        ----------
        rfm : pandas.DataFrame
        weights : numpy.ndarray, optional

        Returns
        -------
        PairedHistories
        """
        data = super().prepare(rfm, weights)
        return PairedHistories(data.x, data.t_x, data.T, data.weights)

    def subsample(self, data: Histories, fraction: float, rng) -> PairedHistories:
        """A random share of the customers, as :meth:`PurchaseModel.subsample`.

        Parameters
        ----------
        data : PairedHistories
        fraction : float
        rng : numpy.random.Generator

        Returns
        -------
        PairedHistories
        """
        small = super().subsample(data, fraction, rng)
        return PairedHistories(small.x, small.t_x, small.T, small.weights)

    def initial_params(self, data: Histories) -> np.ndarray:
        """A first guess: r = s = 1, alpha = beta = mean T / mean x (equal scales keep the
        hypergeometric terms on their cheap series while the search starts).

        Parameters
        ----------
        data : Histories

        Returns
        -------
        numpy.ndarray
        """
        mean_x = max(np.average(data.x, weights=data.weights), 0.1)
        scale = max(np.average(data.T, weights=data.weights) / mean_x, 1e-3)
        return np.array([1.0, scale, 1.0, scale])

    def loglik_grad(self, params, data: Histories):
        """Total log-likelihood (Fader & Hardie 2005 note, eq. 19) and its gradient in
        (r, alpha, s, beta).

        Parameters
        ----------
        params : numpy.ndarray
            r, alpha, s, beta.
        data : Histories

        Returns
        -------
        (float, numpy.ndarray)
        """
        return pnbd.total_loglik_grad(*params, data.x, data.t_x, data.T, data.weights,
                                      data.pairs, data.x_levels, data.time_levels)

    def loglik_hessian(self, params, data: PairedHistories) -> np.ndarray:
        """Hessian of the total log-likelihood (second differences in one broadcast: the
        gradient is numerical, :func:`clvmodels._math.pnbd.total_loglik_hessian`).

        Parameters
        ----------
        params : numpy.ndarray
        data : PairedHistories

        Returns
        -------
        numpy.ndarray
        """
        return pnbd.total_loglik_hessian(*params, data.x, data.t_x, data.T, data.weights,
                                         data.pairs, data.x_levels, data.time_levels)

    def default_priors(self, data: Histories) -> dict:
        """Shapes ``N(0, 2)`` on the log scale; the scales ``alpha`` and ``beta`` centred on
        the log of the mean T.

        Parameters
        ----------
        data : Histories

        Returns
        -------
        dict
            ``{name: (mu, sigma)}`` of ``log(theta) ~ Normal(mu, sigma)``.
        """
        log_T = float(np.log(np.average(data.T, weights=data.weights) + 1e-9))
        return {"r": (0.0, 2.0), "alpha": (log_T, 3.0), "s": (0.0, 2.0), "beta": (log_T, 3.0)}

class ParetoNBD(ParetoNBDModel, MaximumLikelihoodModel):
    """Pareto/NBD fitted by maximum likelihood (parameters in the time unit of the frame).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty (as in lifetimes).

    Examples
    --------
    The CDNOW sample, weeks 1-39 (Fader, Hardie & Lee 2005, "RFM and CLV": r 0.5534,
    alpha 10.5776, s 0.6061, beta 11.6689, log-likelihood -9594.98):

    >>> import clvmodels
    >>> tx = clvmodels.load_cdnow()
    >>> rfm = clvmodels.rfm_summary(tx[tx.date <= "1997-09-30"], observation_end="1997-09-30",
    ...                             time_unit="W")
    >>> model = clvmodels.ParetoNBD().fit(rfm)
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 2)
    ([0.553, 10.578, 0.606, 11.669], -9594.98)

    (Its log-likelihood, -9594.97618, is above the published estimate's, -9594.97623: the
    paper's fourth digits are a solver's tolerance.)
    """


class BayesianParetoNBD(FrequencyCheck, ParetoNBDModel, BayesianModel):
    """Pareto/NBD with a full posterior (PyMC); the same predictions as :class:`ParetoNBD`, as
    posterior means with intervals. Settings: :class:`clvmodels.models.bayesian.BayesianModel`.
    """
