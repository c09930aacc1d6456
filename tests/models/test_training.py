"""Training options through the real CLI: determinism with `seed`, resume from `last.ckpt`,
losses and LR schedulers."""

import contextlib
import logging
import math
import os
import time
from datetime import timedelta
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.precision import DoublePrecision, MixedPrecision

from forecast.checkpoints import BestCheckpoint, EpochCheckpoint, ResumeCheckpoint
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError
from forecast.experiment import _objective
from forecast.models import ForecastModule, ManyToOne
from forecast.models.ema import WeightAverage
from forecast.progress import ProgressBar
from forecast.resume import find_checkpoint, mark_finished
from forecast.tracking import Tracker
from tests.conftest import REPO, printed_results, run_train, sqlite_store

# A constant learning rate: the preset's cosine schedule spans max_epochs, so 2 + 2 epochs would
# follow another schedule than 4 in one go. Dropout between two layers: its random masks must
# repeat too, after a restart as well.
QUICK = ("+experiment=sine", "optim=adam", "trainer=fast", "trainer.limit_train_batches=null",
         "data.frame.n_steps=600", "logger=none", "baselines=none", "model.num_layers=2",
         "model.dropout=0.2")


def neural_row(stdout: str) -> dict[str, str]:
    """The model's row of the printed table, without the fit time."""
    row = printed_results(stdout)["lstm"]
    row.pop("fit_s")
    return row


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    done = {}
    for name, extra in [("full", ["trainer.max_epochs=4"]), ("again", ["trainer.max_epochs=4"]),
                        ("half", ["trainer.max_epochs=2"]),
                        ("resumed", ["trainer.max_epochs=4", "resume=half/checkpoints/last.ckpt"])]:
        result = run_train(*QUICK, *extra, f"hydra.run.dir={name}", cwd=folder)
        assert result.returncode == 0, result.stderr[-3000:]
        done[name] = result.stdout
    return folder, done


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(runs):
    _, out = runs
    assert {"mse", "mae", "norm_mse"} <= set(neural_row(out["full"]))
    assert neural_row(out["full"]) == neural_row(out["again"])
    assert neural_row(out["full"]) != neural_row(out["half"])  # the metrics do depend on training


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(runs):
    folder, out = runs
    # Two epochs, then two more after resuming == four epochs in one go, to the last digit.
    assert neural_row(out["resumed"]) == neural_row(out["full"])
    # The finished run keeps its checkpoints; the epochs it is trained further write their own.
    kept = torch.load(folder / "half" / "checkpoints" / "last.ckpt", weights_only=True)
    saved = torch.load(folder / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert kept["epoch"] == 1 and saved["epoch"] == 3
    # its fit time counts the two epochs before the resume too
    assert saved["fit_seconds"] > kept["fit_seconds"] > 0
    assert float(printed_results(out["resumed"])["lstm"]["fit_s"]) > kept["fit_seconds"]


def compose_optim(name: str, *overrides: str):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"optim={name}", *overrides]).optim


@pytest.mark.parametrize("optim, loss", [("adam", "mse"), ("adam_plateau", "huber"),
                                         ("adam_decay", "mae"), ("adam_cosine", "huber")])
def test_losses_and_schedulers_train(optim, loss, tmp_path):
    cfg = compose_optim(optim, f"optim.loss={loss}", "trainer.max_epochs=2")
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=64)
    module = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims), cfg.loss,
                            instantiate(cfg.optimizer), instantiate(cfg.scheduler))
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path)
    trainer.fit(module, dm)
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    if optim in ("adam_decay", "adam_cosine"):
        assert lr < cfg.optimizer.lr  # the schedule stepped once per epoch
    elif optim == "adam":
        assert lr == cfg.optimizer.lr
    assert torch.isfinite(trainer.callback_metrics["val_loss"])


def fit_with_average(folder, epochs: int, resume=None) -> ForecastModule:
    pl.seed_everything(0, verbose=False)
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=64)
    module = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, dropout=0.0, **dm.dims))
    checkpoint = pl.callbacks.ModelCheckpoint(dirpath=folder, save_last=True)
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=folder,
                         callbacks=[WeightAverage(decay=0.9), checkpoint])
    trainer.fit(module, dm, ckpt_path=resume, weights_only=True)
    return module, trainer


def test_weight_average_is_what_validation_sees_and_resumes_exactly(tmp_path):
    full, trainer = fit_with_average(tmp_path / "full", epochs=4)
    average = trainer.callbacks[0].average
    assert all(torch.equal(v, average[k]) for k, v in full.state_dict().items())
    saved = torch.load(tmp_path / "full" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(v, saved[k]) for k, v in full.state_dict().items())
    fit_with_average(tmp_path / "half", epochs=2)
    resumed, _ = fit_with_average(tmp_path / "resumed", 4, tmp_path / "half" / "last.ckpt")
    for name, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0)


