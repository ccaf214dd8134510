"""The ``clvmodels`` command line."""

from __future__ import annotations

import argparse
import sys
import warnings

import pandas as pd

from . import BetaGeo, GammaGamma, calibration_holdout, customer_value, load_cdnow, rfm_summary
from .exceptions import DataError, DataQualityWarning, ModelFormatError
from .persistence import write_table_atomic

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clvmodels", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="fit and score the bundled CDNOW data")
    p.add_argument("--kind", choices=["sample", "master"], default="sample")
    p.add_argument("--out", default="cdnow_scores.csv", help="scores file (.csv or .parquet)")
    p.set_defaults(run=demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (DataError, ModelFormatError) as err:
        print(f"clvmodels {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
