"""trainer=gpu and trainer=ddp compose as documented; the GPU preset fails clearly without a GPU;
background checkpoints hold the values of the moment they were taken; the training benchmark
compares like with like."""

import contextlib
import copy
import math
import sys
import threading

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from pytorch_lightning.plugins.io import TorchCheckpointIO

from experiments.bench_support import (
    Shape,
    as_tensors,
    darts_data,
    make_datamodule,
    make_net,
    ours_config,
    run_darts,
    run_ours,
    run_raw,
)
from forecast.checkpoint_io import BackgroundCheckpointIO, FileCheckpointIO
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.models import ForecastModule, ManyToOne
from tests.conftest import REPO, run_train


def composed(*overrides: str):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=["+experiment=sine", *overrides])


def test_gpu_preset_sets_bf16_windows_on_the_gpu_and_background_checkpoints():
    cfg = composed("trainer=gpu")
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
    assert cfg.data.on_device is True and cfg.data.steps_per_execution == 8
    assert cfg.trainer.plugins[0]._target_ == "forecast.checkpoint_io.BackgroundCheckpointIO"
    assert cfg.trainer.num_sanity_val_steps == 0  # the rest of trainer/default.yaml still holds
    assert composed("trainer=gpu", "data.on_device=false").data.on_device is False
    assert composed().data.on_device is False


def test_cpu_presets_write_checkpoints_straight_into_their_files(tmp_path):
    for preset in ("default", "ddp", "fast"):
        cfg = composed(f"trainer={preset}", f"paths.output_dir={tmp_path}")
        trainer = instantiate(cfg.trainer, logger=False)
        assert isinstance(trainer.strategy.checkpoint_io, FileCheckpointIO), preset


def test_ddp_preset_spawns_two_cpu_processes():
    trainer = composed("trainer=ddp").trainer
    assert (trainer.strategy, trainer.accelerator, trainer.devices) == ("ddp_spawn", "cpu", 2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_preset_without_a_gpu_fails_before_anything_with_one_line(tmp_path):
    result = run_train("+experiment=sine", "trainer=gpu", cwd=tmp_path, new_store=True)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: trainer.accelerator=gpu")
    assert "trainer=default" in errors[0]
    assert not (tmp_path / "mlflow.db").exists()


def test_background_checkpoint_keeps_the_values_at_save_time(tmp_path):
    io = BackgroundCheckpointIO()
    io.checkpoint_io = TorchCheckpointIO()
    weights = torch.ones(1000)
    io.save_checkpoint({"state_dict": {"w": weights}, "epoch": 3}, tmp_path / "best.ckpt")
    weights.add_(1.0)  # the next optimizer step, while the thread may still be writing
    io.teardown()  # Lightning calls it at the end of fit: waits for the writes
    saved = torch.load(tmp_path / "best.ckpt", weights_only=True)
    assert saved["epoch"] == 3 and torch.equal(saved["state_dict"]["w"], torch.ones(1000))


def test_checkpoint_files_are_replaced_whole_and_a_failed_save_leaves_the_old_one(tmp_path):
    io, path = FileCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, path)  # creates the folder
    io.save_checkpoint({"epoch": 2}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 2}
    with pytest.raises(TypeError, match="pickle"):  # a lock cannot be saved
        io.save_checkpoint({"epoch": 3, "lock": threading.Lock()}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 2}
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no partial file left
    probe = tmp_path / "probe"
    probe.touch()  # a file made the usual way: the checkpoint has the same permissions
    assert path.stat().st_mode & 0o777 == probe.stat().st_mode & 0o777
    assert isinstance(BackgroundCheckpointIO().checkpoint_io, FileCheckpointIO)


def test_gpu_checkpoint_io_writes_the_best_and_the_last_epoch_with_our_callbacks(tmp_path):
    """trainer=gpu's background writer with conf/callbacks (run on the CPU): best.ckpt, written
    through it after training, holds the best epoch's weights only; last.ckpt the last epoch."""
    callbacks = instantiate(composed(f"paths.output_dir={tmp_path}").callbacks)
    dm = WindowDataModule(frame=sine_frame(n_steps=300), lookback=12, horizon=3, batch_size=16)
    trainer = pl.Trainer(max_epochs=4, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path,
                         plugins=[BackgroundCheckpointIO()], callbacks=list(callbacks.values()))
    trainer.fit(ForecastModule(ManyToOne(hidden_size=8, **dm.dims)), dm)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert float(callbacks.checkpoint.best_model_score) == pytest.approx(
        float(callbacks.early_stopping.best_score))  # both watch the lowest val_loss
    assert "optimizer_states" not in best and "optimizer_states" in last
    assert last["epoch"] == 3 and best["epoch"] <= 3
    module = ForecastModule(ManyToOne(hidden_size=8, **dm.dims))
    module.load_state_dict(best["state_dict"])  # a complete set of weights