def test_training_ends_on_the_weight_average_also_without_validation():
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=64)
    module = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims))
    average = WeightAverage(decay=0.9)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False,
                         limit_val_batches=0, callbacks=[average])
    trainer.fit(module, dm)
    assert all(torch.equal(v, average.average[k]) for k, v in module.state_dict().items())
    assert not all(torch.equal(v, average.live[k]) for k, v in module.state_dict().items())


def test_last_checkpoint_is_the_last_epoch_even_when_it_is_not_the_best(tmp_path):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={tmp_path}"])
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=64)
    frozen = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims),
                            optimizer=lambda params: torch.optim.SGD(params, lr=0.0))
    trainer = pl.Trainer(max_epochs=3, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=list(instantiate(cfg.callbacks).values()))
    trainer.fit(frozen, dm)  # lr 0: epoch 0 stays the best
    epoch = {name: torch.load(tmp_path / "checkpoints" / f"{name}.ckpt", weights_only=True)["epoch"]
             for name in ("best", "last")}
    assert epoch == {"best": 0, "last": 2}


def last_checkpoint_writes(folder, min_interval_s: float, patience: int) -> list[int]:
    """The epochs after which `ResumeCheckpoint` wrote last.ckpt, in a fit of at most 4 epochs
    of a frozen model (lr 0: validation never improves after epoch 0)."""
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=64)
    frozen = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims),
                            optimizer=lambda params: torch.optim.SGD(params, lr=0.0))
    last = ResumeCheckpoint(min_interval_s=min_interval_s, dirpath=folder, filename="last",
                            monitor=None, save_top_k=1)
    stop = pl.callbacks.EarlyStopping(monitor="val_loss", patience=patience)
    trainer = pl.Trainer(max_epochs=4, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=folder,
                         callbacks=[stop, last])
    written, save = [], trainer.strategy.save_checkpoint

    def recording_save(checkpoint, path, *args, **kwargs):
        written.append(checkpoint["epoch"])
        save(checkpoint, path, *args, **kwargs)

    trainer.strategy.save_checkpoint = recording_save
    trainer.fit(frozen, dm)
    assert torch.load(folder / "last.ckpt", weights_only=True)["epoch"] == written[-1]
    return written


@pytest.mark.parametrize("min_interval_s, patience, written", [
    (0, 10, [0, 1, 2, 3]),  # every epoch
    (3600, 10, [3]),        # only the last epoch (max_epochs)
    (3600, 1, [1]),         # only the epoch early stopping ends with
])
def test_resume_checkpoint_is_written_at_most_every_interval_and_after_the_last_epoch(
        tmp_path, min_interval_s, patience, written):
    assert last_checkpoint_writes(tmp_path, min_interval_s, patience) == written


def test_epoch_checkpoints_keep_lightnings_state_key_and_step_triggers(tmp_path):
    """The cached state_key is Lightning's and follows a changed setting; skipping the
    per-batch check does not skip `every_n_train_steps` saves."""
    best = BestCheckpoint(monitor="val_loss", mode="min")
    assert best.state_key == ModelCheckpoint.state_key.fget(best)
    best.monitor = "val_mae"
    assert best.state_key == ModelCheckpoint.state_key.fget(best) and "val_mae" in best.state_key
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=16)
    module = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims))
    every_2 = EpochCheckpoint(dirpath=tmp_path, filename="{step}", monitor=None, save_top_k=-1,
                              every_n_train_steps=2)
    trainer = pl.Trainer(max_steps=6, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0,
                         default_root_dir=tmp_path, callbacks=[every_2])
    trainer.fit(module, dm)
    assert {p.name for p in tmp_path.glob("*.ckpt")} >= {"step=2.ckpt", "step=4.ckpt"}


