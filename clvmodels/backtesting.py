"""Backtest the models against the heuristic baselines on the same customers and holdout.

Every method is fitted on the calibration window and scored on the holdout; the supervised
baselines learn from an earlier split that ends at the calibration end, so nothing of the holdout
leaks into any forecast.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .baselines import (
    SIX_MONTHS,
    CohortAverage,
    GradientBoosting,
    Hiatus,
    RFMSegment,
    RunRate,
    SimpleLTV,
    TraditionalLTV,
)
from .columns import as_day
from .data import calibration_holdout
from .transactions import clean_transactions
from .exceptions import DataError, DataQualityWarning
from .arguments import check_count, check_mass
from .covariates import join_customers, read_customers
from .interface import arg, given, name
from .heuristics import measure_inputs
from .metrics import (
    ABSOLUTE_IS_BETTER,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    calibration_table,
    forecast_metrics,
    value_metrics,
)
from .models.registry import BAYES_PREFIX, pair_names, parse_pair, statistics_of
from .scoring import ModelPair, spend_fit_rows

BASELINES = ("run_rate", "cohort_average", "simple_ltv", "traditional_ltv", "rfm_segment",
             "hiatus", "gradient_boosting")
METHODS = (*pair_names(), *BASELINES)  # every registered model pair, then the formulas
# what a backtest runs unless told: every pair by maximum likelihood, one Bayesian pair (the
# others give the same forecasts at many times the cost; name them to run them), the formulas
DEFAULT_METHODS = tuple(m for m in METHODS
                        if not m.startswith(BAYES_PREFIX) or m == "bayes_bgnbd_gg")
SUPERVISED = {"rfm_segment", "gradient_boosting"}
RETENTION = {"simple_ltv", "traditional_ltv"}
BAYES_DEFAULTS = dict(draws=500, tune=500, chains=2)
# a model pair with the backtest's covariates: "pnbd_gg+covariates" beside "pnbd_gg"
WITH_COVARIATES = "+covariates"
# Pareto/NBD with covariates over time (and Gamma-Gamma): "pnbd_gg+covariates_over_time"
WITH_COVARIATES_OVER_TIME = "+covariates_over_time"
OVER_TIME_PAIRS = ("pnbd_gg",)
# the metrics of a purchase-only backtest (every other one is about spend)
PURCHASE_ONLY_METRICS = ("purchases_", "alive", "coverage_", "holdout_loglik")
# two methods whose metric differs by at most this share of its size tie: a gap of 1e-5
# between a model and its Bayesian twin is no win, whatever the bootstrap says
PRACTICAL_TOLERANCE = 1e-3
MIN_BOOTSTRAP = 20  # fewer resamples give no interval worth the name


@dataclass
class Origin:
    """What one calibration end gives every method to fit on."""

    split: pd.DataFrame  # calibration RFM with the holdout columns
    earlier: pd.DataFrame | None  # earlier calibration/holdout split for the supervised methods
    retention: float | None  # per retention period, measured on the calibration window's log


class PurchasesOnly:
    """A purchase model standing alone in a purchase-only backtest: every purchase is worth
    1, so "spend" is purchases and no spend model is fitted."""

    def __init__(self, model):
        self.purchases = model  # as a ModelPair's: coverage, log-likelihood and tracking read it

    def expected_purchases(self, rfm, t):
        return self.purchases.expected_purchases(rfm, t)

    def probability_any_purchase(self, rfm, t):
        return self.purchases.probability_any_purchase(rfm, t)

    def expected_spend(self, rfm):
        return pd.Series(1.0, index=rfm.index, name="expected_spend")


def _fit_over_time(split: pd.DataFrame, options: dict):
    """Pareto/NBD with covariates over time (its covariates: ``options["covariates"]``) and,
    with amounts, Gamma-Gamma (with its spend covariates, if any)."""
    from .models.gamma_gamma import GammaGamma
    from .models.time_varying import TimeVaryingParetoNBD
    from .scoring import spend_fit_rows

    covariates = options["covariates"]
    model = TimeVaryingParetoNBD(purchase_covariates=covariates.get("purchase_covariates", ()),
                                 dropout_covariates=covariates.get("dropout_covariates", ()),
                                 penalizer=options["penalizer"]).fit(split, options["over_time"])
    if not options["with_amounts"]:
        return PurchasesOnly(model)
    spend = GammaGamma(options["penalizer"], **({"spend_covariates": covariates[
        "spend_covariates"]} if covariates.get("spend_covariates") else {}))
    return ModelPair(model, spend.fit(spend_fit_rows(split)))


def _fit(method: str, origin: Origin, options: dict, split: pd.DataFrame | None = None):
    split = origin.split if split is None else split
    if method.endswith(WITH_COVARIATES_OVER_TIME):
        return _fit_over_time(split, options)
    if method not in BASELINES:  # a registered purchase and spend model
        covariates = {}
        if method.endswith(WITH_COVARIATES):
            method, covariates = method[:-len(WITH_COVARIATES)], options["covariates"]
        purchases, spend, bayesian = parse_pair(method)
        settings = {**BAYES_DEFAULTS, "random_state": options["random_state"],
                    **options.get("bayes", {})}
        if not options["with_amounts"]:
            takes = {f"{p}_covariates" for p in purchases.spec.covariate_links} | {
                "shared_covariates", "covariate_penalty"}
            own = {k: v for k, v in covariates.items() if k in takes and v}
            engine = purchases.bayesian(**settings, **own) if bayesian else purchases.mle(
                options["penalizer"], **own)
            return PurchasesOnly(engine.fit(split))
        return ModelPair.fit(split, purchases=purchases.name, spend=spend.name,
                             bayesian=bayesian, penalizer=options["penalizer"],
                             options=settings if bayesian else None,
                             covariates=covariates or None)
    if method == "run_rate":
        return RunRate().fit(split)
    if method == "cohort_average":
        return CohortAverage().fit(split)
    if method == "simple_ltv":
        return SimpleLTV(origin.retention, options["retention_period"]).fit(split)
    if method == "traditional_ltv":
        return TraditionalLTV(origin.retention, options["retention_period"]).fit(split)
    if method == "hiatus":
        return Hiatus(options["hiatus"]).fit(split)
    if method == "rfm_segment":
        return RFMSegment().fit(origin.earlier)
    if method == "gradient_boosting":
        return GradientBoosting(random_state=options["random_state"]).fit(origin.earlier)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


@dataclass
class BacktestResult:
    """``metrics``: one row per method and calibration end (and their ``mean`` when there are
    several); ``predictions``: one row per method, calibration end and customer; ``calibration``:
    mean predicted and actual holdout purchases by calibration frequency; ``excluded``: per
    calibration end, the customers and transactions left out and why."""

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    calibration: pd.DataFrame
    excluded: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)  # method -> {calibration end: reason}
    data: dict = field(default_factory=dict)  # what was judged: customers, dates, unit
    tracking: pd.DataFrame | None = None  # weekly repeat transactions, actual and per model
    _bootstrap: dict = field(default_factory=dict, repr=False)  # bootstrap_draws' cache

    def summary(self) -> pd.DataFrame:
        """The metrics averaged over calibration ends, one row per method."""
        rows = self.metrics[self.metrics["calibration_end"] == "mean"]
        if rows.empty:
            rows = self.metrics
        return rows.drop(columns=["calibration_end", "error"], errors="ignore").set_index("method")

    def bootstrap_draws(self, draws: int = 200, seed: int = 0) -> dict:
        """Each method's metrics on ``draws`` bootstrap resamples of the customers (the same
        resample for every method, so differences are paired), averaged over calibration ends
        like :meth:`summary`: ``{method: DataFrame (draws x metrics)}``; cached."""
        draws = check_count(draws, "draws", low=MIN_BOOTSTRAP)
        key = (draws, seed)
        if key in self._bootstrap:
            return self._bootstrap[key]
        per_origin = {}
        for k, (label, part) in enumerate(self.predictions.groupby("calibration_end", sort=False)):
            rng = np.random.default_rng(seed + k)
            n = int((part["method"] == part["method"].iloc[0]).sum())
            resamples = rng.integers(0, n, size=(draws, n))
            for method, rows in part.groupby("method", sort=False):
                a_p = rows["actual_purchases"].to_numpy()
                p_p = rows["predicted_purchases"].to_numpy()
                spend = "predicted_spend" in rows and rows["predicted_spend"].notna().all()
                a_s = rows["actual_spend"].to_numpy() if spend else a_p
                p_s = rows["predicted_spend"].to_numpy() if spend else p_p
                alive = rows["alive_score"].to_numpy()
                value = (rows[["forecast_value", "realised_value"]].to_numpy().T
                         if "forecast_value" in rows else None)
                table = pd.DataFrame([
                    {**forecast_metrics(p_p[i], a_p[i], p_s[i], a_s[i], alive[i]),
                     **(value_metrics(value[0][i], value[1][i]) if value is not None else {})}
                    for i in resamples])
                if not spend:
                    table = table[[c for c in table if c.startswith(PURCHASE_ONLY_METRICS)]]
                per_origin.setdefault(method, []).append(table)
        result = {method: sum(tables) / len(tables) for method, tables in per_origin.items()}
        self._bootstrap[key] = result
        return result

    def intervals(self, level: float = 0.95, draws: int = 200, seed: int = 0) -> pd.DataFrame:
        """Each method's metrics with a percentile bootstrap interval over customers.

        Parameters
        ----------
        level : float
        draws : int
            Bootstrap resamples.
        seed : int

        Returns
        -------
        pandas.DataFrame
            One row per method and metric: ``estimate`` (as :meth:`summary`), ``lower``,
            ``upper``.
        """
        check_mass(level, "level")
        table = self.summary()
        rows = []
        for method, samples in self.bootstrap_draws(draws, seed).items():
            for metric in samples:
                lower, upper = np.nanquantile(samples[metric], [(1 - level) / 2,
                                                                (1 + level) / 2])
                rows.append({"method": method, "metric": metric,
                             "estimate": table.loc[method, metric], "lower": lower,
                             "upper": upper})
        return pd.DataFrame(rows).set_index(["method", "metric"])

    def difference(self, metric: str, first: str, second: str, level: float = 0.95,
                   draws: int = 200, seed: int = 0) -> dict:
        """The difference ``first - second`` of one metric, with its paired bootstrap
        interval over customers.

        Parameters
        ----------
        metric, first, second : str
        level : float
        draws, seed : int

        Returns
        -------
        dict
            ``estimate``, ``lower``, ``upper``; ``tie`` where the estimate is within 0.1 % of
            the metric's size (too small to matter in practice), and ``clear`` where it is not
            a tie and the interval excludes 0.
        """
        check_mass(level, "level")
        samples = self.bootstrap_draws(draws, seed)
        table = self.summary()
        for method in (first, second):
            if method not in samples:
                raise DataError(f"no method {method!r} in this backtest: {sorted(samples)}")
        known = [m for m in samples[first] if m in samples[second]]
        if metric not in known:
            raise DataError(f"no metric {metric!r} for both {first!r} and {second!r}: choose "
                            f"from {known}")
        gap = samples[first][metric].to_numpy() - samples[second][metric].to_numpy()
        if metric in ABSOLUTE_IS_BETTER:  # closeness to 0 is what is compared
            gap = np.abs(samples[first][metric].to_numpy()) - np.abs(
                samples[second][metric].to_numpy())
        lower, upper = np.nanquantile(gap, [(1 - level) / 2, (1 + level) / 2])
        estimate = table.loc[first, metric] - table.loc[second, metric]
        if metric in ABSOLUTE_IS_BETTER:
            estimate = abs(table.loc[first, metric]) - abs(table.loc[second, metric])
        size = max(abs(table.loc[first, metric]), abs(table.loc[second, metric]))
        tie = bool(abs(estimate) <= PRACTICAL_TOLERANCE * size) if np.isfinite(size) else False
        return {"estimate": float(estimate), "lower": float(lower), "upper": float(upper),
                "clear": bool((lower > 0 or upper < 0) and not tie), "tie": tie}

    def winners(self, level: float = 0.95, draws: int = 200, seed: int = 0) -> pd.DataFrame:
        """For each metric, the best method and its value (mean over calibration ends), the
        runner-up, the paired bootstrap interval of their difference over customers, and
        whether the win is ``clear`` (the interval excludes 0): a winner by noise is not one.

        Parameters
        ----------
        level : float
        draws, seed : int
            The bootstrap (:meth:`difference`).

        Returns
        -------
        pandas.DataFrame
        """
        table = self.summary()
        rows = []
        for metric in (*LOWER_IS_BETTER, *ABSOLUTE_IS_BETTER, *HIGHER_IS_BETTER):
            if metric not in table:
                continue
            values = table[metric].dropna()
            if values.empty:
                continue
            key = values.abs() if metric in ABSOLUTE_IS_BETTER else values
            ranked = key.sort_values(ascending=metric not in HIGHER_IS_BETTER).index
            best = ranked[0]
            row = {"metric": metric, "best": best, "value": values[best]}
            if len(ranked) > 1 and metric in self.bootstrap_draws(draws, seed).get(best, {}):
                gap = self.difference(metric, best, ranked[1], level, draws, seed)
                row.update(runner_up=ranked[1], difference=gap["estimate"],
                           lower=gap["lower"], upper=gap["upper"], clear=gap["clear"],
                           tie=gap["tie"])
            rows.append(row)
        return pd.DataFrame(rows).set_index("metric")

    def report(self, figures: dict | None = None) -> str:
        """A Markdown report: data, the metrics, who wins what (in words), the calibration table.

        Parameters
        ----------
        figures : dict, optional
            ``{title: file name}`` of figures to show.

        Returns
        -------
        str
        """
        from .reporting import backtest_report

        return backtest_report(self, figures or {})

    def write(self, out_dir) -> list[str]:
        """Write metrics.csv, calibration.csv, predictions.parquet, the figures and report.md into
        ``out_dir`` (created if needed); every file is written atomically.

        Parameters
        ----------
        out_dir : str or path-like

        Returns
        -------
        list of str
            The files written.
        """
        from .files import write_atomic
        from .reporting import write_figures

        os.makedirs(out_dir, exist_ok=True)
        paths = {name: os.path.join(out_dir, name) for name in
                 ("metrics.csv", "calibration.csv", "predictions.parquet", "report.md")}
        write_atomic(paths["metrics.csv"], lambda tmp: self.metrics.to_csv(tmp, index=False))
        write_atomic(paths["calibration.csv"], lambda tmp: self.calibration.to_csv(tmp))
        write_atomic(paths["predictions.parquet"],
                     lambda tmp: self.predictions.to_parquet(tmp, index=False))
        figures = write_figures(self, out_dir)

        def write_report(tmp):
            with open(tmp, "w") as f:
                f.write(self.report(figures))

        write_atomic(paths["report.md"], write_report)
        return [*paths.values(), *(os.path.join(out_dir, f) for f in figures.values())]


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple, pd.Index, np.ndarray)) else [value]


def backtest(
    transactions,
    *,
    calibration_end,
    observation_end,
    methods=None,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    freq: str = "D",
    time_unit: str = "W",
    date_format: str | None = None,
    sep: str | None = None,
    negative_amounts: str = "raise",
    retention_period: str = "M",
    hiatus=SIX_MONTHS,
    bayes_options: dict | None = None,
    random_state: int = 0,
    penalizer: float = 0.0,
    customers=None,
    covariates: dict | None = None,
    covariates_over_time=None,
) -> BacktestResult:
    """Fit every method on the calibration window and score it on the holdout, same customers.

    ``calibration_end`` may be a list (rolling origin): each is scored against its own
    ``observation_end`` (a list of the same length) or the one ``observation_end``. Methods
    (default ``DEFAULT_METHODS``: every pair of ``METHODS`` by maximum likelihood,
    ``bayes_bgnbd_gg`` and the baselines): ``bgnbd_gg`` (BG/NBD + Gamma-Gamma, maximum likelihood),
    ``bayes_bgnbd_gg`` (their Bayesian fit, posterior means; ``bayes_options`` go to the models,
    default 2 chains x 500 draws), and the baselines of :mod:`clvmodels.baselines`. The
    supervised baselines learn from the split that ends at the calibration end and whose
    holdout is as long as the test holdout, or half the calibration window if that is shorter.

    Forecasts for each customer: holdout purchases, holdout spend (= purchases x expected spend
    per purchase) and an alive score for "any purchase in the holdout": the models' probability
    of it; the hiatus flag, or the supervised baselines' probability; for the others the
    expected purchases (which rank the same way). Metrics: :func:`metrics.forecast_metrics`.

    ``amount=None`` runs a purchase-only backtest for logs without amounts: every purchase is
    worth 1, no spend model is fitted and only purchase and alive metrics are reported. A
    method that fails (a fit that does not converge, a formula whose input cannot be measured)
    is reported with its reason in ``metrics["error"]``, ``failures`` and the report; the others
    go on. A holdout that reaches more than 7 days past the last transaction is refused.

    A model with covariates is the method ``<pair>+covariates`` (``pnbd_gg+covariates`` beside
    ``pnbd_gg``, so the two are compared on the same customers with the paired intervals of
    :meth:`BacktestResult.compare`): ``customers`` is the customer table (a DataFrame or its
    file, joined on the customer id) and ``covariates`` the arguments ``ModelPair.fit`` takes
    (``{"purchase_covariates": [...], "dropout_covariates": [...], ...}``). Pareto/NBD with
    covariates over time is ``pnbd_gg+covariates_over_time``: ``covariates_over_time`` is the
    table (:func:`clvmodels.read_covariates_over_time`, covering every holdout), and
    ``covariates`` name its columns (and the customer table's static ones).
    ``date_format``, ``sep`` and ``negative_amounts`` read the log as in
    :func:`clvmodels.rfm_summary`; ``penalizer`` goes to the maximum-likelihood models.

    Parameters
    ----------
    transactions : pandas or polars DataFrame, or path to a CSV or Parquet file
    calibration_end : date-like or list of date-like
    observation_end : date-like or list of date-like
    methods : list of str, optional
        Registered model pairs (``bgnbd_gg``, ``bayes_bgnbd_gg``, ...) and baselines.
    customer, date, amount : str
        Column names; ``amount=None`` for purchase-only.
    freq, time_unit : str
        The occasion period and the unit of the RFM frame.
    date_format, sep, negative_amounts
        How to read the log.
    retention_period : str
        Period of the measured retention rate.
    hiatus : pandas.Timedelta
        The hiatus rule's gap.
    bayes_options : dict, optional
    random_state : int
    penalizer : float
    customers : DataFrame or path, optional
        The customer table of the ``+covariates`` methods.
    covariates : dict, optional
        Their covariates.
    covariates_over_time : CovariatesOverTime, optional
        The table of the ``+covariates_over_time`` method.

    Returns
    -------
    BacktestResult
    """
    methods = list(DEFAULT_METHODS if methods is None else _as_list(methods))
    over_time_methods = [m for m in methods if m.endswith(WITH_COVARIATES_OVER_TIME)]
    covariate_methods = [m for m in methods if m.endswith(WITH_COVARIATES)]
    unknown = [m for m in methods if m not in over_time_methods and (
        m.removesuffix(WITH_COVARIATES) not in METHODS
        or (m in covariate_methods and m.removesuffix(WITH_COVARIATES) in BASELINES))]
    unknown += [m for m in over_time_methods
                if m.removesuffix(WITH_COVARIATES_OVER_TIME) not in OVER_TIME_PAIRS]
    if unknown:
        raise DataError(f"unknown method(s) {unknown} in {name('methods')}; choose from "
                        f"{', '.join(METHODS)} (a model pair with covariates: the pair's name "
                        f"and {WITH_COVARIATES!r})")
    if covariate_methods and (customers is None or not covariates):
        raise DataError(f"{covariate_methods[0]} needs the customer table and the covariates: "
                        f"give {arg('customers')} and {arg('covariates')}")
    if over_time_methods and (covariates_over_time is None or not covariates):
        raise DataError(f"{over_time_methods[0]} needs the table of covariates over time and "
                        f"the covariates: give {arg('covariates_over_time')} and "
                        f"{arg('covariates')}")
    if covariates_over_time is not None and not over_time_methods:
        raise DataError(f"{arg('covariates_over_time')} applies to the method "
                        f"'pnbd_gg{WITH_COVARIATES_OVER_TIME}', which is not in "
                        f"{name('methods')}")
    if (customers is not None or covariates) and not covariate_methods and not over_time_methods:
        raise DataError(f"{arg('covariates')} apply to methods named with {WITH_COVARIATES!r} "
                        f"(such as 'pnbd_gg{WITH_COVARIATES}'); none is in "
                        f"{name('methods')}")
    customer_table = None if customers is None else read_customers(customers, customer)
    ends = [as_day(c, "calibration_end") for c in _as_list(calibration_end)]
    observed = [as_day(o, "observation_end") for o in _as_list(observation_end)]
    if len(observed) == 1:
        observed = observed * len(ends)
    if len(observed) != len(ends):
        raise DataError(f"{len(_as_list(observation_end))} values of {name('observation_end')} "
                        f"for {len(ends)} of {name('calibration_end')}: give one "
                        f"{name('observation_end')}, or one per {name('calibration_end')}, in "
                        "the same order")
    with_amounts = amount is not None
    options = dict(random_state=random_state, retention_period=retention_period, hiatus=hiatus,
                   bayes=bayes_options or {}, with_amounts=with_amounts, penalizer=penalizer,
                   covariates=dict(covariates or {}), over_time=covariates_over_time)

    tx = clean_transactions(transactions, customer=customer, date=date, amount=amount,
                            last_day=None, date_format=date_format, sep=sep,
                            negative_amounts=negative_amounts)
    last_day = int(tx.day.max())
    _check_windows(ends, observed, int(tx.day.min()), last_day)
    log = pd.DataFrame({"customer_id": tx.ids[tx.codes], "date": tx.day.astype("datetime64[D]"),
                        "amount": tx.amount if with_amounts else 1.0})
    first_day = log["date"].min()

    metric_rows, predictions, tables, excluded, failures = [], [], [], {}, {}
    holdouts, tracking, trackable = {}, None, {}
    for cal_day, obs_day in zip(ends, observed):
        cal_end, obs_end = (pd.Timestamp(np.datetime64(d, "D")) for d in (cal_day, obs_day))
        origin = _origin(log, cal_end, obs_end, first_day, freq, time_unit,
                         needs_earlier=bool(SUPERVISED & set(methods)),
                         retention_period=(retention_period if RETENTION & set(methods)
                                           else None),
                         statistics=statistics_of(
                             parse_pair(m.removesuffix(WITH_COVARIATES))[0] for m in methods
                             if m not in BASELINES and m not in over_time_methods))
        label = f"{cal_end:%Y-%m-%d}"
        split = origin.split
        zero_value = len(split) - len(spend_fit_rows(split))
        excluded[label] = {**split.attrs.get("excluded", {}),
                           **({"zero_value_repeat_buyers_out_of_spend_fit": zero_value}
                              if zero_value and with_amounts else {})}
        duration = float(split["duration_holdout"].iloc[0])  # the same for every customer
        actual_purchases = split["frequency_holdout"].to_numpy(float)
        actual_spend = actual_purchases * split["monetary_value_holdout"].to_numpy(float)
        realised = _realised_value(log, split.index, cal_end, obs_end) if with_amounts else None
        holdouts[label] = {"end": f"{obs_end:%Y-%m-%d}", "length": duration,
                           "purchases": float(actual_purchases.sum()),
                           **({"spend": float(actual_spend.sum())} if with_amounts else {})}
        joined = None if customer_table is None else join_customers(split, customer_table)
        over_time = None
        if over_time_methods:  # the same customers, with their covariates at their purchases
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataQualityWarning)
                over_time = calibration_holdout(
                    log, calibration_end=cal_end, observation_end=obs_end, amount="amount",
                    freq=freq, time_unit=time_unit, covariates_over_time=covariates_over_time)
            if customer_table is not None:
                over_time = join_customers(over_time, customer_table)
        for method in methods:
            frame = (joined if method in covariate_methods else
                     over_time if method in over_time_methods else split)
            try:
                fitted = _fit(method, origin, options, frame)
                purchases = fitted.expected_purchases(frame, duration).to_numpy()
                spend = purchases * fitted.expected_spend(frame).to_numpy()
                alive = _alive_score(fitted, frame, duration, purchases)
                row = forecast_metrics(purchases, actual_purchases, spend, actual_spend,
                                       alive)
                row.update(_coverage(fitted, frame, duration, actual_purchases))
                row.update(_holdout_loglik(fitted, frame, duration, actual_purchases))
                model = getattr(fitted, "purchases", None)
                if (len(holdouts) == 1 and hasattr(model, "expected_purchases_new_customer")
                        and method not in covariate_methods
                        and method not in over_time_methods):  # a new customer needs covariates
                    trackable[method] = model  # the first origin's weekly tracking
                value = _value_check(fitted, frame, realised) if with_amounts else None
                if value is not None:
                    row.update(value_metrics(value, realised[0]))
            except Exception as err:  # noqa: BLE001 - one method's failure is reported, not fatal
                reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                failures.setdefault(method, {})[label] = reason
                metric_rows.append({"calibration_end": label, "method": method,
                                    "error": reason})
                continue
            if not with_amounts:  # purchase-only: "spend" is purchases again
                row = {k: v for k, v in row.items() if k.startswith(PURCHASE_ONLY_METRICS)}
            metric_rows.append({"calibration_end": label, "method": method, **row,
                                "error": ""})
            predictions.append(pd.DataFrame({
                "calibration_end": label, "method": method, "customer_id": split.index,
                "calibration_frequency": split["frequency"].to_numpy(),
                "actual_purchases": actual_purchases, "predicted_purchases": purchases,
                **({"actual_spend": actual_spend, "predicted_spend": spend}
                   if with_amounts else {}),
                "alive_score": alive,
                **({"realised_value": realised[0], "forecast_value": value}
                   if with_amounts else {}),
            }))
            table = calibration_table(split["frequency"], purchases, actual_purchases)
            tables.append(table.reset_index().assign(calibration_end=label, method=method))
        if len(holdouts) == 1 and trackable:  # the literature's standard figure, every model
            from .plotting import tracking_table

            tracking = tracking_table(trackable, log, calibration_end=cal_end,
                                      observation_end=obs_end)
    if not predictions:
        raise DataError("every method failed: " + "; ".join(
            f"{m} ({next(iter(r.values()))})" for m, r in failures.items()))

    table = pd.DataFrame(metric_rows)
    if len(ends) > 1:
        numeric = table.drop(columns=["calibration_end", "error"])
        mean = numeric.groupby("method", sort=False).mean()
        failed = table.groupby("method", sort=False)["error"].agg(lambda e: "; ".join(x for x in e if x))
        mean = mean.assign(error=failed.reindex(mean.index))
        table = pd.concat([table, mean.reset_index().assign(calibration_end="mean")],
                          ignore_index=True)
    calibration = pd.concat(tables, ignore_index=True).set_index(
        ["calibration_end", "method", "calibration_frequency"])
    data = {"customers": int(len(tx.ids)), "transactions": int(len(tx.day)),
            "first_transaction": str(np.datetime64(int(tx.day.min()), "D")),
            "last_transaction": str(np.datetime64(last_day, "D")), "time_unit": time_unit,
            "amounts": with_amounts, "holdouts": holdouts}
    return BacktestResult(table, pd.concat(predictions, ignore_index=True), calibration,
                          excluded, failures, data, tracking)


def _check_windows(ends: list[int], observed: list[int], first_day: int, last_day: int) -> None:
    """A DataError where a holdout reaches past the data: its forecast would cover days that
    have no actuals (an observation end up to 7 days after the last transaction is accepted:
    a log may end on a quiet day)."""
    for cal_day, obs_day in zip(ends, observed):
        if obs_day <= cal_day:
            raise DataError(f"{given('observation_end', str(np.datetime64(obs_day, 'D')))} must be "
                            f"after {given('calibration_end', str(np.datetime64(cal_day, 'D')))}")
        if obs_day - last_day > 7:
            raise DataError(
                f"{given('observation_end', str(np.datetime64(obs_day, 'D')))} is "
                f"{obs_day - last_day:,} days after the last transaction of the log "
                f"({np.datetime64(last_day, 'D')}): the forecast would cover days without "
                f"actuals. Set {name('observation_end')} to the last day the log covers")
        if cal_day >= last_day:
            raise DataError(f"{given('calibration_end', str(np.datetime64(cal_day, 'D')))} is on or "
                            f"after the last transaction ({np.datetime64(last_day, 'D')}): "
                            "there is no holdout to check against")


COVERAGE_MASSES = (0.8, 0.94)
VALUE_DISCOUNT = 0.01  # per month: the holdout value is checked as customer_value's default


def _realised_value(log, customers, cal_end, obs_end) -> tuple[np.ndarray, float]:
    """Each customer's holdout spend, discounted at 1 % a month by the end of the month (of
    30.4375 days after the calibration end) it fell in, as :func:`clvmodels.customer_value`
    discounts; and the holdout's length in months."""
    inside = (log["date"] > cal_end) & (log["date"] <= obs_end)
    part = log.loc[inside]
    months = (part["date"] - cal_end).dt.days.to_numpy() / (365.25 / 12)
    factor = (1 + VALUE_DISCOUNT) ** -np.ceil(months)
    value = pd.Series(part["amount"].to_numpy() * factor, index=part["customer_id"].to_numpy())
    per_customer = value.groupby(level=0).sum().reindex(customers, fill_value=0.0)
    return per_customer.to_numpy(), (obs_end - cal_end).days / (365.25 / 12)


