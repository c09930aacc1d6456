import logging

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.data import WindowDataModule
from forecast.data.calendar import calendar_features
from forecast.errors import DataError
from tests.data.test_frame import long_frame


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


def test_wide_csv_and_parquet_paths(sine_wide, tmp_path):
    sine_wide.to_csv(tmp_path / "wide.csv", index=False)
    sine_wide.to_parquet(tmp_path / "wide.parquet")
    from_csv = WindowDataModule(path=tmp_path / "wide.csv", lookback=24, horizon=6)
    from_parquet = WindowDataModule(path=str(tmp_path / "wide.parquet"), lookback=24, horizon=6)
    from_frame = WindowDataModule(frame=sine_wide, lookback=24, horizon=6)
    expected = from_frame.windows("test")[1]
    np.testing.assert_allclose(from_csv.windows("test")[1], expected, rtol=1e-6)
    np.testing.assert_array_equal(from_parquet.windows("test")[1], expected)
    assert from_csv.dims == from_frame.dims == dict(n_inputs=2, n_targets=2, n_time_features=0,
                                                    lookback=24, horizon=6)


def test_long_csv_with_series_of_different_lengths(tmp_path):
    frame = long_frame((30, 50, 40))
    frame.to_csv(tmp_path / "long.csv", index=False)
    dm = WindowDataModule(path=tmp_path / "long.csv", features=["x"], lookback=4, horizon=2,
                          split=dict(val=0.2, test=0.2))
    dm.setup()
    assert dm.panel_.series_ids == ("a", "b", "c") and dm.dims["n_inputs"] == 2
    counts = np.bincount(dm.window_series("test"))
    assert counts.tolist() == [6 - 2 + 1, 10 - 2 + 1, 8 - 2 + 1]  # every test row, per series


@pytest.mark.parametrize("target, features, inputs, targets", [
    ("OT", None, 1, 1),  # S
    (None, None, 3, 3),  # M
    ("OT", "all", 3, 1),  # MS
    (["OT", "y0"], ["y1"], 3, 2),
])
def test_s_m_ms_shapes(sine_wide, target, features, inputs, targets):
    frame = sine_wide.assign(OT=np.cos(np.arange(len(sine_wide)) / 7))
    dm = WindowDataModule(frame=frame, target=target, features=features, lookback=24,
                          horizon=6)
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape[-1] == dm.dims["n_inputs"] == inputs
    assert batch["y"].shape[-1] == dm.dims["n_targets"] == targets
    first_target = frame[dm.panel_.columns[0]].to_numpy()
    np.testing.assert_allclose(dm.unscaled(np.arange(len(frame)))[:, 0], first_target, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("split", [dict(borders=[400, 500, 600]),
                                   dict(dates=["2020-01-17 16:00", "2020-01-21 20:00"]),
                                   "ett_hour"])
def test_val_and_test_windows_start_lookback_early(sine_wide, split):
    frame = sine_frame_rows(15_000) if split == "ett_hour" else sine_wide
    dm = WindowDataModule(frame=frame, lookback=24, horizon=6, split=split)
    dm.setup()
    train_end, val_end, test_end = dm.borders_[0]
    starts = {part: dm.starts_[part].starts() for part in ("train", "val", "test")}
    assert starts["val"][0] == train_end - 24 and starts["test"][0] == val_end - 24
    assert starts["train"][-1] + 30 == train_end and starts["test"][-1] + 30 == test_end
    assert len(starts["test"]) == test_end - val_end - 6 + 1  # every test target is scored
    times = dm.window_times("val")
    assert times[0, 0] == pd.Timestamp(frame.date.iloc[train_end])


def sine_frame_rows(n):
    from forecast.data.synthetic import sine_frame

    return sine_frame(n_steps=n)


def test_ett_preset_on_the_real_etth1_file():
    from tests.conftest import SHARED_DATA

    dm = WindowDataModule(path=SHARED_DATA / "ett" / "ETTh1.csv", target="OT", features="all",
                          lookback=96, horizon=96, split="ett_hour")
    dm.setup()
    assert dm.borders_[0].tolist() == [8640, 11520, 14400]
    assert len(dm.starts_["test"]) == 2880 - 96 + 1  # TSLib's 2785 test windows
    assert dm.dims["n_inputs"] == 7 and dm.dims["n_targets"] == 1


def test_training_stride_leaves_evaluation_dense(sine_wide):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, stride=5)
    dm.setup()
    assert np.all(np.diff(dm.starts_["train"].starts()) == 5)
    assert np.all(np.diff(dm.starts_["test"].starts()) == 1)


