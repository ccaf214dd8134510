"""Discounted customer lifetime value from a purchase model and a spend model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import RFM_COLUMNS, check_rfm, rfm_time_unit, unique_rows
from .units import days_per_unit

DISCOUNTING = ("periodic", "continuous")
GAUSS_NODES = 32  # Gauss-Legendre nodes for continuous discounting: exact to ~1e-12 here


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
) -> pd.Series:
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
    """
    check_rfm(rfm, RFM_COLUMNS)
    if discounting not in DISCOUNTING:
        raise ValueError(f"discounting must be one of {DISCOUNTING}, not {discounting!r}")
    if not (np.isfinite(horizon) and horizon >= 0):
        raise ValueError("horizon must be a number of periods >= 0")
    if not (np.isfinite(discount_rate) and discount_rate > -1):
        raise ValueError("discount_rate must be a rate per period > -1 (0.01 is 1 %)")
    unit = getattr(purchase_model, "time_unit_", None) or rfm_time_unit(rfm)
    if unit is None:
        raise ValueError("the model and the frame record no time unit: set rfm.attrs['time_unit']")
    length = days_per_unit(period) / days_per_unit(unit)

    x, t_x, T = (rfm[c].to_numpy(dtype=np.float64) for c in RFM_COLUMNS)
    first, inverse, _ = unique_rows(x, t_x, T)
    histories = rfm.iloc[first]

    def purchases(times: np.ndarray) -> np.ndarray:  # unique histories x times
        return purchase_model.expected_purchases_path(histories, times).to_numpy()

    if discounting == "periodic":
        steps = np.minimum(np.arange(1, int(np.ceil(horizon)) + 1), horizon)  # a last partial period
        cumulative = np.hstack([np.zeros((len(first), 1)), purchases(steps * length)])
        discounted = np.diff(cumulative, axis=1) @ (1 + discount_rate) ** -steps
    else:
        end = horizon * length
        rate = np.log1p(discount_rate) / length  # continuous rate per model time unit
        nodes, weights = np.polynomial.legendre.leggauss(GAUSS_NODES)
        taus = (nodes + 1) * end / 2
        path = purchases(np.r_[taus, end])
        integral = path[:, :-1] @ (weights * np.exp(-rate * taus)) * end / 2
        discounted = np.exp(-rate * end) * path[:, -1] + rate * integral

    spend = spend_model.expected_spend(rfm).to_numpy()
    return pd.Series(margin * spend * discounted[inverse], index=rfm.index, name="clv")
