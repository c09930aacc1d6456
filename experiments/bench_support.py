"""The pieces of `bench_training.py`: conf/ composed by Hydra as `forecast.train` composes it, the
data and network, the raw torch loops, our pipeline's fit and Darts' (in its own Python)."""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from forecast.building import build_module
from forecast.data.datamodule import WindowDataModule
from forecast.data.shuffle import Permutation
from forecast.data.synthetic import sine_frame
from forecast.models import ManyToOne
from forecast.progress import ProgressBar

CONF = Path(__file__).resolve().parents[1] / "conf"


@dataclass(frozen=True)
class Shape:
    channels: int
    lookback: int
    horizon: int
    hidden_size: int
    num_layers: int
    batch_size: int
    rows: int          # series length, split 70/10/20
    epochs: int

    def label(self) -> str:
        return (f"{self.channels} ch, L{self.lookback}/H{self.horizon}, hidden {self.hidden_size}"
                f" x{self.num_layers}, batch {self.batch_size}")


# -- the settings users get ------------------------------------------------------------------
def composed(trainer_name: str, *overrides: str) -> DictConfig:
    """The config `python -m forecast.train trainer=NAME OVERRIDES` runs."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=[f"trainer={trainer_name}", *overrides])


# -- data and network --------------------------------------------------------------------------
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


# -- timing ------------------------------------------------------------------------------------
def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(run, device: str) -> float:
    """Wall seconds of `run()`, the device's queued work included."""
    synchronize(device)
    start = time.perf_counter()
    run()
    synchronize(device)
    return time.perf_counter() - start


# -- the raw loops -----------------------------------------------------------------------------
def train_step(net, optimizer, x, y, autocast) -> None:
    with autocast():
        loss = torch.nn.functional.mse_loss(net(x, None, None, y), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    optimizer.step()


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


def run_raw(shape, net, device, autocast, train, val, seed: int = 0) -> float:
    x, y = train

    def batches(epoch):  # WindowLoader's order: the permutation seeded with seed + epoch
        order = torch.from_numpy(Permutation(len(x), seed + epoch)(np.arange(len(x)))).to(device)
        for i in range(0, len(x), shape.batch_size):
            index = order[i:i + shape.batch_size]
            yield x[index], y[index]

    return raw_loop(net, batches, shape.epochs, val, autocast)


def run_tensor_dataset(shape, net, device, autocast, train, val) -> float:
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train),
                                         batch_size=shape.batch_size, shuffle=True)

    def batches(epoch):
        for xb, yb in loader:
            yield xb.to(device), yb.to(device)

    return raw_loop(net, batches, shape.epochs, val, autocast)


# -- our pipeline ------------------------------------------------------------------------------
def logger_factory(folder: Path):
    """New loggers as `forecast.train` makes them: the MLflow logger of a `Tracker`, whose runs
    exist before training starts (created here, outside the timings); CSV without mlflow."""
    try:
        from forecast.tracking import Tracker
    except ImportError:
        from pytorch_lightning.loggers import CSVLogger

        return lambda: CSVLogger(folder)
    tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench", "bench")
    return lambda: tracker.lightning_logger(tracker.child("lstm", "neural"))


def ours_config(trainer_name: str, epochs: int, *overrides: str) -> DictConfig:
    """The config of one fit of ours, writing into a new temporary folder. Composing takes
    ~0.25 s here, so it is done before the timing starts. Early stopping's patience is the epoch
    count, so every variant trains them all."""
    folder = tempfile.mkdtemp(prefix="bench_ours_")
    return composed(trainer_name, f"paths.output_dir={folder}", f"trainer.max_epochs={epochs}",
                    f"callbacks.early_stopping.patience={epochs}", *overrides)


class OursFit(NamedTuple):
    """What a fit of ours returns: its best val loss and the seconds of its fixed costs."""
    loss: float
    start_s: float  # from the call to the start of the first epoch (Trainer, logger, set-up)
    end_s: float    # from the end of the last epoch to fit's return (checkpoints, MLflow)


class EpochTimes(pl.Callback):
    """When training started, and when the latest epoch ended (before other callbacks)."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.epoch_ended = time.perf_counter()


def run_ours(dm, net, cfg: DictConfig, logger, checkpoints: bool = True,
             progress: bool = True) -> OursFit:
    """`forecast.train`'s fit of `cfg`, optionally without its checkpoints or progress bar (and
    with `logger=None`, without a logger); removes the config's folder at the end. The windows
    are `dm`'s, served as `cfg.data.steps_per_execution` says."""
    called, times = time.perf_counter(), EpochTimes()
    dm = copy.copy(dm)  # the same series and windows
    dm.steps_per_execution = cfg.data.steps_per_execution
    try:
        with contextlib.redirect_stdout(sys.stderr):
            callbacks = [c for c in instantiate(cfg.callbacks).values()
                         if checkpoints or not isinstance(c, pl.callbacks.ModelCheckpoint)]
            if progress:
                callbacks.append(ProgressBar())  # as forecast.train adds it
            trainer = instantiate(cfg.trainer, callbacks=[times, *callbacks],
                                  logger=logger or False, enable_checkpointing=checkpoints,
                                  enable_progress_bar=progress)
            module = build_module(cfg.optim, net)  # conf/optim/adam.yaml: lr 1e-3, clip at 1
            trainer.fit(module, dm)
            returned = time.perf_counter()
    finally:
        shutil.rmtree(cfg.paths.output_dir, ignore_errors=True)
    stopping = next(c for c in callbacks if isinstance(c, pl.callbacks.EarlyStopping))
    return OursFit(float(stopping.best_score), times.started - called,
                   returned - times.epoch_ended)


# -- Darts, in its own Python ------------------------------------------------------------------
class SelfTimed(NamedTuple):
    """What a variant timed in another process returns: its loss and the fit's own timings."""
    loss: float
    seconds: float
    cpu_seconds: float


def darts_data(dm: WindowDataModule, shape: Shape) -> tuple[Path, str]:
    """The scaled series and split borders as an .npz file, and the shape as JSON, for
    `darts_worker.py` (Darts pins pandas < 3, so it runs in a Python of its own)."""
    path = Path(tempfile.mkdtemp(prefix="bench_darts_")) / "data.npz"
    np.savez(path, values=dm.values_, borders=dm.borders_[0, :2])
    return path, json.dumps(asdict(shape))


def run_darts(python: str, path: Path, shape_json: str) -> SelfTimed:
    """One timed Darts fit by `python experiments/darts_worker.py` (timed inside the worker,
    after its warm-up: process start and imports excluded)."""
    worker = Path(__file__).with_name("darts_worker.py")
    done = subprocess.run([python, str(worker), str(path), shape_json], capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"darts_worker.py failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return SelfTimed(result["val_loss"], result["seconds"], result["cpu_seconds"])


def darts_version(python: str) -> str:
    """Darts' version in `python`; exits with one line if it has no Darts."""
    done = subprocess.run([python, "-c", "import darts; print(darts.__version__)"],
                          capture_output=True, text=True)
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"error: --darts-python {python}: cannot import darts ({reason}); see "
                 "experiments/darts_worker.py")
    return done.stdout.strip()
