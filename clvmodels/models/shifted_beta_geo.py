"""The shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007, 2010),
specified once on the model contract; :class:`ShiftedBetaGeo` fits it by maximum likelihood,
:class:`BayesianShiftedBetaGeo` in PyMC.

Its data are one row per customer (or per group of customers, with ``weights``): ``T`` the
periods observed (the lifetime of a customer who cancelled, the periods so far of one still
active) and ``churned`` (whether she cancelled). :func:`cohort_frame` builds that from a cohort's
survival counts, :func:`subscription_frame` from a table of subscriptions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._math import sbg
from ..arguments import check_count, check_numbers
from ..columns import as_day, integer_ids, normalize_ids, parse_dates
from ..data import unique_rows
from ..draws import row_means, take_rows
from ..exceptions import DataError, DataQualityWarning
from ..files import require_columns
from ..interface import given, show
from ..units import DAYS_PER_UNIT, days_per_unit
from .regression import simulation_parameters, unique_with_covariates
from .base import MaximumLikelihoodModel
from .bayesian import BayesianModel

DURATION_COLUMNS = ("T", "churned")


def cohort_frame(survivors) -> pd.DataFrame:
    """The sBG frame of one cohort from the number of its customers still active at the start
    and after each period, e.g. ``[1000, 869, 743, ...]`` (Fader & Hardie 2007, table 1).

    Parameters
    ----------
    survivors : sequence of int
        Active customers after 0, 1, 2, ... periods; never increasing.

    Returns
    -------
    pandas.DataFrame
        ``T``, ``churned`` and ``weights`` (customers per row): the customers lost in each
        period, then the survivors of the last one.
    """
    counts = check_numbers(survivors, "survivors", "whole numbers of customers")
    if len(counts) < 2 or not np.all(np.isfinite(counts)) or np.any(
            counts != np.round(counts)):
        raise DataError("survivors must be at least two counts: the cohort, then its active "
                        "customers after each period")
    lost = -np.diff(counts)
    if np.any(lost < 0) or counts[-1] < 0:
        first = int(np.flatnonzero(lost < 0)[0]) + 1 if np.any(lost < 0) else len(counts) - 1
        raise DataError(f"survivors must not increase or go below 0: {show(counts[first])} after "
                        f"period {first}")
    periods = np.arange(1, len(counts))
    return pd.DataFrame({"T": np.r_[periods, len(counts) - 1],
                         "churned": np.r_[np.ones(len(periods), bool), False],
                         "weights": np.r_[lost, counts[-1]]})


END_CONVENTIONS = ("cancellation", "paid_through")


def subscription_frame(table: pd.DataFrame, *, observation_end, period: str = "M",
                       customer: str = "customer_id", start: str = "start",
                       end: str = "end", date_format: str | None = None,
                       end_convention: str = "cancellation") -> pd.DataFrame:
    """The sBG frame of a subscription table: one row per customer with the start and (for
    those who cancelled) the end of the subscription; an empty end is still active.

    Ids and dates are read as in a transaction log (:mod:`clvmodels.columns`): a customer's id
    is text unless every id is a plain integer, dates in one unambiguous format per column
    (``date_format=`` fixes it). A missing start, a customer listed twice, an end before its
    start and a start after ``observation_end`` are refused with the first offender.

    What an end date means differs between exports, and it matters only for an end that
    falls on an anniversary of the start (the 15th of a month for a start on the 15th):

    - ``end_convention="cancellation"`` (default): the end is the day the customer cancelled.
      An anniversary on or before it was a renewal she made, so T = 1 + the anniversaries
      from the first one up to and including the end (cancelling on a renewal day counts
      that renewal).
    - ``"paid_through"``: the end is the day the paid time ran out, the start plus the
      periods paid, as billing systems write it. An end on an anniversary closes the last
      paid period, so T = 1 + the anniversaries strictly before the end (a start on 15
      January paid for one month ends on 15 February: T = 1).

    Reading a paid-through export with ``"cancellation"`` adds one period to every such
    customer and biases retention upwards; where most ends fall on anniversaries (as in a
    paid-through export, and in few true cancellations), a DataQualityWarning says so.

    Parameters
    ----------
    table : pandas.DataFrame
    observation_end : date-like
        The last day observed.
    period : {"D", "W", "M", "Q", "Y"}
        The contract period: calendar months for "M", "Q", "Y" (an anniversary on the 31st
        falls on the month's last day), whole days or weeks otherwise. A customer still
        active has T = her renewals so far (anniversaries on or before ``observation_end``).
    customer, start, end : str
        Column names.
    date_format : str, optional
        The layout of both date columns, e.g. ``"%d/%m/%Y"``.
    end_convention : {"cancellation", "paid_through"}
        What an end date means (above).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer, with ``T`` and ``churned``; ``attrs["time_unit"]`` is ``period``.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"the subscription table must be a DataFrame, not {type(table).__name__}")
    require_columns(table.columns, [customer, start, end], "the subscription table",
                    {customer: "customer", start: "start", end: "end"})
    if end_convention not in END_CONVENTIONS:
        raise DataError(f"{given('end_convention', end_convention)}: use one of "
                        f"{list(END_CONVENTIONS)} (see clvmodels.models.shifted_beta_geo."
                        "subscription_frame)")
    if period not in DAYS_PER_UNIT:
        raise DataError(f"{given('period', period)} is not a contract period: use one of "
                        f"{list(DAYS_PER_UNIT)}")
    if len(table) == 0:
        raise DataError("the subscription table has no rows")
    last = as_day(observation_end, "observation_end")
    ids = normalize_ids(table[customer], customer)
    repeated = ids.duplicated().to_numpy()
    if repeated.any():
        raise DataError(f"column {customer!r}: {int(repeated.sum()):,} customer(s) are listed "
                        f"more than once (first: {show(ids[repeated].iloc[0])}, row "
                        f"{int(np.flatnonzero(repeated)[0])}); the sBG takes one subscription "
                        "per customer: keep each customer's first (or current) subscription")
    begun, date_format = parse_dates(table[start], start, date_format)
    ends = table[end]
    if ends.dtype.kind == "O":
        ends = ends.where(~ends.astype(str).str.strip().isin(["", "nan", "NaT", "None"]))
    churned = ends.notna().to_numpy()
    stop = np.full(len(table), last, dtype=np.int64)
    if churned.any():
        stop[churned] = parse_dates(ends[churned], end, date_format)[0]
    later = begun > last
    if later.any():
        i = int(np.flatnonzero(later)[0])
        raise DataError(f"column {start!r}: {int(later.sum()):,} subscription(s) start after "
                        f"{given('observation_end', observation_end)} (first: customer "
                        f"{show(ids.iloc[i])}, row {i}); leave them out or move "
                        f"{given('observation_end', observation_end).split('=')[0]} later")
    backwards = stop < begun
    if backwards.any():
        i = int(np.flatnonzero(backwards)[0])
        raise DataError(f"column {end!r}: {int(backwards.sum()):,} subscription(s) end before "
                        f"they start (first: customer {show(ids.iloc[i])}, row {i}); fix "
                        "those dates")
    cut = churned & (stop > last)
    if cut.any():  # cancelled after the observation end: still active on the last day seen
        churned = churned & ~cut
        stop[cut] = last
    begun_d, stop_d = begun.astype("datetime64[D]"), stop.astype("datetime64[D]")
    on_or_before = _anniversaries(begun_d, stop_d, period)
    renewals = on_or_before
    if churned.any():
        strictly = _anniversaries(begun_d, stop_d - np.timedelta64(1, "D"), period)
        on_anniversary = churned & (on_or_before > strictly) & (stop > begun)
        share = on_anniversary.sum() / churned.sum()
        if end_convention == "paid_through":
            renewals = np.where(churned, np.maximum(strictly, 0), on_or_before)
        elif churned.sum() >= 20 and share > 0.5:
            warnings.warn(
                f"{share:.0%} of the {int(churned.sum()):,} ends fall on an anniversary of "
                "their start, as in an export that writes the end as the start plus the "
                f"periods paid: if it is one, give {given('end_convention', 'paid_through')}"
                " (read as cancellation days, each such customer gets one period too many)",
                DataQualityWarning, stacklevel=2)
    periods = np.where(churned, renewals + 1, renewals)  # paid periods; renewals so far
    frame = pd.DataFrame({"T": periods, "churned": churned},
                         index=pd.Index(integer_ids(ids).to_numpy(), name="customer_id"))
    frame.attrs["time_unit"] = period
    frame.attrs["end_convention"] = end_convention
    return frame


