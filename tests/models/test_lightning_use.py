"""ForecastModule and WindowDataModule in a Lightning user's own code: copies after training,
checkpoints that rebuild both, Lightning's Tuner, overfit_batches, a net that is no ForecastNet,
bf16 predictions."""

import copy
from functools import partial

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.tuner import Tuner
from torch import nn

from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError
from forecast.models import ForecastModule, ForecastNet, ManyToOne, Seq2Seq


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


def test_a_checkpoint_rebuilds_the_module_and_the_windows(tmp_path):
    dm = datamodule(calendar=True, split={"val": 0.2, "test": 0.1})
    net = Seq2Seq(**dm.dims, hidden_size=8, teacher_forcing=0.3, revin=True)
    fitting = trainer(enable_checkpointing=True, default_root_dir=tmp_path, max_epochs=1)
    fitting.fit(ForecastModule(net, loss="huber", gradient_clip_val=0.5), dm)
    path = fitting.checkpoint_callback.best_model_path
    assert torch.load(path, weights_only=True)["hyper_parameters"]["net"] == net.spec

    loaded = ForecastModule.load_from_checkpoint(path)  # no net=: the checkpoint names it
    assert (type(loaded.net), loaded.net.teacher_forcing, loaded.net.spec) == (
        Seq2Seq, 0.3, net.spec)
    assert (loaded.hparams.loss, loaded.gradient_clip_val) == ("huber", 0.5)
    windows = WindowDataModule.load_from_checkpoint(path, frame=sine_frame(n_steps=400))
    assert (windows.spec, windows.calendar, windows.split) == (dm.spec, True, dm.split)
    windows.setup()  # scaled with the checkpoint's statistics
    np.testing.assert_array_equal(windows.scaler.center_, dm.scaler.center_)
    ours = torch.cat(trainer().predict(fitting.lightning_module, dm))
    torch.testing.assert_close(torch.cat(trainer().predict(loaded, windows)), ours)


def test_a_checkpoint_of_windows_built_from_numpy_and_pandas_values_loads(tmp_path,
                                                                          monkeypatch):
    """Timestamps, numpy numbers and a relative path are saved as plain data (loaded without
    pickle); a value that is not plain data (a dtype) is left out, to be passed again."""
    frame = sine_frame(n_steps=400)
    frame.to_csv(tmp_path / "sine.csv", index=False)
    monkeypatch.chdir(tmp_path)
    dm = WindowDataModule(path="sine.csv", lookback=np.int64(12), horizon=3,
                          read_options={"dtype": {"y": np.float32}},
                          split={"dates": [frame.date.iloc[300], frame.date.iloc[350]]})
    fitting = trainer(enable_checkpointing=True, default_root_dir=tmp_path)
    fitting.fit(module(datamodule_of(dm)), dm)
    path = fitting.checkpoint_callback.best_model_path
    saved = torch.load(path, weights_only=True)["datamodule_hyper_parameters"]
    assert saved["path"] == str(tmp_path / "sine.csv") and saved["lookback"] == 12
    assert "read_options" not in saved
    monkeypatch.chdir("/")  # loaded from elsewhere
    windows = WindowDataModule.load_from_checkpoint(path)
    windows.setup()
    assert windows.borders_.tolist() == dm.borders_.tolist()
    assert ForecastModule.load_from_checkpoint(path).net.lookback == 12


def datamodule_of(dm: WindowDataModule) -> WindowDataModule:
    dm.setup()
    return dm


class Doubled(ForecastNet):
    """A user's network whose argument (a module) is not plain data."""

    def __init__(self, inner: nn.Module, **dims):
        super().__init__(**dims)
        self.inner = inner

    def _forward(self, x, x_time, y_time, y):
        return 2 * self.inner(x[:, -self.horizon:, :self.n_targets])


class Positional(Doubled):
    def __init__(self, size, /, **dims):
        super().__init__(nn.Linear(size, 1), **dims)


def test_a_network_without_a_plain_spec_is_passed_again_on_loading(tmp_path):
    dm = datamodule()
    net = Doubled(nn.Linear(1, 1), **dm.dims)
    assert net.spec is None and ManyToOne(**dm.dims).spec["class"] == "forecast.models.heads." \
        "ManyToOne"
    assert Positional(3, **dm.dims).spec is None  # no keyword names its first argument
    fitting = trainer(enable_checkpointing=True, default_root_dir=tmp_path)
    fitting.fit(ForecastModule(net), dm)
    path = fitting.checkpoint_callback.best_model_path
    with pytest.raises(ConfigError, match=r"^ForecastModule: no net given .*pass net=YourNet"):
        ForecastModule.load_from_checkpoint(path)
    loaded = ForecastModule.load_from_checkpoint(path, net=Doubled(nn.Linear(1, 1), **dm.dims))
    torch.testing.assert_close(loaded.net.inner.weight, net.inner.weight)
    with pytest.raises(ConfigError, match=r"^net: 'my.Net' is not an imported ForecastNet class; "
                                          r"import the module"):
        ForecastModule({"class": "my.Net", "kwargs": {}})


def test_the_tuner_scales_the_batch_size_and_refuses_the_lr_finder():
    dm = datamodule()
    found = Tuner(trainer(max_epochs=2)).scale_batch_size(module(dm), datamodule=dm,
                                                          max_trials=2, steps_per_trial=2)
    assert found == dm.batch_size >= 4  # from 2, doubled while it fits
    with pytest.raises(ConfigError, match=r"^Tuner.lr_find / LearningRateFinder: .*steps its "
                                          r"optimiser itself"):
        Tuner(trainer()).lr_find(module(dm), datamodule=dm, num_training=5)


@pytest.mark.parametrize("clip", [None, 0.25])
def test_the_trainers_gradient_clipping_becomes_the_modules(clip):
    """Lightning clips only under automatic optimisation; the module takes the Trainer's
    setting over (SGD at lr 1 moves each weight by its clipped gradient at most)."""
    dm = WindowDataModule(frame=sine_frame(n_steps=300).assign(y=lambda d: d.y * 100),
                          lookback=12, horizon=3, scaler="none")
    torch.manual_seed(0)
    sgd = ForecastModule(ManyToOne(**dm.dims, hidden_size=8), gradient_clip_val=None,
                         optimizer=partial(torch.optim.SGD, lr=1.0))
    before = [p.detach().clone() for p in sgd.parameters()]
    trainer(max_steps=1, gradient_clip_val=clip,
            gradient_clip_algorithm=clip and "value").fit(sgd, dm)
    moved = max((p - b).abs().max().item() for p, b in zip(sgd.parameters(), before,
                                                               strict=True))
    if clip is None:
        assert moved > 1  # the gradients are large: clipping shows
    else:
        assert moved == pytest.approx(clip, rel=1e-5)
        assert (sgd.gradient_clip_val, sgd.hparams.gradient_clip_algorithm) == (clip, "value")


def test_overfit_batches_and_a_plain_module_get_one_clear_error():
    dm = datamodule()
    with pytest.raises(ConfigError, match=r"^trainer.overfit_batches: .*limit_train_batches=N"):
        trainer(overfit_batches=2).fit(module(dm), dm)
    with pytest.raises(ConfigError, match=r"^Trainer\(accumulate_grad_batches=4\): .*raise the "
                                          r"batch size"):
        trainer(accumulate_grad_batches=4).fit(module(dm), dm)
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
