"""The ``clvmodels`` command line."""

from __future__ import annotations

import argparse
import os
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
from .backtesting import METHODS
from .exceptions import DataError, DataQualityWarning, ModelFormatError
from .persistence import write_table_atomic
from .units import DAYS_PER_UNIT

EXIT_BAD_INPUT = 2


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

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # exclusions are counted in the report
        result = run_backtest(
            args.transactions, calibration_end=args.calibration_end,
            observation_end=args.observation_end, methods=args.methods,
            customer=args.customer_column, date=args.date_column, amount=args.amount_column,
            freq=args.freq, time_unit=args.time_unit,
        )
    files = result.write(args.out)
    print(result.summary()[["purchases_mae", "spend_mae", "spearman", "top_decile_capture",
                            "alive_auc"]].round(3).to_string(), "\n")
    print(f"wrote {', '.join(os.path.basename(f) for f in files)} to {args.out}")


def fit(args) -> None:
    """Fit the model pair on a transaction file and save it."""
    from .batch import fit_file

    pair, check = fit_file(args.transactions, args.out, observation_end=args.observation_end,
                           calibration_end=args.calibration_end, freq=args.freq,
                           time_unit=args.time_unit, model=args.model, quiet=args.quiet)
    if not args.quiet:
        for model in (pair.purchases, pair.spend):
            print(f"{model!r}\n{model.summary().round(4).to_string()}\n")
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
                       engine=args.engine, scheduler=args.scheduler)
    if not args.quiet:
        left_out = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in stats.excluded.items() if n)
        source = f" from {stats.rows:,} rows" if stats.rows else ""
        print(f"scored {stats.customers:,} customers{source} into {args.out}"
              + (f" (transactions left out: {left_out})" if left_out else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clvmodels", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
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
    p.add_argument("--freq", default="D", choices=list(DAYS_PER_UNIT))
    p.add_argument("--time-unit", default="W", choices=list(DAYS_PER_UNIT))
    p.add_argument("--methods", nargs="+", choices=METHODS, default=None,
                   help="default: all")
    p.add_argument("--customer-column", default="customer_id")
    p.add_argument("--date-column", default="date")
    p.add_argument("--amount-column", default="amount")
    p.add_argument("--out", required=True, help="folder for metrics.csv, predictions.parquet, "
                   "calibration.csv, report.md and the figures")
    p.set_defaults(run=backtest)

    p = commands.add_parser("fit", help="fit BG/NBD + Gamma-Gamma on a transaction file")
    p.add_argument("--transactions", required=True, help="transaction log (.csv or .parquet) "
                   "with columns customer_id, date, amount")
    p.add_argument("--calibration-end", help="fit only on transactions up to this day and check "
                   "the forecast against the rest")
    p.add_argument("--observation-end", required=True, help="last day observed")
    p.add_argument("--freq", default="D", choices=list(DAYS_PER_UNIT))
    p.add_argument("--time-unit", default="W", choices=list(DAYS_PER_UNIT))
    p.add_argument("--model", default="bgnbd_gg", choices=["bgnbd_gg", "bayes_bgnbd_gg"])
    p.add_argument("--out", required=True, help="model file (.json)")
    p.add_argument("--quiet", action="store_true", help="no progress, no summary")
    p.set_defaults(run=fit)

    p = commands.add_parser("score", help="score every customer with a fitted model")
    p.add_argument("--model", required=True, help="model file written by 'clvmodels fit'")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--transactions", help="transaction log (.csv or .parquet)")
    source.add_argument("--rfm", help="RFM table (.csv or .parquet) with customer_id, frequency, "
                        "recency, T, monetary_value in the model's time unit")
    p.add_argument("--observation-end", help="last day observed (default: the last transaction)")
    p.add_argument("--freq", default="D", choices=list(DAYS_PER_UNIT))
    p.add_argument("--time-unit", choices=list(DAYS_PER_UNIT),
                   help="default: the model's time unit")
    p.add_argument("--horizon", type=float, default=12, help="months (default 12)")
    p.add_argument("--discount-rate", type=float, default=0.01, help="per month (default 0.01)")
    p.add_argument("--out", required=True, help="scores file (.parquet or .csv)")
    p.add_argument("--engine", choices=["local", "dask"], default="local")
    p.add_argument("--scheduler", help="dask scheduler address (default: a LocalCluster)")
    p.add_argument("--quiet", action="store_true", help="no progress, no summary")
    p.set_defaults(run=score)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (DataError, ModelFormatError) as err:
        print(f"clvmodels {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"clvmodels {args.command}: interrupted; no output was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
