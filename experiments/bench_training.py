"""Training throughput: our pipeline vs a raw torch loop, a TensorDataset + DataLoader loop, Darts.

    PYTHONPATH=. python experiments/bench_training.py                 # CPU, a few minutes
    PYTHONPATH=. python experiments/bench_training.py --device cuda   # the GPU shapes of #7

Every variant trains the same `ManyToOne` LSTM from the same initial weights on the same
windows, with Adam (lr 1e-3), gradient clipping (global norm 1.0) and the precision of the
trainer config, and validates once per epoch keeping the best weights:

- ours: `WindowDataModule` + `ForecastModule` + `pl.Trainer` as `forecast.train` builds them:
  trainer settings from conf/trainer/{default,gpu}.yaml, conf/callbacks/default.yaml (best and
  last checkpoints, early stopping), the progress bar, and the MLflow logger of a `Tracker` on
  a local sqlite store (a CSV logger where mlflow is missing), 8 batches (8 optimiser steps)
  per Lightning step (`data.steps_per_execution`'s default). On a GPU the windows stay there.
- single (with --variants): ours with `data.steps_per_execution=1`, one batch per Lightning step.
- no_checkpoints (with --variants): ours without the checkpoint callbacks (logger kept).
- bare (with --variants): ours without logger, checkpoints and progress bar: Lightning's loop.
- raw: a hand-written loop over windows materialised as tensors already on the device, in the
  same shuffled order as ours, so both see the same batches (their best val losses agree).
- tensor_dataset: the raw loop fed by `DataLoader(TensorDataset(X, Y), shuffle=True)` from host
  memory, the usual way to write it. On a GPU it runs in the last round only (it is slow there).
- darts (with --variants and --darts-python): Darts' `BlockRNNModel` (the same LSTM -> last
  state -> linear network) on the same scaled series, with its default trainer (progress bar;
  no logger or checkpoints), in a Python of its own; see experiments/darts_worker.py.

Throughput = training windows x epochs / wall time of the whole fit: Trainer construction,
sanity check, validation, checkpoints and logging included. Below each table, the fixed costs of
our fits (the median ms before the first epoch and after the last), which the ratios of a short
fit weigh and a long one hides. Each round runs every variant once, in a new random order, with
a raw fit before the first and after each one; win/s is the best fit of each variant, and a
ratio to raw is the median over rounds of the mean time of the raw fits just before and after a
fit over the fit's time. On a shared machine the same fit swings by up to 1.5x from one second
to the next, in phases of a few seconds: only neighbouring fits see about the same speed.
Needs torch, pytorch-lightning, hydra-core, numpy and pandas (mlflow optional).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import functools
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from functools import partial
from math import nan
from pathlib import Path

import pytorch_lightning as pl
import torch

from experiments.bench_support import (
    OursFit,
    SelfTimed,
    Shape,
    as_tensors,
    composed,
    darts_data,
    darts_version,
    logger_factory,
    make_datamodule,
    make_net,
    ours_config,
    run_darts,
    run_ours,
    run_raw,
    run_tensor_dataset,
    synchronize,
)

SHAPES = {
    # CPU: the sine preset (conf/experiment/sine.yaml) and a small multivariate job, in a short
    # fit (2 epochs: the costs of a fit's start and end weigh most) and in the shortest fit
    # early stopping allows with the default patience of 5 (6 epochs).
    "sine": Shape(1, 50, 1, 32, 1, 64, 4000, 30),  # the sine preset, 30 of its 60 epochs
    "ett_cpu": Shape(7, 96, 24, 64, 2, 64, 4000, 2),
    "ett_cpu_6": Shape(7, 96, 24, 64, 2, 64, 4000, 6),
    # A net too small to cost anything (4 hidden units, lookback 8): a step's time over the raw
    # loop's is the pipeline's own cost per step (with --shapes tiny).
    "tiny": Shape(1, 8, 1, 4, 1, 64, 40000, 3),
    # GPU, the shapes of issue #7: ETTh1 (14,400 rows) and ETTm1 (69,680 rows) sizes with
    # 7 channels, ECL size (26,304 rows) with 321 channels.
    "etth": Shape(7, 96, 96, 128, 1, 256, 14400, 20),
    "ettm": Shape(7, 96, 96, 128, 1, 256, 69680, 4),
    "ecl": Shape(321, 96, 96, 512, 1, 1024, 26304, 6),
}
DEFAULT_SHAPES = {"cpu": ["sine", "ett_cpu", "ett_cpu_6"], "cuda": ["etth", "ettm", "ecl"]}
TRAINER = {"cpu": "default", "cuda": "gpu"}


# -- measuring ---------------------------------------------------------------------------------
def variants_of(shape, dm, initial, device, names, darts_python=None) -> dict:
    """name: (prepare outside the timing -> args, run(*args) -> best val loss, or a
    `SelfTimed` when the run is timed elsewhere)."""
    trainer_name = TRAINER[device]
    bf16 = str(composed(trainer_name).trainer.precision).startswith("bf16")
    autocast = (partial(torch.autocast, device_type=device, dtype=torch.bfloat16) if bf16
                else contextlib.nullcontext)
    new_logger = logger_factory(Path(tempfile.mkdtemp(prefix="bench_mlflow_")))

    @functools.cache
    def tensors(part: str, where: str) -> tuple[torch.Tensor, torch.Tensor]:
        return as_tensors(dm, part, where)  # materialised once, outside the timings

    def loop_args(where: str):
        val = (*tensors("val", device), dm.eval_batch_size)
        return copy.deepcopy(initial).to(device), tensors("train", where), val

    def ours_args(*overrides: str, with_logger: bool = True) -> tuple:
        cfg = ours_config(trainer_name, shape.epochs, *overrides)
        return (copy.deepcopy(initial), cfg, new_logger() if with_logger else None)

    every = {
        "raw": (lambda: loop_args(device),
                lambda net, train, val: run_raw(shape, net, device, autocast, train, val,
                                                    dm.seed)),
        "ours": (ours_args, partial(run_ours, dm)),
        "single": (partial(ours_args, "data.steps_per_execution=1"), partial(run_ours, dm)),
        "no_checkpoints": (ours_args, partial(run_ours, dm, checkpoints=False)),
        "bare": (partial(ours_args, with_logger=False),
                 partial(run_ours, dm, checkpoints=False, progress=False)),
        "tensor_dataset": (lambda: loop_args("cpu"),
                           lambda net, train, val: run_tensor_dataset(shape, net, device,
                                                                      autocast, train, val)),
        "darts": (functools.cache(lambda: darts_data(dm, shape)),
                  partial(run_darts, darts_python)),
    }
    return {name: every[name] for name in names}


def measure(shape: Shape, device: str, repeats: int, names: list[str],
            darts_python: str | None = None) -> dict:
    dm = make_datamodule(shape, device)
    initial = make_net(shape, dm)
    variants = variants_of(shape, dm, initial, device, names, darts_python)
    rounds = []  # per timed round: name -> (wall s, CPU s[, raw's wall s, CPU s around])
    losses, errors, fixed = {}, {}, {}  # fixed: name -> [(start s, end s)] of our fits

    def timed_run(name: str, kept: bool) -> tuple[float, float] | None:
        """One fit of `name`: (wall s, process CPU s), or None if it failed (reported); the
        fixed costs of our fits are recorded when the round is `kept`."""
        prepare, run = variants[name]
        try:
            args = prepare()
            synchronize(device)
            start, cpu_start = time.perf_counter(), time.process_time()
            outcome = run(*args)
            synchronize(device)
        except Exception:  # report it and go on with the other variants
            errors[name] = traceback.format_exc()
            print(f"{name} failed:\n{errors[name]}", file=sys.stderr, flush=True)
            return None
        seconds = (time.perf_counter() - start, time.process_time() - cpu_start)
        if isinstance(outcome, SelfTimed):  # timed in its own process (Darts)
            outcome, seconds = outcome.loss, (outcome.seconds, outcome.cpu_seconds)
        if isinstance(outcome, OursFit):
            if kept:
                fixed.setdefault(name, []).append((outcome.start_s, outcome.end_s))
            outcome = outcome.loss
        losses[name] = outcome
        return seconds

    def raw_fit(kept: bool) -> tuple[float, float] | None:
        return timed_run("raw", kept) if "raw" in variants and "raw" not in errors else None

    for round_ in range(repeats + 1):  # round 0 warms up (lazy imports, cuDNN plans)
        order = [name for name in variants if name != "raw"]
        random.Random(round_).shuffle(order)  # no variant always runs right after another
        kept = round_ or repeats == 0  # round 0 is kept only when it is the one
        before = raw_fit(kept)
        timed, raws = {}, [before]  # raw runs before the first variant and after each one
        for name in order:
            if name in errors or (name == "tensor_dataset" and device == "cuda"
                                  and round_ < repeats):
                continue
            seconds, after = timed_run(name, kept), raw_fit(kept)
            raws.append(after)
            if seconds:  # with the mean of the raw fits just before and after it
                around = ([(b + a) / 2 for b, a in zip(before, after, strict=True)]
                          if before and after else [])
                timed[name] = (*seconds, *around)
            before = after
        if any(raws):
            timed["raw"] = min(r for r in raws if r)
        if kept:
            rounds.append(timed)
    samples = len(dm.starts_["train"]) * shape.epochs
    return {"shape": shape, "windows": len(dm.starts_["train"]), "best_val_loss": losses,
            "throughput": {name: samples / min(r[name][0] for r in rounds if name in r)
                           for name in variants if any(name in r for r in rounds)},
            "ratio": paired_ratios(rounds, 0), "cpu_ratio": paired_ratios(rounds, 1),
            "fixed_ms": {name: tuple(1000 * statistics.median(t[i] for t in times)
                                     for i in (0, 1)) for name, times in fixed.items()},
            "errors": errors}


def paired_ratios(rounds: list[dict], which: int) -> dict[str, float]:
    """Throughput / raw's, the median over rounds of the ratio of each fit to the mean of the raw
    fits just before and after it: the machine's speed drifts within seconds, so only fits
    next to each other see about the same speed."""
    ratios = {}
    for name in {n for r in rounds for n in r} - {"raw"}:
        paired = [r[name][2 + which] / r[name][which] for r in rounds if len(r.get(name, ())) > 2]
        if paired:
            ratios[name] = statistics.median(paired)
    return ratios


def sync_audit(shape: Shape) -> str:
    """Where our GPU training loop waits for the GPU: one epoch under CUDA's sync debug mode."""
    dm = make_datamodule(Shape(**{**shape.__dict__, "epochs": 1}), "cuda")
    net = make_net(shape, dm)
    logger = logger_factory(Path(tempfile.mkdtemp(prefix="bench_audit_")))()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run_ours(dm, net, ours_config("gpu", 1), logger)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    places = {}
    for w in syncs:
        key = f"{Path(w.filename).name}:{w.lineno}"
        places[key] = places.get(key, 0) + 1
    steps = len(dm.starts_["train"]) // shape.batch_size
    top = ", ".join(f"{k} x{v}" for k, v in sorted(places.items(), key=lambda kv: -kv[1])[:8])
    return f"GPU syncs in one epoch of ours ({steps} steps): {len(syncs)}; where: {top or '-'}"


