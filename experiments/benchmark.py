"""Accuracy benchmark: the recurrent presets against every default baseline, standard protocol.

    PYTHONPATH=. python experiments/benchmark.py --only etth1_m96      # one setting
    PYTHONPATH=. python experiments/benchmark.py --only airline --quick --results /tmp/smoke
    PYTHONPATH=. python experiments/benchmark.py --list                # the settings
    PYTHONPATH=. python experiments/benchmark.py --only etth1_m720 --accelerator gpu \
        --data-dir experiments/gpu/data                                # a long run on a GPU

Each setting is one `conf/experiment/*.yaml` preset. Its recurrent model(s) and ALL the
baselines of `conf/baselines/default.yaml` are built exactly as `python -m forecast.train` builds
them (same config, same `WindowDataModule`, `ForecastModule`, Trainer, callbacks, best-epoch
weights) and scored by `forecast.evaluate.score` on every test window: MSE/MAE on the scaler's
normalised axis (the scaler is fitted on the training rows only), plus sMAPE/MASE/OWA in
original units for M4. Results go to `experiments/results/accuracy.csv` (a rerun replaces the
rows of its setting) and `accuracy.md` (rebuilt from the CSV, with the published numbers), or
to `--results DIR`; a `--quick` smoke run writes only where `--results` says.
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from accuracy_report import SETTINGS, machine, write_report  # experiments/, beside this file
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from forecast.building import build_module
from forecast.errors import ConfigError, check_accelerator
from forecast.evaluate import NEURAL, Result, build_baselines, predict_scaled, run_baselines, score
from forecast.logs import quiet
from forecast.models import ForecastModule
from forecast.models.lit import load_best

REPO = Path(__file__).resolve().parents[1]

RESULTS = REPO / "experiments" / "results"
M4_NAIVE2 = {"smape": 18.383, "mase": 2.395}  # M4 Hourly Naive2, for OWA
QUICK = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2"]  # --quick: a smoke run


def on_accelerator(accelerator: str) -> list[str]:
    """Overrides that train on `accelerator` ("cpu" or "gpu"), the windows kept on the GPU; a
    GPU torch does not see ends the script with one line."""
    try:
        check_accelerator(accelerator, f"--accelerator {accelerator}", "use --accelerator cpu")
    except ConfigError as error:
        raise SystemExit(f"error: {error}") from None
    return ([] if accelerator == "cpu"
            else [f"trainer.accelerator={accelerator}", "data.on_device=true"])


def compose_preset(preset: str, overrides: list[str], data_dir: Path, out_dir: Path) -> DictConfig:
    """The config `python -m forecast.train +experiment=PRESET OVERRIDES` would run."""
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=[
            f"+experiment={preset}", "logger=none", f"paths.data_dir={data_dir}",
            f"paths.output_dir={out_dir}", *overrides])


def fit_recurrent(cfg: DictConfig, name: str) -> tuple[Result, object, dict, ForecastModule]:
    """Train the config's network as forecast.train does; score the best epoch on test."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = instantiate(cfg.data)
    dm.setup()
    net = instantiate(cfg.model, **dm.dims)
    module = build_module(cfg.optim, net)
    callbacks = list(instantiate(cfg.callbacks).values()) if cfg.callbacks else []
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=False,
                          enable_progress_bar=False)
    start = time.perf_counter()
    trainer.fit(module, dm)
    seconds = time.perf_counter() - start
    load_best(module, trainer)
    result = score(Result(name, NEURAL, predict_scaled(module, dm), seconds), dm)
    info = {"epochs": trainer.current_epoch,
            "params": sum(p.numel() for p in net.parameters()),
            "device": str(trainer.strategy.root_device)}
    return result, dm, info, module


def m4_metrics(result: Result, dm) -> dict[str, float]:
    """M4 protocol: per-series sMAPE and MASE (in-sample seasonal-naive scale over the whole
    train file, m = season), averaged over series; OWA against Naive2."""
    _, y_scaled = dm.windows("test")
    y = dm.inverse_transform(y_scaled, "test")[..., 0]  # [N, H]
    yhat = dm.inverse_transform(result.forecast, "test")[..., 0]
    # Each series' history is the competition's train file: every row before the test part.
    starts, ends, m = dm.panel_.bounds[:-1], dm.borders_[:, 1], dm.season
    history = [dm.unscaled(np.arange(b, b + n))[:, 0] for b, n in zip(starts, ends, strict=True)]
    scale = np.array([np.mean(np.abs(h[m:] - h[:-m])) for h in history])[dm.window_series("test")]
    smape = np.mean(200 * np.abs(y - yhat) / (np.abs(y) + np.abs(yhat)), axis=1).mean()
    mase = (np.mean(np.abs(y - yhat), axis=1) / scale).mean()
    owa = 0.5 * (smape / M4_NAIVE2["smape"] + mase / M4_NAIVE2["mase"])
    return {"smape": float(smape), "mase": float(mase), "owa": float(owa)}


