"""Bayesian BG/NBD and Pareto/NBD: clvmodels against PyMC-Marketing, and the 1M-customer pipeline.

Peer comparison: CDNOW (2,357 customers) and the same data repeated 10 times with new ids
(23,570), NUTS with 4 chains x 1000 draws x 1000 tune; wall time of the whole fit (model build,
compilation, sampling), each fit in its own process. PyMC-Marketing runs from its own virtual
environment (its pins may clash with ours):

    python3 -m venv .venv-peer && .venv-peer/bin/pip install "pymc-marketing==0.19.2"
    .venv/bin/python benchmarks/bayesian.py peer --peer-python .venv-peer/bin/python
    .venv/bin/python benchmarks/bayesian.py peer --model pnbd --repeats 10   # ParetoNBDModel

Scale: simulated customers, Bayesian BG/NBD + Gamma-Gamma with the library's default settings
(unless flags say otherwise), then 12-month CLV with a 94 % interval for every customer; times per
step, peak memory, convergence. The log is realistic in its diversity: first purchases over the
first 39 of 78 weeks at daily resolution (298,452 distinct histories at 1M customers;
``--acquisition-weeks 12`` gives the earlier, less diverse log):

    .venv/bin/python benchmarks/bayesian.py scale --customers 1000000
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


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_children_rss_mib() -> float:
    """Peak RSS of the largest finished child process (the sampler's chain processes)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def cdnow_rfm(repeat: int):
    """The CDNOW weeks 1-39 frame, repeated with new ids; returns a pandas frame."""
    import pandas as pd

    import clvmodels

    tx = clvmodels.load_cdnow()
    tx = tx[tx["date"] <= "1997-09-30"]
    rfm = clvmodels.rfm_summary(tx, observation_end="1997-09-30", time_unit="W", amount="amount")
    frames = [rfm.reset_index(drop=True) for _ in range(repeat)]
    out = pd.concat(frames, ignore_index=True)
    out.index.name = "customer_id"
    out.attrs = rfm.attrs
    return out


def fit_ours(path: str, draws: int, tune: int, chains: int, model_name: str) -> dict:
    import pandas as pd

    from clvmodels.models import MODELS

    rfm = pd.read_csv(path, index_col="customer_id")
    rfm.attrs["time_unit"] = "W"
    t = time.perf_counter()
    model = MODELS[model_name].bayesian(draws=draws, tune=tune, chains=chains, random_state=1)
    model.fit(rfm)
    seconds = time.perf_counter() - t
    summary = model.summary()
    return {"seconds": seconds, "r_hat_max": float(summary["r_hat"].max()),
            "ess_bulk_min": float(summary["ess_bulk"].min()),
            "means": summary["mean"].round(4).to_dict()}


def fit_peer(path: str, draws: int, tune: int, chains: int, model_name: str) -> dict:
    import arviz as az
    import pandas as pd
    from pymc_marketing.clv import BetaGeoModel, ParetoNBDModel

    rfm = pd.read_csv(path)
    peer_model, names = {"bgnbd": (BetaGeoModel, ["r", "alpha", "a", "b"]),
                         "pnbd": (ParetoNBDModel, ["r", "alpha", "s", "beta"])}[model_name]
    t = time.perf_counter()
    model = peer_model(data=rfm[["customer_id", "frequency", "recency", "T"]])
    model.fit(method="mcmc", draws=draws, tune=tune, chains=chains, random_seed=1,
              progressbar=False)
    seconds = time.perf_counter() - t
    summary = az.summary(model.idata, var_names=names)
    return {"seconds": seconds, "r_hat_max": float(summary["r_hat"].max()),
            "ess_bulk_min": float(summary["ess_bulk"].min()),
            "means": summary["mean"].round(4).to_dict()}


def child(args) -> None:
    warnings.simplefilter("ignore")
    runner = {"ours": fit_ours, "peer": fit_peer}[args.library]
    result = runner(args.path, args.draws, args.tune, args.chains, args.model)
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))


def peer(args) -> None:
    python_for = {"clvmodels": sys.executable, "PyMC-Marketing": args.peer_python}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in args.repeats:
            path = os.path.join(folder, f"cdnow_x{repeat}.csv")
            cdnow_rfm(repeat).to_csv(path)
            for name, python in python_for.items():
                library = "ours" if name == "clvmodels" else "peer"
                out = subprocess.run(
                    [python, __file__, "child", library, path, "--draws", str(args.draws),
                     "--tune", str(args.tune), "--chains", str(args.chains),
                     "--model", args.model],
                    capture_output=True, text=True, cwd=os.path.dirname(HERE),
                )
                if out.returncode:
                    raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
                result = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append((2357 * repeat, name, result))
                print(f"{2357 * repeat:>7,} customers  {name:15s} {result['seconds']:7.1f} s  "
                      f"peak {result['peak_rss_mib']:,.0f} MiB  r_hat <= {result['r_hat_max']:.3f}  "
                      f"ESS >= {result['ess_bulk_min']:.0f}  {result['means']}", flush=True)
    print(f"\n{args.model}\n| customers | clvmodels (s) | PyMC-Marketing (s) | ratio |\n"
          "| --- | --- | --- | --- |")
    for n in sorted({r[0] for r in rows}):
        ours = next(r[2]["seconds"] for r in rows if r[0] == n and r[1] == "clvmodels")
        theirs = next(r[2]["seconds"] for r in rows if r[0] == n and r[1] == "PyMC-Marketing")
        print(f"| {n:,} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.1f}x |")


