"""Forecasts in the input's own terms: integer ids stay integers, timestamps keep their
resolution, timezone-aware times come back in their timezone (also through backtests and MLflow
models), and the messages of `predict` point to what can be changed there."""

import logging

import dateutil.tz
import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

import forecast
from forecast.errors import ConfigError, DataError
from forecast.mlflow_model import log_forecaster
from tests.conftest import sqlite_store

TINY = dict(lookback=12, horizon=3, hidden_size=4, max_epochs=1)


@pytest.fixture(scope="module")
def int_ids():
    days = pd.date_range("2021-01-01", periods=60, freq="D")
    frame = pd.DataFrame({"unique_id": np.repeat([101, 202], 60), "ds": np.tile(days, 2),
                          "y": np.sin(np.arange(120) / 3)})
    return frame, forecast.Forecaster(**TINY).fit(frame)


def test_integer_ids_come_back_as_integers(int_ids):
    frame, model = int_ids
    predicted = model.predict(frame)
    assert predicted.unique_id.dtype == np.int64 and predicted.y.dtype == np.float64
    joined = predicted.merge(frame, on=["unique_id", "ds"], how="left", suffixes=("", "_true"))
    assert len(joined) == 6 and set(joined.unique_id) == {101, 202}
    assert model.backtest(frame, n_windows=2).unique_id.dtype == np.int64


def test_categorical_ids_come_back_as_their_categories_values(int_ids):
    frame, _ = int_ids
    categorical = frame.assign(unique_id=frame.unique_id.astype("category"))
    predicted = forecast.Forecaster(**TINY).fit(categorical).predict()
    assert predicted.unique_id.dtype == np.int64
    last = categorical.groupby("unique_id", observed=True).tail(1)
    assert len(predicted.merge(last, on="unique_id")) == 6  # ids that match the data's


@pytest.mark.parametrize("unit", ["s", "us", "ns"])
@pytest.mark.parametrize("freq", ["h", "MS"])
def test_forecast_times_keep_the_resolution_of_the_history(unit, freq):
    """pandas 3 reads timestamps as microseconds: a forecast in nanoseconds would not concat
    with its history without a cast."""
    times = pd.date_range("2000-01-01", periods=40, freq=freq, unit=unit)
    frame = pd.DataFrame({"time": times, "y": np.sin(np.arange(40) / 3)})
    model = forecast.Forecaster(**TINY).fit(frame)
    assert model.predict(frame).index.unit == unit and model.predict().index.unit == unit
    assert model.backtest(frame).time.dt.unit == unit
    joined = pd.concat([frame.set_index("time"), model.predict(frame, n=5)])
    assert joined.index.unit == unit and joined.index.is_monotonic_increasing


