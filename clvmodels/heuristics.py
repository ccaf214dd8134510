"""The heuristic CLV formulas that marketers use, exactly as written in practitioner guides.

Each formula is a plain function of its inputs (numbers or numpy arrays), named and documented
with the formula; see ``docs/heuristics.md`` for their sources. ``measure_inputs`` and
``retention_table`` measure the inputs of these formulas from a transaction log.

The worked coffee-chain case (averages over five customers):

>>> from clvmodels import heuristics as h
>>> s, c, a, t, r, p, i = 5.90, 4.2, 24.30, 20, 0.75, 0.213, 0.10
>>> simple = h.simple_ltv(a, t)
>>> custom = h.custom_ltv(s, c, p, t)
>>> traditional = h.traditional_ltv(p * simple, r, i)
>>> [round(v, 2) for v in (simple, custom, traditional, h.average_ltv(simple, custom, traditional))]
[25272.0, 5489.27, 11534.86, 14098.71]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .arguments import check_count, per_customer
from .periods import occasions, period_start_day
from .transactions import clean_transactions, run_starts
from .exceptions import DataError
from .units import UNIT_NAMES, check_unit

__all__ = [
    "LogInputs",
    "aov_frequency_lifespan_ltv",
    "arpu",
    "arpu_churn_ltv",
    "average_ltv",
    "average_order_value",
    "churn_rate",
    "custom_ltv",
    "customer_value_per_period",
    "hiatus_inactive",
    "lifespan_from_churn",
    "ltv_cac_ratio",
    "measure_inputs",
    "purchase_frequency",
    "repeat_customer_rate",
    "retention_rate",
    "retention_table",
    "rfm_score_edges",
    "rfm_scores",
    "rfm_segment_names",
    "simple_ltv",
    "traditional_ltv",
]


def _positive(value, name: str):
    value = np.asarray(value, dtype=np.float64)
    if np.any(value <= 0):
        raise DataError(f"{name} must be > 0")
    return value


def _scalar(value):
    return float(value) if np.ndim(value) == 0 else value


# ---------------------------------------------------------------------------------------------
# per-period averages: the building blocks


def average_order_value(revenue, orders):
    """AOV = total revenue / number of orders."""
    return _scalar(np.asarray(revenue, dtype=np.float64) / _positive(orders, "orders"))


def purchase_frequency(orders, customers):
    """Purchase frequency = number of orders in a period / unique customers in that period."""
    return _scalar(np.asarray(orders, dtype=np.float64) / _positive(customers, "customers"))


def customer_value_per_period(aov, frequency):
    """Customer value (per period) = purchase frequency x AOV."""
    return _scalar(np.asarray(frequency, dtype=np.float64) * np.asarray(aov, dtype=np.float64))


def repeat_customer_rate(repeat_customers, customers):
    """Repeat customer rate = customers with more than one purchase / unique customers."""
    return _scalar(np.asarray(repeat_customers, dtype=np.float64) / _positive(customers, "customers"))


def retention_rate(customers_start, customers_end, customers_new):
    """Retention rate = (E - N) / S as a fraction (x 100 for the percentage), with S customers at
    the start of the period, E at its end and N acquired during it.

    >>> retention_rate(200, 180, 30)
    0.75
    """
    start = _positive(customers_start, "customers_start")
    end = np.asarray(customers_end, dtype=np.float64)
    new = np.asarray(customers_new, dtype=np.float64)
    if np.any(new < 0) or np.any(new > end) or np.any(end - new > start):
        raise DataError("customers_new must be from 0 to customers_end, and customers_end - "
                         "customers_new (those kept) at most customers_start: the counts do not "
                         "describe one period")
    return _scalar((end - new) / start)


def churn_rate(retention):
    """Churn rate = 1 - retention rate (fractions)."""
    retention = np.asarray(retention, dtype=np.float64)
    if not np.all((retention >= 0) & (retention <= 1)):
        raise DataError("retention must be a fraction in [0, 1] (0.75, not 75)")
    return _scalar(1.0 - retention)


def arpu(revenue, months):
    """ARPU: revenue from each customer / months as a customer, averaged over customers."""
    return float(np.mean(np.asarray(revenue, dtype=np.float64) / _positive(months, "months")))


def lifespan_from_churn(churn):
    """Average customer lifespan, in periods, implied by a constant churn rate per period:
    1 / churn (the mean of the geometric number of periods a customer stays)."""
    return _scalar(1.0 / _positive(churn, "churn rate"))


# ---------------------------------------------------------------------------------------------
# the LTV formulas


def simple_ltv(weekly_spend, lifespan_years, weeks_per_year=52):
    """Simple LTV = a x 52 x t: average spend per week a, lifespan t in years."""
    return _scalar(np.asarray(weekly_spend, dtype=np.float64) * weeks_per_year * lifespan_years)


def custom_ltv(spend_per_visit, visits_per_week, margin, lifespan_years, weeks_per_year=52):
    """Custom LTV = t x (52 x s x c x p): spend per visit s, visits per week c, margin p."""
    s, c = np.asarray(spend_per_visit, dtype=np.float64), np.asarray(visits_per_week, dtype=np.float64)
    return _scalar(lifespan_years * (weeks_per_year * s * c * margin))


def traditional_ltv(lifetime_margin, retention_rate, discount_rate):
    """Traditional LTV = m x r / (1 + i - r): lifetime gross margin m, retention r, discount i.

    ``m x r / (1 + i - r)`` is the sum over periods k >= 1 of ``m r^k / (1 + i)^k``."""
    r = np.asarray(retention_rate, dtype=np.float64)
    if np.any((r < 0) | (r > 1)):
        raise DataError("retention_rate must be a fraction in [0, 1]")
    denominator = _positive(1.0 + np.asarray(discount_rate, dtype=np.float64) - r,
                            "1 + discount_rate - retention_rate")
    return _scalar(np.asarray(lifetime_margin, dtype=np.float64) * r / denominator)


def average_ltv(*ltvs):
    """Average LTV = (Simple LTV + Custom LTV + Traditional LTV) / 3 (any number of LTVs)."""
    if not ltvs:
        raise DataError("give at least one LTV to average")
    return _scalar(np.mean(np.asarray(ltvs, dtype=np.float64), axis=0))


def arpu_churn_ltv(arpu, churn_rate, margin=1.0):
    """Subscription LTV = ARPU / churn rate x gross margin (monthly ARPU, monthly churn)."""
    return _scalar(np.asarray(arpu, dtype=np.float64) * margin / _positive(churn_rate, "churn_rate"))


def aov_frequency_lifespan_ltv(aov, frequency, lifespan):
    """The "simplest" LTV = AOV x purchase frequency x lifespan (frequency per period, lifespan in
    periods)."""
    return _scalar(np.asarray(aov, dtype=np.float64) * frequency * lifespan)


def ltv_cac_ratio(ltv, cac):
    """LTV : CAC; guides ask for at least 3 for a healthy subscription business."""
    return _scalar(np.asarray(ltv, dtype=np.float64) / _positive(cac, "cac"))


# ---------------------------------------------------------------------------------------------
# segmentation

SEGMENTS = (  # (name, recency scores, frequency-monetary scores); first match wins
    ("champions", (4, 5), (4, 5)),
    ("loyal", (3, 5), (3, 5)),
    ("new or promising", (4, 5), (1, 2)),
    ("at risk", (1, 2), (3, 5)),
    ("needs attention", (3, 3), (1, 2)),
    ("hibernating", (1, 2), (1, 2)),
)


def _rfm_dimensions(rfm: pd.DataFrame) -> dict:
    """The three RFM dimensions, each oriented so that larger is better."""
    dims = {"R": -(rfm["T"] - rfm["recency"]).to_numpy(float),
            "F": rfm["frequency"].to_numpy(float)}
    if "monetary_value" in rfm:
        dims["M"] = rfm["monetary_value"].to_numpy(float)
    return dims


def rfm_score_edges(rfm: pd.DataFrame, bins: int = 5) -> dict:
    """Inner quantile edges (at 1/bins, ..., (bins-1)/bins) of each RFM dimension of ``rfm``."""
    bins = check_count(bins, "bins", low=2)
    levels = np.arange(1, bins) / bins
    return {k: np.quantile(v, levels) for k, v in _rfm_dimensions(rfm).items()}


def rfm_scores(rfm: pd.DataFrame, bins: int = 5, edges: dict | None = None) -> pd.DataFrame:
    """Quintile scores 1..``bins`` per dimension (``bins`` best): R from the time since the last
    purchase (``T - recency``, shorter is better), F from ``frequency``, M from
    ``monetary_value`` (1 without it). ``edges`` (:func:`rfm_score_edges` of a reference frame)
    score new customers on the reference's scale; by default ``rfm`` is its own reference.
    A value equal to an edge takes the lower score, so ties share a score."""
    edges = rfm_score_edges(rfm, bins) if edges is None else edges
    dims = _rfm_dimensions(rfm)
    scores = {k: 1 + np.searchsorted(edges[k], dims[k], side="left") if k in dims
              else np.ones(len(rfm), dtype=np.int64) for k in ("R", "F", "M")}
    return pd.DataFrame(scores, index=rfm.index)


def rfm_segment_names(scores: pd.DataFrame) -> pd.Series:
    """Named segments from R and the mean of F and M (see ``SEGMENTS``)."""
    fm = np.round((scores["F"] + scores["M"]) / 2)
    names = np.full(len(scores), "others", dtype=object)
    for name, (r_lo, r_hi), (fm_lo, fm_hi) in reversed(SEGMENTS):
        hit = scores["R"].between(r_lo, r_hi) & fm.between(fm_lo, fm_hi)
        names[hit.to_numpy()] = name
    return pd.Series(names, index=scores.index, name="segment")


def hiatus_inactive(recency, T, hiatus):
    """Hiatus rule: a customer is inactive when the time since the last purchase, ``T - recency``,
    exceeds ``hiatus`` (all in one time unit). Series are matched by customer label."""
    recency, T = per_customer(recency=recency, T=T)
    return T.astype(np.float64) - recency.astype(np.float64) > hiatus


# ---------------------------------------------------------------------------------------------
# the inputs of the formulas, measured from a transaction log


def _active_periods(transactions, period, customer, date, amount):
    """The checked log, its distinct (customer, period) pairs (customer codes and period
    ordinals, sorted by customer then period) and each customer's first period."""
    check_unit(period)
    tx = clean_transactions(transactions, customer=customer, date=date, amount=amount, last_day=None)
    codes, ordinal, _ = occasions(tx, period)
    first = ordinal[run_starts(codes)]  # every customer has a pair; the first is the earliest
    return tx, codes, ordinal, first