def test_step_triggers_fire_after_lists_of_batches(tmp_path):
    """With 4 batches per Lightning step, `every_n_train_steps=6` saves after the list that
    passed 6, 12, 18 ... optimiser steps; `train_time_interval=0` after every list."""
    every_6 = EpochCheckpoint(dirpath=tmp_path / "every_6", filename="{step}", monitor=None,
                              save_top_k=-1, every_n_train_steps=6)
    timed = EpochCheckpoint(dirpath=tmp_path / "timed", filename="{step}", monitor=None,
                            save_top_k=-1, train_time_interval=timedelta(0))
    _, trainer = fit_in_groups(4, every_6, timed)
    batches = math.ceil(len(trainer.datamodule.starts_["train"]) / 16)  # 13: lists 4, 4, 4, 1
    list_ends = [min(end, batches) + epoch * batches for epoch in range(2)
                 for end in range(4, batches + 4, 4)]
    expected, last = [], 0
    for step in list_ends:
        if step // 6 > last // 6:
            expected.append(step)
            last = step
    saved = sorted(int(p.stem.removeprefix("step=")) for p in (tmp_path / "every_6").glob("*"))
    assert saved == expected == [8, 12, 21, 25]
    assert sorted(int(p.stem.removeprefix("step=")) for p in (tmp_path / "timed").glob("*")) \
        == list_ends


class BatchCounter(pl.Callback):
    def __init__(self):
        self.batches = 0

    def on_train_batch_end(self, *args) -> None:
        self.batches += 1


def test_lightning_skips_the_step_hooks_the_module_and_callbacks_leave_as_no_ops(tmp_path):
    """At each step, Lightning no longer calls inherited no-op hooks (its profiler records each
    call) nor, with no hook around the backward pass, its wrappers of the optimiser step (it
    still times each one); hooks a callback overrides are still called for every batch."""
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=16)
    module = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims))
    counter, profiler = BatchCounter(), pl.profilers.SimpleProfiler()
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False,
                         default_root_dir=tmp_path, profiler=profiler,
                         callbacks=[counter, pl.callbacks.EarlyStopping("val_loss")])
    trainer.fit(module, dm)
    called = set(profiler.recorded_durations)
    assert counter.batches == 2 * trainer.num_training_batches > 0
    assert "[Callback]BatchCounter.on_train_batch_end" in called and "optimizer_step" in called
    skipped = ("on_train_batch_start", "on_before_backward", "on_after_backward",
               "on_before_optimizer_step")
    assert not {action for action in called if action.endswith(skipped)
                and not action.startswith("[Strategy]")}
    assert module.on_before_backward is None and counter.on_train_batch_start is None
    assert trainer.global_step == counter.batches


class GradientNorms(pl.Callback):
    """Records the global gradient norm Lightning shows it before each optimiser step."""

    def __init__(self):
        self.norms = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        grads = [p.grad.flatten() for p in pl_module.parameters() if p.grad is not None]
        self.norms.append(float(torch.cat(grads).norm()))


def test_a_callback_hooked_to_the_step_gets_lightnings_step_with_the_same_result():
    """A callback overriding a hook of the backward pass or the step makes the module step
    through Lightning's wrappers, which call it at every step; the weights are those of the
    direct steps, bit for bit. Under a loss scaler (16-mixed) Lightning steps too."""
    direct, trainer_direct = fit_in_groups(2, gradient_clip_val=0.5)
    norms = GradientNorms()
    hooked, trainer_hooked = fit_in_groups(2, norms, gradient_clip_val=0.5)
    assert trainer_direct.lightning_module._direct and not trainer_hooked.lightning_module._direct
    assert len(norms.norms) == trainer_hooked.global_step == trainer_direct.global_step > 0
    for name, value in direct.state_dict().items():
        torch.testing.assert_close(hooked.state_dict()[name], value, rtol=0, atol=0)
    _, trainer_scaled = fit_in_groups(1, epochs=1, plugins=[LossScaling()])
    assert not trainer_scaled.lightning_module._direct
    own, _ = fit_in_groups(1, epochs=1, module_class=CountedBackward)
    assert not own._direct and own.backwards == own.trainer.global_step > 0


class CountedBackward(ForecastModule):
    """A module with its own `manual_backward`, which the direct steps would bypass."""

    backwards = 0

    def manual_backward(self, loss, *args, **kwargs) -> None:
        self.backwards += 1
        super().manual_backward(loss, *args, **kwargs)


def test_validation_scores_are_means_over_all_windows():
    """val_mse and val_mae, logged once an epoch, are the means over every validation window
    of the last epoch's forecasts (batches of unequal size: 16 and a remainder)."""
    module, trainer = fit_in_groups(1, epochs=2, eval_batch_size=16)
    module.eval()
    with torch.no_grad():
        pairs = [(module(batch), batch["y"]) for batch in trainer.datamodule.val_dataloader()]
    forecasts, targets = (torch.cat(part) for part in zip(*pairs, strict=True))
    assert len(pairs) > 1 and len(targets) % len(pairs[0][1]) != 0
    metrics = trainer.callback_metrics
    torch.testing.assert_close(metrics["val_mse"], torch.mean((forecasts - targets) ** 2))
    torch.testing.assert_close(metrics["val_mae"], torch.mean((forecasts - targets).abs()))
    assert metrics["val_loss"] == metrics["val_mse"]
    # In 64-bit precision they stay 64-bit (the steps are direct there too).
    _, trainer = fit_in_groups(1, epochs=1, plugins=[DoublePrecision()])
    assert trainer.lightning_module._direct
    assert trainer.callback_metrics["val_mse"].dtype == torch.float64


