"""Pareto/GGG sampled with its per-customer latent variables (issue 24).

Speed: customers simulated from Pareto/GGG with strong regularity (k ~ Gamma(10, 2), mean 5;
lambda ~ Gamma(4, 8); mu ~ Gamma(0.5, 8); 52 weeks observed), the library's default sampler (4
chains x (500 warm-up + 2,000 draws), chains in their own processes): wall time of the whole fit
(the Pareto/NBD start included), peak memory, convergence of the six population parameters,
then the time to predict the first ``--predict`` customers' next 52 weeks:

    .venv/bin/python benchmarks/latent.py scale --customers 1525   # BTYDplus grocery's size
    .venv/bin/python benchmarks/latent.py scale --customers 100000 --draws 1000 --tune 300

Holdout accuracy: simulated customers observed 52 weeks, their purchases in the next 52
predicted by Pareto/NBD and MBG/CNBD-k (maximum likelihood) and Pareto/GGG (posterior mean), on
data with heterogeneous regularity (k ~ Gamma(2, 0.4): mean 5, sd 3.5) and without regularity
(k ~ Gamma(50, 50), about 1); per-customer squared and absolute errors, and the paired
bootstrap interval (1,000 resamples of the customers) of each difference:

    .venv/bin/python benchmarks/latent.py compare --customers 3000

BTYDplus (R) could not be run here; its documentation gives no run time for these sizes.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np

STRONG = dict(t=10.0, gamma=2.0, r=4.0, alpha=8.0, s=0.5, beta=8.0)
HETEROGENEOUS = dict(t=2.0, gamma=0.4, r=4.0, alpha=8.0, s=0.5, beta=8.0)
NONE = dict(t=50.0, gamma=50.0, r=0.8, alpha=6.0, s=0.6, beta=10.0)


def scale(args) -> None:
    from clvmodels import ParetoGGG, simulate_pareto_ggg

    rfm = simulate_pareto_ggg(args.customers, T=52, holdout=52, seed=args.seed, **STRONG)
    start = time.perf_counter()
    model = ParetoGGG(draws=args.draws, tune=args.tune, random_state=1).fit(rfm)
    seconds = time.perf_counter() - start
    summary = model.summary()
    main_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chain_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{args.customers:,} customers, 4 chains x ({args.tune} + {args.draws}): "
          f"{seconds:.1f} s; peak RSS main {main_mib:,.0f} MiB, largest chain process "
          f"{chain_mib:,.0f} MiB; r_hat <= {summary['r_hat'].max():.3f}, bulk ESS >= "
          f"{summary['ess_bulk'].min():.0f}\n")
    print(summary[["mean", "sd", "ess_bulk", "r_hat"]].assign(truth=STRONG).to_string())
    start = time.perf_counter()
    head = rfm.iloc[:args.predict]
    model.expected_purchases(head, 52)
    print(f"\nexpected purchases of {len(head):,} customers (each her own chain given the "
          f"population's draws, {model.customer_draws} draws, {8} paths each): "
          f"{time.perf_counter() - start:.1f} s")


def compare(args) -> None:
    import clvmodels
    from clvmodels import ParetoGGG, simulate_pareto_ggg

    print("| data | error | Pareto/NBD | MBG/CNBD-k | Pareto/GGG | Pareto/GGG - Pareto/NBD "
          "| Pareto/GGG - MBG/CNBD-k |\n| --- | --- | --- | --- | --- | --- | --- |")
    for label, truth, seed in (("heterogeneous regularity", HETEROGENEOUS, 11),
                               ("no regularity", NONE, 12)):
        rfm = simulate_pareto_ggg(args.customers, T=52, holdout=52, seed=seed, **truth)
        calibration = rfm[["frequency", "recency", "T", "litt"]].copy()
        calibration.attrs = rfm.attrs
        actual = rfm["frequency_holdout"].to_numpy(float)
        predicted = {
            "pnbd": clvmodels.ParetoNBD().fit(calibration),
            "mbgcnbd": clvmodels.ModifiedBetaGeoCNBD().fit(calibration),
        }
        predicted = {k: m.expected_purchases(calibration, 52).to_numpy()
                     for k, m in predicted.items()}
        start = time.perf_counter()
        model = ParetoGGG(draws=args.draws, tune=args.tune, random_state=1).fit(calibration)
        predicted["pggg"] = model.expected_purchases(calibration, 52).to_numpy()
        seconds = time.perf_counter() - start
        rng = np.random.default_rng(0)
        resamples = rng.integers(0, len(actual), (1000, len(actual)))
        for error, loss in (("squared", np.square), ("absolute", np.abs)):
            errors = {k: loss(v - actual) for k, v in predicted.items()}
            cells = [f"{errors[k].mean():.4f}" for k in ("pnbd", "mbgcnbd", "pggg")]
            for other in ("pnbd", "mbgcnbd"):
                difference = errors["pggg"] - errors[other]
                low, high = np.quantile(difference[resamples].mean(axis=1), [0.025, 0.975])
                cells.append(f"{difference.mean():+.4f} [{low:+.4f}, {high:+.4f}]")
            print(f"| {label} | {error} | " + " | ".join(cells) + " |", flush=True)
        print(f"(Pareto/GGG fit and prediction on {label}: {seconds:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scale")
    s.add_argument("--customers", type=int, default=1525)
    s.add_argument("--draws", type=int, default=2000)
    s.add_argument("--tune", type=int, default=500)
    s.add_argument("--seed", type=int, default=4)
    s.add_argument("--predict", type=int, default=1525, help="customers to predict for")
    s.set_defaults(run=scale)
    c = sub.add_parser("compare")
    c.add_argument("--customers", type=int, default=3000)
    c.add_argument("--draws", type=int, default=1000)
    c.add_argument("--tune", type=int, default=300)
    c.set_defaults(run=compare)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    args.run(args)


if __name__ == "__main__":
    main()
