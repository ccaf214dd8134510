"""lifetimes' fitters over the native models: the same constructors, ``fit(frequency, recency,
T)``, method names, argument orders and return types, computed by
:mod:`clvmodels` (no formula is written twice). Each class names its native equivalent
(``native``), and the fitted native model is ``fitter.model``.

Where they deliberately differ from lifetimes (docs/migrating-from-lifetimes.md):

- ``fit`` maximises the same penalised likelihood (``penalizer_coef`` as lifetimes) to a
  tighter optimum; ``initial_params``, ``verbose`` and ``tol`` are accepted and ignored (the
  engine starts and stops by its own rules).
- ``save_model`` writes a clvmodels JSON model file, not a pickle (a pickle runs code when
  loaded); ``load_model`` reads one.
- ``summary``'s bounds are lifetimes' (estimate +- 1.96 standard errors).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...arguments import per_customer
from ...exceptions import DataError, NotFittedError
from ...models.beta_geo import BetaGeo
from ...models.beta_geo_beta_binom import BetaGeoBetaBinom
from ...models.gamma_gamma import GammaGamma
from ...models.modified_beta_geo import ModifiedBetaGeo
from ...models.pareto_nbd import ParetoNBD
from ...persistence import load
from ...value import customer_value
from .hints import pointing_class

UNIT = "D"  # the label of the frames built here: lifetimes' models have no unit of their own
MONTH = {"W": 4.345, "M": 1.0, "D": 30, "H": 30 * 24}  # lifetimes' month, in units of freq


def like(template, values: np.ndarray, name: str | None = None):
    """``values`` in the type of lifetimes' input ``template``: a Series keeps its index, a
    scalar gives a float, anything else an array."""
    if isinstance(template, pd.Series):
        return pd.Series(np.asarray(values), index=template.index, name=name)
    if np.ndim(template) == 0:
        return float(np.asarray(values).ravel()[0])
    return np.asarray(values)


def frame(columns: dict, index=None, unit: str | None = UNIT) -> pd.DataFrame:
    """A native frame of lifetimes' per-customer arguments: Series paired by their labels to
    the first Series (lifetimes' arithmetic aligns them so; missing, extra or repeated labels
    refused), arrays by position, numbers broadcast; the first Series' index kept."""
    first = next((v for v in columns.values() if isinstance(v, pd.Series)), None)
    several = {k: v for k, v in columns.items() if np.ndim(v) > 0}
    aligned = dict(zip(several, per_customer(**several))) if several else {}
    arrays = np.broadcast_arrays(*(np.asarray(aligned.get(k, v), dtype=float)
                                   for k, v in columns.items()))
    arrays = [np.atleast_1d(a) for a in arrays]
    if index is None:
        index = first.index if first is not None and len(first) == len(arrays[0]) else None
    out = pd.DataFrame(dict(zip(columns, arrays)), index=index)
    if unit is not None:
        out.attrs["time_unit"] = unit
    return out


def horizon(t, rfm: pd.DataFrame):
    """lifetimes' ``t``: a number, or one per customer: a Series by its labels (the native
    models align it), an array in row order (as lifetimes broadcasts arrays)."""
    if np.ndim(t) == 0:
        return float(t)
    if isinstance(t, pd.Series):
        return t
    return pd.Series(np.broadcast_to(np.asarray(t, dtype=float), (len(rfm),)), index=rfm.index)


def grid(compute, fitter, max_frequency=None, max_recency=None) -> np.ndarray:
    """``compute(frequency, recency, T)`` of customers aged ``max_recency`` (default: the
    oldest fitted) on lifetimes' grid, rows recency 0..max_recency, columns frequency
    0..max_frequency (default: the largest fitted); NaN where the history cannot happen (no
    repeat purchase, recency above 0)."""
    max_frequency = max_frequency or int(fitter.data["frequency"].max())
    max_recency = max_recency or int(fitter.data["T"].max())
    x, t_x = np.meshgrid(np.arange(max_frequency + 1.0), np.arange(max_recency + 1.0))
    possible = ~((x == 0) & (t_x > 0))
    out = np.full(x.shape, np.nan)
    out[possible] = np.asarray(compute(x[possible], t_x[possible], float(max_recency)))
    return out


