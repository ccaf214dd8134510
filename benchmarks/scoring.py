"""Batch scoring throughput and peak memory: ``clvmodels score`` on the local and Dask engines.

A transaction log of N simulated customers (BG/NBD + Gamma-Gamma at the CDNOW estimates) is
written to Parquet and a model pair fitted on it (neither is timed). Then each engine scores the
whole base from the transaction file in a fresh process: ``clvmodels score --model ...
--transactions ... --out scores.parquet``. Wall time and the peak of the summed resident memory
of the whole process tree (Dask workers included; sampled every 50 ms) are reported, with
customers per second. ``--lifetimes`` adds the peer doing the same in memory (RFM summary,
expected purchases, P(alive), expected spend, 12-month CLV) from the same Parquet file.

    .venv/bin/python benchmarks/scoring.py --customers 1000000 10000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import psutil

LIFETIMES_SCRIPT = """
import sys, warnings, pandas as pd
warnings.simplefilter("ignore")
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
import clvmodels
pair = clvmodels.load(sys.argv[1])
tx = pd.read_parquet(sys.argv[2])
rfm = summary_data_from_transaction_data(tx, "customer_id", "date", "amount", freq="W",
                                         observation_period_end=sys.argv[3])
bg, gg = BetaGeoFitter(), GammaGammaFitter()
bg.params_ = pd.Series(pair.purchases.params_.to_numpy(), index=["r", "alpha", "a", "b"])
gg.params_ = pd.Series(pair.spend.params_.to_numpy(), index=["p", "q", "v"])
bg.predict = bg.conditional_expected_number_of_purchases_up_to_time
out = rfm.assign(
    expected_purchases=bg.conditional_expected_number_of_purchases_up_to_time(
        52.18, rfm["frequency"], rfm["recency"], rfm["T"]),
    probability_alive=bg.conditional_probability_alive(rfm["frequency"], rfm["recency"], rfm["T"]),
    expected_spend=gg.conditional_expected_average_profit(rfm["frequency"], rfm["monetary_value"]),
    clv=gg.customer_lifetime_value(bg, rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"],
                                   time=12, discount_rate=0.01, freq="W"),
)
out.to_parquet(sys.argv[4])
"""


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak summed RSS (MiB) of ``command`` and all its descendants."""
    start = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def watch():
        while process.poll() is None:
            total = 0
            try:
                for p in [process, *process.children(recursive=True)]:
                    total += p.memory_info().rss
            except psutil.Error:
                pass
            peak[0] = max(peak[0], total / 2**20)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    _, err = process.communicate()
    watcher.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return time.perf_counter() - start, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--engines", nargs="+", default=["local", "dask"])
    parser.add_argument("--lifetimes", action="store_true", help="also run lifetimes (slow)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import clvmodels

    bin_dir = os.path.dirname(sys.executable)
    rows = []
    for n in args.customers:
        with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(__file__))) as tmp:
            tx = clvmodels.simulate_transactions(n, seed=2026)
            end = tx.attrs["observation_end"]
            log, model = os.path.join(tmp, "tx.parquet"), os.path.join(tmp, "model.json")
            tx.to_parquet(log, row_group_size=1_000_000)
            n_rows = len(tx)
            del tx
            from clvmodels.batch import fit_file

            fit_file(log, model, observation_end=end, quiet=True)
            runs = [(engine, [os.path.join(bin_dir, "clvmodels"), "score", "--model", model,
                              "--transactions", log, "--observation-end", end, "--out",
                              os.path.join(tmp, f"scores-{engine}.parquet"), "--engine", engine,
                              "--quiet"]) for engine in args.engines]
            if args.lifetimes:
                runs.append(("lifetimes (in memory)",
                             [sys.executable, "-c", LIFETIMES_SCRIPT, model, log, end,
                              os.path.join(tmp, "scores-lifetimes.parquet")]))
            for name, command in runs:
                seconds, peak = measure(command)
                rows.append((n, n_rows, name, seconds, peak))
                print(f"{n:>11,} customers ({n_rows:,} transactions)  {name:22s} {seconds:7.1f} s "
                      f"{n / seconds:>11,.0f} customers/s  peak {peak:,.0f} MiB", flush=True)
    print("\n| customers | transactions | engine | seconds | customers / s | peak memory (MiB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, n_rows, name, seconds, peak in rows:
        print(f"| {n:,} | {n_rows:,} | {name} | {seconds:.1f} | {n / seconds:,.0f} | {peak:,.0f} |")


if __name__ == "__main__":
    main()
