"""Training throughput: our pipeline vs a raw torch loop vs a TensorDataset + DataLoader loop.

    PYTHONPATH=. python experiments/bench_training.py                 # CPU, ~4 min on 2 cores
    PYTHONPATH=. python experiments/bench_training.py --device cuda   # the two GPU shapes of #7

Every variant trains the same `ManyToOne` LSTM from the same initial weights on the same
windows with the same Adam, gradient clipping (global norm 1.0) and precision, and validates
once per epoch keeping the best weights:

- ours: `WindowDataModule` + `ForecastModule` + `pl.Trainer` built from conf/trainer/*.yaml and
  conf/callbacks/default.yaml (progress bar, checkpoints, early stopping) with the MLflow logger
  on a local store (CSVLogger where mlflow is not installed); on a GPU the windows stay there.
- raw: a hand-written loop over windows materialised as tensors already on the device, drawn
  in the same shuffled order as ours (so both see the same batches).
- tensor_dataset: the raw loop fed by `DataLoader(TensorDataset(X, Y), shuffle=True)` from host
  memory, the common way to write it.

Throughput = training windows x epochs / wall time of the whole fit (Trainer construction,
sanity check, validation and checkpoints included). Variants alternate over `--repeats` rounds
and the median is reported, so a load change on a shared machine hits all of them alike.
Needs torch, pytorch-lightning, numpy, pandas (not hydra, mlflow or scikit-learn).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import importlib
import platform
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml

from forecast.data.datamodule import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.models import ForecastModule, ManyToOne
from forecast.progress import ProgressBar

CONF = Path(__file__).resolve().parents[1] / "conf"
RESULTS = Path(__file__).resolve().parent / "results" / "bench_training.md"


@dataclass(frozen=True)
class Shape:
    channels: int
    lookback: int
    horizon: int
    hidden_size: int
    num_layers: int
    batch_size: int
    rows: int          # series length; split 70/10/20 as TSLib
    epochs: int


SHAPES = {
    # CPU: the sine preset (conf/experiment/sine.yaml) and an ETTh1-sized multivariate job.
    "sine": Shape(1, 50, 1, 32, 1, 64, 4000, 6),
    "ett_cpu": Shape(7, 96, 24, 64, 2, 64, 6000, 2),
    # GPU: the two shapes of issue #7 (ETTh1 and ECL sizes).
    "ett": Shape(7, 96, 96, 128, 1, 256, 14400, 30),
    "ecl": Shape(321, 96, 96, 512, 1, 1024, 26304, 8),
}
DEFAULT_SHAPES = {"cpu": ["sine", "ett_cpu"], "cuda": ["ett", "ecl"]}


# -- the settings users get (conf/, read without Hydra) -----------------------------------------
def trainer_settings(name: str) -> tuple[dict, dict]:
    """(trainer kwargs, data overrides) of conf/trainer/NAME.yaml as Hydra composes them."""
    conf = yaml.safe_load((CONF / "trainer" / f"{name}.yaml").read_text())
    data = {}
    if "trainer" in conf:  # a `# @package _global_` preset that also sets data.*
        data = conf.get("data", {})
        conf = {"defaults": conf.get("defaults", []), **conf["trainer"]}
    settings = {}
    for parent in conf.pop("defaults", []):
        if parent != "_self_":
            settings.update(trainer_settings(str(parent).split("@")[0])[0])
    settings.update(conf)
    settings.pop("_target_", None)
    settings.pop("default_root_dir", None)
    return {k: instantiate(v) for k, v in settings.items()}, data


def instantiate(node):
    """A tiny `hydra.utils.instantiate` for the plain `_target_` nodes of conf/."""
    if isinstance(node, list):
        return [instantiate(item) for item in node]
    if not isinstance(node, dict):
        return node
    kwargs = {k: instantiate(v) for k, v in node.items() if k != "_target_"}
    if "_target_" not in node:
        return kwargs
    module, _, name = node["_target_"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


def default_callbacks(folder: Path, epochs: int) -> list:
    """conf/callbacks/default.yaml, with patience >= epochs so every variant runs them all."""
    conf = yaml.safe_load((CONF / "callbacks" / "default.yaml").read_text())
    conf["checkpoint"]["dirpath"] = str(folder / "checkpoints")
    conf["early_stopping"]["patience"] = epochs
    return [instantiate(node) for node in conf.values()]


# -- the data and the network ------------------------------------------------------------------
def make_datamodule(shape: Shape, device: str) -> WindowDataModule:
    frame = sine_frame(n_steps=shape.rows, n_series=shape.channels, period=24.0, noise=0.3)
    dm = WindowDataModule(frame=frame, lookback=shape.lookback, horizon=shape.horizon,
                          batch_size=shape.batch_size, split={"val": 0.1, "test": 0.2},
                          on_device=device == "cuda", seed=0)
    dm.setup()
    return dm


def make_net(shape: Shape, dm: WindowDataModule) -> ManyToOne:
    torch.manual_seed(0)
    return ManyToOne(cell="lstm", hidden_size=shape.hidden_size, num_layers=shape.num_layers,
                     **dm.dims)


def as_tensors(dm: WindowDataModule, part: str, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Materialised windows X [N, L, C], Y [N, H, T] of a part (the raw loops' input)."""
    x, y = dm.windows(part)
    return torch.tensor(x, device=device), torch.tensor(y, device=device)


