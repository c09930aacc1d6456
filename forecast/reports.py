"""The comparison table and figures of one experiment: neural model(s) vs baselines.

Models are ranked by `norm_mse` (MSE on the scaled axis: every series and target weighs the
same; for a single series the order is that of `mse`). `vs_baseline` is a model's `norm_mse`
divided by the best baseline's: below 1 the model beats every baseline.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from forecast.data import WindowDataModule  # noqa: E402
from forecast.evaluate import BASELINE, Result, all_windows, windows  # noqa: E402
from forecast.intervals import coverage_prefix  # noqa: E402

RANK_BY = "norm_mse"
TABLE_METRICS = ("mse", "rmse", "mae", "mape", "smape", "mase", "norm_mse", "norm_rmse",
                 "norm_mae")
STRETCH = 96  # consecutive one-step forecasts per cell of the forecast figure
TERMINAL_COLUMNS = ("model", "family", "mse", "mae", "norm_mse", "norm_mae", "mase", "fit_s",
                    "vs_baseline")


def results_table(results: list[Result], part: str = "test") -> pd.DataFrame:
    """One row per model, best first: metrics, fit seconds, `vs_baseline`, `best` ("*")."""
    rows = [{"model": r.name, "family": r.family,
             **{m: r.metrics.get(f"{part}_{m}", np.nan) for m in TABLE_METRICS},
             "fit_s": r.fit_seconds} for r in results]
    table = pd.DataFrame(rows, columns=["model", "family", *TABLE_METRICS, "fit_s"])
    best_baseline = table.loc[table.family == BASELINE, RANK_BY].min()  # NaN without baselines
    table["vs_baseline"] = table[RANK_BY] / best_baseline
    table["best"] = np.where(table[RANK_BY] == table[RANK_BY].min(), "*", "")
    return table.sort_values(RANK_BY, kind="stable").reset_index(drop=True)


def _cell(column: str, value) -> str:
    if not isinstance(value, float):
        return str(value)
    if np.isnan(value):
        return "-"
    if column == "fit_s":
        return "<0.01" if value < 0.01 else f"{value:.3g}" if value < 1000 else f"{value:.0f}"
    return f"{value:.3f}" if column == "vs_baseline" else f"{value:.4g}"


def format_table(table: pd.DataFrame, columns=TERMINAL_COLUMNS) -> str:
    """The table as aligned text for a terminal (< 100 columns); the best row starts with *."""
    cells = [[_cell(c, v) for c, v in zip(columns, row, strict=True)]
             for row in table[list(columns)].itertuples(index=False)]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values, mark=" "):
        pairs = enumerate(zip(values, widths, strict=True))
        return f"{mark} " + "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in pairs)

    marks = table.best.replace("", " ").tolist()
    rows = (line(row, mark) for row, mark in zip(cells, marks, strict=True))
    return "\n".join([line(columns), *rows])


def markdown_table(table: pd.DataFrame) -> str:
    """Every column of the table as Markdown (results.md)."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" if c in ("model", "family", "best") else "---:"
                          for c in table.columns) + "|"
    lines = ["| " + " | ".join(_cell(c, v) for c, v in zip(table.columns, row, strict=True)) + " |"
             for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *lines])


def summary(title: str, dm: WindowDataModule, results: list[Result], table: pd.DataFrame,
            stride: int = 1, refit: bool = False, part: str = "test") -> str:
    """What the terminal shows after training: one header line, the table, the legend."""
    n = len(all_windows(dm, part, results[0].index)) if results else 0
    origins = "every step" if stride == 1 else f"every {stride} steps"
    refitted = " (baselines refitted at each)" if refit else ""
    prefix = coverage_prefix(part)  # the neural model's (first) intervals
    coverage = [f"{name.removeprefix(prefix)}% covers {value:.3f}"
                for name, value in (results[0].metrics if results else {}).items()
                if name.startswith(prefix)]
    intervals = (f"\n{results[0].name}'s prediction intervals (calibrated on the validation "
                 f"windows): {', '.join(coverage)} of the {part} values.") if coverage else ""
    ratio = (f"\nvs_baseline: {RANK_BY} / the best baseline's (below 1: beats every baseline)."
             if (table.family == BASELINE).any() else "")
    return (f"{title}: {n} {part} windows, horizon {dm.spec.horizon}, origins {origins}"
            f"{refitted}\n{format_table(table)}\n"
            f"* best (lowest {RANK_BY}). mse, mae: original units; norm_*: scaled axis."
            f"{ratio}{intervals}")