class EpochRecorder(pl.Callback):
    """Each epoch's val_loss and a copy of its weights, seen before the checkpoint callbacks;
    from epoch `worse_from` on the learning rate is far too high, so the best epoch is earlier."""

    def __init__(self, worse_from: int):
        self.loss, self.weights, self.worse_from = {}, {}, worse_from

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch >= self.worse_from:
            for group in trainer.optimizers[0].param_groups:
                group["lr"] = 1.0

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            epoch = trainer.current_epoch
            self.loss[epoch] = float(trainer.callback_metrics["val_loss"])
            self.weights[epoch] = {k: v.clone() for k, v in pl_module.state_dict().items()}

    def best_epoch(self) -> int:
        return min(self.loss, key=self.loss.get)


@pytest.mark.parametrize("min_interval_s, best_writes", [(3600, 1), (0, None)])
def test_best_checkpoint_holds_the_best_weights_and_is_written_only_when_read(
        tmp_path, min_interval_s, best_writes):
    """best.ckpt is written after the last epoch (once) and before every last.ckpt, which then
    never names other weights than best.ckpt holds; it holds the weights only."""
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={tmp_path}",
                                          f"callbacks.last_checkpoint.min_interval_s={min_interval_s}"])
    pl.seed_everything(0, verbose=False)
    dm = WindowDataModule(frame=sine_frame(n_steps=300), lookback=12, horizon=3, batch_size=16)
    module = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims),
                            optimizer=lambda params: torch.optim.Adam(params, lr=0.05))
    recorder = EpochRecorder(worse_from=3)
    trainer = pl.Trainer(max_epochs=6, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[recorder, *instantiate(cfg.callbacks).values()])
    folder, written, save = tmp_path / "checkpoints", [], trainer.strategy.save_checkpoint

    def checked_save(checkpoint, path, *args, **kwargs):
        save(checkpoint, path, *args, **kwargs)
        written.append(Path(path).name)
        if Path(path).name == "last.ckpt":  # names the best epoch so far; best.ckpt holds it
            best = torch.load(folder / "best.ckpt", weights_only=True)
            named = next(state["best_model_score"] for state in checkpoint["callbacks"].values()
                         if state.get("monitor") == "val_loss")
            assert best["epoch"] == recorder.best_epoch()
            assert float(named) == pytest.approx(recorder.loss[best["epoch"]])

    trainer.strategy.save_checkpoint = checked_save
    trainer.fit(module, dm)
    assert len(set(recorder.loss.values())) > 1 and 0 < recorder.best_epoch() < 3
    assert written.count("last.ckpt") == (1 if min_interval_s else 6)
    if best_writes:
        assert written.count("best.ckpt") == best_writes
    best = torch.load(folder / "best.ckpt", weights_only=True)
    assert "optimizer_states" not in best
    expected = recorder.weights[recorder.best_epoch()]
    assert all(torch.equal(value, expected[name]) for name, value in best["state_dict"].items())


def test_a_resume_checkpoint_is_written_after_its_epochs_metrics_reach_mlflow(tmp_path):
    """At every write of last.ckpt the store already holds every metric of the epochs it holds
    (train_loss_epoch is logged after the epoch-end hooks); after fit the run stays open, with
    every epoch, until the Tracker ends it."""
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={tmp_path}",
                                          "callbacks.last_checkpoint.min_interval_s=0"])
    dm = WindowDataModule(frame=sine_frame(n_steps=300), lookback=12, horizon=3, batch_size=32)
    module = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims))
    tracker = Tracker(sqlite_store(tmp_path / "mlflow.db"), "resume", "resume")
    run_id = tracker.child("lstm", "neural")
    trainer = pl.Trainer(max_epochs=3, logger=tracker.lightning_logger(run_id),
                         enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path,
                         callbacks=list(instantiate(cfg.callbacks).values()))
    stored_at_writes, save = [], trainer.strategy.save_checkpoint

    def epochs_stored(name: str) -> set[int]:
        return {m.step for m in tracker.client.get_metric_history(run_id, name)}

    def checked_save(checkpoint, path, *args, **kwargs):
        if Path(path).name == "last.ckpt":
            stored_at_writes.append((checkpoint["epoch"], epochs_stored("val_loss"),
                                     epochs_stored("train_loss_epoch")))
        save(checkpoint, path, *args, **kwargs)

    trainer.strategy.save_checkpoint = checked_save
    trainer.fit(module, dm)
    assert [epoch for epoch, *_ in stored_at_writes] == [0, 1, 2]
    for epoch, val, train in stored_at_writes:
        assert set(range(epoch + 1)) <= val and set(range(epoch + 1)) <= train, (epoch, val, train)
    assert tracker.client.get_run(run_id).info.status == "RUNNING"
    assert epochs_stored("val_loss") == epochs_stored("train_loss_epoch") == {0, 1, 2}
    tracker.finish(run_id)
    assert tracker.client.get_run(run_id).info.status == "FINISHED"