class BaseFitter:
    """What the lifetimes fitters share: the fitted native model, ``params_``, the variance
    matrix, ``summary``, saving and loading."""

    native: type  # the clvmodels class it wraps
    columns = ("frequency", "recency", "T")

    def __init__(self, penalizer_coef: float = 0.0):
        self.penalizer_coef = penalizer_coef

    def __repr__(self) -> str:
        if not hasattr(self, "model"):
            return f"<clvmodels.compat.lifetimes.{type(self).__name__}>"
        shown = ", ".join(f"{k}: {v:.2f}" for k, v in self.params_.items())
        return (f"<clvmodels.compat.lifetimes.{type(self).__name__}: fitted with "
                f"{int(self.data['weights'].sum())} subjects, {shown}>")

    def native_call(self) -> str:
        """The native equivalent of this fitter, for messages and the migration guide."""
        return f"clvmodels.{self.native.__name__}(penalizer={self.penalizer_coef!r}).fit(rfm)"

    def fitted(self):
        if not hasattr(self, "model"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")
        return self.model

    def fit_native(self, columns: dict, weights, index):
        if weights is not None:  # paired with the customers as the other arguments are
            columns = {**columns, "weights": weights}
        rfm = frame(columns, index)
        weights = (rfm.pop("weights").to_numpy() if weights is not None
                   else np.ones(len(rfm)))
        self.model = self.native(penalizer=self.penalizer_coef).fit(rfm, weights=weights)
        self.data = rfm.assign(weights=weights)
        self.data.attrs = {}
        self.params_ = self.model.params_.copy()
        return self

    @property
    def variance_matrix_(self) -> pd.DataFrame:
        """The covariance of the estimate (natural scale)."""
        return self.fitted().covariance_

    @property
    def standard_errors_(self) -> pd.Series:
        """Standard errors of the estimate."""
        return self.fitted().standard_errors_

    @property
    def confidence_intervals_(self) -> pd.DataFrame:
        """lifetimes' 95 % bounds: estimate +- 1.96 standard errors."""
        se = self.standard_errors_
        return pd.DataFrame({"lower 95% bound": self.params_ - 1.96 * se,
                             "upper 95% bound": self.params_ + 1.96 * se})

    @property
    def summary(self) -> pd.DataFrame:
        """coef, se(coef) and the 95 % bounds of each parameter, as lifetimes prints them."""
        table = pd.DataFrame({"coef": self.params_, "se(coef)": self.standard_errors_})
        return pd.concat([table, self.confidence_intervals_], axis=1)

    @property
    def log_likelihood_(self) -> float:
        """The maximised log-likelihood (without the penalty)."""
        return self.fitted().log_likelihood_

    def save_model(self, path, save_data: bool = True, save_generate_data_method: bool = True,
                   values_to_save=None) -> None:
        """Save the fitted model as a clvmodels JSON model file (not a pickle: a pickle runs code
        when loaded); ``save_data`` and the other lifetimes options have no effect."""
        self.fitted().save(path)

    def load_model(self, path) -> None:
        """Load a model file written by :meth:`save_model` (or by clvmodels) into this
        fitter."""
        model = load(path)
        if not isinstance(model, self.native):
            raise DataError(f"{path!s} holds a {type(model).__name__}, not a "
                            f"{self.native.__name__}: load it with {type(self).__name__}'s "
                            "native class, clvmodels.load")
        self.model, self.params_ = model, model.params_.copy()


class PurchaseFitter(BaseFitter):
    """BG/NBD, MBG/NBD and Pareto/NBD: the lifetimes methods they share."""

    def fit(self, frequency, recency, T, weights=None, initial_params=None, verbose=False,
            tol=1e-7, index=None, **kwargs):
        """Fit on lifetimes' per-customer arrays (or Series).

        Parameters
        ----------
        frequency, recency, T : array-like
        weights : array-like, optional
            Customers per row.
        initial_params, verbose, tol
            Accepted and ignored.
        index : array-like, optional
            The customers' ids.

        Returns
        -------
        self
        """
        return self.fit_native({"frequency": frequency, "recency": recency, "T": T}, weights,
                               index)

    def rfm(self, frequency, recency, T) -> pd.DataFrame:
        return frame({"frequency": frequency, "recency": recency, "T": T})

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """Expected purchases in the next ``t`` (native: ``expected_purchases(rfm, t)``)."""
        rfm = self.rfm(frequency, recency, T)
        return like(frequency, self.fitted().expected_purchases(rfm, horizon(t, rfm)))

    predict = conditional_expected_number_of_purchases_up_to_time

    def conditional_probability_alive(self, frequency, recency, T):
        """P(alive) given the history (native: ``probability_alive(rfm)``)."""
        return like(frequency, self.fitted().probability_alive(self.rfm(frequency, recency, T)))

    def conditional_probability_alive_matrix(self, max_frequency=None, max_recency=None):
        """P(alive) of customers aged ``max_recency`` on a grid: rows recency 0..max_recency,
        columns frequency 0..max_frequency (lifetimes' layout). The cells of no repeat purchase
        and a recency above 0 are histories that cannot happen: NaN here (lifetimes fills them
        with the formula's value at an impossible history)."""
        return grid(self.conditional_probability_alive, self, max_frequency, max_recency)

    def expected_number_of_purchases_up_to_time(self, t):
        """Expected purchases of a new customer by ``t`` (native:
        ``expected_purchases_new_customer(t)``)."""
        values = self.fitted().expected_purchases_new_customer(np.asarray(t, dtype=float))
        return float(np.asarray(values).ravel()[0]) if np.ndim(t) == 0 else np.asarray(values).ravel()


@pointing_class
class BetaGeoFitter(PurchaseFitter):
    """lifetimes' ``BetaGeoFitter`` over :class:`clvmodels.BetaGeo`.

    Parameters
    ----------
    penalizer_coef : float, default 0
        The L2 penalty (native: ``penalizer``).
    """

    native = BetaGeo

    def probability_of_n_purchases_up_to_time(self, t, n):
        """P(X(t) = n) of a new customer (native: ``probability_of_purchases(n, t)``)."""
        values = self.fitted().probability_of_purchases(n, t)
        return float(np.asarray(values).ravel()[0])


@pointing_class
class ModifiedBetaGeoFitter(BetaGeoFitter):
    """lifetimes' ``ModifiedBetaGeoFitter`` over :class:`clvmodels.ModifiedBetaGeo`.

    Parameters
    ----------
    penalizer_coef : float, default 0
    """

    native = ModifiedBetaGeo


@pointing_class
class ParetoNBDFitter(PurchaseFitter):
    """lifetimes' ``ParetoNBDFitter`` over :class:`clvmodels.ParetoNBD`.

    Parameters
    ----------
    penalizer_coef : float, default 0
    """

    native = ParetoNBD

    def conditional_probability_of_n_purchases_up_to_time(self, n, t, frequency, recency, T):
        """P(X(t) = n | history) (native: ``conditional_probability_of_purchases(rfm, n,
        t)``)."""
        rfm = self.rfm(frequency, recency, T)
        return like(frequency, self.fitted().conditional_probability_of_purchases(rfm, n, t))


@pointing_class
class BetaGeoBetaBinomFitter(BaseFitter):
    """lifetimes' ``BetaGeoBetaBinomFitter`` over :class:`clvmodels.BetaGeoBetaBinom` (discrete
    opportunities: ``n_periods`` is lifetimes' name for T).

    Parameters
    ----------
    penalizer_coef : float, default 0
    """

    native = BetaGeoBetaBinom

    def fit(self, frequency, recency, n_periods, weights=None, initial_params=None,
            verbose=False, tol=1e-7, index=None, **kwargs):
        """Fit on per-row (frequency, recency, n_periods), usually with ``weights``.

        Returns
        -------
        self
        """
        return self.fit_native({"frequency": frequency, "recency": recency, "T": n_periods},
                               weights, index)

    def rfm(self, frequency, recency, n_periods) -> pd.DataFrame:
        return frame({"frequency": frequency, "recency": recency, "T": n_periods})

    def conditional_expected_number_of_purchases_up_to_time(self, m_periods_in_future,
                                                            frequency, recency, n_periods):
        """Expected purchases in the next ``m_periods_in_future`` opportunities."""
        rfm = self.rfm(frequency, recency, n_periods)
        return like(frequency, self.fitted().expected_purchases(rfm, m_periods_in_future))

    def conditional_probability_alive(self, m_periods_in_future, frequency, recency, n_periods):
        """P(alive ``m_periods_in_future`` opportunities from now | history)."""
        rfm = self.rfm(frequency, recency, n_periods)
        model = self.fitted()
        if np.all(np.asarray(m_periods_in_future) == 0):
            return like(frequency, model.probability_alive(rfm))
        return like(frequency, model.probability_alive_at(rfm, m_periods_in_future))

    def expected_number_of_transactions_in_first_n_periods(self, n):
        """Expected customers with each number of transactions in the first ``n``
        opportunities, for the frequencies seen in the fitted data (native:
        ``probability_of_purchases(x, n)`` times the customers)."""
        counts = self.data.groupby("frequency")["weights"].sum()
        x = counts.index.to_numpy()
        values = [float(np.asarray(self.fitted().probability_of_purchases(int(k), n)).ravel()[0])
                  for k in x]
        return pd.DataFrame({"model": np.asarray(values) * counts.sum()},
                            index=pd.Index(x.astype(float), name="frequency"))


@pointing_class
class GammaGammaFitter(BaseFitter):
    """lifetimes' ``GammaGammaFitter`` over :class:`clvmodels.GammaGamma`.

    Parameters
    ----------
    penalizer_coef : float, default 0
    """

    native = GammaGamma
    columns = ("frequency", "monetary_value")

    def fit(self, frequency, monetary_value, weights=None, initial_params=None, verbose=False,
            tol=1e-7, index=None, q_constraint=False, **kwargs):
        """Fit on the repeat customers' (frequency, mean repeat spend); ``q_constraint`` is
        accepted and ignored (the native fit refuses an estimate with q <= 1, whose mean spend
        is infinite).

        Returns
        -------
        self
        """
        return self.fit_native({"frequency": frequency, "monetary_value": monetary_value},
                               weights, index)

    def spend_frame(self, frequency, monetary_value) -> pd.DataFrame:
        return frame({"frequency": frequency, "monetary_value": monetary_value})

    def conditional_expected_average_profit(self, frequency=None, monetary_value=None):
        """E[mean spend | history] (native: ``expected_spend(rfm)``); of the fitted data when
        no arrays are given."""
        if frequency is None or monetary_value is None:
            frequency, monetary_value = self.data["frequency"], self.data["monetary_value"]
        rfm = self.spend_frame(frequency, monetary_value)
        return like(frequency, self.fitted().expected_spend(rfm))

    def customer_lifetime_value(self, transaction_prediction_model, frequency, recency, T,
                                monetary_value, time=12, discount_rate=0.01, freq="D"):
        """lifetimes' CLV: ``time`` months of ``MONTH[freq]`` time units (30 days, 4.345
        weeks), each discounted at its end at ``discount_rate`` (native:
        ``clvmodels.customer_value(purchases, spend, rfm, horizon=time, period=30)``).

        Returns
        -------
        pandas.Series
            ``clv``, by the customers' index.
        """
        purchases = getattr(transaction_prediction_model, "model", None)
        if not isinstance(transaction_prediction_model, PurchaseFitter) or purchases is None:
            raise DataError("transaction_prediction_model must be a fitted purchase fitter of "
                            "clvmodels.compat.lifetimes (BetaGeoFitter, ...), not a "
                            f"{type(transaction_prediction_model).__name__}")
        if freq not in MONTH:
            raise DataError(f"freq={freq!r}: lifetimes' customer_lifetime_value knows "
                            f"{sorted(MONTH)}")
        index = frequency.index if isinstance(frequency, pd.Series) else None
        rfm = frame({"frequency": frequency, "recency": recency, "T": T,
                     "monetary_value": monetary_value}, index)
        value = customer_value(purchases, self.fitted(), rfm, horizon=int(time),
                               discount_rate=discount_rate, period=float(MONTH[freq]))
        return value.rename("clv")
