"""Discounted customer lifetime value from a purchase model and a spend model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .migration import argument_hint
from .data import RFM_COLUMNS, check_rfm, rfm_time_unit, unique_rows
from .exceptions import DataError
from .interface import given
from .draws import CHUNK_ELEMENTS, summarise_draws
from .units import check_unit, days_per_unit

DISCOUNTING = ("periodic", "continuous")
GAUSS_NODES = 32  # Gauss-Legendre nodes per panel for continuous discounting
MAX_PERIODS = 10_000  # longest horizon, in periods: 833 years of months, 27 years of days


def discount_schedule(horizon: float, discount_rate: float, length: float, discounting: str,
                      start: float = 0.0):
    """Times ``t_k`` and coefficients ``c_k`` such that the discounted expected purchases of
    the periods from ``start`` to ``start + horizon`` are ``sum_k c_k E(t_k)``, with ``E(t)``
    the cumulative expected purchases (see customer_value); discounted to now."""
    horizon, discount_rate, start = float(horizon), float(discount_rate), float(start)
    if horizon == 0:  # an empty window is worth nothing: one time with a zero coefficient
        return np.array([max(start, 1.0) * length]), np.zeros(1)
    if discounting == "periodic":
        # periods start+1 .. start+horizon, the last possibly partial, each discounted at its end
        steps = start + np.minimum(np.arange(1, int(np.ceil(horizon)) + 1), horizon)
        factors = (1.0 + discount_rate) ** -steps
        coefficients = factors - np.r_[factors[1:], 0.0]  # summation by parts
        if start == 0:  # E(0) = 0
            return steps * length, coefficients
        return np.r_[start, steps] * length, np.r_[-factors[0], coefficients]
    begin, end = start * length, (start + horizon) * length
    rate = np.log1p(discount_rate) / length  # continuous rate per model time unit
    # by parts: integral over (begin, end] of e^(-rate t) dE(t) = e^(-rate end) E(end)
    # - e^(-rate begin) E(begin) + rate * integral E(t) e^(-rate t) dt, the integral by
    # Gauss-Legendre on panels short enough for the discount factor to vary by at most e^4
    panels = int(min(max(np.ceil(rate * (end - begin) / 4), 1), 64))
    nodes, weights = np.polynomial.legendre.leggauss(GAUSS_NODES)
    width = (end - begin) / panels
    starts = begin + np.arange(panels)[:, None] * width
    taus = (starts + (nodes + 1) * width / 2).ravel()
    w = np.tile(weights, panels) * width / 2
    times = np.r_[taus, end]
    coefficients = np.r_[rate * w * np.exp(-rate * taus), np.exp(-rate * end)]
    if start == 0:
        return times, coefficients
    return np.r_[begin, times], np.r_[-np.exp(-rate * begin), coefficients]


def distinct_customers(rfm: pd.DataFrame, models) -> tuple[np.ndarray, np.ndarray]:
    """The customers whose predictions from every one of ``models`` must be the same: those
    with the same values in every column the models declare they read (``columns``) and in
    their covariates. Returns ``(first, inverse)``: one customer of each group, and each
    customer's group. Where a model declares no columns, or a customer's own path of covariates
    over time (``compress_rows`` False), every customer is her own group."""
    names = []
    for model in models:
        declared = getattr(model, "columns", None)
        if declared is None or not getattr(model, "compress_rows", True):
            every = np.arange(len(rfm))
            return every, every
        covariates = {c for cols in (getattr(model, "covariates", None) or {}).values()
                      for c in cols}
        names += [c for c in (*declared, *sorted(covariates)) if c not in names]
    missing = [c for c in names if c not in rfm.columns]
    if missing or not len(rfm):  # the models' own checks name what is missing
        every = np.arange(len(rfm))
        return every, every
    first, inverse, _ = unique_rows(*(rfm[c].to_numpy() for c in names))
    return first, inverse


def check_value_settings(horizon, discount_rate, margin=1.0) -> None:
    """A DataError unless the horizon, the discount rate and the margin are usable."""
    def number(v):
        return (isinstance(v, (int, float, np.integer, np.floating))
                and not isinstance(v, (bool, np.bool_)) and bool(np.isfinite(v)))

    if not (number(horizon) and 0 <= horizon <= MAX_PERIODS):
        raise DataError(f"{given('horizon', horizon)}: the horizon must be a number of periods "
                        f"from 0 to {MAX_PERIODS:,}; for longer ones count in a longer period "
                        f"({given('period', 'Y')})")
    if not (number(discount_rate) and discount_rate >= 0):
        raise DataError(f"{given('discount_rate', discount_rate)}: the discount rate must be a "
                        "rate per period >= 0, such as 0.01 for 1 %")
    if not (number(margin) and margin >= 0):
        raise DataError(f"{given('margin', margin)}: the margin must be a finite number >= 0")


def customer_value(
    purchase_model,
    spend_model,
    rfm: pd.DataFrame,
    *,
    horizon: float = 12,
    discount_rate: float = 0.01,
    period: str = "M",
    discounting: str = "periodic",
    margin: float = 1.0,
    interval: float | None = None,
    max_draws: int | None = None,
    time_unit: str | None = None,
    return_draws: bool = False,
    start: float = 0.0,
    **unknown,
):
    r"""Discounted expected value of each customer over the next ``horizon`` periods.

    ``horizon`` counts periods of length ``period`` (default months of 30.4375 days, whatever the
    model's time unit: 4.348 weeks, 30.4375 days) and ``discount_rate`` is per period, as in
    lifetimes' ``customer_lifetime_value``. With ``E(t)`` the expected purchases in the next ``t``,
    ``L`` the period length in the model's time unit, ``m`` the expected spend and ``d`` the rate:

    periodic (cash flows of each period discounted at its end; a fractional horizon ends with a
    partial period discounted at the horizon):

    .. math:: \mathrm{CLV} = \mathrm{margin} \cdot m \sum_{k=1}^{H} \frac{E(kL) - E((k-1)L)}{(1+d)^k}

    continuous (each purchase discounted at the moment it happens):

    .. math:: \mathrm{CLV} = \mathrm{margin} \cdot m \int_0^{HL} (1+d)^{-\tau/L}\, dE(\tau)

    evaluated by parts with Gauss-Legendre quadrature.

    With Bayesian models the value is computed draw by draw (purchase and spend draws paired),
    so the posterior of CLV carries the uncertainty of both; the result is its posterior mean,
    and with ``interval=0.94`` a DataFrame of ``mean``, ``lower``, ``upper`` (equal-tailed).
    ``max_draws`` thins the posterior. Work is done in chunks of customers, so memory is bounded.

    Parameters
    ----------
    purchase_model, spend_model
        Fitted models following the purchase- and spend-model protocols (``scoring.py``).
    rfm : pandas.DataFrame
        The customers.
    horizon : float
        Periods ahead, 0 to 10,000.
    discount_rate : float
        Per period, >= 0.
    period : {"D", "W", "M", "Q", "Y"} or float
        The period's length: a unit, or a number of the model's time units (lifetimes' month
        at ``freq="D"`` is 30: ``period=30``).
    discounting : {"periodic", "continuous"}
    margin : float
        Multiplies the value (>= 0).
    interval : float, optional
    max_draws : int, optional
    time_unit : str, optional
        The unit of a frame that records none.
    start : float, default 0
        Value the periods from ``start`` to ``start + horizon`` (years 3-5:
        ``start=2, horizon=3, period="Y"``), discounted to now.
    return_draws : bool, default False
        The value per customer and draw (at most 10,000 customers; for the whole base's total
        with an interval, :func:`clvmodels.total`).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        The value per customer; with ``interval``, ``mean``, ``lower``, ``upper``.

    Examples
    --------
    >>> import clvmodels
    >>> rfm = clvmodels.rfm_summary(clvmodels.load_cdnow(), time_unit="W", amount="amount")
    >>> bg, gg = clvmodels.BetaGeo().fit(rfm), clvmodels.GammaGamma().fit(rfm)
    >>> round(float(clvmodels.customer_value(bg, gg, rfm, horizon=12).sum()))
    67968
    """
    if unknown:  # a peer's habit (lifetimes' time=, freq=) gets the native name
        name = sorted(unknown)[0]
        raise TypeError(f"customer_value() got an unexpected keyword argument {name!r}"
                        + argument_hint(name))
    for model, role, needs in ((purchase_model, "purchase_model", "discounted_purchases"),
                               (spend_model, "spend_model", "spend_draws")):
        if not callable(getattr(model, needs, None)):
            raise DataError(f"{role} must be a fitted {role.split('_')[0]} model (one with "
                            f"{needs}), not a {type(model).__name__}: pass the purchase model "
                            "first and the spend model second")
    check_rfm(rfm, RFM_COLUMNS)
    numeric_period = isinstance(period, (int, float, np.integer, np.floating)) and not isinstance(
        period, (bool, np.bool_))
    if numeric_period:
        if not (np.isfinite(period) and period > 0):
            raise DataError(f"{given('period', period)}: a period given as a number is its "
                            "length in the model's time unit, a number > 0")
    else:
        check_unit(period, "period")
    if discounting not in DISCOUNTING:
        raise DataError(f"{given('discounting', discounting)}: use one of {DISCOUNTING}")
    check_value_settings(horizon, discount_rate, margin)
    if time_unit is not None and rfm_time_unit(rfm) is None:
        rfm = rfm.copy()
        rfm.attrs["time_unit"] = time_unit
    unit = getattr(purchase_model, "time_unit_", None) or rfm_time_unit(rfm)
    if unit is None:
        raise DataError("the model and the frame record no time unit: set rfm.attrs['time_unit']")
    if not (isinstance(start, (int, float, np.integer, np.floating))
            and not isinstance(start, (bool, np.bool_)) and np.isfinite(start)
            and 0 <= start <= MAX_PERIODS):
        raise DataError(f"{given('start', start)}: the window must start at a number of periods "
                        f"from 0 to {MAX_PERIODS:,}")
    length = float(period) if numeric_period else days_per_unit(period) / days_per_unit(unit)
    times, coefficients = discount_schedule(horizon, discount_rate, length, discounting, start)

    purchases, n_histories, inverse = purchase_model.discounted_purchases(
        rfm, times, coefficients, max_draws, interval=interval)
    spend = spend_model.spend_draws(rfm, max_draws, interval=interval)
    draws_p, draws_s = purchases(np.arange(1)).shape[1], spend(np.arange(1)).shape[1]
    n_draws = min(draws_p, draws_s) if min(draws_p, draws_s) > 1 else max(draws_p, draws_s)
    if n_histories * draws_p <= CHUNK_ELEMENTS:  # small enough to evaluate every history once
        table = purchases(np.arange(n_histories))
        purchases = table.__getitem__

    # customers with the same inputs to both models have the same value: computed once (on a
    # typical log about half the customers never bought again and share a handful of rows)
    first, customer_row = distinct_customers(rfm, (purchase_model, spend_model))

    def compute(rows):
        customers = first[rows]
        p, s = purchases(inverse[customers]), spend(customers)
        if p.shape[1] > 1 and s.shape[1] > 1:
            p, s = p[:, :n_draws], s[:, :n_draws]
        return margin * s * p

    # two maximum-likelihood models: their estimates are draw 0 of each, the point value
    both_mle = all(getattr(m, "engine", "") == "mle" for m in (purchase_model, spend_model))
    if interval is not None and n_draws == 1 and not return_draws:
        raise DataError("an interval needs parameter draws, and neither model has them")
    return summarise_draws(compute, len(first), n_draws, interval, "clv", rfm.index,
                           expand=customer_row, return_draws=return_draws,
                           center="first" if both_mle else "mean")