def scale(args) -> None:
    warnings.simplefilter("ignore")
    import clvmodels

    steps = {}
    t = time.perf_counter()
    tx = clvmodels.simulate_transactions(args.customers, seed=args.seed,
                                         acquisition_periods=args.acquisition_weeks)
    rfm = clvmodels.rfm_summary(tx, amount="amount", time_unit="W",
                                observation_end=tx.attrs["observation_end"])
    del tx
    steps["simulate + rfm"] = time.perf_counter() - t
    settings = {k: v for k, v in dict(draws=args.draws, tune=args.tune, chains=args.chains,
                                      random_state=1, sampler=args.sampler).items()
                if v is not None}  # the library's defaults for what is not given
    t = time.perf_counter()
    bg = clvmodels.BayesianBetaGeo(**settings).fit(rfm)
    steps["BG/NBD NUTS"] = time.perf_counter() - t
    t = time.perf_counter()
    gg = clvmodels.BayesianGammaGamma(**settings).fit(rfm)
    steps["Gamma-Gamma NUTS"] = time.perf_counter() - t
    t = time.perf_counter()
    clv = clvmodels.customer_value(bg, gg, rfm, horizon=12, discount_rate=0.01, interval=0.94,
                                   max_draws=args.clv_draws)
    steps["CLV 94% interval"] = time.perf_counter() - t
    total = sum(v for k, v in steps.items() if k != "simulate + rfm")
    done = bg.sampling_
    histories = len(rfm[["frequency", "recency", "T"]].drop_duplicates())
    print(f"{args.customers:,} customers ({histories:,} distinct (x, t_x, T)); NUTS ({args.sampler}) {done['chains']} chains x "
          f"{done['draws']} draws x {done['tune']} tune ({done['rounds']} round(s)); CLV over "
          f"{args.clv_draws or 'all'} posterior draws\n")
    print("| step | seconds |\n| --- | --- |")
    for k, v in steps.items():
        print(f"| {k} | {v:.1f} |")
    print(f"| fits + CLV | {total:.1f} |")
    cores = min(done['chains'], os.cpu_count() or 1)
    print(f"| peak RSS, main process (MiB) | {peak_rss_mib():,.0f} |")
    print(f"| peak RSS, largest chain process (MiB) | {peak_children_rss_mib():,.0f} |")
    print(f"| bound on the peak of all processes (MiB) | "
          f"{peak_rss_mib() + cores * peak_children_rss_mib():,.0f} |\n")
    for model in (bg, gg):
        s = model.summary()
        print(f"{type(model).__name__}: r_hat <= {s['r_hat'].max():.3f}, bulk ESS >= "
              f"{s['ess_bulk'].min():.0f}; means {s['mean'].round(4).to_dict()}")
    print(f"total CLV {clv['mean'].sum():,.0f} (94% interval per customer; median width "
          f"{(clv['upper'] - clv['lower']).median():.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("peer")
    p.add_argument("--peer-python", default=".venv-peer/bin/python")
    p.add_argument("--repeats", type=int, nargs="+", default=[1, 10])
    p.set_defaults(run=peer)
    s = sub.add_parser("scale")
    s.add_argument("--customers", type=int, default=1_000_000)
    s.add_argument("--seed", type=int, default=2026)
    s.add_argument("--acquisition-weeks", type=float, default=39.0,
                   help="first purchases spread over this many weeks of the 78 (default 39: "
                        "about 300,000 distinct histories at 1M customers, at daily resolution)")
    s.add_argument("--clv-draws", type=int, default=None, help="default: every draw")
    s.add_argument("--sampler", default="pymc", choices=["pymc", "nutpie", "numpyro"])
    s.set_defaults(run=scale)
    c = sub.add_parser("child")
    c.add_argument("library")
    c.add_argument("path")
    c.set_defaults(run=child)
    for q in (p, c):
        q.add_argument("--model", default="bgnbd", choices=["bgnbd", "pnbd"])
    for q in (p, c):
        q.add_argument("--draws", type=int, default=1000)
        q.add_argument("--tune", type=int, default=1000)
        q.add_argument("--chains", type=int, default=4)
    s.add_argument("--draws", type=int, help="default: the library's")
    s.add_argument("--tune", type=int, help="default: the library's")
    s.add_argument("--chains", type=int, help="default: the library's")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
