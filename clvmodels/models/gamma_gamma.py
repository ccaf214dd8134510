"""Gamma-Gamma spend model (Colombo & Jiang 1999; Fader & Hardie 2013), specified once;
:class:`GammaGamma` fits it by maximum likelihood, :class:`BayesianGammaGamma` in PyMC."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._math import gamma_gamma
from ..arguments import check_numbers
from ..data import check_rfm
from ..exceptions import DataError, DataQualityWarning
from ..interface import show
from ..draws import fill_doc, take_rows
from .base import MaximumLikelihoodModel
from .bayesian import BayesianModel

logger = logging.getLogger("clvmodels")
SPEND_COLUMNS = ("frequency", "monetary_value")
CORRELATION_WARNING = 0.3  # |Pearson r| of frequency and monetary value above which we warn


@dataclass
class SpendData:
    """Gamma-Gamma's prepared data: the sufficient statistics of the repeat customers, and how
    many customers without repeat purchases were left out (``facts``)."""

    stats: gamma_gamma.SufficientStatistics
    facts: dict = field(default_factory=dict)

    @property
    def n(self) -> float:
        """Customers fitted on (those with repeat purchases)."""
        return self.stats.n


def spend_draws(rfm: pd.DataFrame, params):
    """Per-draw expected spend: ``compute(rows)`` gives ``(len(rows), D)`` values for
    ``params`` as ``(1, D)`` row vectors; customers with frequency 0 get the population mean
    ``p v / (q - 1)``; ``v`` may be one row per customer (covariates). A DataError where the
    mean does not exist (``p x + q <= 1``)."""
    x = rfm["frequency"].to_numpy(dtype=np.float64)[:, None]
    m = np.where(x > 0, rfm["monetary_value"].to_numpy(dtype=np.float64)[:, None], 0.0)
    # E[M | x, m] = p (v + x m) / (p x + q - 1) is finite only where p x + q > 1: the posterior
    # Gamma(p x + q, v + x m) of the customer's scale has no mean of its inverse otherwise
    p, q = params[0], params[1]
    least_x = np.array([[x.min()]]) if len(x) else np.zeros((1, 1))
    if np.any(p * least_x + q <= 1):
        undefined = np.any(p * x + q <= 1, axis=1)
        first = rfm.index[np.flatnonzero(undefined)[0]]
        raise DataError(
            f"Gamma-Gamma's expected spend is infinite for {int(undefined.sum()):,} customer(s) "
            f"(first: {show(first)}, frequency {x[undefined][0, 0]:g}): it needs p x + q > 1, and "
            f"the {'estimate' if p.size == 1 else 'posterior'} has q = {float(np.min(q)):.3g}"
            f"{'' if p.size == 1 else ' in some draws'}, a spend distribution so heavy-tailed "
            "that its mean does not exist. Predict only customers with more repeat purchases, "
            "or cap extreme amounts and refit"
        )

    def compute(rows):
        return gamma_gamma.expected_spend(*take_rows(params, rows), x[rows], m[rows])

    return compute


class GammaGammaModel:
    """Gamma-Gamma: each purchase of a customer is Gamma(p, nu), ``nu ~ Gamma(q, v)`` across
    customers (Fader & Hardie 2013). Fitted on the customers with at least one repeat purchase;
    how many were left out is in ``n_zero_frequency_``.

    The specification and the predictions, written once as functions of parameter draws;
    combined with an engine in :class:`GammaGamma` and :class:`BayesianGammaGamma`.
    """

    name = "gg"
    title = "Gamma-Gamma"
    kind = "spend"
    param_names = ("p", "q", "v")
    columns = SPEND_COLUMNS
    facts = ("n_zero_frequency",)
    # a covariate-dependent scale: v_i = v_0 exp(g'z), so that exp(g) multiplies the mean
    # spend p v / (q - 1) and every customer's expected spend before her own purchases count
    covariate_links = {"spend": (("v", 1, "spend"),)}

    # -- specification -------------------------------------------------------------------------
    def prepare(self, rfm: pd.DataFrame, weights=None) -> SpendData:
        """Sufficient statistics of the customers with ``frequency > 0`` (positive
        ``monetary_value`` required); warns where frequency and spend are correlated.

        Parameters
        ----------
        rfm : pandas.DataFrame
            With ``frequency`` and ``monetary_value``.
        weights : numpy.ndarray, optional
            Customers per row.

        Returns
        -------
        SpendData
        """
        check_rfm(rfm, SPEND_COLUMNS)
        x = rfm["frequency"].to_numpy(dtype=np.float64)
        m = rfm["monetary_value"].to_numpy(dtype=np.float64)
        w = np.ones(len(x)) if weights is None else weights
        repeat = (x > 0) & (w > 0)
        zero = int(w[x == 0].sum())
        if not repeat.any():
            raise DataError("GammaGamma needs customers with frequency > 0; this frame has none")
        x, m, w = x[repeat], m[repeat], w[repeat]
        nonpositive = m <= 0
        if nonpositive.any():
            first = rfm.index[np.flatnonzero(repeat)[np.flatnonzero(nonpositive)[0]]]
            raise DataError(
                f"monetary_value must be > 0 where frequency > 0; {int(nonpositive.sum())} "
                f"customer(s) violate this (first: {show(first)}); drop them or their "
                "zero-value orders"
            )
        if x.size > 2 and x.std() > 0 and m.std() > 0:
            corr = float(np.corrcoef(x, m)[0, 1])
            if abs(corr) > CORRELATION_WARNING:
                warnings.warn(
                    f"frequency and monetary_value are correlated (Pearson r = {corr:.2f}); the "
                    "Gamma-Gamma model assumes they are independent, so its spend predictions "
                    "may be biased", DataQualityWarning, stacklevel=4,
                )
        stats = gamma_gamma.sufficient_statistics(x, m, w)
        logger.info("GammaGamma: fitting on %d customers with frequency > 0 (%d with frequency 0 "
                    "left out)", stats.n, zero)
        # (frequency, monetary value) pairs are nearly all distinct: sufficient statistics
        return SpendData(stats, {"n_zero_frequency": zero})

    def row_columns(self, rfm: pd.DataFrame):
        """``frequency`` and ``monetary_value`` of the customers the likelihood uses (those
        with repeat purchases), and which rows they are.

        Parameters
        ----------
        rfm : pandas.DataFrame

        Returns
        -------
        (list of numpy.ndarray, numpy.ndarray)
        """
        x = rfm["frequency"].to_numpy(dtype=np.float64)
        return [x, rfm["monetary_value"].to_numpy(dtype=np.float64)], x > 0

    def row_loglik_grad(self, params, columns):
        """Per-customer log-likelihood and gradient (:func:`clvmodels._math.gamma_gamma.row_loglik_grad`).

        Parameters
        ----------
        params : list
        columns : list of numpy.ndarray

        Returns
        -------
        (numpy.ndarray, list of numpy.ndarray)
        """
        return gamma_gamma.row_loglik_grad(*params, *columns)

    def subsample(self, data: SpendData, fraction: float, rng) -> SpendData:
        """A random share of the customers.

        Parameters
        ----------
        data : SpendData
        fraction : float
        rng : numpy.random.Generator

        Returns
        -------
        SpendData
        """
        s = data.stats
        rows = rng.random(s.x.size) < fraction
        return SpendData(gamma_gamma.sufficient_statistics(s.x[rows], s.m[rows], s.w[rows]))

    def initial_params(self, data: SpendData) -> np.ndarray:
        """A first guess: p = 1, q = 2, v = mean spend.

        Parameters
        ----------
        data : SpendData

        Returns
        -------
        numpy.ndarray
        """
        return np.array([1.0, 2.0, max(np.average(data.stats.m, weights=data.stats.w), 1e-3)])

    def loglik_grad(self, params, data: SpendData):
        """Total log-likelihood (Fader & Hardie 2013, eq. 4) and its gradient in (p, q, v).

        Parameters
        ----------
        params : numpy.ndarray
            p, q, v.
        data : SpendData

        Returns
        -------
        (float, numpy.ndarray)
        """
        return gamma_gamma.total_loglik_grad(*params, data.stats)

    def loglik_tensor(self, params: dict, data: SpendData, xp):
        """The same total as a PyTensor expression.

        Parameters
        ----------
        params : dict
            PyTensor scalars by name.
        data : SpendData
        xp : namespace
            :func:`clvmodels._math.pytensor_namespace`.

        Returns
        -------
        pytensor.tensor.TensorVariable
        """
        import pytensor.tensor as pt

        s = data.stats
        ll = gamma_gamma.loglik(params["p"], params["q"], params["v"], s.x, s.m, xp=xp,
                                x_levels=(s.levels, s.level_index))
        return pt.dot(s.w, ll)

    def default_priors(self, data: SpendData) -> dict:
        """Shapes ``N(0, 2)`` on the log scale; ``v`` centred on the log of the mean spend.

        Parameters
        ----------
        data : SpendData

        Returns
        -------
        dict
            ``{name: (mu, sigma)}`` of ``log(theta) ~ Normal(mu, sigma)``.
        """
        mean = float(np.average(data.stats.m, weights=data.stats.w))
        return {"p": (0.0, 2.0), "q": (0.0, 2.0), "v": (float(np.log(mean)), 3.0)}

    def check_estimate(self, params: pd.Series) -> None:
        """Warn where q <= 1: the population mean spend, the forecast for customers without
        repeat purchases, is infinite.

        Parameters
        ----------
        params : pandas.Series
            The estimate (or posterior means).
        """
        q = params["q"]
        if q <= 1:
            warnings.warn(
                f"{type(self).__name__}: q = {q:.3g} <= 1, so the spend per purchase is so "
                "heavy-tailed that its population mean is infinite: expected spend exists only "
                "for customers with p x + q > 1 (frequency x > (1 - q) / p = "
                f"{(1 - q) / params['p']:.3g}) and others are refused. Look for extreme amounts "
                "(a data error?) before using this fit",
                DataQualityWarning, stacklevel=3,
            )

    # -- predictions ---------------------------------------------------------------------------
    def spend_draws(self, rfm: pd.DataFrame, max_draws=None, interval=None):
        """The spend-model protocol of :func:`clvmodels.customer_value`.

        Parameters
        ----------
        rfm : pandas.DataFrame
            The customers.
        max_draws : int, optional

        Returns
        -------
        callable
            ``compute(rows)`` gives each customer's expected spend per purchase, an
            ``(len(rows), D)`` array over ``D`` parameter draws.
        """
        self.checked_frame(rfm, SPEND_COLUMNS, timed=False)
        params = self.parameter_draws(max_draws, interval)
        return spend_draws(rfm, self.customer_parameters(params, self._covariate_design(rfm)))

    def new_customer_spend_quantiles(self, probabilities=(0.05, 0.5, 0.95), *,
                                     max_draws=None) -> pd.Series:
        """Quantiles of the amount of one purchase by a customer not yet seen: with
        ``z ~ Gamma(p, nu)`` and ``nu ~ Gamma(q, v)``, ``z / v`` is beta-prime(p, q) (Fader &
        Hardie 2013, eq. 3's marginal); the distribution, not only its mean p v / (q - 1). A
        Bayesian model mixes over its draws (the quantiles of the posterior predictive).

        Parameters
        ----------
        probabilities : sequence of float
            In (0, 1).
        max_draws : int, optional

        Returns
        -------
        pandas.Series
            The amounts, indexed by probability.
        """
        from scipy import optimize, stats

        self.check_fitted()
        probabilities = check_numbers(probabilities, "probabilities", "numbers in (0, 1)")
        if not np.all((probabilities > 0) & (probabilities < 1)):
            raise DataError("probabilities must lie in (0, 1)")
        if getattr(self, "spec_", None) is not None:
            raise DataError("new_customer_spend_quantiles is not available for a model with "
                            "covariates yet; use expected_spend of customers with frequency 0")
        p, q, v = (d.ravel() for d in self.parameter_draws(max_draws))
        laws = stats.betaprime(p[:, None], q[:, None], scale=v[:, None])
        if len(p) == 1:
            values = laws.ppf(probabilities[None, :])[0]
        else:  # the posterior predictive: the mixture's cdf, inverted by bisection
            def mixture(z, target):
                return laws.cdf(z).mean() - target

            hi = float(np.max(laws.ppf(0.999999)))
            values = np.array([optimize.brentq(mixture, 0.0, hi, args=(target,), xtol=1e-10)
                               for target in probabilities])
        return pd.Series(values, index=pd.Index(probabilities, name="probability"),
                         name="spend")

    @fill_doc
    def expected_spend(self, rfm: pd.DataFrame, *, interval=None, max_draws=None,
                       return_draws=False):
        """Expected value of each customer's future purchases, shrunk toward the population
        mean (Fader & Hardie 2013, eq. 5); the population mean for frequency 0. A DataError
        where it does not exist (p x + q <= 1).

        .. math:: \\frac{p(v + x m)}{px + q - 1}

        Parameters
        ----------
        rfm : pandas.DataFrame
            The customers, with ``frequency`` and ``monetary_value``.
        interval : float, optional
            Mass of an equal-tailed interval over the parameter draws (a posterior, or the
            asymptotic distribution of a maximum-likelihood estimate).
        max_draws : int, optional
            Use at most this many draws.
        return_draws : bool, default False
            The draws themselves (at most 10,000 customers).

        Returns
        -------
        {returns}
        """
        compute = self.spend_draws(rfm, max_draws, interval)
        draws = self.parameter_draws(max_draws, interval)
        return self.summarise(compute, len(rfm), draws, interval, "expected_spend", rfm.index,
                              return_draws=return_draws)


class GammaGamma(GammaGammaModel, MaximumLikelihoodModel):
    """Gamma-Gamma fitted by maximum likelihood.

    Parameters
    ----------
    penalizer : float, default 0

    Examples
    --------
    >>> import clvmodels
    >>> tx = clvmodels.load_cdnow()
    >>> rfm = clvmodels.rfm_summary(tx[tx.date <= "1997-09-30"], observation_end="1997-09-30",
    ...                             time_unit="W", amount="amount")
    >>> clvmodels.GammaGamma().fit(rfm).params_.round(2).tolist()
    [6.25, 3.74, 15.44]
    """


class BayesianGammaGamma(GammaGammaModel, BayesianModel):
    """Gamma-Gamma with a full posterior (PyMC); the same predictions as :class:`GammaGamma`."""