def test_progress_is_one_line_per_epoch_when_the_output_is_not_a_terminal(caplog, tmp_path):
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=64)
    module = ForecastModule(ManyToOne(hidden_size=8, num_layers=1, **dm.dims))
    trainer = pl.Trainer(max_epochs=3, logger=False, enable_checkpointing=False,
                         enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[ProgressBar(line_interval=0)])
    caplog.set_level(logging.INFO, logger="forecast.progress")
    trainer.fit(module, dm)  # pytest's captured stdout, like a log file, is not a terminal
    lines = [r.getMessage() for r in caplog.records if r.name == "forecast.progress"]
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("val_loss" in line for line in lines)


def test_callbacks_none_with_a_preset_trains_and_sweeps_on_the_last_val_loss(tmp_path):
    """The preset's callback settings outlive `callbacks=none`; without a checkpoint callback
    the sweep objective is the last validation loss, not a test score."""
    result = run_train(*QUICK, "trainer.max_epochs=1", "callbacks=none", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    dm = WindowDataModule(frame=sine_frame(n_steps=200), lookback=12, horizon=3, batch_size=64)
    for limit_val_batches in (1.0, 0):
        trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             default_root_dir=tmp_path, limit_val_batches=limit_val_batches)
        trainer.fit(ForecastModule(ManyToOne(hidden_size=8, **dm.dims)), dm)
        if limit_val_batches:
            assert _objective(trainer) == float(trainer.callback_metrics["val_loss"])
        else:
            assert math.isnan(_objective(trainer))  # a failed trial, never the test score


def test_resume_auto_picks_the_newest_unfinished_run_of_the_same_setup(tmp_path, caplog):
    def run_folder(name: str, lookback: int, finished: bool = False) -> Path:
        folder = tmp_path / name
        (folder / ".hydra").mkdir(parents=True)
        setup = OmegaConf.create({"data": {"lookback": lookback}, "trainer": {"max_epochs": 5}})
        OmegaConf.save(setup, folder / ".hydra" / "config.yaml")
        checkpoint = folder / "checkpoints" / "last.ckpt"
        checkpoint.parent.mkdir()
        checkpoint.touch()
        mark_finished(checkpoint.parent, done=finished)
        return checkpoint

    older = run_folder("0", lookback=50)  # of this setup and unfinished, but older
    same = run_folder("a", lookback=50)
    run_folder("b", lookback=25)  # newer, but set up otherwise
    run_folder("c", lookback=50, finished=True)  # newest of this setup, but it finished
    for age, checkpoint in ((2000, older), (1000, same)):  # seconds ago
        os.utime(checkpoint, (time.time() - age, time.time() - age))
    cfg = OmegaConf.create({"data": {"lookback": 50}, "trainer": {"max_epochs": 9}})
    assert find_checkpoint("auto", tmp_path, cfg) == same  # max_epochs may change
    faster = OmegaConf.create({"data": {"lookback": 50, "steps_per_execution": 8}})
    assert find_checkpoint("auto", tmp_path, faster) == same  # the same steps, only faster
    with caplog.at_level(logging.INFO, logger="forecast"):
        other = OmegaConf.create({"data": {"lookback": 99}})
        assert find_checkpoint("auto", tmp_path, other) is None
    assert "set up otherwise, e.g. ['data.lookback']" in caplog.text
    for wrong, said in [(True, r"True; give resume=auto"), (1, r"1; give resume=auto"),
                        (str(tmp_path), rf"'{tmp_path}' is a folder; give the path of a "
                                        rf"last.ckpt such as {tmp_path}/./checkpoints/last.ckpt,"
                                        r" or resume=auto")]:
        with pytest.raises(ConfigError, match=rf"^resume: {said}"):
            find_checkpoint(wrong, tmp_path, cfg)


