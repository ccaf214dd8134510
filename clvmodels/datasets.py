"""Data sets: the CDNOW logs that ship inside the lifetimes package, and a BG/NBD + Gamma-Gamma simulator."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd

from .arguments import check_count
from .models.beta_geo import BetaGeoModel
from .models.gamma_gamma import GammaGammaModel
from .models.modified_beta_geo import ModifiedBetaGeoModel
from .models.pareto_nbd import ParetoNBDModel
from .models.regression import simulation_parameters
from .units import days_per_unit

CDNOW_FILES = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}

# Maximum-likelihood estimates on the CDNOW sample in weeks (Fader, Hardie & Lee 2005, Table 1;
# Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value"): the simulator's defaults.
CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
# Pareto/NBD on the same sample (Fader, Hardie & Lee 2005, "RFM and CLV", weeks)
CDNOW_PNBD = {"r": 0.5534, "alpha": 10.5776, "s": 0.6061, "beta": 11.6689}


def _lifetimes_data_dir() -> str:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the CDNOW data ship inside the 'lifetimes' package: pip install lifetimes==0.11.3"
        )
    return os.path.join(list(spec.submodule_search_locations)[0], "datasets")


def lifetimes_data_file(name: str) -> str:
    """The path of a data file shipped in the lifetimes package (``donations.csv``,
    ``cdnow_customers_summary.csv``, ...), for :mod:`clvmodels.compat.lifetimes.datasets`."""
    path = os.path.join(_lifetimes_data_dir(), os.path.basename(name))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"lifetimes ships no data file {name!r}: choose from "
                                f"{sorted(os.listdir(_lifetimes_data_dir()))}")
    return path


def load_cdnow(kind: str = "sample") -> pd.DataFrame:
    """CDNOW transactions: columns ``customer_id``, ``date`` (datetime64), ``amount`` (float).

    ``kind="sample"``: the 1/10th sample of the BG/NBD paper, 2,357 customers and 6,919 rows, ids
    1..2357 as in the paper's summary. ``kind="master"``: 23,570 customers, 69,659 rows. Both cover
    1997-01-01 to 1998-06-30; the customers made their first purchase in the first quarter of 1997.

    Parameters
    ----------
    kind : {"sample", "master"}

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> tx = load_cdnow()
    >>> tx.shape, tx.customer_id.nunique()
    ((6919, 3), 2357)
    """
    if kind not in CDNOW_FILES:
        raise ValueError(f"kind must be one of {list(CDNOW_FILES)}, not {kind!r}")
    path = os.path.join(_lifetimes_data_dir(), CDNOW_FILES[kind])
    if kind == "sample":  # master id, sample id, date, number of CDs, dollars
        raw = pd.read_csv(path, sep=r"\s+", header=None, usecols=[1, 2, 4],
                          names=["master_id", "customer_id", "date", "cds", "amount"])
    else:  # header line: customer_id date number_of_cds dollar_value
        raw = pd.read_csv(path, sep=r"\s+", header=0, usecols=[0, 1, 3],
                          names=["customer_id", "date", "cds", "amount"])
    return pd.DataFrame({
        "customer_id": raw["customer_id"].astype(np.int64),
        "date": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
        "amount": raw["amount"].astype(np.float64),
    })


def simulate_transactions(
    n_customers: int,
    *,
    bgnbd: dict | None = None,
    gamma_gamma: dict | None = None,
    time_unit: str = "W",
    acquisition_periods: float = 12.0,
    observation_periods: float = 78.0,
    start="1997-01-01",
    seed=None,
    model: str = "bgnbd",
    customers: pd.DataFrame | None = None,
    coefficients: dict | None = None,
) -> pd.DataFrame:
    """Simulate a transaction log from BG/NBD (or MBG/NBD, or Pareto/NBD) purchases and
    Gamma-Gamma spend, vectorised.

    Each customer has a purchase rate ``lambda ~ Gamma(r, rate=alpha)`` and a dropout probability
    ``p ~ Beta(a, b)``, makes a first purchase at a uniform time in the first ``acquisition_periods``,
    then repeat purchases as a Poisson process, and after each repeat purchase drops out with
    probability ``p`` (Fader, Hardie & Lee 2005, section 3); with ``model="mbgnbd"`` also right
    after the first purchase (Batislam et al. 2007). With ``model="pnbd"`` the customer instead
    dies at an exponential time of rate ``mu ~ Gamma(s, rate=beta)`` and buys at rate lambda
    until then (Schmittlein et al. 1987); ``bgnbd`` then holds r, alpha, s, beta (default: the
    CDNOW Pareto/NBD estimate). Every purchase's amount is
    ``Gamma(p, rate=nu)`` with ``nu ~ Gamma(q, rate=v)`` per customer (Fader & Hardie 2013).
    Parameters are in ``time_unit``; defaults are the CDNOW estimates in weeks. Timestamps keep
    the time of day, so several purchases may fall on one day.

    With ``customers`` (a table of covariates, row ``i`` customer ``i``: see
    :func:`clvmodels.simulate_customers`) and ``coefficients`` (``{parameter: {design column:
    value}}``, e.g. ``{"alpha": {"channel[search]": 0.4, "age": -0.2}, "a": {...}, "v": {...}}``)
    each customer's parameters are moved as a model with covariates moves them
    (:mod:`clvmodels.models.regression`: ``alpha_i = alpha exp(-g'z_i)``, ``a_i = a
    exp(g'z_i)``, ``beta_i = beta exp(-g'z_i)``, ``v_i = v exp(g'z_i)``), on the scale such a
    model fitted on ``customers`` reports: per standard deviation of a numeric column, per level
    against the reference.

    Returns columns ``customer_id`` (0..n-1), ``date``, ``amount``; ``attrs`` hold the true
    parameters and the ``observation_end``.

    Examples
    --------
    >>> tx = simulate_transactions(1000, seed=1)
    >>> tx.customer_id.nunique(), tx.attrs["observation_end"]
    (1000, '1998-07-01')
    """
    if model not in ("bgnbd", "mbgnbd", "pnbd"):
        raise ValueError(f"model must be 'bgnbd', 'mbgnbd' or 'pnbd', not {model!r}")
    bg = {**(CDNOW_PNBD if model == "pnbd" else CDNOW_BGNBD), **(bgnbd or {})}
    gg = {**CDNOW_GAMMA_GAMMA, **(gamma_gamma or {})}
    if observation_periods <= acquisition_periods:
        raise ValueError("observation_periods must exceed acquisition_periods")
    rng = np.random.default_rng(seed)
    n = check_count(n_customers, "n_customers", low=1)
    if customers is not None and len(customers) != n:
        raise ValueError(f"customers has {len(customers)} rows for {n} customers")
    links = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel,
             "pnbd": ParetoNBDModel}[model].covariate_links
    split = coefficients or {}
    true_bg, true_gg = bg, gg
    bg = simulation_parameters(links, bg, customers,
                               {k: v for k, v in split.items() if k not in gg})
    gg = simulation_parameters(GammaGammaModel.covariate_links, gg, customers,
                               {k: v for k, v in split.items() if k in gg})

    birth = rng.uniform(0.0, acquisition_periods, n)
    span = observation_periods - birth  # time each customer is observed after the first purchase
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], n)
    if model == "pnbd":  # purchases on the part of the window the customer lives through
        span = np.minimum(span, rng.exponential(1.0 / rng.gamma(bg["s"], 1.0 / bg["beta"], n)))
        x = arrivals = rng.poisson(lam * span)
    else:
        p_drop = rng.beta(bg["a"], bg["b"], n)
        arrivals = rng.poisson(lam * span)  # purchases a never-dying customer would make
        lifetime = rng.geometric(p_drop)  # repeat purchases until dropout, the last included
        if model == "mbgnbd":  # a dropout chance at the first purchase too
            lifetime -= 1
        x = np.minimum(arrivals, lifetime)

    # the first x of `arrivals` uniform order statistics on (0, span]: exponential spacings
    # E_1..E_x, the remaining arrivals + 1 - x spacings summed as one Gamma draw
    owner = np.repeat(np.arange(n), x)
    cum = np.r_[0.0, np.cumsum(rng.exponential(1.0, owner.size))]
    starts = np.r_[0, np.cumsum(x)[:-1]]
    within = cum[1:] - np.repeat(cum[starts], x)  # S_1..S_x of each customer
    total = cum[starts + x] - cum[starts] + rng.gamma(arrivals + 1 - x, 1.0)  # S_(N+1)
    times = within / np.repeat(total, x) * np.repeat(span, x)

    nu = rng.gamma(gg["q"], 1.0 / gg["v"], n)
    customer = np.r_[np.arange(n), owner]
    elapsed = np.r_[birth, np.repeat(birth, x) + times]
    amount = rng.gamma(gg["p"], 1.0 / nu[customer])

    unit_ns = days_per_unit(time_unit) * 86_400e9
    origin = pd.Timestamp(start).to_datetime64().astype("datetime64[ns]")
    order = np.lexsort((elapsed, customer))
    dates = origin + (elapsed[order] * unit_ns).astype("timedelta64[ns]")
    out = pd.DataFrame({"customer_id": customer[order], "date": dates, "amount": amount[order]})
    end = origin + np.timedelta64(int(observation_periods * unit_ns), "ns")
    out.attrs.update(
        bgnbd=true_bg, gamma_gamma=true_gg,
        coefficients=coefficients or {}, time_unit=time_unit,
        observation_end=str(end.astype("datetime64[D]")),
    )
    return out


# BG/BB on the donations data that ship with lifetimes (Fader, Hardie & Shang 2010, section 4)
DONATIONS_BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


def simulate_opportunities(
    n_customers: int,
    *,
    params: dict | None = None,
    opportunities: int = 6,
    period: str = "Y",
    start="1995-01-01",
    gamma_gamma: dict | None = None,
    seed=None,
) -> pd.DataFrame:
    """Simulate a transaction log from the BG/BB (Fader, Hardie & Shang 2010): one cohort whose
    first transactions fall in the period of ``start``, then ``opportunities`` periods, each one
    opportunity. Before each a customer dies with probability ``theta ~ Beta(gamma, delta)``;
    alive, transacts with probability ``p ~ Beta(alpha, beta)``, on the period's first day.
    Amounts are Gamma-Gamma, as in :func:`simulate_transactions`.

    Parameters
    ----------
    n_customers : int
    params : dict, optional
        ``alpha, beta, gamma, delta`` (default: the donations estimate).
    opportunities : int
        Periods after the first (n).
    period : {"D", "W", "M", "Q", "Y"}
    start : date-like
        A day in the first period.
    gamma_gamma : dict, optional
        ``p, q, v`` of the amounts (default: the CDNOW estimate).
    seed : int, optional

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``date``, ``amount``; ``attrs`` hold the parameters, the ``period``
        and the ``observation_end`` (the last day of the last period) for
        :func:`clvmodels.opportunity_summary`.

    Examples
    --------
    >>> tx = simulate_opportunities(100, seed=1)
    >>> tx.attrs["observation_end"]
    '2001-12-31'
    """
    from .periods import check_freq, period_of_day, period_start_day

    check_freq(period, period)
    bb = {**DONATIONS_BGBB, **(params or {})}
    rng = np.random.default_rng(seed)
    n = check_count(n_customers, "n_customers", low=1)
    k = check_count(opportunities, "opportunities", low=1)
    p = rng.beta(bb["alpha"], bb["beta"], n)
    theta = rng.beta(bb["gamma"], bb["delta"], n)
    survived = rng.geometric(theta) - 1  # opportunities lived through before dying
    index = np.arange(1, k + 1)[None, :]
    buys = (index <= survived[:, None]) & (rng.random((n, k)) < p[:, None])
    first = period_of_day(np.array([pd.Timestamp(start).to_datetime64().astype(
        "datetime64[D]").astype(np.int64)]), period)[0]
    customer, which = np.nonzero(buys)
    customer = np.r_[np.arange(n), customer]
    periods = np.r_[np.full(n, first), first + which + 1]
    days = period_start_day(periods, period).astype("datetime64[D]")
    order = np.lexsort((days, customer))
    gg = {**CDNOW_GAMMA_GAMMA, **(gamma_gamma or {})}
    nu = rng.gamma(gg["q"], 1.0 / gg["v"], n)
    amount = rng.gamma(gg["p"], 1.0 / nu[customer[order]])
    out = pd.DataFrame({"customer_id": customer[order], "date": days[order].astype(
        "datetime64[ns]"), "amount": amount})
    end = period_start_day(np.array([first + k + 1]), period)[0] - 1
    out.attrs.update(bgbb=bb, period=period,
                     observation_end=str(np.datetime64(int(end), "D")))
    return out