def _label(ordinal: np.ndarray, period: str) -> pd.Index:
    days = period_start_day(ordinal, period).astype("datetime64[D]")
    return pd.Index(days, name=f"{UNIT_NAMES[period]} starting")


def retention_table(transactions, *, period: str = "M", customer: str = "customer_id",
                    date: str = "date") -> pd.DataFrame:
    """Per calendar period (``"D"``, ``"W"``, ``"M"``, ``"Q"``, ``"Y"``): S = customers who bought
    in the previous period, E = customers who bought in this one, N = customers whose first
    purchase is in this one, R = returning customers (bought in this period and earlier, but
    not in the previous one), and ``retention_rate`` = (E - N - R) / S, the share of the previous
    period's customers who bought again in this one (NaN where S = 0).

    The formula (docs/heuristics.md) writes retention as (E - N) / S, which counts a lapsed customer who comes
    back as retained and can exceed 1; returning customers are neither new nor retained, so
    they are taken out too (where none return, the two agree)."""
    _, codes, ordinal, first = _active_periods(transactions, period, customer, date, None)
    return _retention(codes, ordinal, first, period)


def _retention(codes: np.ndarray, active_periods: np.ndarray, first: np.ndarray,
               period: str) -> pd.DataFrame:
    span = np.arange(active_periods.min(), active_periods.max() + 1)
    active = np.bincount(active_periods - span[0], minlength=span.size)
    new = np.bincount(first - span[0], minlength=span.size)
    # a pair is retained when the same customer's previous pair is the previous period
    kept = np.zeros(len(codes), dtype=bool)
    kept[1:] = (codes[1:] == codes[:-1]) & (active_periods[1:] == active_periods[:-1] + 1)
    retained = np.bincount(active_periods[kept] - span[0], minlength=span.size)
    start = np.concatenate([[0], active[:-1]])
    return pd.DataFrame({
        "customers_start": start,
        "customers_end": active,
        "customers_new": new,
        "customers_returning": active - new - retained,
        "retention_rate": np.divide(retained, start, out=np.full(span.size, np.nan),
                                    where=start > 0),
    }, index=_label(span, period))


