"""Variants of a preset ranked on validation, and whether the validation ranking holds on test.

    PYTHONPATH=. python experiments/variants.py exchange96 "" "optim.loss=mae" "data.lookback=48"
    PYTHONPATH=. python experiments/variants.py etth1_m720 --accelerator gpu "" "model.dropout=0.5"
    PYTHONPATH=. python experiments/variants.py etth1_m720 --jobs 2 "" "optim=adam_decay"  # 2 cores

Each variant is the preset plus one string of space-separated Hydra overrides ("" is the preset
itself). Every variant is trained as `benchmark.py` trains it (seed 0, best-epoch weights) and
scored on every validation and test window (MSE on the normalised scale, or `--metric`, e.g.
`mase` or `smape` in original units for M4), beside every default baseline on the same windows.
Picking a variant by its test score would be tuning on the test set; this table shows what
picking by validation gives. With `--jobs N`, N variants train side by side, each in a process
of one torch thread. Writes `experiments/results/variants_<preset>.md`, or into `--results DIR`;
a `--quick` smoke run writes only where `--results` says.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import torch
from accuracy_report import machine  # experiments/, beside this file
from benchmark import QUICK, RESULTS, compose_preset, fit_recurrent, on_accelerator
from hydra.utils import instantiate

from forecast.evaluate import NEURAL, Result, build_baselines, predict_scaled, run_baselines, score
from forecast.logs import quiet

PARTS = ("val", "test")
METRICS = {  # --metric: a key of forecast.evaluate.score's metrics, without the part
    "norm_mse": "MSE on the normalised scale", "norm_mae": "MAE on the normalised scale",
    "mse": "MSE in original units", "mae": "MAE in original units",
    "smape": "sMAPE (%) in original units",
    "mase": "MASE (seasonal-naive MAE of the training rows as scale)",
}


def run_variant(preset: str, overrides: str, data_dir: Path, extra: Sequence[str] = (),
                metric: str = "norm_mse") -> dict:
    """Val and test `metric` of one variant (plus `extra` overrides, e.g. the accelerator's)."""
    torch.set_num_threads(1)  # 1 thread a variant: with --jobs 2, one per core on 2 cores
    quiet()
    with tempfile.TemporaryDirectory() as out:
        cfg = compose_preset(preset, [*overrides.split(), "seed=0", *extra], data_dir, Path(out))
        result, dm, info, module = fit_recurrent(cfg, overrides or "(the preset)")
    val = score(Result(result.name, NEURAL, predict_scaled(module, dm, "val"),
                       result.fit_seconds), dm, "val")
    row = {"variant": result.name, "val": val.metrics[f"val_{metric}"],
           "test": result.metrics[f"test_{metric}"], "epochs": info["epochs"],
           "fit_s": result.fit_seconds}
    print(f"{row['variant']}: val {metric} {row['val']:.5f} test {row['test']:.5f}", flush=True)
    return row


def baseline_rows(preset: str, data_dir: Path, metric: str = "norm_mse") -> list[dict]:
    """Val and test `metric` of every default baseline on the preset's windows."""
    with tempfile.TemporaryDirectory() as out:
        cfg = compose_preset(preset, ["seed=0"], data_dir, Path(out))
    dm = instantiate(cfg.data)
    scores = {}
    for part in PARTS:
        for result in run_baselines(build_baselines(cfg.baselines, dm.season), dm, part):
            scores.setdefault(result.name, {})[part] = result.metrics[f"{part}_{metric}"]
    return [{"variant": f"baseline: {name}", **s} for name, s in scores.items()]


def report(preset: str, rows: list[dict], baselines: list[dict], command: str,
           accelerator: str = "cpu", metric: str = "norm_mse") -> str:
    where = machine(accelerator)
    threads = "" if accelerator != "cpu" else ", 1 torch thread"
    best_val = min(rows, key=lambda r: r["val"])
    best_baseline = min(baselines, key=lambda r: r["val"])
    lines = [f"# Variants of `{preset}`, ranked on validation", "",
             f"`{command}`  ", f"{where['machine']}{threads}; torch {where['torch']}, "
             f"Lightning {where['lightning']}; {where['date']}", "",
             f"{METRICS[metric]} over every window of the part; seed 0; best-epoch weights. "
             f"Sorted by validation {metric}.", "",
             f"| variant | val {metric} | test {metric} | epochs | fit_s |",
             "|---|---|---|---|---|"]
    for r in sorted(rows + baselines, key=lambda r: r["val"]):
        fit = f"{r['fit_s']:.0f}" if "fit_s" in r else ""
        lines.append(f"| {r['variant']} | {r['val']:.5f} | {r['test']:.5f} | "
                     f"{r.get('epochs', '')} | {fit} |")
    on_test = min(baselines, key=lambda r: r["test"])
    lines += ["", f"Picked on validation: **{best_val['variant']}** (val {best_val['val']:.5f}, "
                  f"test {best_val['test']:.5f}). Best baseline on validation: "
                  f"{_name(best_baseline)} (val {best_baseline['val']:.5f}, test "
                  f"{best_baseline['test']:.5f}); on test: {_name(on_test)} "
                  f"({on_test['test']:.5f}).", ""]
    return "\n".join(lines)


def _name(row: dict) -> str:
    return row["variant"].removeprefix("baseline: ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("preset")
    parser.add_argument("variants", nargs="+", help='override strings; "" is the preset')
    parser.add_argument("--data-dir", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--results", type=Path, help="folder of the report (default: "
                        "experiments/results, except for --quick, which then writes nothing)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 epoch of 2 batches")
    parser.add_argument("--accelerator", default="cpu", help="cpu | gpu (Lightning accelerator)")
    parser.add_argument("--metric", default="norm_mse", choices=sorted(METRICS),
                        help="what variants are ranked on")
    parser.add_argument("--jobs", type=int, default=1,
                        help="variants trained side by side, in processes of 1 torch thread each")
    args = parser.parse_args()
    extra = [*on_accelerator(args.accelerator), *(QUICK if args.quick else [])]
    run = partial(run_variant, args.preset, data_dir=args.data_dir, extra=extra,
                  metric=args.metric)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            rows = list(pool.map(run, args.variants))
    else:
        rows = [run(overrides) for overrides in args.variants]
    quiet()
    baselines = baseline_rows(args.preset, args.data_dir, args.metric)
    quoted = " ".join(f'"{v}"' for v in args.variants)
    device = "" if args.accelerator == "cpu" else f" --accelerator {args.accelerator}"
    options = (f" --jobs {args.jobs}" if args.jobs > 1 else "") + (
        f" --metric {args.metric}" if args.metric != "norm_mse" else "") + (
        " --quick" if args.quick else "")
    text = report(args.preset, rows, baselines, "PYTHONPATH=. python experiments/variants.py "
                  f"{args.preset}{device}{options} {quoted}", args.accelerator, args.metric)
    print(text)
    results = args.results or (None if args.quick else RESULTS)
    if results:
        results.mkdir(parents=True, exist_ok=True)
        (results / f"variants_{args.preset}.md").write_text(text)


if __name__ == "__main__":
    main()