def _value_check(fitted, split, realised) -> np.ndarray:
    """The method's discounted value of each customer's holdout months (customer_value at 1 %
    a month), to set against the realised discounted spend."""
    from .value import customer_value

    actual, months = realised
    purchases, spend = ((fitted.purchases, fitted.spend) if hasattr(fitted, "spend")
                        else (fitted, fitted))
    forecast = customer_value(purchases, spend, split, horizon=months,
                              discount_rate=VALUE_DISCOUNT).to_numpy()
    return forecast



def _coverage(fitted, split, duration, actual) -> dict:
    """The share of customers whose holdout purchases fall inside the model's predictive
    interval of 80 % and of 94 % (``purchase_interval``: quantiles of P(Y(t) = n | history));
    a method without a predictive distribution has none."""
    model = getattr(fitted, "purchases", None)
    if not hasattr(model, "purchase_interval"):
        return {}
    ends = [p for mass in COVERAGE_MASSES for p in ((1 - mass) / 2, (1 + mass) / 2)]
    quantiles = model.purchase_quantiles(split, duration, ends).to_numpy()  # one pass over n
    out = {}
    for k, mass in enumerate(COVERAGE_MASSES):
        lower, upper = quantiles[:, 2 * k], quantiles[:, 2 * k + 1]
        out[f"coverage_{round(100 * mass)}"] = float(((lower <= actual) & (actual <= upper)).mean())
    return out


