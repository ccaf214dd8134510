"""The Pareto/NBD's variants (issue 22): GGompertz/NBD and the Pareto/NBD with correlated rates,
each fitted by maximum likelihood on customers drawn from it, beside the Pareto/NBD fitted on
the same customers in the same run (the ratio is what the richer model costs).

Data: ``clvmodels.simulate_ggompertz`` (r 0.8, alpha 6, b 0.1, s 0.3, beta 0.2) and
``clvmodels.simulate_correlated`` (r 1.5, alpha 3, s 1.2, beta 4, omega 1), observed for 52
weeks, their times rounded to whole days as a daily log gives them. Each fit runs in a fresh
process (its peak RSS is its own); only the fit is timed. No Python peer has either model
(lifetimes and PyMC-Marketing have neither; BTYDplus and CLVTools are R).

    .venv/bin/python benchmarks/variants.py [--customers 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def base(kind: str, n: int):
    import numpy as np

    import clvmodels

    if kind == "ggompertz":
        frame = clvmodels.simulate_ggompertz(n, seed=2026)
    else:
        frame = clvmodels.simulate_correlated(n, r=1.5, alpha=3.0, s=1.2, beta=4.0, omega=1.0,
                                              T=52.0, seed=2026)
    frame["recency"] = np.round(frame["recency"] * 7) / 7  # whole days, in weeks
    return frame


def step(kind: str, model: str, n: int) -> dict:
    import warnings

    import clvmodels

    frame = base(kind, n)
    cls = {"pnbd": clvmodels.ParetoNBD, "ggomnbd": clvmodels.GGompertzNBD,
           "cpnbd": clvmodels.CorrelatedParetoNBD}[model]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        fitted = cls().fit(frame)
    seconds = time.perf_counter() - start
    return {"data": kind, "model": model, "customers": n, "seconds": round(seconds, 2),
            "peak_mib": round(peak_mib()), "log_likelihood": round(fitted.log_likelihood_, 2),
            "distinct_histories": int(len(frame[["frequency", "recency", "T"]]
                                          .drop_duplicates()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--step", nargs=2, metavar=("DATA", "MODEL"))
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(*args.step, args.customers)))
        return
    rows = []
    for kind, model in [("ggompertz", "pnbd"), ("ggompertz", "ggomnbd"),
                        ("correlated", "pnbd"), ("correlated", "cpnbd")]:
        out = subprocess.run([sys.executable, __file__, "--customers", str(args.customers),
                              "--step", kind, model], capture_output=True, text=True)
        if out.returncode:
            rows.append({"data": kind, "model": model, "error": out.stderr.strip()[-300:]})
        else:
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print()
    print("| data | model | customers (distinct histories) | fit | peak RSS | vs Pareto/NBD |")
    print("| --- | --- | --- | --- | --- | --- |")
    reference = {}
    for row in rows:
        if "error" in row:
            print(f"| {row['data']} | {row['model']} | | failed | | |")
            continue
        if row["model"] == "pnbd":
            reference[row["data"]] = row["seconds"]
        ratio = row["seconds"] / reference[row["data"]] if row["data"] in reference else None
        print(f"| {row['data']} | {row['model']} | {row['customers']:,} "
              f"({row['distinct_histories']:,}) | {row['seconds']:.1f} s | "
              f"{row['peak_mib']:,} MiB | {'' if ratio is None else f'{ratio:.1f}x'} |")


if __name__ == "__main__":
    main()
