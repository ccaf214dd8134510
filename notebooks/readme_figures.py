"""Regenerate the README's figures (notebooks/figures/*.png) from the bundled CDNOW data.

    .venv/bin/python notebooks/readme_figures.py
"""

from __future__ import annotations

import os
import warnings

from matplotlib.figure import Figure

import clvmodels
from clvmodels import plotting

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures")
CALIBRATION_END, OBSERVATION_END = "1997-09-30", "1998-06-30"


def save(figure: Figure, name: str) -> None:
    path = os.path.join(HERE, name)
    figure.savefig(path, dpi=90)
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KiB)")


def main() -> None:
    warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
    os.makedirs(HERE, exist_ok=True)
    transactions = clvmodels.load_cdnow()
    split = clvmodels.calibration_holdout(transactions, calibration_end=CALIBRATION_END,
                                          observation_end=OBSERVATION_END, time_unit="W",
                                          amount="amount")
    purchases = clvmodels.BetaGeo().fit(split)

    figure = Figure(figsize=(12, 4), layout="constrained")
    left, right = figure.subplots(1, 2)
    plotting.plot_cumulative_transactions(purchases, transactions,
                                          calibration_end=CALIBRATION_END, ax=left)
    plotting.plot_incremental_transactions(purchases, transactions,
                                           calibration_end=CALIBRATION_END, ax=right)
    save(figure, "tracking.png")

    figure = Figure(figsize=(12, 4), layout="constrained")
    left, right = figure.subplots(1, 2)
    plotting.plot_calibration_purchases(purchases, split, ax=left)
    plotting.plot_probability_alive_matrix(purchases, rfm=split, ax=right)
    save(figure, "diagnostics.png")

    result = clvmodels.backtest(transactions, calibration_end=CALIBRATION_END,
                                observation_end=OBSERVATION_END, random_state=0)
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    plotting.plot_lift_curves(result.predictions, ax=left)
    plotting.plot_backtest_metrics(result.summary(), ax=right)
    save(figure, "backtest.png")


if __name__ == "__main__":
    main()
