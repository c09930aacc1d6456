"""The Python API on a GPU: `Forecaster(accelerator="gpu", precision="bf16-mixed")`, the series
kept on the GPU, against the same fit on the CPU in float32.

    PYTHONPATH=$PWD python experiments/gpu/forecaster_check.py                   # a CUDA machine
    PYTHONPATH=$PWD python experiments/gpu/forecaster_check.py --accelerator cpu # dry run

Prints each fit's time and best epoch and the largest difference between the two forecasts
and their 80% interval bounds. Exits 1 if they differ by more than 0.1 (the series have unit
amplitude; bf16 moves the numbers a little), or if the device fit allocated no GPU memory.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import forecast
from forecast.data.synthetic import sine_frame


def fit(frame, **options) -> tuple[forecast.Forecaster, float]:
    start = time.perf_counter()
    model = forecast.Forecaster(lookback=96, horizon=24, hidden_size=64, max_epochs=3,
                                **options).fit(frame)
    return model, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accelerator", default="gpu")
    args = parser.parse_args()
    frame = sine_frame(n_steps=2000, n_series=4)
    reference, seconds = fit(frame)
    print(f"cpu, 32-true: {seconds:.1f} s, best epoch {reference.best_epoch_}")
    on_device, seconds = fit(frame, accelerator=args.accelerator, precision="bf16-mixed")
    used_gpu = torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0
    print(f"{args.accelerator}, bf16-mixed: {seconds:.1f} s, best epoch {on_device.best_epoch_}"
          f"; GPU memory used: {used_gpu}")
    # with the bounds of 80% intervals: the device fit calibrates them on the device
    difference = np.abs(on_device.predict(level=80).to_numpy()
                        - reference.predict(level=80).to_numpy()).max()
    print(f"largest difference of forecast and 80% interval bounds: {difference:.4f}")
    return 0 if difference < 0.1 and (used_gpu or args.accelerator == "cpu") else 1


if __name__ == "__main__":
    sys.exit(main())
