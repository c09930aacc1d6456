import numpy as np
import pytest
import torch

from forecast.data import WindowDataModule
from forecast.errors import DataError


def test_batches_cover_every_test_window_in_order(sine_wide):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, batch_size=16)
    dm.setup()
    x_np, y_np = dm.windows("test")
    batches = list(dm.test_dataloader())
    x = torch.cat([b["x"] for b in batches]).numpy()
    y = torch.cat([b["y"] for b in batches]).numpy()
    np.testing.assert_array_equal(x, x_np)
    np.testing.assert_array_equal(y, y_np)
    assert len(x) == len(dm.starts_["test"]) == 120 - 6 + 1


def test_scaler_is_fitted_on_train_rows_only(sine_wide):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6)
    dm.setup()
    train = sine_wide[["y0", "y1"]].to_numpy()[:420]
    np.testing.assert_allclose(dm.scaler.center_[0], train.mean(0), rtol=1e-5, atol=1e-6)


def test_training_order_depends_on_seed_and_epoch_only(sine_wide):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, seed=3)
    first = next(iter(dm.train_dataloader()))["x"]
    loader = dm.train_dataloader()
    loader.set_epoch(0)
    assert torch.equal(next(iter(loader))["x"], first)
    loader.set_epoch(1)
    assert not torch.equal(next(iter(loader))["x"], first)


def test_calendar_features_travel_with_windows(sine_wide):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, calendar=True)
    batch = next(iter(dm.val_dataloader()))
    assert batch["x_time"].shape[:2] == (len(batch["x"]), 24)
    assert batch["y_time"].shape[:2] == (len(batch["x"]), 6)


def test_long_frame_serves_windows_of_every_series(sine_long):
    dm = WindowDataModule(frame=sine_long, lookback=24, horizon=6)
    dm.setup()
    assert set(dm.window_series("test")) == {0, 1, 2}


def test_series_shorter_than_a_window_is_reported(sine_wide):
    with pytest.raises(DataError, match="lookback"):
        WindowDataModule(frame=sine_wide.iloc[:50], lookback=48, horizon=6).setup()