def machine(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    simd = torch.backends.cpu.get_cpu_capability()  # "AVX2", "AVX512": machines named alike differ
    parts = [f"CPU {cpu} ({simd}), {os.cpu_count()} cores, torch threads "
             f"{torch.get_num_threads()}"]
    if device == "cuda":
        parts.append(f"GPU {torch.cuda.get_device_name()}")
    try:
        import mlflow

        logger = f"MLflow {mlflow.__version__} (local sqlite)"
    except ImportError:
        logger = "CSVLogger (mlflow not installed)"
    parts += [f"python {platform.python_version()}, torch {torch.__version__}, "
              f"pytorch-lightning {pl.__version__}, logger of ours: {logger}",
              f"date {datetime.datetime.now().isoformat(timespec='minutes')}"]
    if hasattr(os, "getloadavg"):
        parts.append(f"load average at start {os.getloadavg()[0]:.2f}")
    return "; ".join(parts)


def report(results: list[dict], device: str) -> str:
    """Throughput (windows/s of wall time, best round) and ratios to raw; on a CPU also the
    ratios of process CPU time."""
    names = [n for n in ("ours", "single", "no_checkpoints", "bare", "tensor_dataset",
                         "darts")
             if any(n in r["throughput"] for r in results)]
    header = ["shape", "train windows x epochs", "raw win/s", *[f"{n} win/s" for n in names],
              *[f"{n} / raw" for n in names]]
    if device == "cpu":
        header += [f"{n} / raw (CPU time)" for n in names]
    header.append("best val loss raw / ours")
    darts = any("darts" in r["best_val_loss"] for r in results)
    if darts:
        header.append("darts val loss (last epoch)")
    lines = [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
    for r in results:
        wall, loss = r["throughput"], r["best_val_loss"]
        cells = [f"{r['shape'].label()} ({device})", f"{r['windows']} x {r['shape'].epochs}",
                 f"{wall.get('raw', nan):,.0f}", *[f"{wall.get(n, nan):,.0f}" for n in names]]
        cells += [ratio(r["ratio"], n) for n in names]
        if device == "cpu":
            cells += [ratio(r["cpu_ratio"], n) for n in names]
        cells.append(f"{loss.get('raw', nan):.4g} / {loss.get('ours', nan):.4g}")
        if darts:
            cells.append(f"{loss.get('darts', nan):.4g}")
        lines.append(f"| {' | '.join(cells)} |")
        lines += [f"\n{name} FAILED:\n```\n{text}```" for name, text in r["errors"].items()]
    return "\n".join(lines) + fixed_costs(results)


def fixed_costs(results: list[dict]) -> str:
    """The medians of the fixed costs of our fits, per shape and variant."""
    lines = []
    for r in results:
        costs = ", ".join(f"{name} {start:.0f} / {end:.0f}"
                          for name, (start, end) in sorted(r.get("fixed_ms", {}).items()))
        if costs:
            lines.append(f"- {r['shape'].label()}: {costs}")
    if not lines:
        return ""
    return ("\n\nFixed costs of a fit, median ms: start (the call to the first epoch: Trainer, "
            "logger, set-up) / end (the end of the last epoch to fit's return: checkpoints "
            "written, MLflow drained)\n\n" + "\n".join(lines))


def ratio(ratios: dict, name: str) -> str:
    value = f"{ratios.get(name, nan):.3f}"
    return f"**{value}**" if name == "ours" else value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES))
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per variant")
    parser.add_argument("--variants", nargs="+", default=["raw", "ours", "tensor_dataset"],
                        choices=["raw", "ours", "single", "no_checkpoints", "bare",
                                 "tensor_dataset", "darts"])
    parser.add_argument("--darts-python", help="a Python with Darts installed, for the darts "
                        "variant (see experiments/darts_worker.py)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda: torch sees no CUDA GPU on this machine.")
    if "darts" in args.variants and (args.device != "cpu" or not args.darts_python):
        sys.exit("error: the darts variant runs on the CPU and needs --darts-python PYTHON, a "
                 "Python with Darts: python3 -m venv .darts && .darts/bin/pip install "
                 "torch==2.13.0 'u8darts[torch]==0.36.0'")
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*(does not have many workers|LeafSpec|"
                                              "smaller than the logging interval).*")
    header = (f"{machine(args.device)}; {args.repeats} rounds (win/s: the best fit; a ratio: "
              "the median over rounds of raw's time around a fit, the mean of the raw fits just "
              "before and after it, over the fit's time)")
    if "darts" in args.variants:
        header += f"; darts {darts_version(args.darts_python)}"
    command = " ".join(sys.argv[1:] if argv is None else argv)
    header = f"`PYTHONPATH=. python experiments/bench_training.py {command}`\n\n{header}"
    print(header, flush=True)
    results = []
    for name in args.shapes or DEFAULT_SHAPES[args.device]:
        results.append(measure(SHAPES[name], args.device, args.repeats, args.variants,
                               args.darts_python))
        print(report(results[-1:], args.device), flush=True)
        text = "\n".join([header, "", report(results, args.device)])
        write(args.out, text)  # after every shape: a time limit keeps what was measured
    if args.device == "cuda":
        text += "\n\n" + sync_audit(SHAPES[(args.shapes or DEFAULT_SHAPES["cuda"])[0]])
        write(args.out, text)
    print("\n" + text, flush=True)


def write(path: Path | None, text: str) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


if __name__ == "__main__":
    main()
