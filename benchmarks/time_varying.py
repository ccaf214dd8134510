"""Pareto/NBD with covariates over time (issue 22): the maximum-likelihood fit of 100,000
customers x 104 weekly periods with two covariates over time (``season``, ``campaign``) and two
static ones (``income``, ``segment``) on both processes (4 + 8 parameters), beside the same
customers fitted without covariates and with the static ones only, in one run; then scoring a
million customers with their future paths (P(alive), expected purchases over 26 weeks, DECT
over 52 weeks), which holds 20,000 customers' paths at a time.

Data: ``clvmodels.simulate_time_varying`` (weeks; r 0.8, alpha 8, s 0.6, beta 30; customers
acquired over the first 52 weeks of 104). Each step runs in a fresh process (its peak RSS is
the step's own): the fit alone is timed (simulation, RFM frame and imports are not); the
numba compilation is cached on disk by a warm-up in the same process before timing.

    .venv/bin/python benchmarks/time_varying.py [--customers 100000] [--score 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

TRUTH_P = {"season": 0.5, "campaign": 0.4, "income": 0.2, "segment": -0.3}
TRUTH_D = {"season": -0.4, "campaign": 0.2, "income": 0.25, "segment": 0.3}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def base(n: int, seed: int):
    import pandas as pd

    import clvmodels

    parts, customers, offset = [], [], 0
    for k, start in enumerate(range(0, n, 100_000)):  # in blocks: the simulator holds paths
        size = min(100_000, n - start)
        tx, calendar, cust, end = clvmodels.simulate_time_varying(
            size, purchase_effects=TRUTH_P, dropout_effects=TRUTH_D, weeks=104,
            acquisition_weeks=52, seed=seed + k)
        parts.append(tx.assign(customer_id=tx["customer_id"] + offset))
        customers.append(cust.assign(customer_id=cust["customer_id"] + offset))
        offset += size
    table = clvmodels.read_covariates_over_time(calendar, customer=None, freq="W")
    rfm = clvmodels.rfm_summary(pd.concat(parts), freq="D", time_unit="W",
                                observation_end=end, customers=pd.concat(customers),
                                covariates_over_time=table)
    return rfm, calendar, table


def fit_step(n: int, which: str) -> dict:
    import clvmodels

    rfm, _, table = base(n, 2026)
    if which == "time_varying":
        model = clvmodels.TimeVaryingParetoNBD(purchase_covariates=list(TRUTH_P),
                                               dropout_covariates=list(TRUTH_D))
        model.fit(rfm.head(300), table)  # the compiled kernel, cached on disk: not timed
        start = time.perf_counter()
        model.fit(rfm, table)
    elif which == "static":
        model = clvmodels.ParetoNBD(purchase_covariates=["income", "segment"],
                                    dropout_covariates=["income", "segment"])
        start = time.perf_counter()
        model.fit(rfm)
    else:
        model = clvmodels.ParetoNBD()
        start = time.perf_counter()
        model.fit(rfm)
    seconds = time.perf_counter() - start
    return {"step": f"fit {which}", "customers": n, "seconds": seconds,
            "parameters": len(model.params_), "log_likelihood": model.log_likelihood_,
            "peak_mib": peak_mib()}


def score_step(n: int) -> dict:
    import numpy as np
    import pandas as pd

    import clvmodels

    rfm, calendar, table = base(100_000, 2026)
    model = clvmodels.TimeVaryingParetoNBD(purchase_covariates=list(TRUTH_P),
                                           dropout_covariates=list(TRUTH_D)).fit(rfm, table)
    big, _, _ = base(n, 7)
    weeks = len(calendar) + 60
    week = np.arange(weeks)
    future = clvmodels.read_covariates_over_time(pd.DataFrame({
        "period": pd.date_range(calendar["period"].iloc[0], periods=weeks, freq="W-MON"),
        "season": np.sin(2 * np.pi * week / 52),
        "campaign": ((week % 13) < 2).astype(float)}), customer=None)
    before = peak_mib()
    start = time.perf_counter()
    alive = model.probability_alive(big, covariates_over_time=future)
    expected = model.expected_purchases(big, 26, covariates_over_time=future)
    dect = model.discounted_expected_transactions(big, 52, 0.002,
                                                  covariates_over_time=future)
    seconds = time.perf_counter() - start
    return {"step": "score", "customers": n, "seconds": seconds, "peak_mib": peak_mib(),
            "peak_mib_before_scoring": before, "mean_alive": float(alive.mean()),
            "total_expected_26w": float(expected.sum()), "total_dect_52w": float(dect.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--score", type=int, default=1_000_000)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        kind, _, which = args.step.partition(":")
        result = fit_step(args.customers, which) if kind == "fit" else score_step(args.score)
        print(json.dumps(result))
        return
    rows = []
    for step in ("fit:plain", "fit:static", "fit:time_varying", "score:"):
        out = subprocess.run([sys.executable, __file__, "--step", step, "--customers",
                              str(args.customers), "--score", str(args.score)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    tv = next(r for r in rows if r["step"] == "fit time_varying")
    for r in rows:
        if r["step"].startswith("fit"):
            print(f"{r['step']:>20}: {r['seconds']:7.1f} s ({r['seconds'] / tv['seconds']:.2f} x "
                  f"the time-varying fit), {r['parameters']} parameters, peak "
                  f"{r['peak_mib']:,.0f} MiB")
    s = rows[-1]
    print(f"{'score':>20}: {s['customers']:,} customers in {s['seconds']:.1f} s, peak "
          f"{s['peak_mib']:,.0f} MiB ({s['peak_mib_before_scoring']:,.0f} MiB before scoring)")


if __name__ == "__main__":
    main()
