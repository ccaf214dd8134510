"""Pareto/GGG sampled with its per-customer latent variables (issue 24).

Customers simulated from Pareto/GGG with strong regularity (k ~ Gamma(10, 2), mean 5; lambda ~
Gamma(4, 8); mu ~ Gamma(0.5, 8); 52 weeks observed, 52 held out), the library's default sampler
(4 chains x (500 warm-up + 2,000 draws), chains in their own processes): wall time of the whole
fit (the Pareto/NBD start included), peak memory, convergence of the six population parameters:

    .venv/bin/python benchmarks/latent.py --customers 1525     # the BTYDplus grocery data's size

BTYDplus (R) could not be run here; its documentation gives no run time for this size.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

TRUTH = dict(t=10.0, gamma=2.0, r=4.0, alpha=8.0, s=0.5, beta=8.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--customers", type=int, default=1525)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from clvmodels import ParetoGGG, simulate_pareto_ggg

    rfm = simulate_pareto_ggg(args.customers, T=52, holdout=52, seed=args.seed, **TRUTH)
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
    print(summary[["mean", "sd", "ess_bulk", "r_hat"]].assign(truth=TRUTH).to_string())


if __name__ == "__main__":
    main()
