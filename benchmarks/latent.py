"""Pareto/GGG sampled with its per-customer latent variables (issue 24).

Speed: customers simulated from Pareto/GGG with strong regularity (k ~ Gamma(10, 2), mean 5;
lambda ~ Gamma(4, 8); mu ~ Gamma(0.5, 8); 52 weeks observed), the library's default sampler (4
chains x (500 warm-up + 2,000 draws), chains in their own processes): wall time of the whole fit
(the Pareto/NBD start included), peak memory, convergence of the six population parameters,
then the time to predict the first ``--predict`` customers' next 52 weeks:

    .venv/bin/python benchmarks/latent.py scale --customers 1525   # BTYDplus grocery's size
    .venv/bin/python benchmarks/latent.py scale --customers 100000 --draws 1600 --tune 300 \
        --predict 10000

Holdout accuracy: simulated customers observed 52 weeks, their purchases in the next 52
predicted by Pareto/NBD and MBG/CNBD-k (maximum likelihood) and Pareto/GGG (posterior mean), on
data with heterogeneous regularity (k ~ Gamma(2, 0.4): mean 5, sd 3.5) and without regularity
(k ~ Gamma(50, 50), about 1); per-customer squared and absolute errors, and the paired
bootstrap interval (1,000 resamples of the customers) of each difference:

    .venv/bin/python benchmarks/latent.py compare --customers 3000

Abe's hierarchical Pareto/NBD on CDNOW with the first purchase as covariate, the defaults:

    .venv/bin/python benchmarks/latent.py abe

BTYDplus's grocery data (the event log exported from R: BTYDplus is GPL and not bundled): the
four models' holdout errors with paired intervals, and Pareto/GGG beside the published output of
BTYDplus's vignette (population medians, the first six customers, the mean absolute error):

    .venv/bin/python benchmarks/latent.py grocery --elog groceryElog.csv

BTYDplus (R) could not be run here; its vignette gives "~2mins on 2015 MacBook Pro" for its
default Pareto/GGG run on the grocery data, and no run time for the simulated sizes.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np
import pandas as pd

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
          f"population's draws, {model.customer_draws} draws): "
          f"{time.perf_counter() - start:.1f} s")


def abe(args) -> None:
    """Abe's hierarchical Pareto/NBD on CDNOW (2,357 customers, 39 weeks), the first purchase's
    amount in thousands as covariate (BTYDplus's model M2): the fit's wall time, the CPU time
    of its chain processes (more than two per second of wall time on 2 cores means their
    threads fight), peak memory and convergence."""
    import clvmodels

    tx = clvmodels.load_cdnow()
    split = clvmodels.calibration_holdout(tx, calibration_end="1997-09-30",
                                          observation_end="1998-06-30", time_unit="W")
    first = tx.sort_values("date", kind="stable").groupby("customer_id")["amount"].first()
    split["first_sales"] = first.reindex(split.index) / 1000
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    model = clvmodels.HierarchicalParetoNBD(customer_covariates=["first_sales"],
                                           draws=args.draws, tune=args.tune,
                                           chains=args.chains, random_state=1).fit(split)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    summary = model.summary()
    print(f"CDNOW, {args.chains} chains x ({args.tune} + {args.draws}): {seconds:.1f} s; chain "
          f"processes' CPU {cpu:.1f} s; peak RSS main "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB, largest "
          f"chain process {after.ru_maxrss / 1024:,.0f} MiB; r_hat <= "
          f"{summary['r_hat'].max():.3f}, bulk ESS >= {summary['ess_bulk'].min():.0f}\n")
    print(summary[["mean", "sd", "ess_bulk", "r_hat"]].to_string())


def compare(args) -> None:
    import clvmodels
    from clvmodels import ParetoGGG, simulate_pareto_ggg

    print("| data | error | customer draws | Pareto/NBD | MBG/CNBD-k | Pareto/GGG "
          "| Pareto/GGG - Pareto/NBD | Pareto/GGG - MBG/CNBD-k |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- |")
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
        fitted = ParetoGGG(draws=args.draws, tune=args.tune, random_state=1).fit(calibration)
        seconds = time.perf_counter() - start
        rng = np.random.default_rng(0)
        resamples = rng.integers(0, len(actual), (1000, len(actual)))
        # each customer's prediction is the mean of her own chain's draws: with customer_draws
        # 200 (the default) those who never bought again (one history, so one chain, per
        # calibration length) share its Monte Carlo error; with more draws it shrinks
        for customer_draws in args.customer_draws:
            start = time.perf_counter()
            fitted.customer_draws = customer_draws  # read by the predictions only
            predicted["pggg"] = fitted.expected_purchases(calibration, 52).to_numpy()
            predicting = time.perf_counter() - start
            for error, loss in (("squared", np.square), ("absolute", np.abs)):
                errors = {k: loss(v - actual) for k, v in predicted.items()}
                cells = [f"{errors[k].mean():.4f}" for k in ("pnbd", "mbgcnbd", "pggg")]
                for other in ("pnbd", "mbgcnbd"):
                    difference = errors["pggg"] - errors[other]
                    low, high = np.quantile(difference[resamples].mean(axis=1), [0.025, 0.975])
                    cells.append(f"{difference.mean():+.4f} [{low:+.4f}, {high:+.4f}]")
                print(f"| {label} | {error} | {customer_draws} | " + " | ".join(cells) + " |",
                      flush=True)
            print(f"(Pareto/GGG on {label}: fit {seconds:.0f} s, prediction with "
                  f"customer_draws={customer_draws} {predicting:.0f} s)", flush=True)


# BTYDplus's vignette (vignettes/BTYDplus-HowTo.Rmd, section Pareto/GGG; its printed output):
# the population's posterior medians and the first six customers' x.star.pggg (expected
# holdout purchases, 52 weeks), pactive.pggg (P(any purchase in them)), palive.pggg (P(alive))
PUBLISHED_GROCERY_MEDIANS = {"t": 1.671, "gamma": 0.368, "r": 0.942, "alpha": 5.150,
                             "s": 0.435, "beta": 4.610}
PUBLISHED_GROCERY_CUSTOMERS = {1: (0.08, 0.06, 0.10), 2: (0.96, 0.57, 0.97),
                               3: (15.45, 0.85, 0.87), 4: (0.11, 0.07, 0.10),
                               5: (2.21, 0.86, 0.93), 6: (4.57, 0.96, 0.98)}


def grocery(args) -> None:
    """BTYDplus's grocery event log (Platzer & Reutterer 2016: 1,525 customers, 10,483
    transactions, 2006-2007), as BTYDplus's Pareto/GGG demo splits it: calibration up to
    2006-12-31, holdout to 2007-12-30 (52 weeks each), in weeks."""
    import clvmodels
    from clvmodels import ParetoGGG

    rfm = clvmodels.calibration_holdout(
        args.elog, customer="cust", date="date", calibration_end="2006-12-31",
        observation_end="2007-12-30", time_unit="W", statistics=["litt"])
    calibration = rfm[["frequency", "recency", "T", "litt"]].copy()
    calibration.attrs = rfm.attrs
    actual = rfm["frequency_holdout"].to_numpy(float)
    horizon = rfm["duration_holdout"].to_numpy(float)
    print(f"{len(rfm):,} customers, {int(rfm['frequency'].sum()):,} repeat purchases in the "
          f"calibration, {int(actual.sum()):,} in the holdout\n")
    models = {"Pareto/NBD": clvmodels.ParetoNBD(), "BG/CNBD-k": clvmodels.BetaGeoCNBD(),
              "MBG/CNBD-k": clvmodels.ModifiedBetaGeoCNBD()}
    predicted = {}
    for name, model in models.items():
        model.fit(calibration)
        predicted[name] = model.expected_purchases(calibration, horizon).to_numpy()
        print(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in model.params_.items()))
    start = time.perf_counter()
    model = ParetoGGG(draws=args.draws, tune=args.tune, random_state=1).fit(calibration)
    fitted = time.perf_counter() - start
    predicted["Pareto/GGG"] = model.expected_purchases(calibration, horizon).to_numpy()
    seconds = time.perf_counter() - start
    print(f"\nPareto/GGG, 4 chains x ({args.tune} + {args.draws}): fit {fitted:.1f} s, "
          f"fit and predictions {seconds:.1f} s; posterior median [2.5 %, 97.5 %], r_hat, "
          f"bulk ESS:")
    summary = model.summary()
    for name in summary.index:
        values = model.idata_.posterior[name].values.ravel()
        low, median, high = np.quantile(values, [0.025, 0.5, 0.975])
        print(f"  {name:6s} {median:7.3f} [{low:.3f}, {high:.3f}]  r_hat "
              f"{summary.loc[name, 'r_hat']:.2f}  ESS {summary.loc[name, 'ess_bulk']:.0f}")
    print("\nBTYDplus's published run (vignette BTYDplus-HowTo, section Pareto/GGG: the default "
          "2 chains x (500 + 2,500) thinned to 100 draws, '~2mins on 2015 MacBook Pro'), "
          "median beside ours:")
    for name, value in PUBLISHED_GROCERY_MEDIANS.items():
        ours = float(np.median(model.idata_.posterior[name].values))
        print(f"  {name:6s} BTYDplus {value:.3f}  ours {ours:.3f}")
    first = calibration.loc[list(PUBLISHED_GROCERY_CUSTOMERS)]
    table = pd.DataFrame({
        "x": first["frequency"], "t.x": first["recency"].round(5),
        "x.star": rfm.loc[first.index, "frequency_holdout"],
        "x.star.pggg": model.expected_purchases(first, 52).round(2),
        "pactive.pggg": model.probability_any_purchase(first, 52).round(2),
        "palive.pggg": model.probability_alive(first).round(2)})
    published = pd.DataFrame(PUBLISHED_GROCERY_CUSTOMERS, index=table.columns[3:]).T
    print("\nThe vignette's first six customers, BTYDplus / ours:")
    print(table.join(published, rsuffix=" BTYDplus").to_string())
    print(f"\nmean absolute error per customer (the vignette's mae): Pareto/GGG "
          f"{np.abs(predicted['Pareto/GGG'] - actual).mean():.4f} (BTYDplus 1.389548), "
          f"Pareto/NBD {np.abs(predicted['Pareto/NBD'] - actual).mean():.4f} (BTYDplus's "
          f"Pareto/NBD (HB) 1.513515)")
    print("\n| model | holdout purchases | MAE / mean purchases (BTYDplus's) | squared error "
          "| Pareto/GGG - model, absolute | Pareto/GGG - model, squared |\n"
          "| --- | --- | --- | --- | --- | --- |")
    rng = np.random.default_rng(0)
    resamples = rng.integers(0, len(actual), (2000, len(actual)))
    ours = {"absolute": np.abs(predicted["Pareto/GGG"] - actual),
            "squared": np.square(predicted["Pareto/GGG"] - actual)}
    for name, values in predicted.items():
        cells = [f"{values.sum():,.0f} (actual {actual.sum():,.0f})",
                 f"{np.abs(values - actual).sum() / actual.sum():.4f}",
                 f"{np.square(values - actual).mean():.3f}"]
        for error, loss in (("absolute", np.abs), ("squared", np.square)):
            if name == "Pareto/GGG":
                cells.append("")
                continue
            difference = ours[error] - loss(values - actual)
            low, high = np.quantile(difference[resamples].mean(axis=1), [0.025, 0.975])
            cells.append(f"{difference.mean():+.4f} [{low:+.4f}, {high:+.4f}]")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


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
    c.add_argument("--customer-draws", type=lambda text: [int(v) for v in text.split(",")],
                   default=[200, 1000], help="each customer's draws for the predictions, "
                   "comma-separated (default 200,1000)")
    c.set_defaults(run=compare)
    a = sub.add_parser("abe")
    a.add_argument("--draws", type=int, default=2000)
    a.add_argument("--tune", type=int, default=500)
    a.add_argument("--chains", type=int, default=4)
    a.set_defaults(run=abe)
    g = sub.add_parser("grocery")
    g.add_argument("--elog", required=True,
                   help="BTYDplus's groceryElog as CSV (cust,date), e.g. from R: "
                        "write.csv(BTYDplus::groceryElog, 'groceryElog.csv', row.names=FALSE)")
    g.add_argument("--draws", type=int, default=2000)
    g.add_argument("--tune", type=int, default=500)
    g.set_defaults(run=grocery)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    args.run(args)


if __name__ == "__main__":
    main()