# -- the raw loops -----------------------------------------------------------------------------
def train_step(net, optimizer, x, y, autocast) -> torch.Tensor:
    with autocast():
        loss = torch.nn.functional.mse_loss(net(x, None, None, y), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def validate(net, x_val, y_val, batch_size: int, autocast) -> float:
    net.eval()
    total = torch.zeros((), device=x_val.device)
    for i in range(0, len(x_val), batch_size):
        with autocast():
            forecast = net.predict(x_val[i:i + batch_size])
        total += torch.nn.functional.mse_loss(forecast.float(), y_val[i:i + batch_size],
                                              reduction="sum")
    net.train()
    return total.item() / y_val.numel()  # one sync per epoch, as any early stopping needs


def raw_loop(net, batches, epochs: int, val, autocast) -> float:
    """Train `epochs`; `batches(epoch)` yields (x, y) on the device. Returns the best val loss."""
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    best, best_state = float("inf"), None
    for epoch in range(epochs):
        torch.manual_seed(epoch)  # as ForecastModule.on_train_epoch_start
        for x, y in batches(epoch):
            train_step(net, optimizer, x, y, autocast)
        loss = validate(net, *val, autocast)
        if loss < best:
            best, best_state = loss, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return best


def run_raw(shape, dm, net, device, autocast) -> float:
    x, y = as_tensors(dm, "train", device)
    val = (*as_tensors(dm, "val", device), dm.eval_batch_size)

    def batches(epoch):  # the same order as WindowLoader: randperm seeded with seed + epoch
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch)).to(device)
        for i in range(0, len(x), shape.batch_size):
            index = order[i:i + shape.batch_size]
            yield x[index], y[index]

    return raw_loop(net, batches, shape.epochs, val, autocast)


def run_tensor_dataset(shape, dm, net, device, autocast) -> float:
    x, y = as_tensors(dm, "train", "cpu")
    val = (*as_tensors(dm, "val", device), dm.eval_batch_size)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                         batch_size=shape.batch_size, shuffle=True)

    def batches(epoch):
        for xb, yb in loader:
            yield xb.to(device), yb.to(device)

    return raw_loop(net, batches, shape.epochs, val, autocast)


# -- our pipeline ------------------------------------------------------------------------------
def logger_factory(folder: Path):
    """Loggers for our runs as `forecast.train` makes them: the MLflow logger of a `Tracker`
    whose runs exist before training starts (created here, outside the timings); a CSV logger
    where mlflow is not installed."""
    try:
        from forecast.tracking import Tracker
    except ImportError:
        from pytorch_lightning.loggers import CSVLogger

        return lambda: CSVLogger(folder)
    tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench", "bench")

    def logger():
        return tracker.lightning_logger(tracker.child("lstm", "neural"))

    return logger


def run_ours(shape, dm, net, trainer_name: str, logger) -> float:
    """`forecast.train`'s fit: Trainer from conf/, default callbacks, the tracker's logger."""
    settings, _ = trainer_settings(trainer_name)
    with tempfile.TemporaryDirectory() as folder:
        settings.update(max_epochs=shape.epochs, default_root_dir=folder)
        callbacks = default_callbacks(Path(folder), shape.epochs)
        if settings.get("enable_progress_bar", True):
            callbacks.append(ProgressBar())  # as forecast.train adds it
        trainer = pl.Trainer(**settings, callbacks=callbacks, logger=logger)
        module = ForecastModule(net, "mse", partial(torch.optim.Adam, lr=1e-3))
        trainer.fit(module, dm)
        return float(trainer.checkpoint_callback.best_model_score)