def fit_in_groups(steps_per_execution: int, *callbacks, epochs: int = 2, resume=None,
                  plugins=(), limit_val_batches=None, check_val_every_n_epoch=1,
                  eval_batch_size=None, module_class=ForecastModule, max_steps=-1,
                  logger=False, log_every_n_steps=50, limit_train_batches=None,
                  **module_options):
    pl.seed_everything(0, verbose=False)
    dm = WindowDataModule(frame=sine_frame(n_steps=300), lookback=12, horizon=3, batch_size=16,
                          eval_batch_size=eval_batch_size, steps_per_execution=steps_per_execution)
    module = module_class(ManyToOne(hidden_size=8, num_layers=1, **dm.dims), **module_options)
    checkpoints = any(isinstance(c, ModelCheckpoint) for c in callbacks)
    progress = any(isinstance(c, ProgressBar) for c in callbacks)
    trainer = pl.Trainer(max_epochs=epochs, logger=logger, enable_progress_bar=progress,
                         enable_model_summary=False, enable_checkpointing=checkpoints,
                         callbacks=list(callbacks), plugins=list(plugins),
                         limit_val_batches=limit_val_batches, max_steps=max_steps,
                         check_val_every_n_epoch=check_val_every_n_epoch,
                         log_every_n_steps=log_every_n_steps,
                         limit_train_batches=limit_train_batches)
    trainer.fit(module, dm, ckpt_path=resume, weights_only=True)
    return module, trainer


def test_steps_per_execution_takes_the_same_steps_in_fewer_lightning_steps():
    """Lists of 4 batches: one Lightning step each, an optimiser step per batch; the weights,
    the weight average and the step count are those of one batch per Lightning step."""
    one, trainer_one = fit_in_groups(1, WeightAverage(decay=0.9), gradient_clip_val=0.5)
    four, trainer_four = fit_in_groups(4, WeightAverage(decay=0.9), gradient_clip_val=0.5)
    batches = trainer_one.num_training_batches
    assert trainer_four.num_training_batches == math.ceil(batches / 4) and batches % 4 != 0
    assert trainer_four.global_step == trainer_one.global_step == 2 * batches
    assert trainer_four.callbacks[0].steps == trainer_one.callbacks[0].steps == 2 * batches
    for name, value in one.state_dict().items():
        torch.testing.assert_close(four.state_dict()[name], value, rtol=0, atol=0)
    assert trainer_four.callback_metrics["train_loss_epoch"] == \
        trainer_one.callback_metrics["train_loss_epoch"]


def test_max_steps_inside_a_list_of_batches_stops_there():
    """`max_steps=6` with lists of 4 batches: the second list stops after its second batch, at
    the weights of 6 steps taken one batch per Lightning step."""
    one, trainer_one = fit_in_groups(1, max_steps=6)
    four, trainer_four = fit_in_groups(4, max_steps=6)
    assert trainer_four.global_step == trainer_one.global_step == 6
    for name, value in one.state_dict().items():
        torch.testing.assert_close(four.state_dict()[name], value, rtol=0, atol=0)
    seven, _ = fit_in_groups(1, max_steps=7)  # control: one step more moves the weights
    head = "net.head.weight"
    assert not torch.equal(seven.state_dict()[head], one.state_dict()[head])


def test_lists_of_batches_log_at_the_steps_of_single_batches(tmp_path):
    """`train_loss_step` every 5 optimiser steps and the epoch metrics, at the same steps and
    with the same values whether a Lightning step takes 1 batch or a list of 4."""
    def logged(steps_per_execution: int) -> list[dict]:
        logger = pl.loggers.CSVLogger(tmp_path, name=f"k{steps_per_execution}")
        fit_in_groups(steps_per_execution, logger=logger, log_every_n_steps=5)
        return pd.read_csv(Path(logger.log_dir) / "metrics.csv").to_dict("records")

    one, four = logged(1), logged(4)
    steps = [row["step"] for row in one if not math.isnan(row["train_loss_step"])]
    assert steps == list(range(4, 26, 5))  # 13 batches an epoch, 2 epochs: steps 0-25
    assert [row["step"] for row in one if not math.isnan(row["val_loss"])] == [12, 25]
    assert pd.DataFrame(four).equals(pd.DataFrame(one))


