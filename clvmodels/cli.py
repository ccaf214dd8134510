"""The ``clvmodels`` command line.

Exit codes: 0 done; 1 an internal error (a bug: one line, CLVMODELS_DEBUG=1 for the traceback);
2 bad input (a file, column, value or flag), with one line naming it and the
fix; 3 a model that could not be fitted (with the remedies); 130 interrupted (Ctrl-C), 143
terminated (SIGTERM): in both cases no output and no temporary file is left behind.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import os
import signal
import sys
import warnings

import pandas as pd

from . import (
    BetaGeo,
    GammaGamma,
    calibration_holdout,
    customer_value,
    load_cdnow,
    rfm_summary,
)
from .backtesting import (BASELINES, METHODS, OVER_TIME_PAIRS, WITH_COVARIATES,
                          WITH_COVARIATES_OVER_TIME)
from .models.registry import pair_names
from .exceptions import ConvergenceError, DataError, DataQualityWarning, ModelFormatError
from .files import check_output_path, write_table_atomic
from .interface import command_line
from .units import DAYS_PER_UNIT, UNIT_NAMES

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_FITTED = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
# Python argument -> command-line flag, where it is not "--" + the name with dashes
FLAGS = {"customer": "--customer-col", "date": "--date-col", "amount": "--amount-col",
         "rfm": "--rfm", "model": "--model", "start": "--start-col", "end": "--end-col"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every clean-up on the way out runs."""


def demo(args) -> None:
    """Fit BG/NBD + Gamma-Gamma on CDNOW, check against the holdout, score 12-month CLV."""
    transactions = load_cdnow(args.kind)
    observation_end = transactions["date"].max()
    print(f"CDNOW {args.kind}: {transactions.customer_id.nunique():,} customers, "
          f"{len(transactions):,} transactions to {observation_end:%Y-%m-%d}\n")

    with warnings.catch_warnings():  # the calibration window excludes the holdout on purpose
        warnings.simplefilter("ignore", DataQualityWarning)
        split = calibration_holdout(transactions, calibration_end="1997-09-30",
                                    observation_end=observation_end, time_unit="W")
    check = BetaGeo().fit(split)
    split["expected"] = check.expected_purchases(split, split["duration_holdout"])
    table = split.groupby(split["frequency"].clip(upper=7))[["expected", "frequency_holdout"]].mean()
    table.index = [*map(str, table.index[:-1]), "7+"]
    table.columns = ["expected", "actual"]
    print("Holdout check (fit on weeks 1-39, mean purchases in weeks 40-78 by calibration frequency):")
    print(table.round(3).T.to_string(), "\n")

    rfm = rfm_summary(transactions, amount="amount", time_unit="W")
    purchases, spend = BetaGeo().fit(rfm), GammaGamma().fit(rfm)
    for model in (purchases, spend):
        print(f"{model!r}\n{model.summary().round(4).to_string()}\n")

    scores = rfm.assign(
        probability_alive=purchases.probability_alive(rfm),
        expected_purchases=purchases.expected_purchases(rfm, pd.Timedelta(days=365.25)),
        expected_spend=spend.expected_spend(rfm),
        clv=customer_value(purchases, spend, rfm, horizon=12, discount_rate=0.01),
    )
    print("Top 10 customers by 12-month CLV (1 % monthly discount):")
    print(scores.nlargest(10, "clv").round(2).to_string(), "\n")
    write_table_atomic(scores, args.out)
    print(f"wrote {len(scores):,} customer scores to {args.out}")