def _holdout_loglik(fitted, split, duration, actual) -> dict:
    """The out-of-sample log-likelihood: the mean over customers of log P(Y(t) = their holdout
    purchases | history), for a model with that distribution."""
    model = getattr(fitted, "purchases", None)
    if not hasattr(model, "conditional_probability_of_purchases"):
        return {}
    log_p = np.empty(len(actual))
    for n in np.unique(actual):
        rows = np.flatnonzero(actual == n)
        p = model.conditional_probability_of_purchases(split.iloc[rows], int(n), duration)
        log_p[rows] = np.log(np.maximum(p.to_numpy(), 1e-300))
    return {"holdout_loglik": float(log_p.mean())}


def _alive_score(fitted, split, duration, purchases) -> np.ndarray:
    """The model's probability of any purchase in the holdout; a baseline's probability alive;
    otherwise the expected purchases (a score that ranks the same way)."""
    if hasattr(fitted, "probability_any_purchase"):
        return fitted.probability_any_purchase(split, duration).to_numpy()
    if hasattr(fitted, "probability_alive"):
        return fitted.probability_alive(split).to_numpy()
    return purchases


def _origin(log, cal_end, obs_end, first_day, freq, time_unit, needs_earlier,
            retention_period, statistics=()) -> Origin:
    if cal_end <= first_day:
        raise DataError(f"calibration_end {cal_end:%Y-%m-%d} is on or before the first "
                        f"transaction ({first_day:%Y-%m-%d}): nothing to calibrate on")
    columns = dict(amount="amount", freq=freq, time_unit=time_unit)
    earlier = None
    statistics = list(statistics) or None
    with warnings.catch_warnings():  # later transactions are left out on purpose (and counted)
        warnings.simplefilter("ignore", DataQualityWarning)
        split = calibration_holdout(log, calibration_end=cal_end, observation_end=obs_end,
                                    statistics=statistics, **columns)
        if needs_earlier:
            window = min(obs_end - cal_end, (cal_end - first_day) / 2).floor("D")
            earlier = calibration_holdout(log, calibration_end=cal_end - window,
                                          observation_end=cal_end, **columns)
    retention = None
    if retention_period is not None:  # measured once for the methods that need it
        retention = measure_inputs(log[log["date"] <= cal_end],
                                   period=retention_period).retention_rate
    return Origin(split, earlier, retention)


