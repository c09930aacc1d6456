"""The datamodule under a real Lightning Trainer: device placement, checkpoints, scoring."""

import warnings

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from forecast.data import WindowDataModule
from forecast.errors import DataError
from forecast.evaluate import predict_scaled
from forecast.models import ForecastModule, ManyToMany, ManyToOne
from tests.data.test_frame import long_frame


def trainer(tmp_path, **kwargs) -> pl.Trainer:
    options = dict(max_epochs=1, accelerator="cpu", devices=1, logger=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   enable_checkpointing=False, default_root_dir=tmp_path)
    return pl.Trainer(**{**options, **kwargs})


def small_module(dm: WindowDataModule) -> ForecastModule:
    return ForecastModule(ManyToOne(hidden_size=4, **dm.dims))


def test_every_test_window_is_scored_and_the_last_batch_kept(sine_wide, tmp_path):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, eval_batch_size=50)
    dm.setup()
    n = len(dm.starts_["test"])
    assert n % 50 != 0  # a short last batch
    module = small_module(dm)
    forecast = predict_scaled(module, dm)  # what the CLI scores
    assert forecast.shape == (n, 6, 2)
    batches = trainer(tmp_path).predict(module, datamodule=dm)
    assert sum(len(b) for b in batches) == n and len(batches[-1]) == n % 50


def test_many_to_many_targets_are_the_input_shifted_by_one(tmp_path):
    frame = long_frame((40, 30))
    dm = WindowDataModule(frame=frame, lookback=8, horizon=3, scaler="none",
                          split=dict(val=0.2, test=0.2))
    net = ManyToMany(hidden_size=4, **dm.dims)
    batch = next(iter(dm.loader("test")))
    target = net.target(batch["x"], batch["y"])  # [B, L, T]: the next value at every step
    rows = dm.starts_["test"].starts()[:len(target), None] + 1 + np.arange(8)
    np.testing.assert_allclose(target[..., 0].numpy(), frame.y.to_numpy()[rows], rtol=1e-6)
    assert net(batch["x"]).shape == target.shape
    trainer(tmp_path, limit_train_batches=2, limit_val_batches=1).fit(
        ForecastModule(net), datamodule=dm)


class BatchDevices(pl.Callback):
    def __init__(self):
        self.devices, self.first = set(), None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.devices.add(batch["x"].device)
        if self.first is None:
            self.first = batch["x"].clone()


def test_on_device_serves_batches_gathered_where_the_series_live(sine_wide, tmp_path):
    results = {}
    for on_device in (False, True):
        dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, on_device=on_device)
        spy = BatchDevices()
        fit = trainer(tmp_path, limit_train_batches=3, limit_val_batches=2, callbacks=[spy])
        fit.fit(small_module(dm), datamodule=dm)
        datasets = [dm.dataset(part) for part in ("train", "val", "test")]
        results[on_device] = spy.first
        assert spy.devices == {fit.strategy.root_device}
        # With on_device the series are tensors moved to the device once, shared by every part.
        assert all(d.on_torch == on_device for d in datasets)
        if on_device:
            assert len({d.values.data_ptr() for d in datasets}) == 1
            assert datasets[0].values.device == fit.strategy.root_device
            assert isinstance(datasets[0].index.first, np.ndarray)  # index maths on the host
    assert torch.equal(results[False], results[True])  # the same batches either way


def test_scaler_round_trips_through_state_dict(tmp_path):
    fitted = WindowDataModule(frame=long_frame(), lookback=4, horizon=2,
                              split=dict(val=0.2, test=0.2))
    fitted.setup()
    state = fitted.state_dict()
    assert state["columns"] == ["y"] and state["series_ids"] == ["a", "b", "c"]

    restored = WindowDataModule(frame=long_frame(), lookback=4, horizon=2, split=dict(test=0.5))
    restored.load_state_dict(state)  # before setup: used instead of fitting on other rows
    restored.setup()
    np.testing.assert_array_equal(restored.scaler.center_, fitted.scaler.center_)
    np.testing.assert_array_equal(restored.values_, fitted.values_)

    resumed = WindowDataModule(frame=long_frame(), lookback=4, horizon=2, split=dict(test=0.5))
    resumed.setup()  # Lightning restores after setup: the data is rescaled in place
    assert not np.allclose(resumed.values_, fitted.values_)
    resumed.load_state_dict(state)
    np.testing.assert_allclose(resumed.values_, fitted.values_, rtol=1e-5, atol=1e-5)


def test_a_checkpoint_holds_the_scaler_and_rejects_other_data(sine_wide, tmp_path):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6)
    fit = trainer(tmp_path, limit_train_batches=2, limit_val_batches=1)
    fit.fit(small_module(dm), datamodule=dm)
    fit.save_checkpoint(tmp_path / "last.ckpt")
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)
    saved = checkpoint["WindowDataModule"]["scaler"]  # tensors: one object per statistic
    assert saved["method"] == "standard" and isinstance(saved["center"], torch.Tensor)
    np.testing.assert_array_equal(saved["center"].numpy(), dm.scaler.center_)
    np.testing.assert_array_equal(saved["scale"].numpy(), dm.scaler.scale_)

    other = WindowDataModule(frame=sine_wide, target="y1", lookback=24, horizon=6)
    with pytest.raises(DataError, match="checkpoint was trained on columns"):
        other.load_state_dict(checkpoint["WindowDataModule"])
        other.setup()



def test_resuming_a_run_restores_the_scaler_of_the_checkpoint(sine_wide, tmp_path):
    first = WindowDataModule(frame=sine_wide, lookback=24, horizon=6)
    fit = trainer(tmp_path, limit_train_batches=2, limit_val_batches=1)
    module = small_module(first)
    fit.fit(module, datamodule=first)
    fit.save_checkpoint(tmp_path / "epoch1.ckpt")
    # Resumed on a datamodule whose own training rows would give other statistics.
    resumed = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, split=dict(test=0.5))
    trainer(tmp_path, max_epochs=2, limit_train_batches=2, limit_val_batches=1).fit(
        module, datamodule=resumed, ckpt_path=tmp_path / "epoch1.ckpt", weights_only=True)
    np.testing.assert_array_equal(resumed.scaler.center_, first.scaler.center_)
    np.testing.assert_allclose(resumed.values_, first.values_, rtol=1e-5, atol=1e-5)


def test_batches_already_on_the_device_pass_through_and_others_are_moved(sine_wide):
    """The per-step transfer Lightning asks of the datamodule: nothing to do for GPU-resident
    (or CPU) windows; a batch elsewhere is still moved ("meta" stands in for a GPU here)."""
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6)
    batch = next(iter(dm.loader("train")))
    assert dm.transfer_batch_to_device(batch, torch.device("cpu"), 0) is batch
    moved = dm.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert {value.device.type for value in moved.values()} == {"meta"}
    assert moved.keys() == batch.keys()


class OwnTransfer(ForecastModule):
    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        return batch


def test_the_batch_hook_lives_on_the_datamodule_so_fits_give_no_hook_warning(sine_wide,
                                                                           tmp_path):
    """Lightning warns on every fit when the module and the datamodule both override the hook:
    the datamodule has it, so ForecastModule must not (the control shows the warning)."""
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6)
    for module, warned in ((OwnTransfer, True), (ForecastModule, False)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer(tmp_path, limit_train_batches=2, limit_val_batches=1).fit(
                module(ManyToOne(hidden_size=4, **dm.dims)), dm)
        assert any("transfer_batch_to_device" in str(w.message) for w in caught) == warned
