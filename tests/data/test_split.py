import numpy as np
import pandas as pd
import pytest

from forecast.data.frame import build_panel
from forecast.data.split import Split, split_borders
from forecast.errors import ConfigError, DataError

TIME = pd.date_range("2020-01-01", periods=7588, freq="D")


def test_fractions_follow_tslib():
    # exchange_rate: 7588 rows -> 5311 train, 760 val, 1517 test
    assert Split(val=0.1, test=0.2).borders_for(TIME) == (5311, 6071, 7588)


def test_row_borders_and_counts():
    assert Split(borders=[8640, 11520, 14400]).borders_for(pd.RangeIndex(17420)) == (
        8640, 11520, 14400)
    assert Split(val=48, test=48).borders_for(pd.RangeIndex(700)) == (604, 652, 700)


@pytest.mark.parametrize("preset, borders", [("ett_hour", (8640, 11520, 14400)),
                                             ("ett_minute", (34560, 46080, 57600))])
def test_ett_presets(preset, borders):
    assert Split(preset=preset).borders_for(pd.RangeIndex(69680)) == borders


def test_dates():
    assert Split(dates=["2020-01-11", "2020-01-21"]).borders_for(TIME[:40]) == (10, 20, 40)
    assert Split(dates=["2020-01-11", "2020-01-21", "2020-01-31"]).borders_for(TIME[:40]) == (
        10, 20, 30)
    # A date between two steps starts the part at the next step.
    hourly = pd.date_range("2020-01-01", periods=48, freq="h")
    assert Split(dates=["2020-01-01 10:30", None]).borders_for(hourly) == (11, 48, 48)


def test_dates_cut_each_series_of_a_long_frame_at_the_same_time():
    frame = pd.DataFrame({
        "unique_id": ["a"] * 30 + ["b"] * 20,
        "ds": list(pd.date_range("2020-01-01", periods=30, freq="D"))
        + list(pd.date_range("2020-01-06", periods=20, freq="D")),
        "y": np.arange(50.0)})
    panel = build_panel(frame)
    borders = split_borders(Split(dates=["2020-01-16", "2020-01-21"]), panel)
    assert borders.tolist() == [[15, 20, 30], [10, 15, 20]]
    by_rows = split_borders(Split(val=0.2, test=0.2), panel)
    assert by_rows.tolist() == [[18, 24, 30], [12, 16, 20]]


def _first_val_time(times, dates):
    panel = build_panel(pd.DataFrame({"date": times, "y": np.arange(len(times), dtype=float)}))
    return times[split_borders(Split(dates=dates), panel)[0][0]]


@pytest.mark.parametrize("freq, periods", [("h", 480), ("D", 60)])
def test_dates_are_read_on_the_clock_of_timezone_aware_data(freq, periods):
    times = pd.date_range("2021-01-20", periods=periods, freq=freq, tz="America/New_York")
    expected = pd.Timestamp("2021-02-01", tz="America/New_York")
    assert _first_val_time(times, ["2021-02-01", None]) == expected
    # a date with an offset is that instant: here the same row
    assert _first_val_time(times, ["2021-02-01 00:00-05:00", None]) == expected
    assert _first_val_time(times, ["2021-02-01 05:00+00:00", None]) >= expected
    assert Split(dates=["2021-02-01", None]).borders_for(times)[0] == times.get_loc(expected)


def test_hourly_dates_after_a_clock_change_are_local():
    times = pd.date_range("2021-03-01", periods=480, freq="h", tz="America/New_York")
    assert _first_val_time(times, ["2021-03-10", "2021-03-15"]) == pd.Timestamp(
        "2021-03-10", tz="America/New_York")
    panel = build_panel(pd.DataFrame({"date": times, "y": np.arange(480.0)}))
    test_start = split_borders(Split(dates=["2021-03-10", "2021-03-15"]), panel)[0][1]
    assert times[test_start] == pd.Timestamp("2021-03-15", tz="America/New_York")


def test_a_date_with_an_offset_on_naive_data_is_refused():
    with pytest.raises(ConfigError, match=r"data.split.dates: '2020-01-11 00:00\+01:00' has a "
                                          r"UTC offset.*without its offset"):
        Split(dates=["2020-01-11 00:00+01:00", None]).borders_for(TIME[:40])


@pytest.mark.parametrize("kwargs, words", [
    (dict(borders=[100, 50, 200]), ["data.split", "train_end <= val_end"]),
    (dict(borders=[100, 200, 400]), ["data.split", "<= 300"]),
    (dict(borders=[1, 2]), ["data.split.borders", "three"]),
    (dict(dates=["2020-01-01"]), ["data.split.dates"]),
    (dict(preset="ett_daily"), ["data.split.preset", "ett_hour"]),
    (dict(preset="ett_hour", borders=[1, 2, 3]), ["only one of", "borders and preset"]),
    (dict(val=-0.1), ["data.split.val", ">= 0"]),
    (dict(val=0.5, test=0.6), ["0.5 + 0.6", "no rows to train on", "less than 1"]),
])
def test_impossible_split_is_a_config_error(kwargs, words):
    with pytest.raises(ConfigError) as error:
        Split(**kwargs).borders_for(pd.RangeIndex(300))
    for word in words:
        assert word in str(error.value)


def test_an_empty_part_that_was_asked_for_is_an_error():
    with pytest.raises(DataError, match="test part is empty"):
        Split(dates=["2020-01-11", "2030-01-01"]).borders_for(TIME[:40])
    with pytest.raises(DataError, match="val part is empty"):
        Split(val=0.001, test=5).borders_for(TIME[:40])
    assert Split(val=0, test=0).borders_for(TIME[:40]) == (40, 40, 40)  # none asked: fine


def test_a_series_too_short_for_the_borders_is_named():
    frame = pd.DataFrame({"unique_id": ["a"] * 300 + ["b"] * 100,
                          "ds": list(range(300)) + list(range(100)), "y": np.zeros(400)})
    panel = build_panel(frame, time_col="ds")
    with pytest.raises(ConfigError, match="series 'b'.*<= 100"):
        split_borders(Split(borders=[100, 150, 200]), panel)
