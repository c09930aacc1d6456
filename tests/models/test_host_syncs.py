"""The training loop of `trainer=gpu` never makes the host wait for the GPU within an epoch.

Each read of a tensor's value on the host (`.item()`, `bool(t)`, `.cpu()`, `.tolist()` ...)
stalls a GPU's queue until every kernel before it has run: one per step and the GPU idles
while Python prepares the next step (on an H100 that halved the throughput of our loop). Here
those reads are counted on a CPU, over the same loop as `trainer=gpu` (windows gathered by
torch on the trainer's device, bf16 autocast, the default callbacks and progress bar, MLflow
logging): a fit with three times the steps per epoch may read only a few values more, those
of the training-loss logs every `trainer.log_every_n_steps` steps.
"""

import collections
import traceback
from pathlib import Path

import pytest
import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.overrides import TorchFunctionMode

from forecast.building import build_module
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.models import ManyToOne
from forecast.progress import ProgressBar
from forecast.tracking import Tracker
from tests.conftest import REPO, sqlite_store

HOST_READS = {"item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__",
              "__format__", "nonzero", "masked_select", "unique", "equal", "allclose"}
# torch.optim reads its step counters, which stay on the host unless `capturable=True`: no wait.
ON_THE_HOST = ("torch/optim/",)


class HostReads(TorchFunctionMode):
    """Counts the host reads of tensor values made in its scope, by the line that made them."""

    def __init__(self):
        super().__init__()
        self.places = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in HOST_READS:
            caller = next(frame for frame in reversed(traceback.extract_stack(limit=4)[:-1])
                          if "torch/overrides" not in frame.filename)
            if not any(part in caller.filename for part in ON_THE_HOST):
                self.places[f"{func.__name__} at {Path(caller.filename).name}:{caller.lineno}"] += 1
        return func(*args, **(kwargs or {}))


def fit_counting_reads(folder: Path, rows: int) -> tuple[int, int, collections.Counter]:
    """(steps, log_every_n_steps, host reads by place) of a 3-epoch fit as `trainer=gpu` runs
    it (bf16, windows gathered by torch, 8 batches per Lightning step, clipping), on the CPU."""
    folder.mkdir()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={folder}", "trainer.max_epochs=3",
                                          "trainer.precision=bf16-mixed"])
    pl.seed_everything(0, verbose=False)
    dm = WindowDataModule(frame=sine_frame(n_steps=rows), lookback=12, horizon=3, batch_size=16,
                          on_device=True, steps_per_execution=8)
    module = build_module(cfg.optim, ManyToOne(hidden_size=8, num_layers=1, **dm.dims))
    tracker = Tracker(sqlite_store(folder / "mlflow.db"), "syncs", "syncs")
    logger = tracker.lightning_logger(tracker.child("lstm", "neural"))
    trainer = instantiate(cfg.trainer, logger=logger,
                          callbacks=[*instantiate(cfg.callbacks).values(), ProgressBar()])
    reads = HostReads()
    with reads:
        trainer.fit(module, dm)
    assert dm.dataset("train").on_torch  # batches were gathered by torch, as on a GPU
    return trainer.global_step, trainer.log_every_n_steps, reads.places


@pytest.mark.filterwarnings("ignore:The number of training batches")
def test_the_gpu_training_loop_reads_no_values_per_step(tmp_path):
    steps, every, few = fit_counting_reads(tmp_path / "few", rows=400)
    more_steps, _, more = fit_counting_reads(tmp_path / "more", rows=1200)
    assert more_steps >= 3 * steps - 3 and steps >= 40
    grown = sum(more.values()) - sum(few.values())
    assert grown <= 2 * (more_steps // every), (
        f"{grown} more host reads for {more_steps - steps} more steps; by place, the fit with "
        f"more steps: {more.most_common(8)}")