def backtest(args) -> None:
    """Backtest the models against the heuristic baselines and write the tables and report."""
    from .backtesting import backtest as run_backtest
    from .batch import over_time_table
    from .files import check_input_file, table_columns

    amount = args.amount_col
    if amount is None:  # not named: the "amount" column if there is one, else purchase-only
        present = table_columns(check_input_file(args.transactions, "transactions file"),
                                args.sep)
        amount = "amount" if "amount" in present else None
        if amount is None:
            print(f"no 'amount' column in {args.transactions}: a purchase-only backtest (no "
                  "spend model, no spend metrics); name the amounts with --amount-col",
                  file=sys.stderr)
    bayes = {"draws": args.draws, "tune": args.draws} if args.draws else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # exclusions are counted in the report
        result = run_backtest(
            args.transactions, calibration_end=args.calibration_end,
            observation_end=args.observation_end, methods=args.methods,
            customer=args.customer_col, date=args.date_col, amount=amount,
            freq=args.freq, time_unit=args.time_unit or args.freq, date_format=args.date_format,
            sep=args.sep, negative_amounts=args.negative_amounts, bayes_options=bayes,
            random_state=args.random_state, penalizer=args.penalizer,
            customers=args.customers, covariates=_covariate_arguments(args),
            covariates_over_time=None if args.covariates_over_time is None else over_time_table(
                args.covariates_over_time, {"customer": args.customer_col, "sep": args.sep,
                                            "date_format": args.date_format},
                args.covariates_freq, args.period_col),
        )
    files = result.write(args.out)
    shown = [c for c in ("purchases_mae", "spend_mae", "spearman", "purchases_spearman",
                         "top_decile_capture", "alive_auc") if c in result.summary()]
    print(result.summary()[shown].round(3).to_string(), "\n")
    for method, reasons in result.failures.items():
        for label, reason in reasons.items():
            print(f"{method} failed at calibration end {label}: {reason}", file=sys.stderr)
    print(f"wrote {', '.join(os.path.basename(f) for f in files)} to {args.out}")


def _read_options(args) -> dict:
    """The flags that say how to read a transaction log."""
    return dict(customer=args.customer_col, date=args.date_col, amount=args.amount_col,
                date_format=args.date_format, sep=args.sep,
                negative_amounts=args.negative_amounts)


def _covariate_arguments(args) -> dict:
    """The covariate flags as ``ModelPair.fit``'s ``covariates`` (the ones given)."""
    given = {f"{p}_covariates": getattr(args, f"{p}_covariates")
             for p in ("purchase", "dropout", "spend")}
    given.update(shared_covariates=args.shared_covariates,
                 covariate_penalty=args.covariate_penalty)
    return {k: v for k, v in given.items() if v}


def fit(args) -> None:
    """Fit the model pair on a transaction file and save it."""
    from .batch import fit_file

    bayes = {k: v for k, v in dict(draws=args.draws, tune=args.tune, chains=args.chains,
                                   random_state=args.random_state).items() if v is not None}
    covariates = _covariate_arguments(args)
    pair, check = fit_file(args.transactions, args.out, observation_end=args.observation_end,
                           calibration_end=args.calibration_end, freq=args.freq,
                           time_unit=args.time_unit, model=args.model, quiet=args.quiet,
                           penalizer=args.penalizer, bayes_options=bayes,
                           stream_options=_read_options(args), customers=args.customers,
                           covariates=covariates,
                           covariates_over_time=args.covariates_over_time,
                           over_time_freq=args.covariates_freq,
                           over_time_period=args.period_col)
    if not args.quiet:
        for model in (pair.purchases, pair.spend):
            print(f"{model!r}\n{model.summary().round(4).to_string()}\n")
            if (model.covariates and hasattr(model, "likelihood_ratio_test")
                    and getattr(getattr(model, "spec_", None), "restricted", None) is not None):
                test = model.likelihood_ratio_test()
                print(f"likelihood-ratio test of the covariates: statistic "
                      f"{test['statistic']:.2f} on {test['df']:.0f} df, p = "
                      f"{test['p_value']:.3g}\n")
        if check is not None:
            print(f"Holdout check: mean purchases from {args.calibration_end} to "
                  f"{args.observation_end} by calibration frequency")
            print(check.round(3).T.to_string(), "\n")
        print(f"saved the model to {args.out}")