def _anniversaries(begun: np.ndarray, stop: np.ndarray, period: str) -> np.ndarray:
    """How many period anniversaries of each start fall on or before its stop day (the
    renewals made): calendar months for "M", "Q", "Y" (the anniversary of a start on the
    29th-31st in a shorter month is that month's last day); whole days or weeks otherwise."""
    if period in ("D", "W"):
        return ((stop - begun).astype(np.int64) // int(days_per_unit(period))).astype(np.int64)
    step = {"M": 1, "Q": 3, "Y": 12}[period]
    month = stop.astype("datetime64[M]")
    months = (month - begun.astype("datetime64[M]")).astype(np.int64)
    day_of = lambda d: (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    last_day = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(
        np.int64) - 1
    # the stop's month holds the anniversary from its day min(start day, last day) on; it
    # counts only for months a whole number of periods after the start
    months -= day_of(stop) < np.minimum(day_of(begun), last_day)
    return np.floor_divide(months, step)


def simulate_subscriptions(n_customers: int, *, alpha: float, beta: float, periods: int,
                           seed=None, customers: pd.DataFrame | None = None,
                           coefficients: dict | None = None) -> pd.DataFrame:
    """Simulate the sBG frame of a cohort observed for ``periods`` periods: each customer's
    churn probability ``theta ~ Beta(alpha, beta)``, her lifetime geometric in ``theta`` (the
    periods she pays for), cut at ``periods`` (then still active).

    Parameters
    ----------
    n_customers : int
    alpha, beta : float
        The true parameters, > 0.
    periods : int
        Periods observed, >= 1.
    seed : int, optional
    customers : pandas.DataFrame, optional
        Covariates, one row per customer (its columns are joined to the result).
    coefficients : dict, optional
        ``{"alpha": {design column: value}, "beta": {...}}``: ``alpha_i = alpha exp(g'z_i)``
        (:func:`clvmodels.models.regression.simulation_parameters`).

    Returns
    -------
    pandas.DataFrame
        ``T`` and ``churned`` (and the covariates), one row per customer; ``attrs`` hold the
        true parameters.
    """
    if not (alpha > 0 and beta > 0 and periods >= 1):
        raise DataError("alpha and beta must be > 0 and periods >= 1")
    rng = np.random.default_rng(seed)
    n = check_count(n_customers, "n_customers", low=1)
    params = simulation_parameters(ShiftedBetaGeoModel.covariate_links,
                                   {"alpha": alpha, "beta": beta}, customers, coefficients)
    lifetime = rng.geometric(rng.beta(params["alpha"], params["beta"], n))
    churned = lifetime <= periods
    frame = pd.DataFrame({"T": np.where(churned, lifetime, periods), "churned": churned})
    if customers is not None:
        frame = pd.concat([frame.set_axis(customers.index), customers], axis=1)
    frame.attrs.update(alpha=alpha, beta=beta, coefficients=coefficients or {})
    return frame


def check_durations(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``T`` (whole numbers >= 1; >= 0 for active customers) and ``churned`` (true/false) of an
    sBG frame, or a DataError naming the rule and the first offender."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a DataFrame with T and churned, not {type(frame).__name__}")
    require_columns(frame.columns, list(DURATION_COLUMNS), "the retention frame")
    if len(frame) == 0:
        raise DataError("the retention frame has no customers")
    T = pd.to_numeric(frame["T"], errors="coerce").to_numpy(dtype=np.float64)
    churned_values = frame["churned"]
    if churned_values.dtype.kind != "b":
        raise DataError("churned must be true/false (whether the customer cancelled)")
    churned = churned_values.to_numpy(dtype=bool)
    bad = ~np.isfinite(T) | (T != np.round(T)) | (T < np.where(churned, 1, 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"T must be a whole number of periods, >= 1 for a customer who cancelled "
                        f"(>= 0 for one still active); {int(bad.sum())} row(s) violate this "
                        f"(first: {show(frame.index[i])}, T = {show(T[i])})")
    return T, churned


def check_rate(discount_rate) -> None:
    """A DataError unless ``discount_rate`` is a finite number > 0 (per period)."""
    if not (isinstance(discount_rate, (int, float, np.integer, np.floating))
            and not isinstance(discount_rate, bool) and np.isfinite(discount_rate)
            and discount_rate > 0):
        raise DataError(f"{given('discount_rate', discount_rate)}: the discount rate must be a "
                        "finite number > 0 per period (such as 0.01) for a lifetime value")


def check_periods(periods, low: int = 0) -> np.ndarray:
    """``periods`` as a 1-d float array of whole numbers >= ``low``; a DataError naming the
    first that is not (a negative, fractional or missing period has no survival)."""
    values = check_numbers(periods, "periods", f"whole numbers >= {low}")
    bad = ~(np.isfinite(values) & (values >= low) & (values == np.round(values)))
    if bad.any():
        raise DataError(f"periods must be whole numbers >= {low}: {show(values[bad][0])} is "
                        f"not ({int(bad.sum())} of {len(values)})")
    return values


@dataclass
class Durations:
    """sBG's prepared data: the distinct (T, churned) rows and how many customers each is."""

    T: np.ndarray
    churned: np.ndarray
    weights: np.ndarray
    facts: dict = field(default_factory=dict)

    @property
    def n(self) -> float:
        """Customers."""
        return float(self.weights.sum())


class ShiftedBetaGeoModel:
    """sBG: each customer renews at the end of every period with probability ``1 - theta``,
    ``theta ~ Beta(alpha, beta)`` across customers (Fader & Hardie 2007). The specification and
    its predictions, written once over parameter draws."""

    name = "sbg"
    title = "shifted-beta-geometric"
    kind = "retention"
    param_names = ("alpha", "beta")
    columns = DURATION_COLUMNS
    # covariates (plan, channel) move both shapes of the churn probability's Beta
    # distribution: alpha_i = alpha_0 exp(g1'z), beta_i = beta_0 exp(g2'z)
    covariate_links = {"dropout": (("alpha", 1, "alpha"), ("beta", 1, "beta"))}

    # -- specification -------------------------------------------------------------------------
    def prepare(self, frame: pd.DataFrame, weights=None) -> Durations:
        """The distinct (T, churned) rows with their counts.

        Parameters
        ----------
        frame : pandas.DataFrame
            ``T`` and ``churned``, one row per customer (or group, with ``weights``); a
            ``weights`` column is used when ``weights`` is not given.
        weights : numpy.ndarray, optional

        Returns
        -------
        Durations
        """
        T, churned = check_durations(frame)
        if weights is None and "weights" in frame:
            weights = frame["weights"].to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(weights) & (weights >= 0)):
                raise DataError("the weights column must hold customer counts >= 0")
        if not (churned if weights is None else churned & (weights > 0)).any():
            raise DataError("no customer cancelled, so retention cannot be estimated: it runs off "
                            "to 1; observe longer")
        first, inverse, counts = unique_rows(T, churned.astype(np.float64))
        if weights is not None:
            counts = np.bincount(inverse, weights=weights, minlength=len(first))
        return Durations(T[first], churned[first], counts.astype(np.float64))

    def row_columns(self, frame: pd.DataFrame):
        """``T`` and ``churned`` per row (all rows used).

        Parameters
        ----------
        frame : pandas.DataFrame

        Returns
        -------
        (list of numpy.ndarray, None)
        """
        T, churned = check_durations(frame)
        return [T, churned.astype(np.float64)], None

    def row_weights(self, frame: pd.DataFrame):
        """The frame's ``weights`` column (customers per row of a cohort table), or None.

        Parameters
        ----------
        frame : pandas.DataFrame

        Returns
        -------
        numpy.ndarray or None
        """
        return frame["weights"].to_numpy(dtype=np.float64) if "weights" in frame else None

    def row_loglik_grad(self, params, columns):
        """Per-customer log-likelihood and gradient (:func:`clvmodels._math.sbg.row_loglik_grad`).

        Parameters
        ----------
        params : list
        columns : list of numpy.ndarray

        Returns
        -------
        (numpy.ndarray, list of numpy.ndarray)
        """
        T, churned = columns
        return sbg.row_loglik_grad(*params, T, churned > 0)

    def subsample(self, data: Durations, fraction: float, rng) -> Durations:
        """A random share of the customers.

        Parameters
        ----------
        data : Durations
        fraction : float
        rng : numpy.random.Generator

        Returns
        -------
        Durations
        """
        kept = rng.binomial(np.round(data.weights).astype(np.int64), fraction).astype(float)
        rows = kept > 0
        return Durations(data.T[rows], data.churned[rows], kept[rows])

    def initial_params(self, data: Durations) -> np.ndarray:
        """A first guess: alpha = beta = 1.

        Parameters
        ----------
        data : Durations

        Returns
        -------
        numpy.ndarray
        """
        return np.array([1.0, 1.0])

    def loglik_grad(self, params, data: Durations):
        """Total log-likelihood (Fader & Hardie 2007, eq. 7) and its gradient.

        Parameters
        ----------
        params : numpy.ndarray
            alpha, beta.
        data : Durations

        Returns
        -------
        (float, numpy.ndarray)
        """
        return sbg.total_loglik_grad(*params, data.T, data.churned, data.weights)

    def loglik_tensor(self, params: dict, data: Durations, xp):
        """The same total as a PyTensor expression.

        Parameters
        ----------
        params : dict
        data : Durations
        xp : namespace

        Returns
        -------
        pytensor.tensor.TensorVariable
        """
        import pytensor.tensor as pt

        ll = sbg.loglik(params["alpha"], params["beta"], data.T, data.churned, xp=xp)
        return pt.dot(data.weights, ll)

    def default_priors(self, data: Durations) -> dict:
        """``log(alpha), log(beta) ~ N(0, 2)``.

        Parameters
        ----------
        data : Durations

        Returns
        -------
        dict
        """
        return {"alpha": (0.0, 2.0), "beta": (0.0, 2.0)}

    # -- predictions ---------------------------------------------------------------------------
    def _by_period(self, formula, values, max_draws, name, customers=None, low=0):
        self.check_fitted()
        values = check_periods(values, low)
        alpha, beta = self._new_customer_parameters(self.parameter_draws(max_draws), customers)
        out = row_means(formula(alpha[..., None], beta[..., None], values[None, None, :]))
        if customers is not None:
            return pd.DataFrame(out, index=customers.index,
                                columns=pd.Index(values, name="period"))
        return pd.Series(out[0], index=pd.Index(values, name="period"), name=name)

    def survival(self, periods, *, max_draws=None, customers=None):
        """S(t), the share of a new cohort still active after each of ``periods``.

        Parameters
        ----------
        periods : int or array-like
        max_draws : int, optional
        customers : pandas.DataFrame, optional
            New customers' covariate columns, one row each (needed with covariates).

        Returns
        -------
        pandas.Series or pandas.DataFrame
            Indexed by period (posterior means for a Bayesian fit); with ``customers``, one
            row per customer and a column per period.
        """
        return self._by_period(sbg.survival, periods, max_draws, "survival", customers)

    def retention_rate(self, periods, *, max_draws=None, customers=None):
        """The retention rate of each of ``periods``: S(t) / S(t - 1).

        Parameters
        ----------
        periods : int or array-like
            Periods >= 1.
        max_draws : int, optional
        customers : pandas.DataFrame, optional
            New customers' covariate columns, one row each (needed with covariates).

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        return self._by_period(sbg.retention_rate, periods, max_draws, "retention_rate",
                               customers, low=1)

    def discounted_expected_lifetime(self, discount_rate: float, *, max_draws=None,
                                     customers=None):
        """DEL: the expected discounted number of payments of a customer just acquired, the
        first one now (Fader & Hardie 2010).

        Parameters
        ----------
        discount_rate : float
            Per period, > 0.
        max_draws : int, optional
        customers : pandas.DataFrame, optional
            New customers' covariate columns, one row each (needed with covariates).

        Returns
        -------
        float or pandas.Series
            One value per customer with ``customers``.
        """
        self.check_fitted()
        check_rate(discount_rate)
        alpha, beta = self._new_customer_parameters(self.parameter_draws(max_draws), customers)
        values = row_means(sbg.discounted_expected_lifetime(alpha, beta, discount_rate))
        if customers is None:
            return float(values[0])
        return pd.Series(values, index=customers.index, name="discounted_expected_lifetime")

    def expected_residual_lifetime(self, frame: pd.DataFrame, discount_rate: float, *,
                                   interval=None, max_draws=None, return_draws=False):
        """DERL per customer: the expected discounted number of future payments of each
        customer still active after ``T`` periods, the next one at her coming renewal (Fader &
        Hardie 2010, eq. 6 with n = T + 1); 0 for those who cancelled. Times the margin per
        period, it is the customer's residual lifetime value.

        Parameters
        ----------
        frame : pandas.DataFrame
            ``T`` and ``churned`` per customer.
        discount_rate : float
            Per period, > 0.
        interval, max_draws, return_draws
            As every prediction (intervals need a Bayesian fit).

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        self.check_fitted()
        check_rate(discount_rate)
        T, churned = check_durations(frame)
        first, inverse, design = unique_with_covariates([T, churned.astype(np.float64)],
                                                        self._covariate_design(frame))
        t, gone = T[first][:, None], churned[first][:, None]
        params = self.customer_parameters(self.parameter_draws(max_draws, interval), design)

        def compute(rows):
            value = sbg.discounted_expected_residual_lifetime(*take_rows(params, rows),
                                                              discount_rate, t[rows] + 1)
            return np.where(gone[rows], 0.0, value)

        return self.summarise(compute, len(first), params, interval,
                              "expected_residual_lifetime", frame.index, expand=inverse,
                              return_draws=return_draws)


class ShiftedBetaGeo(ShiftedBetaGeoModel, MaximumLikelihoodModel):
    """The sBG model fitted by maximum likelihood.

    Parameters
    ----------
    penalizer : float, default 0

    Examples
    --------
    The "regular" cohort of Fader & Hardie (2007), customers active after 0-7 years:

    >>> import clvmodels
    >>> from clvmodels.models.shifted_beta_geo import cohort_frame
    >>> frame = cohort_frame([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> clvmodels.ShiftedBetaGeo().fit(frame).params_.round(3).tolist()
    [0.704, 1.182]
    """


class BayesianShiftedBetaGeo(ShiftedBetaGeoModel, BayesianModel):
    """The sBG model with a full posterior (PyMC); the same predictions as
    :class:`ShiftedBetaGeo`."""
