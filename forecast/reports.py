"""The comparison table and figures of one experiment: neural model(s) vs baselines."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecast.data import WindowDataModule  # noqa: E402
from forecast.evaluate import BASELINE, Result  # noqa: E402

TABLE_METRICS = ("mse", "mae", "norm_mse", "norm_mae", "smape", "mase")


def results_table(results: list[Result], part: str = "test") -> pd.DataFrame:
    """One row per model: metrics, fit seconds, MSE ratio to the best baseline, best marked."""
    rows = []
    for r in results:
        row = {"model": r.name, "family": r.family}
        row.update({m: r.metrics.get(f"{part}_{m}", np.nan) for m in TABLE_METRICS})
        row["fit_s"] = r.fit_seconds
        rows.append(row)
    table = pd.DataFrame(rows)
    baselines = table[table.family == BASELINE]
    best_baseline = baselines.mse.min() if len(baselines) else np.nan
    table["vs_best_baseline"] = table.mse / best_baseline
    table["best"] = np.where(table.mse == table.mse.min(), "*", "")
    return table.sort_values("mse", kind="stable").reset_index(drop=True)


def format_table(table: pd.DataFrame) -> str:
    """The table as aligned text (also valid Markdown)."""
    shown = table.copy()
    for column in shown.columns:
        if shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(lambda v: f"{v:.4g}")
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    lines = ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *lines])


def forecast_figure(dm: WindowDataModule, results: list[Result], part: str = "test",
                    n_windows: int = 3, channel: int = 0) -> plt.Figure:
    """Forecast vs actual (original units) for a few windows spread over the part."""
    x_scaled, y_scaled = dm.windows(part)
    picks = np.linspace(0, len(y_scaled) - 1, n_windows).astype(int)
    lookback = dm.spec.lookback
    n_targets = dm.dims["n_targets"]
    inputs = dm.inverse_transform(x_scaled[picks][..., :n_targets], part, picks)
    truth = dm.inverse_transform(y_scaled[picks], part, picks)
    fig, axes = plt.subplots(n_windows, 1, figsize=(10, 2.6 * n_windows), squeeze=False)
    name = dm.panel_.columns[channel]
    for ax, k, past, future in zip(axes[:, 0], picks, inputs, truth):
        steps_past = np.arange(-lookback, 0)
        steps_future = np.arange(future.shape[0])
        ax.plot(steps_past, past[:, channel], color="0.5", lw=1, label="history")
        ax.plot(steps_future, future[:, channel], color="black", lw=1.5, label="actual")
        for r in results:
            forecast = dm.inverse_transform(r.forecast[[k]], part, [k])[0]
            ax.plot(steps_future, forecast[:, channel], lw=1, marker="." if len(steps_future) < 30
                    else None, label=r.name)
        ax.set_title(f"{name}, {part} window {k} (target starts {dm.window_times(part)[k, 0]})",
                     fontsize=9)
        ax.axvline(-0.5, color="0.8", lw=0.8)
    axes[0, 0].legend(fontsize=7, ncol=4, loc="upper left")
    fig.tight_layout()
    return fig


def horizon_figure(results: list[Result]) -> plt.Figure:
    """MSE of each horizon step, one line per model."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for r in results:
        ax.plot(np.arange(1, len(r.per_step["mse"]) + 1), r.per_step["mse"], marker=".",
                label=r.name, lw=2 if r.family != BASELINE else 1)
    ax.set_xlabel("horizon step")
    ax.set_ylabel("MSE (original units)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
