"""A purchase model and a spend model as one scorer: the table a CRM reads, one row per customer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import RFM_COLUMNS, check_rfm, unique_rows
from .exceptions import DataError
from .units import days_per_unit
from .value import check_value_settings, customer_value


def spend_fit_rows(rfm: pd.DataFrame) -> pd.DataFrame:
    """Gamma-Gamma needs a positive mean value per repeat purchase: customers whose repeat
    purchases are all worth 0 are left out of the spend fit (they are still scored)."""
    return rfm[(rfm["frequency"] == 0) | (rfm["monetary_value"] > 0)]


@dataclass
class ModelPair:
    """BG/NBD (``purchases``) and Gamma-Gamma (``spend``), maximum-likelihood or Bayesian."""

    purchases: object
    spend: object

    def __post_init__(self):
        for role, needs in (("purchases", ("expected_purchases", "probability_alive")),
                            ("spend", ("expected_spend",))):
            model = getattr(self, role)
            if not all(callable(getattr(model, name, None)) for name in needs):
                raise DataError(f"ModelPair({role}=...) needs a {role} model (with "
                                f"{', '.join(needs)}), not a {type(model).__name__}: pass the "
                                "purchase model first and the spend model second")

    @property
    def bayesian(self) -> bool:
        return hasattr(self.purchases, "idata_")

    def expected_purchases(self, rfm, t):
        return self.purchases.expected_purchases(rfm, t)

    def expected_spend(self, rfm):
        return self.spend.expected_spend(rfm)

    def probability_alive(self, rfm):
        return self.purchases.probability_alive(rfm)

    def probability_any_purchase(self, rfm, t):
        return self.purchases.probability_any_purchase(rfm, t)

    def score(self, rfm: pd.DataFrame, *, horizon: float = 12, discount_rate: float = 0.01,
              period: str = "M", interval: float = 0.94, max_draws: int | None = 500) -> pd.DataFrame:
        """One row per customer: the RFM columns, ``expected_purchases`` over ``horizon`` periods,
        ``probability_alive``, ``expected_spend`` and discounted ``clv`` (``customer_value``);
        a Bayesian pair adds ``clv_lower`` and ``clv_upper`` (equal-tailed ``interval``) and
        gives posterior means, over at most ``max_draws`` draws."""
        check_rfm(rfm, [*RFM_COLUMNS, "monetary_value"])
        check_value_settings(horizon, discount_rate)
        unit = self.purchases.time_unit_
        t = horizon * days_per_unit(period) / days_per_unit(unit)
        out = rfm.loc[:, [*RFM_COLUMNS, "monetary_value"]].copy()
        options = dict(max_draws=max_draws) if self.bayesian else {}
        # the purchase model's answers depend on the history only: compute them once per
        # unique (frequency, recency, T) row and spread them back
        first, inverse, _ = unique_rows(*(rfm[c].to_numpy(np.float64) for c in RFM_COLUMNS))
        histories = rfm.iloc[first]
        out["expected_purchases"] = self.purchases.expected_purchases(
            histories, t, **options).to_numpy()[inverse]
        out["probability_alive"] = self.purchases.probability_alive(
            histories, **options).to_numpy()[inverse]
        out["expected_spend"] = self.spend.expected_spend(rfm, **options)
        value = customer_value(self.purchases, self.spend, rfm, horizon=horizon,
                               discount_rate=discount_rate, period=period,
                               interval=interval if self.bayesian else None, **options)
        if self.bayesian:
            out["clv"], out["clv_lower"], out["clv_upper"] = (value[c] for c in
                                                               ("mean", "lower", "upper"))
        else:
            out["clv"] = value
        return out

    def save(self, path) -> None:
        """Both models in one JSON file (posteriors in netCDF files beside it)."""
        from .persistence import save_pair

        save_pair(self, path)

