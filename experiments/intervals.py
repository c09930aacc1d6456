"""Prediction intervals on real data: do split conformal intervals cover what they promise?

    PYTHONPATH=. python experiments/intervals.py --threads 1                 # the CPU settings
    PYTHONPATH=. python experiments/intervals.py --only ili24 exchange96
    PYTHONPATH=. python experiments/intervals.py --only airline --quick --results /tmp/smoke

For each setting the preset's recurrent model is trained as `benchmark.py` trains it (seed 0,
best-epoch weights), and so is the ridge baseline. Each forecasts every validation window,
whose errors calibrate intervals as `Forecaster.predict(level=...)` builds them (normalised
split conformal: errors divided by each window's spread, `forecast.intervals.Calibration`),
and every test window, on which the table reports the share of values inside each level's
interval (coverage; the level is the promise) and the interval's mean width on the scaled axis
(narrower at the same coverage is better). Plain split conformal (one half-width per step and
target, whatever the window) is scored beside it: it is what the normalisation must beat.
Where the test period behaves unlike validation, coverage misses the level either way: the
guarantee assumes exchangeable windows. Writes `experiments/results/intervals.md`, or into
`--results DIR`; a `--quick` smoke run writes only where `--results` says.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from accuracy_report import SETTINGS, machine  # experiments/, beside this file
from benchmark import QUICK, REPO, RESULTS, compose_preset, fit_recurrent

from forecast.evaluate import build_baselines, predict_scaled, run_baselines
from forecast.intervals import Calibration, conformal_widths, coverage, spread
from forecast.logs import quiet

LEVELS = (50, 80, 90, 95)
# Settings that train on 2 CPU cores in minutes (M4 hourly takes ~20, the L=720 one a GPU).
DEFAULT = ("etth1_s336", "etth1_m96", "etth2_m96", "exchange96", "ili24", "co2", "airline")


def interval_rows(name: str, model: str, dm, forecasts: dict) -> list[dict]:
    """Coverage and mean width at `LEVELS` on test of intervals calibrated on val, normalised
    and plain; `forecasts`: the scaled forecasts [N, H, T] of each part."""
    gathered = {part: dm.windows(part) for part in forecasts}  # inputs, actual
    actual = {part: targets for part, (_, targets) in gathered.items()}
    spreads = {part: spread(inputs, targets.shape[-1])
               for part, (inputs, targets) in gathered.items()}
    calibration = Calibration.fit(forecasts["val"], actual["val"], spreads["val"])
    plain = conformal_widths(np.abs(actual["val"] - forecasts["val"]))
    rows = []
    for method in ("normalised", "plain"):
        row = {"setting": name, "model": model, "method": method,
               "val_windows": len(actual["val"]), "test_windows": len(actual["test"])}
        for level in LEVELS:
            half = (calibration.half_width(level, spreads["test"]) if method == "normalised"
                    else np.broadcast_to(plain[level - 1], actual["test"].shape))
            finite = np.isfinite(half).all()
            row[f"cover_{level}"] = (coverage(actual["test"], forecasts["test"] - half,
                                              forecasts["test"] + half) if finite else np.nan)
            row[f"width_{level}"] = float(np.mean(2 * half)) if finite else np.nan
        row["miss"] = float(np.nanmean([abs(row[f"cover_{level}"] - level / 100)
                                        for level in LEVELS]))
        rows.append(row)
    return rows


def run_setting(name: str, data_dir: Path, quick: bool) -> list[dict]:
    """The setting's first recurrent model and ridge: their interval rows."""
    setting = SETTINGS[name]
    model, overrides = next(iter(setting["models"].items()))
    with tempfile.TemporaryDirectory() as out:
        cfg = compose_preset(setting["preset"], [*overrides, *(QUICK if quick else [])],
                             data_dir, Path(out))
        _, dm, _, module = fit_recurrent(cfg, model)
    parts = ("val", "test")
    rows = interval_rows(name, model, dm, {part: predict_scaled(module, dm, part)
                                           for part in parts})
    ridge = {"ridge": build_baselines(cfg.baselines, dm.season)["ridge"]}
    rows += interval_rows(name, "ridge", dm, {part: run_baselines(ridge, dm, part)[0].forecast
                                              for part in parts})
    for row in rows:
        print(f"{name:>12} {row['model']:>8} {row['method']:>10}: " + ", ".join(
            f"{level}% covers {row[f'cover_{level}']:.3f}" for level in LEVELS)
            + f"; mean miss {row['miss']:.3f}", flush=True)
    return rows


def report(rows: list[dict], machine_info: dict, command: str) -> str:
    """The Markdown table of `rows`, with the machine and the command that made it."""
    header = ["setting", "model", "method", "val windows", "test windows",
              *(f"{level}%: cover / width" for level in LEVELS), "mean miss"]
    lines = ["# Prediction intervals: coverage on the test windows", "",
             "Split conformal intervals (`forecast.intervals`), calibrated on the validation "
             "windows of each preset, scored on every test window: the share of test values "
             "inside each level's interval (the level is what it promises) and the interval's "
             "mean width on the scaled axis (in standard deviations of the training rows; "
             "narrower at the same coverage is better). `normalised` is what "
             "`Forecaster.predict(level=...)` gives (errors divided by each window's spread); "
             "`plain` is split conformal without the normalisation. `-`: too few validation "
             "windows for the level. `mean miss`: the mean distance between coverage and "
             "level over the levels shown (0 is perfect calibration).", "",
             f"Machine: {machine_info['machine']}; torch {machine_info['torch']}, "
             f"{machine_info['date']}. Command: `{command}`.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["setting"], row["model"], row["method"], str(row["val_windows"]),
                 str(row["test_windows"]),
                 *("-" if np.isnan(row[f"cover_{level}"]) else
                   f"{row[f'cover_{level}']:.3f} / {row[f'width_{level}']:.3f}"
                   for level in LEVELS), f"{row['miss']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=list(DEFAULT), help="settings to run")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--results", type=Path, help="folder of intervals.md (default: "
                        "experiments/results, except for --quick, which then writes nothing)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 epoch of 2 batches")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    quiet()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [row for name in args.only for row in run_setting(name, args.data_dir, args.quick)]
    results = args.results or (None if args.quick else RESULTS)
    if results:
        results.mkdir(parents=True, exist_ok=True)
        command = "PYTHONPATH=. python experiments/intervals.py " + " ".join(
            ["--only", *args.only] + (["--quick"] if args.quick else [])
            + (["--threads", str(args.threads)] if args.threads else []))
        (results / "intervals.md").write_text(report(rows, machine("cpu"), command))


if __name__ == "__main__":
    main()
