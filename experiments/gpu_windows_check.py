"""Check the GPU-resident windows: with `on_device=True` the series live on the GPU and every
batch is gathered there (no host-to-device copy per batch).

    PYTHONPATH=$PWD python experiments/gpu_windows_check.py            # on a CUDA machine
    PYTHONPATH=$PWD python experiments/gpu_windows_check.py --accelerator cpu   # dry run

Prints where the series and the batches of a short Lightning fit live, and the batches per
second of the data path alone: batches gathered on the device vs gathered on the CPU and
copied over (what `on_device=False` does). Exits 1 if a batch was not on the trainer's device.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from forecast.data import WindowDataModule
from forecast.models import ForecastModule, ManyToOne


class Where(pl.Callback):
    """Records the device of every training batch and of the series behind it."""

    def __init__(self):
        self.batch_devices, self.series_device = set(), None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.batch_devices.add(str(batch["x"].device))
        self.series_device = str(trainer.datamodule.dataset("train").device)


def frame(n_series: int, n_rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "unique_id": np.repeat([f"s{k}" for k in range(n_series)], n_rows),
        "ds": np.tile(pd.date_range("2000-01-01", periods=n_rows, freq="h").values, n_series),
        "y": rng.standard_normal(n_series * n_rows).cumsum()})


def batches_per_second(dm: WindowDataModule, device: torch.device, n: int) -> float:
    """Batches/s of the data path alone, each batch ending on `device`."""
    loader = iter(dm.train_dataloader())
    start = None
    for k in range(n + 10):
        if k == 10:  # after a warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        batch = {key: value.to(device, non_blocking=True) for key, value in next(loader).items()}
    if device.type == "cuda":
        torch.cuda.synchronize()
    assert batch["x"].device.type == device.type
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accelerator", default="gpu")
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=300)
    args = parser.parse_args()
    data = frame(args.series, args.rows)
    options = dict(frame=data, lookback=336, horizon=96, batch_size=256)

    dm = WindowDataModule(**options, on_device=True)
    where = Where()
    trainer = pl.Trainer(accelerator=args.accelerator, devices=1, max_epochs=1, logger=False,
                         limit_train_batches=args.batches, limit_val_batches=5,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[where])
    module = ForecastModule(ManyToOne(hidden_size=32, **dm.dims))
    start = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    fit_seconds = time.perf_counter() - start
    device = trainer.strategy.root_device
    on_device = where.batch_devices == {str(device)} and where.series_device == str(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"trainer device: {device} ({name})")
    print(f"series on: {where.series_device}; batches on: {sorted(where.batch_devices)}")
    print(f"batches on cuda: {where.batch_devices == {str(device)} and device.type == 'cuda'}")
    print(f"fit of {args.batches} batches: {fit_seconds:.1f} s, "
          f"train loss {float(trainer.callback_metrics['train_loss_epoch']):.4f}")

    gathered_there = batches_per_second(dm, device, args.batches)  # dm is on the device now
    on_host = WindowDataModule(**options)
    on_host.setup()
    copied = batches_per_second(on_host, device, args.batches)
    print(f"data path alone (batch 256, L=336, H=96): gathered on {device}: "
          f"{gathered_there:,.0f} batches/s; gathered on the CPU and copied: "
          f"{copied:,.0f} batches/s ({gathered_there / copied:.1f}x)")
    return 0 if on_device else 1


if __name__ == "__main__":
    sys.exit(main())