def run_setting(name: str, data_dir: Path, extra: list[str], quick: bool) -> list[dict]:
    """Every recurrent model of a setting, then every default baseline, as table rows."""
    setting = SETTINGS[name]
    quick_overrides = QUICK if quick else []
    rows, dm = [], None
    with tempfile.TemporaryDirectory() as out:
        for model, overrides in setting["models"].items():
            runs = []
            for seed in range(1 if quick else setting.get("seeds", 1)):
                cfg = compose_preset(setting["preset"], [*overrides, *quick_overrides, *extra,
                                                         f"seed={seed}"],
                                     data_dir, Path(out) / f"{model}_{seed}")
                result, dm, info, _ = fit_recurrent(cfg, model)
                runs.append((result, info))
                print(_summary(_row(name, result, dm, info, setting)), flush=True)
            rows += _seed_rows(name, model, runs, dm, setting)
            baselines = cfg.baselines
    for result in run_baselines(build_baselines(baselines, dm.season), dm):
        rows.append(_row(name, result, dm, {}, setting))
        print(_summary(rows[-1]), flush=True)
    return rows


def _seed_rows(name: str, model: str, runs: list, dm, setting: dict) -> list[dict]:
    """Seed 0's row; with several seeds also the mean forecast of all of them (an ensemble),
    and each row notes the spread of the single-seed MSEs."""
    first, info = runs[0]
    if len(runs) == 1:
        return [_row(name, first, dm, info, setting)]
    mses = np.array([r.metrics["test_norm_mse"] for r, _ in runs])
    note = f"single seeds 0-{len(runs) - 1}: MSE {mses.mean():.4f} +- {mses.std():.4f}"
    ensemble = score(Result(f"{model}_x{len(runs)}", NEURAL,
                            np.mean([r.forecast for r, _ in runs], axis=0),
                            sum(r.fit_seconds for r, _ in runs)), dm)
    return [_row(name, first, dm, {**info, "note": f"seed 0; {note}"}, setting),
            _row(name, ensemble, dm, {**info, "note": f"mean forecast of {len(runs)} seeds; "
                                                      f"{note}"}, setting)]


def _row(name: str, result: Result, dm, info: dict, setting: dict) -> dict:
    row = {"setting": name, "dataset": setting["dataset"], "protocol": setting["protocol"],
           "lookback": dm.spec.lookback, "horizon": dm.spec.horizon,
           "model": result.name, "family": result.family,
           "mse": result.metrics["test_norm_mse"], "mae": result.metrics["test_norm_mae"],
           "fit_s": round(result.fit_seconds, 2), "test_windows": len(dm.starts_["test"]),
           **info}
    if setting.get("m4"):
        row.update(m4_metrics(result, dm))
    return row


def _summary(row: dict) -> str:
    extra = "".join(f" {k} {row[k]:.3f}" for k in ("smape", "mase", "owa") if k in row)
    return (f"{row['setting']:>12} {row['model']:>16} ({row['family']}) mse {row['mse']:.4f} "
            f"mae {row['mae']:.4f}{extra} fit {row['fit_s']:.1f}s")


def save(rows: list[dict], results: Path, machine_info: dict) -> None:
    """Replace the rows of the settings just run in the CSV, then rebuild the Markdown."""
    results.mkdir(parents=True, exist_ok=True)
    csv = results / "accuracy.csv"
    new = pd.DataFrame(rows).assign(**machine_info)
    if csv.exists():
        old = pd.read_csv(csv)
        new = pd.concat([old[~old.setting.isin(new.setting.unique())], new], ignore_index=True)
    order = {name: i for i, name in enumerate(SETTINGS)}
    new = new.sort_values("setting", key=lambda s: s.map(order), kind="stable")
    new.to_csv(csv, index=False)
    (results / "accuracy.md").write_text(write_report(new))


def rerun(name: str, args: argparse.Namespace) -> str:
    """The command that reruns setting `name` as this run ran it (recorded in its rows)."""
    options = [] if args.accelerator == "cpu" else ["--accelerator", args.accelerator]
    options += ["--quick"] if args.quick else []
    return ("PYTHONPATH=. python experiments/benchmark.py "
            + shlex.join(["--only", name, *options, *args.overrides]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="settings to run (default: all "
                        "CPU settings; see --list)")
    parser.add_argument("--list", action="store_true", help="print the settings and exit")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--results", type=Path, help="folder of accuracy.csv/.md (default: "
                        "experiments/results, except for --quick, which then writes nothing)")
    parser.add_argument("--accelerator", default="cpu", help="cpu | gpu (Lightning accelerator)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 epoch of 2 batches")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is much "
                        "faster for these small nets when other jobs share the cores)")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every model")
    args = parser.parse_args(argv)
    if args.list:
        for name, setting in SETTINGS.items():
            print(f"{name:>14}  {setting['dataset']}, {setting['protocol']}, "
                  f"{'GPU' if setting.get('gpu') else 'CPU'}: {', '.join(setting['models'])}")
        return
    quiet()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.only or [n for n, s in SETTINGS.items() if not s.get("gpu")]
    unknown = sorted(set(names) - set(SETTINGS))
    if unknown:
        parser.error(f"unknown setting(s) {unknown}; choose from {list(SETTINGS)}")
    device = on_accelerator(args.accelerator)
    info = {**machine(args.accelerator), "threads": torch.get_num_threads()}
    results = args.results or (None if args.quick else RESULTS)
    for name in names:  # saved one by one: a long run keeps what it finished
        rows = run_setting(name, args.data_dir.resolve(), [*device, *args.overrides], args.quick)
        if results:
            save(rows, results, {**info, "command": rerun(name, args)})
    print(f"wrote {results / 'accuracy.md'}" if results else
          "wrote nothing: a --quick run saves only with --results DIR")


if __name__ == "__main__":
    main()
