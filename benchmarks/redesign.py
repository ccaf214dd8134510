"""Before and after the redesign of issue 20 (the model owns its data), in one process.

The package as it was before the redesign (``--before``, a git revision: by default bc32440,
the last commit before its first step) is extracted from git into a temporary folder and
imported as ``clvmodels_before`` beside this checkout's ``clvmodels``; both then run the same
steps on the same data, alternately, best of ``--repeats`` (sub-second steps in cold processes
vary by 30 % on these machines, so only one process compares them):

- ``rfm``: ``rfm_summary`` of a simulated log of N customers (weeks);
- ``<model>_fit``: each purchase model's and Gamma-Gamma's maximum-likelihood fit on that frame
  (BG/BB on N simulated customers with 6 yearly opportunities);
- ``clv_12_months``: ``customer_value`` of every customer with BG/NBD and Gamma-Gamma;
- ``score_file``: ``clvmodels score`` of the whole log from a Parquet file, in a fresh process per
  version (the streaming path, output written);
- ``bayes_bgnbd_fit`` (with ``--bayes``): the Bayesian BG/NBD (NUTS, 2 chains x 200 + 200).

    .venv/bin/python benchmarks/redesign.py --customers 1000000 --bayes
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
import warnings

BEFORE = "bc32440"
SCORE = """
import sys
sys.path.insert(0, sys.argv[1])
from {package}.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def extract(revision: str, folder: str) -> str:
    """The package at ``revision`` as ``clvmodels_before`` under ``folder``."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                          text=True, check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", root, "archive", revision, "clvmodels"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    os.rename(os.path.join(folder, "clvmodels"), os.path.join(folder, "clvmodels_before"))
    return folder


def best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def steps(package, log, end, opportunities, bayes: bool):
    """``{step: callable}`` of one version of the package on the same data."""
    rfm = package.rfm_summary(log, observation_end=end, amount="amount", time_unit="W")
    bg = package.BetaGeo().fit(rfm)
    gg = package.GammaGamma().fit(rfm)
    out = {
        "rfm": lambda: package.rfm_summary(log, observation_end=end, amount="amount",
                                           time_unit="W"),
        "bgnbd_fit": lambda: package.BetaGeo().fit(rfm),
        "mbgnbd_fit": lambda: package.ModifiedBetaGeo().fit(rfm),
        "pnbd_fit": lambda: package.ParetoNBD().fit(rfm),
        "bgbb_fit": lambda: package.BetaGeoBetaBinom().fit(opportunities),
        "gg_fit": lambda: package.GammaGamma().fit(rfm),
        "clv_12_months": lambda: package.customer_value(bg, gg, rfm, horizon=12),
    }
    if bayes:
        out["bayes_bgnbd_fit"] = lambda: package.BayesianBetaGeo(
            draws=200, tune=200, chains=2, random_state=1).fit(rfm)
    return out


def score_file(package: str, path: str, folder: str, log_path: str, out: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", SCORE.format(package=package), folder, "score",
                    "--model", path, "--transactions", log_path, "--out", out, "--quiet"],
                   check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bayes", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import clvmodels

    with tempfile.TemporaryDirectory() as folder:
        sys.path.insert(0, extract(args.before, folder))
        before = importlib.import_module("clvmodels_before")
        log = clvmodels.simulate_transactions(args.customers, seed=2026)
        end = log.attrs["observation_end"]
        draws = clvmodels.simulate_opportunities(args.customers, seed=2026)
        opportunities = clvmodels.opportunity_summary(
            draws, period="Y", observation_end=draws.attrs["observation_end"])
        versions = {"before": before, "after": clvmodels}
        measured = {name: steps(package, log, end, opportunities, args.bayes)
                    for name, package in versions.items()}
        results = {name: {} for name in versions}
        for step in measured["after"]:
            for name in versions:  # alternately, so that drift hits both
                repeats = 1 if step.startswith("bayes") else args.repeats
                results[name][step] = best(measured[name][step], repeats)
        log_path = os.path.join(folder, "log.parquet")
        log.to_parquet(log_path)
        rfm = clvmodels.rfm_summary(log, observation_end=end, amount="amount", time_unit="W")
        model = os.path.join(folder, "model.json")
        clvmodels.ModelPair.fit(rfm).save(model)  # a 0.1-format pair file both versions read
        for name, package in (("before", "clvmodels_before"), ("after", "clvmodels")):
            here = folder if name == "before" else os.path.dirname(os.path.dirname(
                os.path.abspath(clvmodels.__file__)))
            results[name]["score_file"] = min(
                score_file(package, model, here, log_path,
                           os.path.join(folder, f"scores_{name}_{i}.parquet"))
                for i in range(2))
    print(f"{args.customers:,} customers, {len(log):,} transactions; before = {args.before}, "
          f"best of {args.repeats} (score_file: of 2; Bayesian: 1)\n")
    print("| step | before (s) | after (s) | after / before |")
    print("| --- | --- | --- | --- |")
    for step in results["after"]:
        b, a = results["before"][step], results["after"][step]
        print(f"| {step} | {b:.3f} | {a:.3f} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
