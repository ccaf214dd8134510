"""The purchase models side by side with their lifetimes twins, one process per library.

For each registered purchase model with a twin in lifetimes (BG/NBD: BetaGeoFitter; MBG/NBD:
ModifiedBetaGeoFitter; Pareto/NBD: ParetoNBDFitter; BG/BB: BetaGeoBetaBinomFitter), on N customers
simulated from that model (CDNOW parameters, weeks; BG/BB: the donations estimate, 8 yearly
opportunities): fit, then the conditional expected purchases in the next 52 weeks (BG/BB: 5
opportunities) and P(alive) for every customer. Wall time of the three steps and the process's peak RSS (ru_maxrss), each library in a
fresh process on the same RFM file, in one run:

    .venv/bin/python benchmarks/family.py --customers 200000 1000000
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

TWINS = {"bgnbd": "BetaGeoFitter", "mbgnbd": "ModifiedBetaGeoFitter", "pnbd": "ParetoNBDFitter",
         "bgbb": "BetaGeoBetaBinomFitter"}


def child(model: str, library: str, path: str) -> None:
    import pandas as pd

    warnings.simplefilter("ignore")
    import lifetimes

    from clvmodels.models import MODELS

    rfm = pd.read_parquet(path)
    discrete = model == "bgbb"
    rfm.attrs["time_unit"] = "Y" if discrete else "W"
    horizon = 5 if discrete else 52.0
    start = time.perf_counter()  # the imports above are not timed
    if library == "clvmodels":
        fitted = MODELS[model].mle().fit(rfm)
        fitted.expected_purchases(rfm, horizon)
        fitted.probability_alive(rfm)
        params = fitted.params_.round(4).to_dict()
    else:
        x, t_x, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
        fitted = getattr(lifetimes, TWINS[model])().fit(x, t_x, T)
        fitted.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, T)
        if discrete:  # lifetimes' BG/BB takes the opportunities ahead first
            fitted.conditional_probability_alive(0, x, t_x, T)
        else:
            fitted.conditional_probability_alive(x, t_x, T)
        params = fitted.params_.round(4).to_dict()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "params": params}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--models", nargs="+", default=list(TWINS), choices=list(TWINS))
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "LIBRARY", "PATH"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    import clvmodels

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in args.customers:
            for model in args.models:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if model == "bgbb":
                        tx = clvmodels.simulate_opportunities(n, opportunities=8, seed=7)
                        rfm = clvmodels.opportunity_summary(
                            tx, period="Y", observation_end=tx.attrs["observation_end"])
                    else:
                        tx = clvmodels.simulate_transactions(n, seed=7, model=model)
                        rfm = clvmodels.rfm_summary(
                            tx, observation_end=tx.attrs["observation_end"], time_unit="W")
                path = os.path.join(folder, f"{model}-{n}.parquet")
                rfm.to_parquet(path)
                result = {}
                for library in ("clvmodels", "lifetimes"):
                    out = subprocess.run([sys.executable, __file__, "--child", model, library,
                                          path], capture_output=True, text=True, check=True)
                    result[library] = json.loads(out.stdout.strip().splitlines()[-1])
                    print(f"{n:>9,} {model:7s} {library:10s} {result[library]['seconds']:7.2f} s "
                          f"peak {result[library]['peak_mib']:,.0f} MiB {result[library]['params']}",
                          flush=True)
                rows.append((n, model, result))
    print("\n| customers | model | clvmodels (s) | lifetimes (s) | ratio | peak MiB (ours / theirs) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, model, r in rows:
        ours, theirs = r["clvmodels"], r["lifetimes"]
        print(f"| {n:,} | {model} | {ours['seconds']:.2f} | {theirs['seconds']:.2f} | "
              f"{theirs['seconds'] / ours['seconds']:.1f}x | {ours['peak_mib']:,.0f} / "
              f"{theirs['peak_mib']:,.0f} |")


if __name__ == "__main__":
    main()
