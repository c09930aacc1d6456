"""One Darts fit, timed, for `bench_training.py`: run by a Python that has Darts (not forecast).

    DARTS_PYTHON experiments/darts_worker.py DATA.npz '{"lookback": 50, ...}'

DATA.npz holds `values` [T, C] float32 (already scaled) and `borders` (train end, val end).
Trains Darts' `BlockRNNModel` (an LSTM whose last hidden state feeds a linear layer: the
network of forecast's `ManyToOne`) as its docs show, on float32 series, with the benchmark's
sizes, Adam lr 1e-3 and gradient clipping 1.0. Darts' defaults otherwise: progress bar on, no
logger, no checkpoints. A one-epoch fit on a short series warms the process up first (lazy
imports, first Trainer), as round 0 of the benchmark does in its own process. Prints one JSON
line: fit wall and CPU seconds and the last validation loss.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import warnings

import numpy as np


def fit(values: np.ndarray, train_end: int, val_end: int, shape: dict, epochs: int):
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    series = TimeSeries.from_values(values.astype(np.float32))
    train = series[:train_end]
    val = series[train_end - shape["lookback"]:val_end]  # val windows look back into train
    model = BlockRNNModel(
        input_chunk_length=shape["lookback"], output_chunk_length=shape["horizon"],
        model="LSTM", hidden_dim=shape["hidden_size"], n_rnn_layers=shape["num_layers"],
        batch_size=shape["batch_size"], n_epochs=epochs, optimizer_kwargs={"lr": 1e-3},
        random_state=0, pl_trainer_kwargs={"accelerator": "cpu", "gradient_clip_val": 1.0})
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(train, val_series=val)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return seconds, cpu_seconds, float(model.trainer.callback_metrics["val_loss"])


def main() -> None:
    data, shape = np.load(sys.argv[1]), json.loads(sys.argv[2])
    values, (train_end, val_end) = data["values"], data["borders"]
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    with contextlib.redirect_stdout(sys.stderr):
        warm = shape["lookback"] + shape["horizon"] + shape["batch_size"]
        fit(values[:2 * warm], warm, 2 * warm, shape, epochs=1)
        seconds, cpu_seconds, val_loss = fit(values, int(train_end), int(val_end), shape,
                                             shape["epochs"])
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "val_loss": val_loss}))


if __name__ == "__main__":
    main()
