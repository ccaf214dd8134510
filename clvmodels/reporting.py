"""The backtest report: Markdown tables, who wins in words, and its figures."""

from __future__ import annotations

import os
from functools import partial

import numpy as np
import pandas as pd

from .metrics import ABSOLUTE_IS_BETTER, HIGHER_IS_BETTER
from .models.registry import pair_names

MODELS = set(pair_names(discrete=True))
HEADLINE = ["purchases_mae", "purchases_rmse", "purchases_bias_pct", "spend_mae", "spend_bias_pct",
            "spearman", "top_decile_capture", "gini", "alive_auc"]
DESCRIPTIONS = {
    "purchases_mae": "mean absolute error of holdout purchases",
    "purchases_rmse": "RMSE of holdout purchases",
    "purchases_bias_pct": "bias of total holdout purchases (closest to 0 %)",
    "spend_mae": "mean absolute error of holdout spend",
    "spend_rmse": "RMSE of holdout spend",
    "spend_bias_pct": "bias of total holdout spend (closest to 0 %)",
    "spearman": "rank correlation with holdout spend",
    "top_decile_capture": "share of holdout spend in the predicted top 10 %",
    "gini": "Gini of the spend lift curve",
    "purchases_spearman": "rank correlation with holdout purchases",
    "purchases_top_decile_capture": "share of holdout purchases in the predicted top 10 %",
    "purchases_gini": "Gini of the purchases lift curve",
    "alive_auc": "ROC AUC for any purchase in the holdout",
    "purchases_wape": "weighted absolute percentage error of holdout purchases",
    "spend_wape": "weighted absolute percentage error of holdout spend",
    "purchases_mape_buyers": "mean absolute percentage error of purchases over holdout buyers",
    "spend_mape_buyers": "mean absolute percentage error of spend over holdout buyers",
    "alive_brier": "Brier score of the probability of any purchase in the holdout",
    "value_mae": "mean absolute error of the discounted holdout value (1 % a month)",
    "purchases_value_weighted_mae": "absolute error of holdout purchases, weighted by spend",
    "spend_value_weighted_mae": "absolute error of holdout spend, weighted by spend",
    "holdout_loglik": "out-of-sample log-likelihood of the holdout purchases, per customer",
    "value_bias_pct": "bias of the total discounted holdout value (closest to 0 %)",
}


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub Markdown table of ``frame`` (index as the first column), numbers rounded."""
    def cell(value):
        if isinstance(value, (float, np.floating)):
            return "n/a" if np.isnan(value) else f"{value:,.{digits}f}"
        return str(value)

    header = [frame.index.name or "", *map(str, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for key, row in frame.iterrows():
        lines.append("| " + " | ".join([cell(key), *(cell(v) for v in row)]) + " |")
    return "\n".join(lines)


def describe(metric: str, amounts: bool = True) -> str:
    """What a metric measures, in words; without amounts, the spend weights are purchases."""
    text = DESCRIPTIONS.get(metric, metric)
    if not amounts:
        text = text.replace("weighted by spend", "weighted by holdout purchases (no amounts)")
    return text


def _verdicts(result) -> list[str]:
    """One sentence per metric: the best method, and how the best model compares."""
    table = result.summary()
    amounts = bool(result.data.get("amounts", True)) if result.data else True
    lines = []
    for metric, row in result.winners().iterrows():
        values = table[metric]
        models = values[values.index.isin(MODELS)].dropna()
        what = describe(metric, amounts)
        sentence = f"- **{what}** (`{metric}`): best is `{row['best']}` ({row['value']:.3f})"
        if isinstance(row.get("runner_up"), str) and row.get("tie") is True:
            sentence = (f"- **{what}** (`{metric}`): `{row['best']}` and `{row['runner_up']}` "
                        f"tie ({row['value']:.4g}; a difference of {row['difference']:.2g} is "
                        "too small to matter)")
        elif "clear" in row and isinstance(row.get("runner_up"), str) and not row["clear"]:
            sentence = (f"- **{what}** (`{metric}`): no clear difference between "
                        f"`{row['best']}` ({row['value']:.3f}) and `{row['runner_up']}` (95 % "
                        f"bootstrap interval of the difference {row['lower']:.3f} to "
                        f"{row['upper']:.3f})")
        if row["best"] not in MODELS and not models.empty:
            key = models.abs() if metric in ABSOLUTE_IS_BETTER else models
            model = key.idxmax() if metric in HIGHER_IS_BETTER else key.idxmin()
            sentence += f"; the best model, `{model}`, has {models[model]:.3f}"
        elif row["best"] in MODELS:
            sentence += "; a probabilistic model wins"
        lines.append(sentence + ".")
    undefined = (table.index[table["spearman"].isna()].tolist() if "spearman" in table
                 else [])
    if undefined:
        lines.append(f"- Rank correlation is undefined for {', '.join(map('`{}`'.format, undefined))}:"
                     " it predicts the same for every customer.")
    return lines


def backtest_report(result, figures: dict) -> str:
    """The Markdown report of a :class:`~clvmodels.backtest.BacktestResult`."""
    origins = [c for c in result.metrics["calibration_end"].unique() if c != "mean"]
    customers = result.predictions.groupby("calibration_end")["customer_id"].nunique()
    lines = ["# Backtest: models against heuristic formulas", ""]
    data = result.data
    if data:
        lines += [f"Data: {data['customers']:,} customers, {data['transactions']:,} transactions "
                  f"from {data['first_transaction']} to {data['last_transaction']}; time unit "
                  f"{data['time_unit']}; "
                  + ("with amounts." if data["amounts"] else
                     "no amounts: a purchase-only backtest (no spend model, no spend metrics)."),
                  ""]
    for origin in origins:
        left_out = result.excluded.get(origin, {})
        note = "; ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in left_out.items() if v)
        holdout = data.get("holdouts", {}).get(origin) if data else None
        told = (f" to {holdout['end']} ({holdout['length']:.1f} {data['time_unit']}; actual "
                f"{holdout['purchases']:,.0f} purchases"
                + (f", {holdout['spend']:,.2f} spend" if "spend" in holdout else "") + ")"
                if holdout else "")
        lines.append(f"- calibration to {origin}: {customers[origin]:,} customers scored on the "
                     f"holdout{told}" + (f" (left out: {note})" if note else ""))
    for method, reasons in result.failures.items():
        for origin, reason in reasons.items():
            lines.append(f"- **`{method}` failed** at calibration end {origin}: {reason}")
    what = "mean over the calibration ends" if len(origins) > 1 else "one calibration end"
    summary = result.summary()
    lines += ["", f"## Who wins ({what})", "", *_verdicts(result), "",
              "## Metrics", "", markdown_table(summary[[c for c in HEADLINE if c in summary]]),
              ""]
    if len(origins) > 1 and "spearman" in summary:
        per_origin = result.metrics[result.metrics["calibration_end"] != "mean"]
        pivot = per_origin.pivot(index="method", columns="calibration_end", values="spearman")
        lines += ["Spend rank correlation per calibration end:", "", markdown_table(pivot), ""]
    first = result.calibration.xs(origins[0], level="calibration_end")
    predicted = first["predicted"].unstack("calibration_frequency")
    actual = first["actual"].unstack("calibration_frequency").iloc[:1].rename(index=lambda _: "actual")
    columns = list(first.index.get_level_values("calibration_frequency").unique())
    table = pd.concat([actual, predicted])[columns]
    table.index.name = "mean holdout purchases"
    lines += [f"## Calibration by calibration frequency ({origins[0]})", "", markdown_table(table),
              ""]
    for title, name in figures.items():
        lines += [f"![{title}]({name})", ""]
    return "\n".join(lines)


def write_figures(result, out_dir) -> dict:
    """Render the lift curves and the metric bars as PNGs in ``out_dir``; {title: file name}."""
    from matplotlib.figure import Figure  # no pyplot: nothing global changes

    from .files import write_atomic
    from .plotting import PALETTE, plot_backtest_metrics, plot_lift_curves

    figures = {}
    spend = "predicted_spend" in result.predictions
    target = "spend" if spend else "purchases"
    columns = (("spearman", "top_decile_capture", "alive_auc") if spend else
               ("purchases_spearman", "purchases_top_decile_capture", "alive_auc"))
    for title, name, draw in (
        ("Lift curves", f"lift_{target}.png",
         lambda ax: plot_lift_curves(result.predictions, target=target, ax=ax)),
        ("Ranking metrics", "metrics.png",
         lambda ax: plot_backtest_metrics(result.summary(), columns=columns, ax=ax)),
    ):
        figure = Figure(figsize=(7, 4.5), layout="constrained")
        draw(figure.subplots())
        write_atomic(os.path.join(out_dir, name), partial(figure.savefig, dpi=110, format="png"))
        figures[title] = name
    if result.tracking is not None:
        figure = Figure(figsize=(7.5, 4.2), layout="constrained")
        ax = figure.subplots()
        table = result.tracking
        ax.plot(table.index, table["actual"], color="black", lw=1.6, label="actual")
        for k, column in enumerate(c for c in table.columns if c != "actual"):
            ax.plot(table.index, table[column], lw=1.2, ls="--",
                    color=PALETTE[(k + 1) % len(PALETTE)], label=column)
        ax.axvline(pd.Timestamp(result.metrics["calibration_end"].iloc[0]), color="grey",
                   ls=":", lw=1.2, label="calibration end")
        ax.set_title("Weekly repeat transactions, actual and expected")
        ax.set_ylabel("repeat transactions")
        ax.legend(frameon=False, fontsize=8)
        write_atomic(os.path.join(out_dir, "tracking.png"),
                     partial(figure.savefig, dpi=110, format="png"))
        figures["Weekly repeat transactions (the first calibration end)"] = "tracking.png"
    return figures
