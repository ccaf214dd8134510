"""The regularity models at scale: MBG/CNBD-k's fit with k chosen by likelihood, its exact
forecast, against MBG/NBD on the same customers (BTYDplus, the peer, is R and not installed
here; its published run times are for 1,525 grocery customers).

On N customers simulated from MBG/CNBD-2 (r 1.2, alpha 3, a 1, b 4, weeks, observed 52): the
k-grid fit, the 52-week expected purchases of every customer, and the MBG/NBD fit and forecast,
each timed, with the process's peak RSS (ru_maxrss) after each step:

    .venv/bin/python benchmarks/regularity.py --customers 100000 1000000

Measured on 2 cores (README): 100,000 customers fit in 1.2 s, 1M in 7.9 s, peak 368 MiB.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n: int) -> dict:
    import clvmodels
    from clvmodels.models.cnbd import ModifiedBetaGeoCNBD, simulate_regular

    frame = simulate_regular(n, k=2, r=1.2, alpha=3.0, a=1.0, b=4.0, T=52, seed=1)
    out = {"customers": n}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        regular = ModifiedBetaGeoCNBD().fit(frame)
        out["mbgcnbd_fit_s"] = time.perf_counter() - start
        out["k"] = regular.k_
        start = time.perf_counter()
        regular.expected_purchases(frame, 52.0)
        out["mbgcnbd_forecast_s"] = time.perf_counter() - start
        out["peak_mib_after_mbgcnbd"] = peak_mib()
        start = time.perf_counter()
        plain = clvmodels.ModifiedBetaGeo().fit(frame)
        out["mbgnbd_fit_s"] = time.perf_counter() - start
        start = time.perf_counter()
        plain.expected_purchases(frame, 52.0)
        out["mbgnbd_forecast_s"] = time.perf_counter() - start
    out["log_likelihood_gain"] = regular.log_likelihood_ - plain.log_likelihood_
    out["peak_mib"] = peak_mib()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000])
    for n in parser.parse_args().customers:
        print(", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in run(n).items()), flush=True)


if __name__ == "__main__":
    main()