def test_scaler_is_fitted_on_train_rows_only(sine_wide):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6)
    dm.setup()
    train = sine_wide[["y0", "y1"]].to_numpy()[:420]
    np.testing.assert_allclose(dm.scaler.center_[0], train.mean(0), rtol=1e-5, atol=1e-6)


def test_each_series_is_scaled_on_its_own_training_rows():
    frame = long_frame((30, 50, 40))  # levels 0, 10, 20; spreads 1, 2, 3
    dm = WindowDataModule(frame=frame, lookback=4, horizon=2, split=dict(val=0.2, test=0.2))
    dm.setup()
    for s, sid in enumerate(dm.panel_.series_ids):
        y = frame.y[frame.unique_id == sid].to_numpy()
        train = y[:dm.borders_[s, 0]]
        assert dm.scaler.center_[s, 0] == pytest.approx(train.mean(), rel=1e-5)
        assert dm.scaler.scale_[s, 0] == pytest.approx(train.std(), rel=1e-5)
        rows = slice(dm.panel_.bounds[s], dm.panel_.bounds[s] + dm.borders_[s, 0])
        assert abs(dm.values_[rows, 0].mean()) < 1e-5  # scaled training rows: mean 0


def test_the_mase_scale_is_the_seasonal_naive_mae_of_the_raw_training_rows(sine_wide):
    frame = sine_wide.assign(y0=sine_wide.y0 * 10 + 3)  # a std far from 1: units show
    dm = WindowDataModule(frame=frame, lookback=24, horizon=6)
    dm.setup()
    raw, train, season = frame.y0.to_numpy(), dm.borders_[0, 0], dm.season
    expected = np.mean(np.abs(raw[season:train] - raw[:train - season]))
    assert dm.mase_scale("test")[0, 0, 0] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("scaler", ["standard", "minmax", "none"])
def test_inverse_transform_gives_original_units(scaler):
    frame = long_frame((30, 50, 40))
    dm = WindowDataModule(frame=frame, lookback=4, horizon=2, scaler=scaler,
                          split=dict(val=0.2, test=0.2))
    _, y_scaled = dm.windows("test")
    y = dm.inverse_transform(y_scaled, "test")
    rows = dm.starts_["test"].starts()[:, None] + 4 + np.arange(2)  # [N, H] target rows
    np.testing.assert_allclose(y[..., 0], frame.y.to_numpy()[rows], rtol=1e-5, atol=1e-5)
    picks = np.array([3, 0])
    np.testing.assert_allclose(dm.inverse_transform(y_scaled[picks], "test", picks), y[picks])


def test_setup_scales_one_array_in_place_and_leaves_the_frame_alone(sine_wide):
    before = sine_wide.copy()
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6)
    dm.setup()
    pd.testing.assert_frame_equal(sine_wide, before)
    assert dm.panel_.values is None and dm.values_.dtype == np.float32
    x, _ = dm.windows("train")  # one series: windows are a view of the scaled array
    assert np.shares_memory(x, dm.values_)
    batch = next(iter(dm.dataset("train").to("cpu").gather(np.array([0])).values()))
    assert batch.shape == (1, 24, 2)


def test_calendar_features_travel_with_windows(sine_wide):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, calendar=True)
    batch = next(iter(dm.val_dataloader()))
    assert batch["x_time"].shape[:2] == (len(batch["x"]), 24)
    assert batch["y_time"].shape[:2] == (len(batch["x"]), 6)
    assert dm.dims["n_time_features"] == batch["x_time"].shape[2] == 5  # hourly: 5 features
    start = dm.starts_["val"].starts()[0]
    times = pd.DatetimeIndex(sine_wide.date.iloc[start:start + 30])
    expected = calendar_features(times, "h")
    np.testing.assert_array_equal(batch["x_time"][0].numpy(), expected[:24])
    np.testing.assert_array_equal(batch["y_time"][0].numpy(), expected[24:])


def test_training_order_depends_on_seed_and_epoch_only(sine_wide):
    dm = WindowDataModule(frame=sine_wide, lookback=24, horizon=6, seed=3)
    first = next(iter(dm.train_dataloader()))["x"]
    loader = dm.train_dataloader()
    loader.set_epoch(0)
    assert torch.equal(next(iter(loader))["x"], first)
    loader.set_epoch(1)
    assert not torch.equal(next(iter(loader))["x"], first)


