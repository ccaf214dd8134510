"""Models with covariates: the 1M-customer maximum-likelihood fits, and the Bayesian BG/NBD
against PyMC-Marketing's BetaGeoModel with the same covariates.

Data: customers simulated with a 4-level acquisition channel and 2 numeric covariates
(``clvmodels.simulate_customers``: age, first order value) and true coefficients on both
processes (weeks; CDNOW parameters at the reference customer).

Maximum likelihood: BG/NBD and Pareto/NBD with the three covariates on the purchase and the
dropout process (4 + 10 or 4 + 15 parameters), each fit in a fresh process on the same
Parquet file: wall time of the fit alone (the file read and imports not timed) and the
process's peak RSS, beside the same model without covariates:

    .venv/bin/python benchmarks/covariates.py mle --customers 1000000

Bayesian: BG/NBD with the covariates on both processes, 4 chains x 1000 tune x 1000 draws,
clvmodels (PyMC's NUTS on the numpy likelihood, started at the MLE) against PyMC-Marketing's
BetaGeoModel given the same design matrix (one-hot channel, standardised numbers) as
``purchase_covariate_cols`` and ``dropout_covariate_cols``; wall time of the whole fit, the
smallest bulk ESS over the shared parameters, and seconds per 1,000 effective draws.
PyMC-Marketing runs from its own virtual environment:

    python3 -m venv .venv-peer && .venv-peer/bin/pip install "pymc-marketing==0.19.2"
    .venv/bin/python benchmarks/covariates.py bayes --customers 23570

MAP with PyMC-Marketing's default priors (issue 23): its BetaGeoModel.fit(method="map") and
ours with the same priors as clvmodels.Prior / BetaPrior, on the same data, side by side (the
reference values of tests/test_priors.py):

    .venv/bin/python benchmarks/covariates.py map --customers 5000
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

HERE = os.path.dirname(os.path.abspath(__file__))
COLUMNS = ["channel", "age", "first_order"]
TRUTH = {
    "bgnbd": {"alpha": {"channel[search]": 0.4, "channel[store]": -0.3, "age": 0.2},
              "a": {"channel[social]": 0.5}, "b": {"age": -0.3}},
    "pnbd": {"alpha": {"channel[search]": 0.4, "channel[store]": -0.3, "age": 0.2},
             "beta": {"channel[social]": 0.5, "age": -0.3}},
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def simulated(n: int, model: str, seed: int = 2026):
    import clvmodels

    customers = clvmodels.simulate_customers(n, seed=seed)
    tx = clvmodels.simulate_transactions(n, seed=seed + 1, customers=customers,
                                         coefficients=TRUTH[model], model=model)
    return clvmodels.rfm_summary(tx, observation_end=tx.attrs["observation_end"],
                                 time_unit="W", customers=customers)


def mle_child(args) -> None:
    import pandas as pd

    from clvmodels.models import MODELS

    warnings.simplefilter("ignore")
    rfm = pd.read_parquet(args.path)
    rfm.attrs["time_unit"] = "W"
    covariates = ({"purchase_covariates": COLUMNS, "dropout_covariates": COLUMNS}
                  if args.covariates else {})
    start = time.perf_counter()
    model = MODELS[args.model].mle(**covariates).fit(rfm)
    seconds = time.perf_counter() - start
    out = {"seconds": seconds, "peak_mib": peak_rss_mib(), "parameters": len(model.parameter_names_),
           "log_likelihood": model.log_likelihood_}
    if args.covariates:
        out["lr_statistic"] = float(model.likelihood_ratio_test()["statistic"])
        out["coefficients"] = model.coefficients_["coefficient"].round(3).to_dict()
        out["coefficients"] = {"/".join(k): v for k, v in out["coefficients"].items()}
    print(json.dumps(out))


def mle(args) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for model in args.models:
            path = os.path.join(folder, f"{model}.parquet")
            t = time.perf_counter()
            rfm = simulated(args.customers, model)
            rfm.to_parquet(path)
            print(f"{model}: simulated {len(rfm):,} customers in {time.perf_counter() - t:.0f} s",
                  flush=True)
            del rfm
            for covariates in (False, True):
                command = [sys.executable, __file__, "mle-child", path, "--model", model]
                out = subprocess.run(command + (["--covariates"] if covariates else []),
                                     capture_output=True, text=True, cwd=os.path.dirname(HERE))
                if out.returncode:
                    raise SystemExit(out.stderr[-3000:])
                result = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append((model, covariates, result))
                print(f"  {'with' if covariates else 'without'} covariates: "
                      f"{result['seconds']:.1f} s, peak {result['peak_mib']:,.0f} MiB, "
                      f"{result['parameters']} parameters", flush=True)
                if covariates:
                    print(f"  LR statistic {result['lr_statistic']:,.0f}; "
                          f"{result['coefficients']}", flush=True)
    print(f"\n{args.customers:,} customers, covariates {COLUMNS} on both processes\n")
    print("| model | parameters | fit (s) | peak RSS (MiB) | without covariates (s) |")
    print("| --- | --- | --- | --- | --- |")
    for model in args.models:
        plain = next(r for m, c, r in rows if m == model and not c)
        full = next(r for m, c, r in rows if m == model and c)
        print(f"| {model} | {full['parameters']} | {full['seconds']:.1f} | "
              f"{full['peak_mib']:,.0f} | {plain['seconds']:.1f} |")


def design(rfm):
    """The encoded covariates as plain numeric columns (what PyMC-Marketing takes)."""
    from clvmodels.covariates import Design

    fitted = Design.fit(rfm, {"all": tuple(COLUMNS)})
    names = [n.replace("[", "_").replace("]", "") for n in fitted.names("all")]
    return names, fitted.matrix(rfm, "all")


def bayes_child(args) -> None:
    import pandas as pd

    warnings.simplefilter("ignore")
    data = pd.read_csv(args.path)
    names = json.loads(args.names)
    t = time.perf_counter()
    if args.library == "ours":
        import clvmodels

        rfm = data.set_index("customer_id")
        rfm.attrs["time_unit"] = "W"
        model = clvmodels.BayesianBetaGeo(draws=args.draws, tune=args.tune, chains=args.chains,
                                          random_state=1, purchase_covariates=names,
                                          dropout_covariates=names).fit(rfm)
        seconds = time.perf_counter() - t
        summary = model.summary()
        shared = [k for k in summary.index]
    else:
        import arviz as az
        from pymc_marketing.clv import BetaGeoModel

        model = BetaGeoModel(data=data[["customer_id", "frequency", "recency", "T", *names]],
                             model_config={"purchase_covariate_cols": names,
                                           "dropout_covariate_cols": names})
        model.fit(method="mcmc", draws=args.draws, tune=args.tune, chains=args.chains,
                  random_seed=1, progressbar=False)
        seconds = time.perf_counter() - t
        # the free parameters (not the per-customer alpha, a, b it also records)
        summary = az.summary(model.idata, var_names=[
            "r", "alpha_scale", "phi_dropout", "kappa_dropout", "purchase_coefficient_alpha",
            "dropout_coefficient_a", "dropout_coefficient_b"])
        shared = list(summary.index)
    print(json.dumps({"seconds": seconds, "peak_mib": peak_rss_mib(),
                      "ess_bulk_min": float(summary.loc[shared, "ess_bulk"].min()),
                      "r_hat_max": float(summary.loc[shared, "r_hat"].max()),
                      "parameters": len(shared)}))


def both_libraries(args, child: str, standardise_all: bool, extra=()):
    """Simulate, encode, write the same numeric columns for both libraries, run ``child`` in
    each one's Python; yields ``(library, its JSON row)`` as each finishes."""
    rfm = simulated(args.customers, "bgnbd")
    names, matrix = design(rfm)
    data = rfm[["frequency", "recency", "T"]].copy()
    for j, name in enumerate(names):
        column = matrix[:, j]
        # with standardise_all the dummies too: clvmodels standardises what it is given, so
        # both then read coefficients per standard deviation
        data[name] = (column - column.mean()) / column.std() if standardise_all else column
    data = data.reset_index()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "rfm.csv")
        data.to_csv(path, index=False)
        for library, python in (("ours", sys.executable), ("peer", args.peer_python)):
            command = [python, __file__, child, library, path, "--names", json.dumps(names),
                       *extra]
            out = subprocess.run(command, capture_output=True, text=True,
                                 cwd=os.path.dirname(HERE))
            if out.returncode:
                raise SystemExit(f"{library} failed:\n{out.stderr[-3000:]}")
            yield library, names, json.loads(out.stdout.strip().splitlines()[-1])