def retention_backtest(survivors, *, calibration_periods: int) -> pd.DataFrame:
    """The shifted-beta-geometric model against the constant-churn assumption of ARPU / churn,
    on one cohort: both fitted on its first ``calibration_periods`` periods, both projecting the
    rest.

    Parameters
    ----------
    survivors : sequence of int
        Active customers after 0, 1, 2, ... periods (as :func:`cohort_frame` takes).
    calibration_periods : int
        Periods to fit on (at least 2), fewer than observed.

    Returns
    -------
    pandas.DataFrame
        One row per holdout period: ``actual`` survival (share of the cohort), ``sbg`` projected
        and ``constant_churn`` (the calibration's mean retention rate every period, the
        assumption of ARPU / churn); ``attrs`` hold each projection's mean absolute error.

    Examples
    --------
    >>> table = retention_backtest([1000, 869, 743, 653, 593, 551, 517, 491],
    ...                            calibration_periods=4)
    >>> {k: round(v, 3) for k, v in table.attrs["mean_absolute_error"].items()}
    {'sbg': 0.031, 'constant_churn': 0.06}
    """
    from .heuristics import retention_rate
    from .models.shifted_beta_geo import ShiftedBetaGeo, cohort_frame

    counts = np.asarray(survivors, dtype=np.float64)
    k = int(calibration_periods)
    if not 2 <= k < len(counts) - 1:
        raise DataError(f"{given('calibration_periods', calibration_periods)}: give at least 2 "
                        f"periods and fewer than the {len(counts) - 1} observed")
    model = ShiftedBetaGeo().fit(cohort_frame(counts[: k + 1]))
    holdout = np.arange(k + 1, len(counts))
    rates = [retention_rate(counts[t - 1], counts[t], 0) for t in range(1, k + 1)]
    constant = counts[k] / counts[0] * float(np.mean(rates)) ** (holdout - k)
    table = pd.DataFrame({"actual": counts[holdout] / counts[0],
                          "sbg": model.survival(holdout).to_numpy(),
                          "constant_churn": constant}, index=pd.Index(holdout, name="period"))
    table.attrs["mean_absolute_error"] = {
        c: float(np.mean(np.abs(table[c] - table["actual"]))) for c in ("sbg", "constant_churn")}
    table.attrs["params"] = model.params_.to_dict()
    return table