@pytest.mark.parametrize("kwargs, words", [
    (dict(lookback=49, horizon=6), ["54 rows", "fewer than lookback + horizon"]),
    (dict(lookback=6, horizon=6, split=dict(val=5, test=20)),
     ["val part", "fewer than the horizon 6", "data.split.val=6"]),
    (dict(lookback=6, horizon=6, split=dict(dates=["2020-01-01 20:00", "2030-01-01"])),
     ["test part is empty"]),
])
def test_data_too_short_for_the_windows_is_reported(sine_wide, kwargs, words):
    with pytest.raises(DataError) as error:
        WindowDataModule(frame=sine_wide.iloc[:54], **kwargs).setup()
    for word in words:
        assert word in str(error.value)


def test_a_short_series_of_a_long_frame_is_named():
    with pytest.raises(DataError, match="series 'a' has 30 rows"):
        WindowDataModule(frame=long_frame((30, 50)), lookback=28, horizon=4).setup()


def test_rows_numbered_as_time_steps_are_noted_once(caplog):
    values = pd.DataFrame({"load": np.sin(np.arange(300) / 8.0)})  # no time column at all
    with caplog.at_level(logging.INFO, logger="forecast"):
        WindowDataModule(frame=values, lookback=24, horizon=4).setup()
    assert caplog.text.count("data: no time column") == 1
    assert "data.time_col" in caplog.text and "data.season" in caplog.text
    caplog.clear()
    dated = values.assign(date=pd.date_range("2021-01-01", periods=300, freq="h"))
    steps = values.assign(step=np.arange(300))  # a column of steps, named as such
    with caplog.at_level(logging.INFO, logger="forecast"):
        WindowDataModule(frame=dated, lookback=24, horizon=4).setup()
        WindowDataModule(frame=steps, time_col="step", lookback=24, horizon=4).setup()
    assert "no time column" not in caplog.text


def test_an_unrecognised_column_of_steps_is_named_as_a_likely_time_axis(caplog):
    load = np.sin(np.arange(300) / 8.0)
    period = pd.DataFrame({"period": np.arange(2000, 2300), "load": load})
    with caplog.at_level(logging.WARNING, logger="forecast"):
        WindowDataModule(frame=period, lookback=24, horizon=4).setup()
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "column 'period' counts up" in warned[0].getMessage()
    assert "data.time_col=period" in warned[0].getMessage()
    caplog.clear()
    counts = pd.DataFrame({"visits": np.arange(300) % 7, "load": load})  # integers, not steps
    with caplog.at_level(logging.WARNING, logger="forecast"):
        WindowDataModule(frame=counts, lookback=24, horizon=4).setup()
        WindowDataModule(frame=period, time_col="period", lookback=24, horizon=4).setup()
    assert "counts up" not in caplog.text


def _calendar_warnings(frame, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="forecast"):
        WindowDataModule(frame=frame, lookback=6, horizon=2, calendar=True).setup()
    return [r.getMessage() for r in caplog.records if "data.calendar" in r.getMessage()]


def test_a_calendar_that_adds_nothing_is_named(caplog):
    load = np.sin(np.arange(60) / 3.0)
    by_tens = pd.Index(np.arange(60) * 10, name="step")
    (steps,) = _calendar_warnings(pd.DataFrame({"load": load}, index=by_tens), caplog)
    assert steps.startswith("data.calendar=true (calendar=True in Python) adds no feature: the "
                            "time axis 'step' holds integer steps (of 10), which have no calendar")
    assert "datetime column" in steps
    epoch = pd.DataFrame({"timestamp": 1609459200 + 3600 * np.arange(60), "load": load})
    (seconds,) = _calendar_warnings(epoch, caplog)
    assert "Unix epoch seconds" in seconds
    assert "pd.to_datetime(df['timestamp'], unit='s')" in seconds
    years = pd.DataFrame({"date": pd.date_range("1900", periods=60, freq="YS"), "load": load})
    (yearly,) = _calendar_warnings(years, caplog)
    assert "no calendar feature (hour, weekday, day, month) varies at a step of YS" in yearly
    hours = years.assign(date=pd.date_range("2021-01-01", periods=60, freq="h"))
    assert _calendar_warnings(hours, caplog) == []
