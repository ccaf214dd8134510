"""End to end, side by side: transactions -> RFM -> BG/NBD -> Gamma-Gamma -> 12-month CLV.

The transaction log is simulated once (BG/NBD + Gamma-Gamma at the CDNOW estimates) and written to
Parquet; each library then runs in its own process on that file, so peak memory (ru_maxrss) is
its own. Run from the repository root:

    .venv/bin/python benchmarks/end_to_end.py --customers 1000000
    .venv/bin/python benchmarks/end_to_end.py --customers 10000000 --libraries clvmodels

The simulated log is ordered by customer and date, as many exports are; ``--shuffle`` measures a
log in random row order (clvmodels then sorts; lifetimes does not care).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

STEPS = ["rfm", "bgnbd_fit", "gamma_gamma_fit", "clv_12_months"]


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_clvmodels(tx, end):
    import clvmodels

    times = {}
    t = time.perf_counter()
    rfm = clvmodels.rfm_summary(tx, amount="amount", freq="D", time_unit="W", observation_end=end)
    times["rfm"] = time.perf_counter() - t
    t = time.perf_counter()
    bg = clvmodels.BetaGeo().fit(rfm)
    times["bgnbd_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    gg = clvmodels.GammaGamma().fit(rfm)
    times["gamma_gamma_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    clv = clvmodels.customer_value(bg, gg, rfm, horizon=12, discount_rate=0.01)
    times["clv_12_months"] = time.perf_counter() - t
    return times, float(clv.sum()), bg.params_.round(4).to_dict()


def run_lifetimes(tx, end):
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    times = {}
    t = time.perf_counter()
    rfm = summary_data_from_transaction_data(tx, "customer_id", "date", monetary_value_col="amount",
                                             freq="D", freq_multiplier=7, observation_period_end=end)
    times["rfm"] = time.perf_counter() - t
    t = time.perf_counter()
    bg = BetaGeoFitter().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    times["bgnbd_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    repeat = rfm[rfm["frequency"] > 0]
    gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    times["gamma_gamma_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    clv = gg.customer_lifetime_value(bg, rfm["frequency"], rfm["recency"], rfm["T"],
                                     rfm["monetary_value"], time=12, discount_rate=0.01, freq="W")
    times["clv_12_months"] = time.perf_counter() - t
    return times, float(clv.sum()), bg.params_.round(4).to_dict()


def child(library: str, path: str, end: str) -> None:
    warnings.simplefilter("ignore")
    import pandas as pd

    tx = pd.read_parquet(path)
    baseline = rss_mib()
    runner = {"clvmodels": run_clvmodels, "lifetimes": run_lifetimes}[library]
    times, clv_total, params = runner(tx, end)
    print(json.dumps({
        "library": library, "times": times, "total": sum(times.values()),
        "peak_rss_mib": peak_rss_mib(), "input_rss_mib": baseline,
        "clv_total": clv_total, "params": params,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--libraries", nargs="+", default=["clvmodels", "lifetimes"])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--shuffle", action="store_true", help="rows in random order")
    parser.add_argument("--child", nargs=3, metavar=("LIBRARY", "PATH", "END"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    import clvmodels

    t = time.perf_counter()
    tx = clvmodels.simulate_transactions(args.customers, seed=args.seed)
    end = tx.attrs["observation_end"]
    if args.shuffle:
        tx = tx.sample(frac=1.0, random_state=args.seed, ignore_index=True)
    print(f"simulated {args.customers:,} customers, {len(tx):,} transactions "
          f"({'random' if args.shuffle else 'customer, date'} order) in "
          f"{time.perf_counter() - t:.1f} s; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "transactions.parquet")
        tx.to_parquet(path)
        del tx
        results = {}
        for library in args.libraries:
            out = subprocess.run([sys.executable, __file__, "--child", library, path, end],
                                 capture_output=True, text=True, check=True)
            results[library] = json.loads(out.stdout.strip().splitlines()[-1])

    libraries = list(results)
    header = f"| step | {' | '.join(f'{lib} (s)' for lib in libraries)} |"
    ratio = len(libraries) == 2
    print("\n" + header + (" ratio |" if ratio else ""))
    print("|" + " --- |" * (len(libraries) + 1 + ratio))
    for step in STEPS + ["total"]:
        values = [results[lib]["times"][step] if step != "total" else results[lib]["total"]
                  for lib in libraries]
        cells = " | ".join(f"{v:.2f}" for v in values)
        print(f"| {step} | {cells} |" + (f" {values[1] / values[0]:.1f}x |" if ratio else ""))
    peaks = [results[lib]["peak_rss_mib"] for lib in libraries]
    inputs = [results[lib]["input_rss_mib"] for lib in libraries]
    print(f"| peak RSS (MiB) | {' | '.join(f'{p:,.0f}' for p in peaks)} |"
          + (f" {peaks[1] / peaks[0]:.1f}x |" if ratio else ""))
    print(f"| RSS with the log loaded (MiB) | {' | '.join(f'{p:,.0f}' for p in inputs)} |"
          + (" |" if ratio else ""))
    for lib in libraries:
        print(f"{lib}: BG/NBD {results[lib]['params']}, total 12-month CLV "
              f"{results[lib]['clv_total']:,.0f}")


if __name__ == "__main__":
    main()
