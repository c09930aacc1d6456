"""What a run that cannot give a model says, before or after training: a loss that diverged
from the start, a baseline setting scikit-learn rejects, a checkpoint of another network; and
where early stopping ended training."""

from __future__ import annotations

import logging

import mlflow
import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

import forecast
from forecast.baselines import LinearBaseline
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError, TrainingError
from forecast.evaluate import check_baselines
from forecast.experiment import _note_early_stop
from forecast.models import ForecastModule, ManyToOne
from forecast.resume import check_resumable
from tests.conftest import DIVERGING, FAST, run_train


def test_a_run_whose_loss_diverged_fails_and_logs_no_model(tmp_path):
    done = run_train("+experiment=sine", *FAST, *DIVERGING, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: training diverged: val_loss is nan" in done.stderr
    assert "lower optim.optimizer.lr" in done.stderr
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["sine"])
    assert set(runs.status) == {"FAILED"} and len(runs) == 2
    assert runs["tags.error"].str.startswith("TrainingError: training diverged").all()
    neural = runs[runs["tags.family"] == "neural"].run_id.iloc[0]
    assert not [a.path for a in mlflow.MlflowClient().list_artifacts(neural) if a.path == "model"]
    (run,) = tmp_path.glob("outputs/sine/*")  # a run that trained keeps its folder, as it was
    assert (run / "checkpoints").is_dir() and (run / ".hydra" / "config.yaml").is_file()


def test_a_forecaster_whose_loss_diverged_says_so():
    model = forecast.Forecaster(lookback=12, horizon=3, hidden_size=4, max_epochs=2, lr=1e9,
                                gradient_clip_val=0, cell="rnn", nonlinearity="relu")
    with pytest.raises(TrainingError, match=r"diverged: val_loss is nan .* lower lr"):
        model.fit(sine_frame(n_steps=300))


def test_a_rejected_baseline_setting_fails_before_the_network_trains(tmp_path):
    done = run_train("+experiment=sine", *FAST, "baselines.ridge.alpha=-1", cwd=tmp_path,
                     new_store=True)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: baselines.ridge: The 'alpha' parameter of Ridge" in done.stderr
    assert "~baselines.ridge" in done.stderr and "epoch 1/" not in done.stdout + done.stderr
    assert not (tmp_path / "mlflow.db").exists()  # no run opened
    assert not (tmp_path / "outputs").exists()


def test_early_stopping_without_validation_fails_before_any_run(tmp_path):
    done = run_train("+experiment=sine", *FAST, "data.split.val=0", cwd=tmp_path,
                     new_store=True)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: data.split.val leaves no validation windows" in done.stderr
    assert "Traceback" not in done.stderr and "epoch 1/" not in done.stdout + done.stderr
    assert not (tmp_path / "mlflow.db").exists()  # no run opened


def test_baselines_are_tried_on_a_few_windows():
    dm = WindowDataModule(frame=sine_frame(n_steps=800), lookback=24, horizon=2)
    dm.setup()
    check_baselines({"ridge": LinearBaseline()}, dm)  # a sound setting passes
    with pytest.raises(ConfigError, match=r"^baselines\.ridge: The 'alpha' parameter"):
        check_baselines({"ridge": LinearBaseline(alpha=-1.0)}, dm)


def test_a_checkpoint_of_another_network_is_refused_before_any_run(tmp_path):
    lstm = ForecastModule(ManyToOne(cell="lstm", n_inputs=1, n_targets=1, lookback=24,
                                    horizon=1))
    checkpoint = tmp_path / "last.ckpt"
    torch.save({"state_dict": lstm.state_dict()}, checkpoint)
    check_resumable(checkpoint, lstm, {})  # the same network resumes
    gru = ForecastModule(ManyToOne(cell="gru", n_inputs=1, n_targets=1, lookback=24,
                                   horizon=1))
    with pytest.raises(ConfigError, match=r"^resume: .* holds another network than this config"):
        check_resumable(checkpoint, gru, {})


def test_a_resumed_checkpoint_notes_changed_settings_only_when_it_resumes(tmp_path, caplog):
    folder = tmp_path / "run"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / ".hydra").mkdir()
    (folder / ".hydra" / "config.yaml").write_text("model: {cell: lstm, dropout: 0.0}\n")
    checkpoint = folder / "checkpoints" / "last.ckpt"
    net = dict(n_inputs=1, n_targets=1, lookback=24, horizon=1)
    torch.save({"state_dict": ForecastModule(ManyToOne(cell="lstm", **net)).state_dict()},
               checkpoint)
    lstm = ForecastModule(ManyToOne(cell="lstm", dropout=0.1, **net))
    with caplog.at_level(logging.INFO, logger="forecast"):
        check_resumable(checkpoint, lstm, OmegaConf.create({"model": {"cell": "lstm",
                                                                      "dropout": 0.1}}))
    assert "other settings of ['model.dropout']; going on with the new ones" in caplog.text
    caplog.clear()
    gru = ForecastModule(ManyToOne(cell="gru", **net))
    with caplog.at_level(logging.INFO, logger="forecast"), pytest.raises(
            ConfigError, match=r"another network than this config builds \(changed: model\.cell"):
        check_resumable(checkpoint, gru, OmegaConf.create({"model": {"cell": "gru",
                                                                     "dropout": 0.0}}))
    assert "going on with the new ones" not in caplog.text  # refused: no note that it goes on


def test_early_stopping_says_where_it_stopped(caplog):
    trainer = pl.Trainer(max_epochs=40, logger=False, enable_progress_bar=False,
                         callbacks=[pl.callbacks.EarlyStopping("val_loss", patience=3)])
    caplog.clear()  # Lightning's own notes on building a Trainer
    _note_early_stop(trainer, 7)
    assert not caplog.records  # it did not stop early
    trainer.early_stopping_callback.stopped_epoch = 9  # as Lightning sets it
    with caplog.at_level(logging.INFO, logger="forecast.experiment"):
        _note_early_stop(trainer, 7)
    assert ("early stopping after epoch 10 of 40: val_loss did not improve for 3 epochs; the "
            "test scores use the weights of epoch 7.") in caplog.text