@dataclass(frozen=True)
class LogInputs:
    """Formula inputs measured from a transaction log (``period`` is the unit of the rates)."""

    period: str
    customers: int
    orders: int
    revenue: float
    average_order_value: float
    purchase_frequency: float  # orders per customer per period, over periods as a customer
    customer_value_per_period: float
    repeat_customer_rate: float
    retention_rate: float  # mean of (E - N - R) / S over the periods with S > 0
    churn_rate: float
    lifespan: float  # in periods, 1 / churn
    arpu: float  # revenue per customer per period as a customer, averaged

    def as_series(self) -> pd.Series:
        return pd.Series(asdict(self))


def measure_inputs(transactions, *, period: str = "M", customer: str = "customer_id",
                   date: str = "date", amount: str = "amount") -> LogInputs:
    """Measure AOV, purchase frequency, repeat rate, retention, churn, lifespan and ARPU.

    Orders are transactions (rows). A customer's time as a customer counts the periods from their
    first period to the log's last period, both included.

    >>> import clvmodels
    >>> inputs = measure_inputs(clvmodels.load_cdnow(), period="M")
    >>> round(inputs.average_order_value, 2), round(inputs.repeat_customer_rate, 3)
    (35.28, 0.489)
    """
    tx, codes, ordinal, first = _active_periods(transactions, period, customer, date, amount)
    periods = (ordinal.max() - first + 1).astype(np.float64)
    orders = np.bincount(tx.codes, minlength=len(tx.ids))
    revenue = np.bincount(tx.codes, weights=tx.amount, minlength=len(tx.ids))
    measured = _retention(codes, ordinal, first, period)["retention_rate"].dropna()
    if measured.empty:
        raise DataError(f"the log spans one {UNIT_NAMES[period][:-1]}: retention needs at least two")
    retention = float(measured.mean())
    aov = average_order_value(revenue.sum(), orders.sum())
    frequency = purchase_frequency(orders.sum(), periods.sum())
    return LogInputs(
        period=period, customers=len(tx.ids), orders=int(orders.sum()), revenue=float(revenue.sum()),
        average_order_value=aov, purchase_frequency=frequency,
        customer_value_per_period=customer_value_per_period(aov, frequency),
        repeat_customer_rate=repeat_customer_rate((orders > 1).sum(), len(tx.ids)),
        retention_rate=retention, churn_rate=churn_rate(retention),
        lifespan=lifespan_from_churn(churn_rate(retention)) if retention < 1 else np.inf,
        arpu=arpu(revenue, periods),
    )