@pytest.fixture(scope="module")
def berlin():
    """Hourly data over the spring clock change (02:00-03:00 does not exist that night)."""
    times = pd.date_range("2021-03-26", periods=120, freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame({"date": times, "y": np.sin(np.arange(120) / 4)})
    return frame, forecast.Forecaster(calendar=True, **TINY).fit(frame)


def test_timezone_aware_times_come_back_in_their_timezone(berlin):
    frame, model = berlin
    predicted = model.predict(frame)
    assert str(predicted.index.tz) == "Europe/Berlin"
    assert predicted.index[0] == frame.date.iloc[-1] + pd.Timedelta(hours=1)
    tokyo = model.predict(frame.assign(date=frame.date.dt.tz_convert("Asia/Tokyo")))
    pd.testing.assert_frame_equal(tokyo, predicted)  # the same instants, the same forecast
    backtest = model.backtest(frame, n_windows=2, refit=True)
    assert str(backtest.date.dt.tz) == "Europe/Berlin" and backtest.cutoff.dt.tz is not None


@pytest.mark.parametrize("tz, name", [(dateutil.tz.gettz("Europe/Berlin"), "Europe/Berlin"),
                                      ("dateutil/Europe/Berlin", "Europe/Berlin"),
                                      (dateutil.tz.UTC, "UTC"),
                                      (dateutil.tz.tzoffset(None, 3600), "UTC+01:00")])
def test_dateutil_timezones_are_kept_by_a_name_that_reads_back(tz, name, tmp_path):
    times = pd.date_range("2021-03-20", periods=60, freq="h", tz="UTC").tz_convert(tz)
    frame = pd.DataFrame({"y": np.sin(np.arange(60.0))}, index=times)
    model = forecast.Forecaster(**TINY).fit(frame)
    predicted = model.predict()
    assert str(predicted.index.tz) == name
    assert predicted.index[0] == times[-1] + pd.Timedelta(hours=1)
    model.save(tmp_path / "model")
    pd.testing.assert_frame_equal(forecast.load(tmp_path / "model").predict(), predicted)
    pd.testing.assert_frame_equal(model.predict(frame), predicted)


def test_daily_times_in_another_timezone_are_the_same_local_days():
    # Berlin midnight is 23:00 UTC the day before: read on the model's clock, not the history's
    times = pd.date_range("2021-01-01", periods=60, freq="D", tz="Europe/Berlin")
    frame = pd.DataFrame({"date": times, "y": np.sin(np.arange(60) / 3)})
    model = forecast.Forecaster(**TINY).fit(frame)
    predicted, backtest = model.predict(frame), model.backtest(frame, n_windows=2)
    assert predicted.index[0] == pd.Timestamp("2021-03-02", tz="Europe/Berlin")
    for tz in ("UTC", "America/New_York"):
        moved = frame.assign(date=frame.date.dt.tz_convert(tz))
        pd.testing.assert_frame_equal(model.predict(moved), predicted)
        pd.testing.assert_frame_equal(model.backtest(moved, n_windows=2), backtest)


def test_a_model_of_naive_times_refuses_a_history_with_a_timezone(int_ids):
    frame, model = int_ids
    eastern = frame.assign(ds=frame.ds.dt.tz_localize("US/Eastern"))
    with pytest.raises(DataError, match=r"^predict: the times are in the timezone "
                                        r"US/Eastern, and the model was trained on naive"):
        model.predict(eastern)  # read as UTC, it forecast hours the user did not mean
    written = eastern.assign(ds=eastern.ds.astype(str))  # as a CSV holds them: "-05:00"
    with pytest.raises(DataError, match=r"^predict: the times are in the timezone UTC"):
        model.predict(written)
    with pytest.raises(DataError) as caught:
        model.predict(eastern[eastern.unique_id == 101].set_index("ds"))
    fix = str(caught.value).split("e.g. ")[1].split(" with")[0]
    assert fix == ("frame.index = pd.to_datetime(frame.index, utc=True).tz_convert(ZONE)"
                   ".tz_localize(None)")


def test_a_timezone_aware_model_refuses_naive_times(berlin):
    frame, model = berlin  # hourly, Europe/Berlin: naive times could be UTC or the local clock
    with pytest.raises(DataError) as caught:
        model.predict(frame.assign(date=frame.date.dt.tz_localize(None)))
    message = str(caught.value)
    assert message.startswith("predict: the times have no timezone, and the model was trained "
                              "on times in Europe/Berlin")
    fix = message.split("e.g. ")[1].split(" for that clock")[0]
    assert fix == ("frame['date'] = pd.to_datetime(frame['date']).dt.tz_localize("
                   "'Europe/Berlin')")


def test_a_timezone_aware_model_serves_naive_utc_times(berlin, tmp_path):
    frame, model = berlin
    mlflow.set_tracking_uri(sqlite_store(tmp_path / "mlflow.db"))
    with mlflow.start_run():
        uri = log_forecaster(model).model_uri
    naive_utc = frame.assign(date=frame.date.dt.tz_convert("UTC").dt.tz_localize(None))
    served = mlflow.pyfunc.load_model(uri).predict(naive_utc)
    expected = model.predict(frame)
    assert (served.date.to_numpy() == expected.index.tz_convert("UTC").tz_localize(None)
            .to_numpy()).all()
    np.testing.assert_allclose(served.y, expected.y, rtol=1e-6)


def test_a_history_of_lookback_business_days_is_read_at_the_known_frequency():
    days = pd.date_range("2021-01-01", periods=80, freq="B")
    frame = pd.DataFrame({"date": days, "y": np.sin(np.arange(80) / 3)})
    model = forecast.Forecaster(**{**TINY, "lookback": 5}).fit(frame)
    for start in range(0, 75):  # some 5-day slices read as daily to pandas
        assert model.predict(frame.iloc[start:start + 5]).index[0] == days[start + 5]
    with pytest.raises(DataError, match="frequency is D, but the model was trained on B"):
        model.predict(pd.DataFrame({"date": pd.date_range("2021-01-01", periods=9), "y": 1.0}))


def test_a_long_frame_indexed_by_id_and_time_is_read(int_ids):
    """NeuralForecast's `df.set_index(["unique_id", "ds"])`: the levels are the columns."""
    frame, model = int_ids
    indexed = frame.set_index(["unique_id", "ds"])
    pd.testing.assert_frame_equal(model.predict(indexed), model.predict(frame))
    pd.testing.assert_frame_equal(model.backtest(indexed, n_windows=2),
                                  model.backtest(frame, n_windows=2))
    fitted = forecast.Forecaster(**TINY).fit(indexed)
    assert fitted.schema_.id_col == "unique_id" and fitted.schema_.time_name == "ds"
    stores = frame.rename(columns={"unique_id": "store"}).set_index(["store", "ds"])
    with pytest.raises(DataError, match=r"MultiIndex of levels \['store', 'ds'\]; move them to "
                                        r"columns with df.reset_index\(\) \(and name them with "
                                        r"id_col and time_col\)"):
        forecast.Forecaster(**TINY).fit(stores)
    assert forecast.Forecaster(**TINY, id_col="store").fit(stores).schema_.id_col == "store"


def test_a_series_is_asked_for_as_a_frame(int_ids):
    frame, model = int_ids
    series = frame[frame.unique_id == 101].set_index("ds").y
    with pytest.raises(DataError, match=r"^data: expected a pandas DataFrame, got Series; pass "
                                        r"series.to_frame\(\)"):
        forecast.Forecaster(**TINY).fit(series)
    with pytest.raises(DataError, match=r"got Series; .* \(series.to_frame\(\) for a Series\)"):
        model.predict(series)


def test_an_integer_step_model_names_its_steps():
    steps = pd.DataFrame({"step": np.arange(40) * 10, "y": np.sin(np.arange(40.0))})
    model = forecast.Forecaster(**TINY, time_col="step").fit(steps)
    dated = steps.assign(step=pd.date_range("2021-01-01", periods=40, freq="D"))
    with pytest.raises(DataError, match=r"^predict: the history's times are timestamps "
                                        r"\(frequency D\), but the model was trained on integer "
                                        r"steps of 10; pass 'step' as those integer steps\.$"):
        model.predict(dated)
    with pytest.raises(DataError, match=r"frequency is integer steps of 20, but the model was "
                                        r"trained on integer steps of 10"):
        model.predict(steps.assign(step=steps.step * 2))


def test_predict_points_to_the_fit_for_the_cleaning_options(int_ids):
    frame, model = int_ids
    with pytest.raises(DataError, match=r"not sorted .* or refit with sort=True"):
        model.predict(frame.iloc[::-1])


def test_future_rows_left_in_a_filled_history_are_named(int_ids, caplog):
    """NeuralForecast's way: the next rows with y=NaN. A fill would make them up as history."""
    frame, _ = int_ids
    model = forecast.Forecaster(**TINY, fill="ffill").fit(frame)
    days = pd.date_range("2021-03-02", periods=3, freq="D")
    future = pd.DataFrame({"unique_id": np.repeat([101, 202], 3), "ds": np.tile(days, 2),
                           "y": np.nan})
    with_future = pd.concat([frame, future]).sort_values(["unique_id", "ds"], kind="stable")
    with caplog.at_level("WARNING", logger="forecast"):
        model.predict(with_future)
    (warned,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned.startswith("predict: column 'y' of series '101' (and 1 other series) ends "
                             "in 3 row(s) without a value, from row 60 (2021-03-02 00:00:00); "
                             "fill=ffill makes them up as if observed")
    assert "If they are future rows, drop them" in warned
    caplog.clear()
    with caplog.at_level("WARNING", logger="forecast"):
        model.score(with_future)  # scored as actuals: said once, not by score and backtest
    (warned,) = [r.getMessage() for r in caplog.records if "without a value" in r.getMessage()]
    assert warned.startswith("score: column 'y' of series '101'")
    caplog.clear()
    with caplog.at_level("WARNING", logger="forecast"):
        model.predict(frame)
        model.predict(frame.assign(y=frame.y.where(frame.index % 60 != 40)))  # a gap: filled
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_one_target_of_two_ending_without_values_is_named(caplog):
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    frame = pd.DataFrame({"ds": days, "a": np.sin(np.arange(40.0)), "b": np.cos(np.arange(40.0))})
    model = forecast.Forecaster(**TINY, fill="interpolate").fit(frame)
    with caplog.at_level("WARNING", logger="forecast"):
        model.predict(frame.assign(b=frame.b.where(frame.index < 38)))
    assert "predict: column 'b' ends in 2 row(s) without a value, from row 38" in caplog.text


def test_columns_without_text_names_cannot_become_an_mlflow_model(tmp_path):
    wide = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 2)),
                        index=pd.date_range("2021-01-01", periods=60, freq="D"))
    model = forecast.Forecaster(**TINY).fit(wide)
    mlflow.set_tracking_uri(sqlite_store(tmp_path / "mlflow.db"))
    with mlflow.start_run(), pytest.raises(ConfigError, match=r"columns \[0, 1\] are not named"):
        log_forecaster(model)
    with mlflow.start_run(), pytest.raises(NotFittedError, match=r"call fit\(df\) first"):
        log_forecaster(forecast.Forecaster(**TINY))


def test_tiny_and_constant_series_are_forecast_at_their_level():
    """A series of tiny values is scaled (not left as is below an absolute cut-off); a constant
    one is scaled by its level, so the network's small output is relative to it."""
    wave = np.sin(np.arange(200) * 2 * np.pi / 24)
    frame = pd.DataFrame({"date": pd.date_range("2020", periods=200, freq="h"),
                          "tiny": 1e-13 * wave, "micro": 1e-6, "zero": 0.0, "mega": 1e6})
    predicted = forecast.Forecaster(**TINY).fit(frame).predict()
    assert np.abs(predicted.tiny).max() < 5e-13
    np.testing.assert_allclose(predicted.micro, 1e-6, rtol=0.9)
    np.testing.assert_allclose(predicted.mega, 1e6, atol=5)  # off by the net's output, not 30%
    assert np.isfinite(predicted.zero).all()
