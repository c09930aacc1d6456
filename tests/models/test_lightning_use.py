"""ForecastModule and WindowDataModule in a Lightning user's own code: copies after training,
Lightning's Tuner, overfit_batches, a net that is no ForecastNet, bf16 predictions."""

import copy

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.tuner import Tuner
from torch import nn

from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError
from forecast.models import ForecastModule, ManyToOne


def datamodule(**options) -> WindowDataModule:
    dm = WindowDataModule(frame=sine_frame(n_steps=400), lookback=12, horizon=3,
                          batch_size=32, **options)
    dm.setup()
    return dm


def trainer(**options) -> pl.Trainer:
    return pl.Trainer(**{"max_epochs": 1, "logger": False, "enable_checkpointing": False,
                         "enable_progress_bar": False, "enable_model_summary": False,
                         **options})


def module(dm: WindowDataModule) -> ForecastModule:
    return ForecastModule(ManyToOne(**dm.dims, hidden_size=8))


def test_a_trained_module_copies_and_averages():
    dm = datamodule()
    trained = module(dm)
    trainer().fit(trained, dm)
    copied = copy.deepcopy(trained)  # the last step's loss is kept without its graph
    averaged = torch.optim.swa_utils.AveragedModel(trained)
    x = next(iter(dm.test_dataloader()))
    torch.testing.assert_close(copied(x), trained(x))
    assert averaged.module is not trained


def test_the_tuner_scales_the_batch_size_and_refuses_the_lr_finder():
    dm = datamodule()
    found = Tuner(trainer(max_epochs=2)).scale_batch_size(module(dm), datamodule=dm,
                                                          max_trials=2, steps_per_trial=2)
    assert found == dm.batch_size >= 4  # from 2, doubled while it fits
    with pytest.raises(ConfigError, match=r"^Tuner.lr_find / LearningRateFinder: .*steps its "
                                          r"optimiser itself"):
        Tuner(trainer()).lr_find(module(dm), datamodule=dm, num_training=5)


def test_overfit_batches_and_a_plain_module_get_one_clear_error():
    dm = datamodule()
    with pytest.raises(ConfigError, match=r"^trainer.overfit_batches: .*limit_train_batches=N"):
        trainer(overfit_batches=2).fit(module(dm), dm)
    with pytest.raises(ConfigError, match=r"^ForecastModule: net must be a .*ForecastNet.* got "
                                          r"Linear"):
        ForecastModule(nn.Linear(12, 3))


def test_bf16_predictions_go_back_to_original_units():
    dm = datamodule()
    trained = module(dm)
    bf16 = trainer(precision="bf16-mixed")
    bf16.fit(trained, dm)
    predicted = torch.cat(bf16.predict(trained, dm))  # the test windows, scaled
    assert predicted.dtype == torch.bfloat16
    in_units = dm.inverse_transform(predicted, "test")
    expected = dm.inverse_transform(predicted.float().numpy(), "test")
    np.testing.assert_allclose(in_units, expected)
    assert in_units.shape == (len(dm.starts_["test"]), 3, 1)


@pytest.mark.parametrize("val_rows, windows", [(3, 1), (5, 3)])
def test_ddp_scores_every_evaluation_window_once(tmp_path, val_rows, windows):
    """Two processes. One window: Lightning needs a batch on every rank (the padded one says
    it holds no real row). Three: a padded share repeats a window, which is not scored twice."""
    dm = WindowDataModule(frame=sine_frame(n_steps=400), lookback=12, horizon=3, batch_size=32,
                          eval_batch_size=2, split=dict(val=val_rows, test=4))
    dm.setup()
    net = module(dm)
    (single,) = trainer(accelerator="cpu", devices=1).validate(net, dm, verbose=False)
    (sharded,) = trainer(accelerator="cpu", devices=2, strategy="ddp_spawn",
                         default_root_dir=tmp_path).validate(net, dm, verbose=False)
    assert len(dm.starts_["val"]) == windows
    assert sharded["val_loss"] == pytest.approx(single["val_loss"], rel=1e-5)