def score(args) -> None:
    """Score every customer with a saved model pair."""
    from .batch import score_file

    stats = score_file(args.model, args.out, transactions=args.transactions, rfm=args.rfm,
                       observation_end=args.observation_end, freq=args.freq,
                       time_unit=args.time_unit, horizon=args.horizon,
                       discount_rate=args.discount_rate, quiet=args.quiet,
                       engine=args.engine, scheduler=args.scheduler,
                       stream_options=(_read_options(args) if args.rfm is None
                                       else {"sep": args.sep}),
                       customers=args.customers,
                       covariates_over_time=args.covariates_over_time,
                       over_time_freq=args.covariates_freq, over_time_period=args.period_col)
    if not args.quiet:
        left_out = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in stats.excluded.items() if n)
        source = f" from {stats.rows:,} rows" if stats.rows else ""
        print(f"scored {stats.customers:,} customers{source} into {args.out} (recency and T "
              f"in {UNIT_NAMES.get(stats.time_unit, 'model units')}, the forecasts over "
              f"{args.horizon:g} months)"
              + (f" (transactions left out: {left_out})" if left_out else ""))


def retention(args) -> None:
    """Fit the shifted-beta-geometric on a subscription table; write each active customer's
    discounted expected residual lifetime and value."""
    from .files import read_table
    from .models.registry import MODELS
    from .models.shifted_beta_geo import subscription_frame

    check_output_path(args.out)
    if args.model_out:
        check_output_path(args.model_out, "model_out")
    columns = [args.customer_col, args.start_col, args.end_col]
    table = read_table(args.subscriptions, columns, sep=args.sep,
                       text_columns=columns,
                       names={args.customer_col: "customer", args.start_col: "start",
                              args.end_col: "end"}, what="subscriptions file")
    frame = subscription_frame(table, observation_end=args.observation_end, period=args.period,
                               customer=args.customer_col, start=args.start_col,
                               end=args.end_col, date_format=args.date_format,
                               end_convention=args.end_convention)
    entry = MODELS["sbg"]
    if args.bayesian:
        settings = {k: v for k, v in dict(draws=args.draws, chains=args.chains,
                                          random_state=args.random_state).items()
                    if v is not None}
        model = entry.bayesian(**settings).fit(frame)
    else:
        model = entry.mle(penalizer=args.penalizer).fit(frame)
    active = frame[~frame["churned"].to_numpy()]
    derl = model.expected_residual_lifetime(active, args.discount_rate,
                                            interval=0.94 if args.bayesian else None)
    if isinstance(derl, pd.Series):
        derl = derl.to_frame("mean")
    scores = pd.DataFrame({"periods": active["T"]}, index=active.index)
    for column in derl.columns:
        scores[f"residual_lifetime_{column}".replace("_mean", "")] = derl[column]
        scores[f"value_{column}".replace("_mean", "")] = args.margin * derl[column]
    write_table_atomic(scores, args.out)
    if args.model_out:
        model.save(args.model_out)
    if not args.quiet:
        print(f"{model!r}\n{model.summary().round(4).to_string()}\n")
        print(f"{len(frame):,} subscriptions, {len(active):,} active; survival of a new customer "
              f"after 1, 2, 5, 10 {args.period} periods: "
              + ", ".join(f"{v:.3f}" for v in model.survival([1, 2, 5, 10])))
        print(f"wrote {len(scores):,} active customers' residual value to {args.out}")


class Parser(argparse.ArgumentParser):
    """argparse with one line for a bad flag: the flag, what is wrong, and where help is."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(low: float, strict: bool, what: str, high: float = math.inf):
    """An argparse type: a finite number above ``low`` (or at least it), at most ``high``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        ok = math.isfinite(value) and (value > low if strict else value >= low) and value <= high
        if not ok:
            raise argparse.ArgumentTypeError(f"{text!r}: {what}")
        return value

    return parse


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number >= 1")
    return value