def per_step_table(results: list[Result]) -> pd.DataFrame:
    """Long table: one row per model and horizon step, one column per metric (per_step.csv)."""
    frames = [pd.DataFrame({"model": r.name, "family": r.family,
                            "step": np.arange(1, len(r.per_step["mse"]) + 1), **r.per_step})
              for r in results]
    return pd.concat(frames, ignore_index=True)


def model_colors(results: list[Result]) -> dict[str, str]:
    """One colour per model, the same in every figure of an invocation."""
    return {r.name: f"C{i % 10}" for i, r in enumerate(results)}


def _panels(dm: WindowDataModule, n: int) -> list[tuple[int, int]]:
    """Up to n (series, target) pairs to plot: different series first, then targets."""
    n_series, n_targets = dm.panel_.n_series, dm.panel_.n_targets
    n = min(n, n_series * n_targets)
    series = np.linspace(0, n_series - 1, n).round().astype(int)
    if n_series >= n:
        return [(s, 0) for s in series]
    return [(k % n_series, k // n_series % n_targets) for k in range(n)]


def forecast_figure(dm: WindowDataModule, results: list[Result], part: str = "test",
                    n_windows: int = 3, n_panels: int = 3,
                    colors: dict[str, str] | None = None) -> plt.Figure:
    """Forecast vs actual in original units: a grid of windows (rows) by series/targets
    (columns). Windows are spread over each series' scored windows, which all results share.
    With a one-step horizon each cell shows a stretch of consecutive forecasts instead.
    """
    index = all_windows(dm, part, results[0].index)
    series_of = dm.window_series(part)[index]
    colors = colors or model_colors(results)
    panels = _panels(dm, n_panels)
    one_step = dm.spec.horizon == 1
    fig, axes = plt.subplots(n_windows, len(panels), squeeze=False, sharex=True,
                             figsize=(4.2 * len(panels) + 1, 2.3 * n_windows + 0.6))
    for col, (series, target) in enumerate(panels):
        mine = np.flatnonzero(series_of == series)  # positions among the scored windows
        length = min(STRETCH, max(1, len(mine) // n_windows)) if one_step else 1
        firsts = np.linspace(0, len(mine) - length, n_windows).round().astype(int)
        for ax, first in zip(axes[:, col], firsts, strict=True):
            positions = mine[first:first + length]
            draw = _draw_stretch if one_step else _draw_window
            draw(ax, dm, results, part, index, positions, target, colors)
            origin = _when(dm.target_times(dm.starts_[part][index[positions[:1]]])[0, 0])
            ax.set_title(f"{_panel_name(dm, series, target)} | "
                         f"{'one-step forecasts from' if one_step else 'origin'} {origin}",
                         fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("steps from the first origin" if one_step else "steps from origin",
                      fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


def _draw_window(ax, dm: WindowDataModule, results: list[Result], part: str, index: np.ndarray,
                 positions: np.ndarray, target: int, colors: dict[str, str]) -> None:
    """History, actual and every model's forecast of one scored window, one target."""
    pos = positions[0]
    k = index[[pos]]  # [1] window number in the part
    x, y = windows(dm, part, k)
    horizon, n_targets = dm.spec.horizon, dm.panel_.n_targets
    shown_past = min(dm.spec.lookback, max(2 * horizon, 48))
    past = dm.inverse_transform(x[..., :n_targets], part, k)[0, -shown_past:, target]
    actual = dm.inverse_transform(y, part, k)[0, :, target]
    small = dict(marker="o", ms=3) if horizon < 12 else {}
    ax.plot(np.arange(1 - shown_past, 1), past, color="0.6", lw=1)
    # The actual continues the history line, so a one-step horizon is still visible.
    ax.plot(np.arange(0, horizon + 1), np.r_[past[-1], actual], color="black", lw=1.6,
            label="actual", **small)
    for r in results:
        lines = _unscaled_lines(dm, r, [pos], part, k, target)  # each [1, H]
        ax.plot(np.arange(1, horizon + 1), lines[0][0], color=colors[r.name], lw=1.3,
                label=r.name, **small)
        _draw_band(ax, np.arange(1, horizon + 1), [line[0] for line in lines[1:]], r,
                   colors[r.name])
    ax.axvline(0.5, color="0.85", lw=0.8)
    ax.tick_params(labelsize=7)


def _draw_stretch(ax, dm: WindowDataModule, results: list[Result], part: str,
                  index: np.ndarray, positions: np.ndarray, target: int,
                  colors: dict[str, str]) -> None:
    """Actual and one-step forecasts of consecutive scored windows `positions`, one target."""
    k = index[positions]
    steps = dm.starts_[part][k] - dm.starts_[part][k[0]]
    small = dict(marker="o", ms=2.5) if len(k) <= 40 else {}
    actual = dm.inverse_transform(windows(dm, part, k)[1], part, k)[:, 0, target]
    ax.plot(steps, actual, color="black", lw=1.6, label="actual", **small)
    for r in results:
        lines = _unscaled_lines(dm, r, positions, part, k, target)  # each [K', 1]
        ax.plot(steps, lines[0][:, 0], color=colors[r.name], lw=1.1, label=r.name, **small)
        _draw_band(ax, steps, [line[:, 0] for line in lines[1:]], r, colors[r.name])
    ax.tick_params(labelsize=7)


def _unscaled_lines(dm: WindowDataModule, result: Result, positions, part: str, k: np.ndarray,
                    target: int) -> list[np.ndarray]:
    """[forecast] or [forecast, lower, upper] of the result's windows `positions` (the part's
    windows `k`), one target, in original units: each [K', H]."""
    scaled = [result.forecast[positions]]
    if result.band is not None:
        half = result.band[1][positions]
        scaled += [scaled[0] - half, scaled[0] + half]
    return [dm.inverse_transform(values, part, k)[..., target] for values in scaled]


def _draw_band(ax, steps: np.ndarray, bounds: list[np.ndarray], result: Result,
               color: str) -> None:
    """The result's prediction interval, if it has one (`bounds`: lower, upper), shaded."""
    if bounds:
        ax.fill_between(steps, *bounds, color=color, alpha=0.18, lw=0,
                        label=f"{result.name} {result.band[0]}% interval")


def _when(value) -> str:
    """A timestamp as `2017-10-24 00:00:00` (an integer step as itself)."""
    return str(pd.Timestamp(value)) if isinstance(value, np.datetime64) else str(value)


def _panel_name(dm: WindowDataModule, series: int, target: int) -> str:
    names = [str(dm.panel_.columns[target])] if dm.panel_.n_targets > 1 else []
    if dm.panel_.n_series > 1:
        names.insert(0, str(dm.panel_.series_ids[series]))
    return " / ".join(names) or str(dm.panel_.columns[target])


def horizon_figure(results: list[Result], colors: dict[str, str] | None = None) -> plt.Figure:
    """Normalised MSE and MAE of each horizon step, one line per model (nets drawn solid and
    thicker); bars for a one-step horizon."""
    colors = colors or model_colors(results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("norm_mse", "norm_mae"), strict=True):
        values = {r.name: np.asarray(r.per_step[metric]) for r in results}
        if all(len(v) == 1 for v in values.values()):
            ax.barh(list(values), [v[0] for v in values.values()],
                    color=[colors[name] for name in values])
            ax.invert_yaxis()
            ax.set_title(f"{metric}, one-step horizon (lower is better)", fontsize=10)
        else:
            for r in results:
                neural = r.family != BASELINE
                ax.plot(np.arange(1, len(values[r.name]) + 1), values[r.name], label=r.name,
                        color=colors[r.name], lw=2.4 if neural else 1.2, ls="-" if neural else "--")
            ax.set_xlabel("horizon step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            _log_if_spread(ax, np.concatenate(list(values.values())))
            ax.set_title(f"{metric} by horizon step (lower is better)", fontsize=10)
        ax.grid(alpha=0.3)
    if len(axes[1].get_lines()):
        axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def _log_if_spread(ax, values: np.ndarray, ratio: float = 30.0) -> None:
    """Log scale when the values span more than `ratio`: one bad model would flatten the rest."""
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() > ratio:
        ax.set_yscale("log")
        # Plain numbers (0.05, not 5 x 10^-2); 2s, 3s and 5s between decades (2s, 5s if wide).
        digits = "25" if values.max() / values.min() > 20 else "235"
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(
            lambda value, _: f"{value:.3g}" if f"{value:.1e}"[0] in digits else ""))


def training_figure(history: dict[str, list[float]], title: str = "") -> plt.Figure:
    """Loss per epoch, one line per logged curve (e.g. `train_loss_epoch`, `val_loss`); a log
    axis when the first epochs would flatten the rest."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in history.items():
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, marker="o" if len(values) < 40 else None, ms=3, label=name)
    best = history.get("val_loss")
    if best:
        epoch = int(np.argmin(best))
        ax.scatter([epoch + 1], [best[epoch]], s=80, facecolors="none", edgecolors="red",
                   zorder=3, label=f"best val_loss (epoch {epoch + 1})")
    values = [np.asarray(v, dtype=float) for v in history.values()]
    _log_if_spread(ax, np.concatenate(values or [np.zeros(0)]), ratio=5)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("loss (scaled axis)")
    ax.set_title(title or "training curves", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