def test_benchmark_trains_the_same_batches_in_ours_and_the_raw_loop():
    """experiments/bench_training.py compares like with like: from the same initial weights,
    the composed Trainer (checkpoints, early stopping, clipping) and the raw loop reach the same
    best validation loss; the fixed costs of our fit are timed."""
    shape = Shape(channels=2, lookback=24, horizon=6, hidden_size=8, num_layers=1,
                  batch_size=32, rows=600, epochs=2)
    dm = make_datamodule(shape, "cpu")
    initial = make_net(shape, dm)
    train, val = as_tensors(dm, "train", "cpu"), as_tensors(dm, "val", "cpu")
    raw = run_raw(shape, copy.deepcopy(initial), "cpu", contextlib.nullcontext, train,
                  (*val, dm.eval_batch_size), dm.seed)
    ours = run_ours(dm, copy.deepcopy(initial), ours_config("default", shape.epochs),
                    logger=False)
    assert math.isclose(raw, ours.loss, rel_tol=1e-5), (raw, ours)
    assert 0 < ours.start_s < 10 and 0 < ours.end_s < 10, ours


def test_benchmark_report_shows_the_fixed_costs_of_our_fits():
    from experiments.bench_training import report

    shape = Shape(1, 8, 1, 4, 1, 16, 100, 2)
    result = {"shape": shape, "windows": 80, "best_val_loss": {"raw": 0.5, "ours": 0.5},
              "throughput": {"raw": 100.0, "ours": 90.0}, "ratio": {"ours": 0.9},
              "cpu_ratio": {"ours": 0.9}, "fixed_ms": {"ours": (14.2, 19.6), "bare": (13.0, 2.0)},
              "errors": {}}
    text = report([result], "cpu")
    assert f"- {shape.label()}: bare 13 / 2, ours 14 / 20" in text
    assert "**0.900**" in text


def test_benchmark_ratios_pair_each_fit_with_the_raw_fits_around_it():
    """The machine's speed drifts within seconds: a fit's ratio is taken to the mean of the raw
    fits just before and after it (the third and fourth fields), then the median over rounds;
    a real run alternates raw with each variant."""
    from experiments.bench_training import measure, paired_ratios

    rounds = [{"raw": (1.0, 1.0), "ours": (1.25, 1.1, 1.0, 1.0)},
              {"raw": (2.0, 1.0), "ours": (2.5, 1.1, 2.0, 1.0)},  # a slow phase
              {"raw": (1.0, 1.0), "ours": (2.0, 1.1, 1.0, 1.0)},  # ours hit by a spike
              {"raw": (1.0, 1.0), "ours": (1.0, 1.0)}]            # a raw fit failed: unpaired
    assert paired_ratios(rounds, 0) == {"ours": 0.8}
    assert math.isclose(paired_ratios(rounds, 1)["ours"], 1 / 1.1)
    shape = Shape(1, 12, 1, 4, 1, 32, 300, 1)
    result = measure(shape, "cpu", 1, ["raw", "bare"])
    assert set(result["ratio"]) == {"bare"} and 0 < result["ratio"]["bare"] < 10
    assert set(result["throughput"]) == {"raw", "bare"} and not result["errors"]


def test_benchmark_hands_darts_the_same_scaled_series_and_reports_its_failure():
    shape = Shape(channels=2, lookback=24, horizon=6, hidden_size=8, num_layers=1,
                  batch_size=32, rows=600, epochs=1)
    dm = make_datamodule(shape, "cpu")
    path, shape_json = darts_data(dm, shape)
    data = np.load(path)
    assert np.array_equal(data["values"], dm.values_)
    assert list(data["borders"]) == [420, 480]  # train and val ends of the 70/10/20 split
    with pytest.raises(RuntimeError, match="darts_worker.py failed(.|\n)*darts"):
        run_darts(sys.executable, path, shape_json)  # this Python has no Darts