def test_a_resumed_run_logs_at_the_steps_of_an_uninterrupted_one(tmp_path):
    """Lists of 4 batches, a log every 5 steps: 2 epochs, then 2 more from `last.ckpt`, log
    the rows of the last 2 epochs of 4 in one go, at their steps; so does a checkpoint whose
    step axis counted lists (as before it counted optimiser steps)."""
    def fit(name: str, epochs: int, resume=None) -> pd.DataFrame:
        logger = pl.loggers.CSVLogger(tmp_path, name=name)
        saved = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / name, save_last=True)
        fit_in_groups(4, saved, epochs=epochs, resume=resume, logger=logger,
                      log_every_n_steps=5)
        return pd.read_csv(Path(logger.log_dir) / "metrics.csv")

    later = fit("full", 4).query("epoch >= 2").reset_index(drop=True)
    fit("half", 2)
    assert later["step"].min() > 25 and later["train_loss_step"].notna().sum() >= 2
    assert fit("resumed", 4, tmp_path / "half" / "last.ckpt").equals(later)
    checkpoint = torch.load(tmp_path / "half" / "last.ckpt", weights_only=False)
    loop = checkpoint["loops"]["fit_loop"]["epoch_loop.state_dict"]
    loop["_batches_that_stepped"] = 8  # 2 epochs of 4 lists
    torch.save(checkpoint, tmp_path / "lists.ckpt")
    assert fit("lists", 4, tmp_path / "lists.ckpt").equals(later)


def test_an_integer_batch_limit_counts_batches_in_lists_too():
    """`limit_train_batches=5` with lists of 4 batches: 5 optimiser steps an epoch (a list of
    4 and one of 1), the weights of 5 single batches."""
    one, trainer_one = fit_in_groups(1, limit_train_batches=5)
    four, trainer_four = fit_in_groups(4, limit_train_batches=5)
    assert trainer_four.global_step == trainer_one.global_step == 10
    assert trainer_four.num_training_batches == 2
    for name, value in one.state_dict().items():
        torch.testing.assert_close(four.state_dict()[name], value, rtol=0, atol=0)


class BarCounts(pl.Callback):
    """The training bar's count and total at each epoch end."""

    def __init__(self, bar: ProgressBar):
        self.bar, self.counts = bar, []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.counts.append((self.bar.train_progress_bar.n, self.bar.train_progress_bar.total))


@pytest.mark.parametrize("max_steps, expected", [(-1, [(13, 13), (13, 13)]),
                                                 (18, [(13, 13), (5, 5)])])
def test_the_progress_bar_counts_batches_in_lists(monkeypatch, max_steps, expected):
    """At a terminal the bar counts the batches of the lists of 4 (13 an epoch), also where
    `max_steps` ends an epoch early."""
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    bar = ProgressBar(interval=0)
    counts = BarCounts(bar)
    fit_in_groups(4, bar, counts, max_steps=max_steps)
    assert counts.counts == expected


class StepSizes(pl.Callback):
    """How far each training step moved the weights: the global norm and the largest element."""

    def __init__(self):
        self.norms, self.largest = [], []

    def on_train_batch_start(self, trainer, pl_module, *args) -> None:
        self.before = torch.cat([p.detach().flatten().clone() for p in pl_module.parameters()])

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        step = torch.cat([p.detach().flatten() for p in pl_module.parameters()]) - self.before
        self.norms.append(float(step.norm()))
        self.largest.append(float(step.abs().max()))