def _reading_flags(p, amount_default: str | None = "amount") -> None:
    p.add_argument("--customer-col", "--customer-column", dest="customer_col",
                   default="customer_id", help="customer id column (default customer_id)")
    p.add_argument("--date-col", "--date-column", dest="date_col", default="date",
                   help="date column (default date)")
    p.add_argument("--amount-col", "--amount-column", dest="amount_col", default=amount_default,
                   help="amount column (default amount" + ("" if amount_default else
                                                           "; without one, purchase-only") + ")")
    p.add_argument("--date-format", help="layout of the dates, e.g. %%d/%%m/%%Y (default: "
                   "inferred where unambiguous: ISO 8601, yyyymmdd, ...)")
    p.add_argument("--sep", help="field separator of a CSV file (default , or a tab for .tsv)")
    p.add_argument("--negative-amounts", choices=["raise", "drop"], default="raise",
                   help="refunds: refuse (default) or drop and count them")


def _columns(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: give column names separated by commas")
    return names


def _penalties(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(","):
        process, _, value = part.partition("=")
        try:
            out[process.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: give process=number pairs separated by commas, such as "
                "purchase=0.1,dropout=0.05") from None
    return out


def _customer_flags(p, fit: bool) -> None:
    p.add_argument("--customers", help="customer table (.csv or .parquet) with the covariate "
                   "columns, one row per customer, joined on the customer id column")
    if fit:
        for process, what in (("purchase", "the purchase rate"), ("dropout", "the dropout"),
                              ("spend", "the spend")):
            p.add_argument(f"--{process}-covariates", type=_columns,
                           help=f"columns of --customers that move {what}, comma-separated"
                           + (" (bayes_pnbd_abe_gg: the same columns in --purchase-covariates "
                              "and --dropout-covariates move both rates)"
                              if process == "dropout" else ""))
        p.add_argument("--shared-covariates", type=_columns,
                       help="covariates of both the purchase and the dropout process with one "
                       "coefficient for both (Pareto/NBD), comma-separated")
        p.add_argument("--covariate-penalty", type=_penalties,
                       help="an L2 penalty on each process's coefficients, e.g. "
                       "purchase=0.1,dropout=0.05 (maximum likelihood)")


def _over_time_flags(p) -> None:
    p.add_argument("--covariates-over-time", metavar="FILE",
                   help="covariates that change over time (.csv or .parquet): one row per "
                   "period (and per customer, with the --customer-col column), the period's "
                   "first day in --period-col; name its columns in --purchase-covariates and "
                   "--dropout-covariates (Pareto/NBD: --model pnbd_gg)")
    p.add_argument("--covariates-freq", default="W", choices=list(DAYS_PER_UNIT),
                   help="the period of a row of --covariates-over-time (default W, Monday to "
                   "Sunday)")
    p.add_argument("--period-col", "--period-column", dest="period_col", default="period",
                   help="the column of --covariates-over-time with each period's first day "
                   "(default period)")


def _unit_flags(p, what: str) -> None:
    p.add_argument("--freq", default="D", choices=list(DAYS_PER_UNIT),
                   help="period of a purchase occasion: purchases in one period count once "
                   "(default D, a day)")
    p.add_argument("--time-unit", choices=list(DAYS_PER_UNIT),
                   help=f"unit of {what}: D days, W weeks, M months, Q quarters, Y years "
                   "(default: --freq's, as rfm_summary in Python)")


def _penalizer_flag(p) -> None:
    p.add_argument("--penalizer", type=_number(0, False, "the penalizer must be >= 0"),
                   default=0.0, help="L2 penalty of the maximum-likelihood fit (default 0; "
                   "0.001 steadies a fit on few customers)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="clvmodels", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version",
                        version=f"clvmodels {importlib.metadata.version('clvmodels')}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    p = commands.add_parser("demo", help="fit and score the bundled CDNOW data")
    p.add_argument("--kind", choices=["sample", "master"], default="sample")
    p.add_argument("--out", default="cdnow_scores.csv", help="scores file (.csv or .parquet)")
    p.set_defaults(run=demo)

    p = commands.add_parser("backtest", help="compare the models with the heuristic formulas")
    p.add_argument("--transactions", required=True, help="transaction log (.csv or .parquet)")
    p.add_argument("--calibration-end", required=True, nargs="+",
                   help="last calibration day; several for a rolling origin")
    p.add_argument("--observation-end", required=True, nargs="+",
                   help="last holdout day (one, or one per calibration end)")
    _unit_flags(p, "recency, T and the fitted parameters (the metrics do not depend on it)")
    p.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                   choices=[*METHODS, *(f"{m}{WITH_COVARIATES}" for m in METHODS
                                        if m not in BASELINES),
                            *(f"{m}{WITH_COVARIATES_OVER_TIME}" for m in OVER_TIME_PAIRS)],
                   help="default: all; a model pair with the covariates of --customers: its "
                   f"name and '{WITH_COVARIATES}' (pnbd_gg{WITH_COVARIATES}); Pareto/NBD with "
                   f"--covariates-over-time: pnbd_gg{WITH_COVARIATES_OVER_TIME}")
    _reading_flags(p, amount_default=None)
    _customer_flags(p, fit=True)
    _over_time_flags(p)
    _penalizer_flag(p)
    p.add_argument("--draws", type=_count, help="posterior draws per chain of the Bayesian "
                   "method (default 500)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", required=True, help="folder for metrics.csv, predictions.parquet, "
                   "calibration.csv, report.md and the figures")
    p.set_defaults(run=backtest)

    p = commands.add_parser("fit", help="fit BG/NBD + Gamma-Gamma on a transaction file")
    p.add_argument("--transactions", required=True, help="transaction log (.csv or .parquet) "
                   "with columns customer_id, date, amount")
    p.add_argument("--calibration-end", help="fit only on transactions up to this day and check "
                   "the forecast against the rest")
    p.add_argument("--observation-end", required=True, help="last day observed")
    _unit_flags(p, "recency, T and the fitted parameters (the model file records it)")
    p.add_argument("--model", default="bgnbd_gg", choices=pair_names(discrete=True),
                   help="purchase and spend model (default bgnbd_gg; bayes_ for the posterior)")
    _reading_flags(p)
    _penalizer_flag(p)
    _customer_flags(p, fit=True)
    _over_time_flags(p)
    p.add_argument("--draws", type=_count, help="posterior draws per chain (Bayesian)")
    p.add_argument("--tune", type=_count, help="tuning steps per chain (Bayesian)")
    p.add_argument("--chains", type=_count, help="chains (Bayesian)")
    p.add_argument("--random-state", type=int, help="seed of the sampler (Bayesian)")
    p.add_argument("--out", required=True, help="model file (.json)")
    p.add_argument("--quiet", action="store_true", help="no progress, no summary")
    p.set_defaults(run=fit)

    p = commands.add_parser("score", help="score every customer with a fitted model")
    p.add_argument("--model", required=True, help="model file written by 'clvmodels fit'")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--transactions", help="transaction log (.csv or .parquet)")
    source.add_argument("--rfm", help="RFM table (.csv or .parquet) with customer_id, frequency, "
                        "recency, T, monetary_value in the model's time unit (say which with "
                        "--time-unit)")
    p.add_argument("--observation-end", help="last day observed (default: the last transaction)")
    p.add_argument("--freq", choices=list(DAYS_PER_UNIT),
                   help="period of a purchase occasion: purchases in one period count once "
                   "(default D, a day; a BG/BB model's own period of opportunities)")
    p.add_argument("--time-unit", choices=list(DAYS_PER_UNIT),
                   help="unit of recency and T: required with --rfm; with --transactions "
                   "default the model's")
    _reading_flags(p)
    p.add_argument("--horizon", type=_number(0, True, "the horizon must be a number of months "
                                             "> 0 and at most 10000", high=10_000),
                   default=12, help="months (default 12)")
    p.add_argument("--discount-rate", type=_number(0, False, "the discount rate must be a "
                                                   "rate per month >= 0, such as 0.01"),
                   default=0.01, help="per month (default 0.01)")
    p.add_argument("--out", required=True, help="scores file (.parquet or .csv)")
    _customer_flags(p, fit=False)
    _over_time_flags(p)
    p.add_argument("--engine", choices=["local", "dask"], default="local")
    p.add_argument("--scheduler", help="dask scheduler address (default: a LocalCluster)")
    p.add_argument("--quiet", action="store_true", help="no progress, no summary")
    p.set_defaults(run=score)

    p = commands.add_parser("retention", help="fit the shifted-beta-geometric on a subscription "
                            "table and value the active customers")
    p.add_argument("--subscriptions", required=True, help="subscription table (.csv or "
                   ".parquet): one row per customer with start and end (empty: still active)")
    p.add_argument("--observation-end", required=True, help="last day observed")
    p.add_argument("--period", default="M", choices=list(DAYS_PER_UNIT),
                   help="the contract period (default M)")
    p.add_argument("--customer-col", "--customer-column", dest="customer_col",
                   default="customer_id", help="customer id column (default customer_id)")
    p.add_argument("--start-col", default="start", help="start column (default start)")
    p.add_argument("--end-col", default="end", help="end column (default end)")
    p.add_argument("--end-convention", choices=["cancellation", "paid_through"],
                   default="cancellation",
                   help="what an end date means: the day the customer cancelled (default; one "
                   "on a renewal anniversary counts that renewal) or the day the paid time ran "
                   "out, the start plus the periods paid, as billing exports write it")
    p.add_argument("--date-format", help="layout of the dates, e.g. %%d/%%m/%%Y (default: "
                   "inferred where unambiguous: ISO 8601, yyyymmdd, ...)")
    p.add_argument("--sep", help="field separator of a CSV file (default , or a tab for .tsv)")
    p.add_argument("--discount-rate", type=_number(0, True, "the discount rate must be a rate "
                                                   "per period > 0, such as 0.01"),
                   default=0.01, help="per period (default 0.01)")
    p.add_argument("--margin", type=_number(0, False, "the margin must be >= 0"), default=1.0,
                   help="margin per period (default 1: the value is in periods)")
    _penalizer_flag(p)
    p.add_argument("--bayesian", action="store_true",
                   help="sample the posterior (PyMC) and add a 94%% interval")
    p.add_argument("--draws", type=_count, help="posterior draws per chain (Bayesian)")
    p.add_argument("--chains", type=_count, help="chains (Bayesian)")
    p.add_argument("--random-state", type=int, help="seed of the sampler (Bayesian)")
    p.add_argument("--out", required=True, help="scores file (.csv or .parquet)")
    p.add_argument("--model-out", help="also save the fitted model (.json)")
    p.add_argument("--quiet", action="store_true", help="no summary")
    p.set_defaults(run=retention)
    return parser


def _terminate(signum, frame):
    raise Terminated


def main(argv=None) -> int:
    """Run one command; returns the exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: SIGTERM keeps its handler
        previous = None
    where = f"clvmodels {args.command}"
    try:
        with command_line(FLAGS):
            args.run(args)
    except (DataError, ModelFormatError) as err:
        print(f"{where}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ConvergenceError as err:
        print(f"{where}: error: {err}", file=sys.stderr)
        return EXIT_NOT_FITTED
    except MemoryError:
        print(f"{where}: error: out of memory; no output was written (score a large base with "
              "--engine dask, or in parts)", file=sys.stderr)
        return EXIT_FAILED
    except Exception as err:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("CLVMODELS_DEBUG"):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"{where}: internal error ({type(err).__name__}: {first}); no output was "
              "written. This is a bug in clvmodels: please report it with the command, and "
              "set CLVMODELS_DEBUG=1 for the traceback", file=sys.stderr)
        return EXIT_FAILED
    except Terminated:
        print(f"{where}: terminated; no output was written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{where}: interrupted; no output was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