# -- measuring ---------------------------------------------------------------------------------
def measure(shape: Shape, device: str, repeats: int, skip: set[str]) -> dict:
    dm = make_datamodule(shape, device)
    initial = make_net(shape, dm)
    trainer_name = "gpu" if device == "cuda" else "default"
    settings, _ = trainer_settings(trainer_name)
    bf16 = str(settings.get("precision", "")).startswith("bf16")
    autocast = (partial(torch.autocast, device_type=device, dtype=torch.bfloat16) if bf16
                else nullcontext)
    new_logger = logger_factory(Path(tempfile.mkdtemp(prefix="bench_mlflow_")))
    variants = {  # name: (prepare outside the timing, run)
        "ours": (lambda: (copy.deepcopy(initial), new_logger()),
                 lambda net, logger: run_ours(shape, dm, net, trainer_name, logger)),
        "raw": (lambda: (copy.deepcopy(initial).to(device),),
                lambda net: run_raw(shape, dm, net, device, autocast)),
        "tensor_dataset": (lambda: (copy.deepcopy(initial).to(device),),
                           lambda net: run_tensor_dataset(shape, dm, net, device, autocast)),
    }
    variants = {k: v for k, v in variants.items() if k not in skip}
    samples = len(dm.starts_["train"]) * shape.epochs
    seconds, losses = {k: [] for k in variants}, {}
    for round_ in range(repeats + 1):  # round 0 warms up (lazy imports, cuDNN plans)
        for name, (prepare, run) in variants.items():
            args = prepare()
            synchronize(device)
            start = time.perf_counter()
            losses[name] = run(*args)
            synchronize(device)
            if round_:
                seconds[name].append(time.perf_counter() - start)
    throughput = {k: samples / statistics.median(v) for k, v in seconds.items()}
    return {"shape": shape, "windows": len(dm.starts_["train"]), "throughput": throughput,
            "seconds": seconds, "best_val_loss": losses}


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def machine(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os

    parts = [f"CPU {cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"]
    if device == "cuda":
        parts.append(f"GPU {torch.cuda.get_device_name()}")
    parts.append(f"python {platform.python_version()}, torch {torch.__version__}, "
                 f"pytorch-lightning {pl.__version__}")
    parts.append(f"date {datetime.date.today().isoformat()}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load:
        parts.append(f"load average before the run {load[0]:.2f} ({os.cpu_count()} cores)")
    return "; ".join(parts)


def report(results: list[dict], device: str, header: str) -> str:
    lines = [f"### {device}", "", header, "",
             "| shape (C/L/H/hidden/layers/batch) | train windows x epochs | raw win/s | "
             "ours win/s | tensor_dataset win/s | ours / raw | tensor_dataset / raw | "
             "best val loss raw / ours |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        s, t, loss = r["shape"], r["throughput"], r["best_val_loss"]
        raw = t.get("raw", float("nan"))
        dims = "/".join(str(asdict(s)[k]) for k in
                        ("channels", "lookback", "horizon", "hidden_size", "num_layers",
                         "batch_size"))
        lines.append(
            f"| {dims} | {r['windows']} x {s.epochs} | {raw:,.0f} | {t.get('ours', 0):,.0f} | "
            f"{t.get('tensor_dataset', 0):,.0f} | {t.get('ours', 0) / raw:.3f} | "
            f"{t.get('tensor_dataset', 0) / raw:.3f} | "
            f"{loss.get('raw', 0):.4g} / {loss.get('ours', 0):.4g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["tensor_dataset", "raw"])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's, one per core)")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda: no CUDA device is visible to torch.")
    header = machine(args.device)
    print(header, flush=True)
    results = []
    for name in args.shapes or DEFAULT_SHAPES[args.device]:
        results.append(measure(SHAPES[name], args.device, args.repeats, set(args.skip)))
        print(report(results[-1:], args.device, name), flush=True)
    text = report(results, args.device, header)
    print("\n" + text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