class LossScaling(MixedPrecision):
    """16-mixed's gradient scaler (x65536), which Lightning refuses on a CPU as
    `precision="16-mixed"`, without fp16 autocast: the steps are float32's, scaled."""

    def __init__(self):
        super().__init__("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))

    def forward_context(self):
        return contextlib.nullcontext()


@pytest.mark.parametrize("algorithm, scaled", [("norm", False), ("value", False), ("norm", True)])
def test_gradients_are_clipped_before_every_step(algorithm, scaled):
    """With plain SGD at lr 1 a step moves the weights by minus the clipped gradient: by at
    most the clip value in global norm ("norm") or in each element ("value"). Under a 16-bit
    loss scaler the gradients are clipped once unscaled (clipping the scaled ones would leave
    steps 65536 times too small)."""
    clip, sgd = 1e-3, (lambda parameters: torch.optim.SGD(parameters, lr=1.0))
    clipped, unclipped = StepSizes(), StepSizes()
    plugins = [LossScaling()] if scaled else []
    fit_in_groups(1, clipped, epochs=1, optimizer=sgd, gradient_clip_val=clip,
                  gradient_clip_algorithm=algorithm, plugins=plugins)
    fit_in_groups(1, unclipped, epochs=1, optimizer=sgd, gradient_clip_val=None)
    measure = {"norm": "norms", "value": "largest"}[algorithm]
    sizes = getattr(clipped, measure)
    assert clip / 2 < min(sizes) and max(sizes) <= clip * (1 + 1e-4)
    assert min(getattr(unclipped, measure)) > 10 * clip  # control: every step would be larger


def test_optimisers_that_reevaluate_the_loss_train():
    """LBFGS calls the step's closure several times a step."""
    _, trainer = fit_in_groups(2, epochs=1, optimizer=partial(torch.optim.LBFGS, lr=0.1,
                                                              max_iter=3))
    batches = math.ceil(len(trainer.datamodule.starts_["train"]) / 16)
    assert trainer.global_step == batches and trainer.num_training_batches == math.ceil(batches / 2)
    assert torch.isfinite(trainer.callback_metrics["train_loss_epoch"])


def test_epoch_schedules_step_once_an_epoch_and_plateau_on_val_loss():
    decay = partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.5)
    _, trainer = fit_in_groups(3, epochs=3, scheduler=decay)
    assert math.isclose(trainer.optimizers[0].param_groups[0]["lr"], 1e-3 * 0.5 ** 3)
    # A 100% improvement required: no epoch improves, so each one halves the LR (patience 0).
    plateau = partial(torch.optim.lr_scheduler.ReduceLROnPlateau, factor=0.5, patience=0,
                      threshold=1.0)
    _, trainer = fit_in_groups(1, epochs=3, scheduler=plateau)
    assert math.isclose(trainer.optimizers[0].param_groups[0]["lr"], 1e-3 * 0.5 ** 3)
    with pytest.raises(ConfigError, match="^optim.scheduler: ReduceLROnPlateau watches val_loss"):
        fit_in_groups(1, epochs=1, scheduler=plateau, limit_val_batches=0)
    # Validation every 2nd epoch: the schedule steps after those epochs only.
    _, trainer = fit_in_groups(1, epochs=4, scheduler=plateau, check_val_every_n_epoch=2)
    assert math.isclose(trainer.optimizers[0].param_groups[0]["lr"], 1e-3 * 0.5 ** 2)


def test_a_run_with_an_lr_schedule_and_grouped_steps_resumes_exactly(tmp_path):
    """The module steps the schedule itself: 2 epochs in lists of 4 batches, then 2 more from
    `last.ckpt` one batch at a time, end on the learning rate, the step count and the weights of
    4 epochs in one go."""
    def fit(folder, epochs: int, resume=None, steps_per_execution: int = 4):
        decay = partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.5)
        saved = pl.callbacks.ModelCheckpoint(dirpath=folder, save_last=True)
        return fit_in_groups(steps_per_execution, saved, epochs=epochs, resume=resume,
                             scheduler=decay, gradient_clip_val=1.0)

    full, trainer = fit(tmp_path / "full", 4)
    fit(tmp_path / "half", 2)
    # resumed with another number of batches per Lightning step: the same optimiser steps
    resumed, trainer_resumed = fit(tmp_path / "resumed", 4, tmp_path / "half" / "last.ckpt", 1)
    assert trainer_resumed.global_step == trainer.global_step
    assert trainer_resumed.optimizers[0].param_groups[0]["lr"] == 1e-3 * 0.5 ** 4
    assert trainer.optimizers[0].param_groups[0]["lr"] == 1e-3 * 0.5 ** 4
    for name, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0)


def test_a_resumed_schedule_follows_this_runs_max_epochs(tmp_path, caplog):
    """A finished 2-epoch cosine run trained on to 4 epochs: the cosine over 4 epochs from
    epoch 2 on (lr/2, then lr (1 + cos(3 pi / 4)) / 2), not the old T_max=2 (lr 0, then back up
    to lr)."""
    def fit(folder, epochs: int, resume=None):
        cosine = partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=epochs)
        rates = LearningRates()
        saved = pl.callbacks.ModelCheckpoint(dirpath=folder, save_last=True)
        fit_in_groups(4, saved, rates, epochs=epochs, resume=resume, scheduler=cosine)
        return rates.seen

    fit(tmp_path / "half", 2)
    with caplog.at_level(logging.INFO, logger="forecast"):
        resumed = fit(tmp_path / "more", 4, tmp_path / "half" / "last.ckpt")
    base = 1e-3  # fit_in_groups' Adam
    expected = [base * (1 + math.cos(math.pi * epoch / 4)) / 2 for epoch in (2, 3)]
    assert resumed == pytest.approx(expected, rel=1e-6)
    assert "T_max 2 -> 4" in caplog.text and "from epoch 2" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="forecast"):  # the same settings: as it was
        assert fit(tmp_path / "again", 2, tmp_path / "half" / "last.ckpt") == []
    assert "LR schedule" not in caplog.text


class LearningRates(pl.Callback):
    """The learning rate of each epoch trained."""

    def __init__(self):
        self.seen = []

    def on_train_epoch_start(self, trainer, module):
        self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])