def bayes(args) -> None:
    rows = {}
    extra = ("--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains))
    for library, names, r in both_libraries(args, "bayes-child", False, extra):
        rows[library] = r
        print(f"{library}: {r['seconds']:.1f} s, bulk ESS >= {r['ess_bulk_min']:.0f}, "
              f"r_hat <= {r['r_hat_max']:.3f}, peak {r['peak_mib']:,.0f} MiB "
              f"({r['parameters']} parameters in the summary)", flush=True)
    per = {k: v["seconds"] / v["ess_bulk_min"] * 1000 for k, v in rows.items()}
    print(f"\n{args.customers:,} customers, BG/NBD with {names} on both processes, "
          f"{args.chains} chains x {args.tune} tune x {args.draws} draws\n")
    print("| library | fit (s) | min bulk ESS | s per 1,000 ESS | peak RSS (MiB) |")
    print("| --- | --- | --- | --- | --- |")
    for key, label in (("ours", "clvmodels"), ("peer", "PyMC-Marketing 0.19.2")):
        r = rows[key]
        print(f"| {label} | {r['seconds']:.1f} | {r['ess_bulk_min']:.0f} | {per[key]:.1f} | "
              f"{r['peak_mib']:,.0f} |")
    print(f"\nat equal ESS clvmodels is {per['peer'] / per['ours']:.1f}x faster "
          f"(wall time alone: {rows['peer']['seconds'] / rows['ours']['seconds']:.1f}x)")


def map_child(args) -> None:
    """One library's MAP of BG/NBD with the covariates, with PyMC-Marketing's default priors
    (r ~ Weibull(2, 1), alpha ~ Weibull(2, 10), phi ~ Uniform(0, 1), kappa ~ Pareto(1, 1),
    coefficients ~ Normal(0, 1)); prints the parameters under clvmodels' names."""
    import pandas as pd

    warnings.simplefilter("ignore")
    data = pd.read_csv(args.path)
    names = json.loads(args.names)
    if args.library == "ours":
        import clvmodels
        from clvmodels import BetaPrior, Prior

        rfm = data.set_index("customer_id")
        rfm.attrs["time_unit"] = "W"
        priors = {"r": Prior("Weibull", alpha=2, beta=1),
                  "alpha": Prior("Weibull", alpha=2, beta=10),
                  "a,b": BetaPrior(Prior("Uniform", lower=0, upper=1),
                                   Prior("Pareto", alpha=1, m=1))}
        for process in ("alpha", "a", "b"):
            for name in names:
                priors[f"{process}:{name}"] = Prior("Normal", mu=0, sigma=1)
        model = clvmodels.BayesianBetaGeo(method="map", priors=priors,
                                          purchase_covariates=names,
                                          dropout_covariates=names).fit(rfm)
        out = {k: float(v) for k, v in model.params_.items()}
    else:
        from pymc_marketing.clv import BetaGeoModel

        model = BetaGeoModel(data=data[["customer_id", "frequency", "recency", "T", *names]],
                             model_config={"purchase_covariate_cols": names,
                                           "dropout_covariate_cols": names})
        model.fit(method="map", progressbar=False)
        post = model.idata.posterior
        out = {"r": float(post["r"].values.ravel()[0]),
               "alpha": float(post["alpha_scale"].values.ravel()[0]),
               "a": float(post["a_scale"].values.ravel()[0]),
               "b": float(post["b_scale"].values.ravel()[0])}
        for ours, theirs in (("alpha", "purchase_coefficient_alpha"),
                             ("a", "dropout_coefficient_a"), ("b", "dropout_coefficient_b")):
            for name, value in zip(names, post[theirs].values.reshape(-1, len(names))[0]):
                out[f"{ours}:{name}"] = float(value)
    print(json.dumps(out))


def map_compare(args) -> None:
    """Both libraries' MAP on the same data; the largest relative difference."""
    rows = {library: r for library, _, r in both_libraries(args, "map-child", True)}
    print(json.dumps(rows, indent=1))
    gaps = {k: abs(rows["ours"][k] / rows["peer"][k] - 1) for k in rows["peer"]}
    worst = max(gaps, key=gaps.get)
    print(f"largest relative difference: {worst} {gaps[worst]:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("mle")
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--models", nargs="+", default=["bgnbd", "pnbd"], choices=["bgnbd", "pnbd"])
    p.set_defaults(run=mle)
    c = sub.add_parser("mle-child")
    c.add_argument("path")
    c.add_argument("--model", required=True)
    c.add_argument("--covariates", action="store_true")
    c.set_defaults(run=mle_child)
    for name, run, child, customers in (("bayes", bayes, bayes_child, 23_570),
                                        ("map", map_compare, map_child, 5000)):
        top = sub.add_parser(name)
        top.add_argument("--customers", type=int, default=customers)
        top.add_argument("--peer-python", default=".venv-peer/bin/python")
        top.set_defaults(run=run)
        kid = sub.add_parser(f"{name}-child")
        kid.add_argument("library")
        kid.add_argument("path")
        kid.add_argument("--names", required=True)
        kid.set_defaults(run=child)
        if name == "bayes":
            for q in (top, kid):
                q.add_argument("--draws", type=int, default=1000)
                q.add_argument("--tune", type=int, default=1000)
                q.add_argument("--chains", type=int, default=4)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
