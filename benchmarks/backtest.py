"""Backtest the models against the heuristic formulas on the real CDNOW data.

1. CDNOW sample (2,357 customers): calibration weeks 1-39 (to 1997-09-30), holdout weeks 40-78
   (to 1998-06-30), the split of Fader, Hardie & Lee (2005).
2. CDNOW master (23,570 customers): rolling origin, three calibration ends a quarter apart, each
   with a 26-week holdout; the metrics per origin and their mean.

Prints Markdown tables (the README's) and writes each full report under benchmarks/results/.

    .venv/bin/python benchmarks/backtest.py
"""

from __future__ import annotations

import os
import time
import warnings

import clvmodels
from clvmodels.reporting import HEADLINE, markdown_table

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = {
    "sample": dict(kind="sample", calibration_end="1997-09-30", observation_end="1998-06-30"),
    "master-rolling": dict(kind="master",
                           calibration_end=["1997-06-30", "1997-09-30", "1997-12-31"],
                           observation_end=["1997-12-29", "1998-03-31", "1998-06-30"]),
}


def main() -> None:
    warnings.simplefilter("ignore")
    for name, run in RUNS.items():
        run = dict(run)
        transactions = clvmodels.load_cdnow(run.pop("kind"))
        start = time.perf_counter()
        result = clvmodels.backtest(transactions, **run)
        seconds = time.perf_counter() - start
        out = os.path.join(HERE, "results", f"backtest-{name}")
        result.write(out)
        ends = run["calibration_end"]
        print(f"## CDNOW {name}: {transactions.customer_id.nunique():,} customers, calibration "
              f"end(s) {ends}; {seconds:.1f} s for all methods; report in {out}\n")
        print(markdown_table(result.summary()[HEADLINE]), "\n")
        winners = result.winners()
        print(markdown_table(winners.assign(value=winners["value"].astype(float))), "\n")


if __name__ == "__main__":
    main()
