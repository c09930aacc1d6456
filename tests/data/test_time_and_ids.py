"""How a frame's time axis and ids are read: timezones, periods, years, a known frequency,
flags as features, and the long frame that forgot its id column."""

import datetime

import dateutil.tz
import numpy as np
import pandas as pd
import pytest

from forecast.data.calendar import calendar_features, calendar_names, season_length
from forecast.data.frame import build_panel
from forecast.data.timeaxis import (
    _positions_each,
    as_ticks,
    grid_positions,
    localized,
    naive,
    wall_clock,
    zone_name,
)
from forecast.errors import DataError


def frame(times, **columns) -> pd.DataFrame:
    return pd.DataFrame({"date": times, "y": np.arange(len(times), dtype=float), **columns})


@pytest.mark.parametrize("start", ["2021-03-20", "2021-10-20"])  # spring and autumn clock change
def test_hourly_times_with_a_timezone_are_regular_in_utc(start):
    times = pd.date_range(start, periods=400, freq="h", tz="Europe/Berlin")
    panel = build_panel(frame(times))
    assert panel.freq == "h" and panel.tz == "Europe/Berlin"
    assert panel.time.equals(times.tz_convert("UTC").tz_localize(None))
    assert localized(panel.time, panel.tz, panel.freq).equals(times)


def test_daily_times_with_a_timezone_stay_local_midnights():
    times = pd.date_range("2021-03-01", periods=60, freq="D", tz="Europe/Berlin")  # over DST
    panel = build_panel(frame(times))
    assert panel.freq == "D" and panel.time.equals(times.tz_localize(None))
    assert localized(panel.time, panel.tz, panel.freq).equals(times)


@pytest.mark.parametrize("freq", ["h", "D"])
def test_times_written_with_offsets_across_a_clock_change_are_read(freq):
    # what `df.to_csv` writes for a zone's times: "+01:00" before the change, "+02:00" after
    times = pd.date_range("2021-03-20", periods=300, freq=freq, tz="Europe/Berlin")
    panel = build_panel(frame(times.astype(str)))
    assert panel.freq == freq
    if freq == "h":  # the instants, in UTC
        assert panel.tz == "UTC" and panel.time.equals(naive(times, "h"))
    else:  # the local days they were written on
        assert panel.tz is None and panel.time.equals(times.tz_localize(None))


@pytest.mark.parametrize("tz, name", [
    (dateutil.tz.gettz("America/New_York"), "America/New_York"), (dateutil.tz.UTC, "UTC"),
    (dateutil.tz.tzoffset(None, -3 * 3600), "UTC-03:00"),
    (datetime.timezone(datetime.timedelta(hours=1)), "UTC+01:00"),
    ("dateutil/Asia/Tokyo", "Asia/Tokyo"), ("Etc/GMT-1", "Etc/GMT-1")])
def test_a_timezone_is_kept_by_a_name_that_reads_back(tz, name):
    times = pd.date_range("2021-03-20", periods=30, freq="h", tz="UTC").tz_convert(tz)
    assert zone_name(times.tz) == name and build_panel(frame(times)).tz == name
    assert localized(naive(times, "h"), name, "h").equals(times.tz_convert(name))


def test_a_timezone_without_a_name_that_reads_back_is_refused():
    times = pd.date_range("2021-03-20", periods=30, freq="h", tz="UTC")
    posix = times.tz_convert(dateutil.tz.tzstr("EST5EDT"))
    with pytest.raises(DataError, match=r"^data: the times of frame\['date'\] are in the "
                                        r"timezone tzstr\('EST5EDT'\), which has no name that "
                                        r"reads back .* frame\['date'\] = frame\['date'\]"
                                        r"\.dt\.tz_convert\('Europe/Berlin'\)\.$"):
        build_panel(frame(posix))
    with pytest.raises(DataError, match=r"frame.index = frame.index.tz_convert"):
        build_panel(frame(posix).set_index("date"))


def test_a_column_of_times_in_two_timezones_is_named_as_such():
    berlin = pd.date_range("2021-01-01", periods=20, freq="h", tz="Europe/Berlin")
    mixed = frame([*berlin, *berlin.tz_convert("America/New_York") + pd.Timedelta("20h")])
    with pytest.raises(DataError, match=r"^data: column 'date' mixes timezones \(row 0: "
                                        r"Europe/Berlin, row 20: America/New_York\); convert "
                                        r"the times to one timezone, e.g. frame\['date'\] = "
                                        r"pd.to_datetime\(frame\['date'\], utc=True\)"
                                        r"\.dt\.tz_convert\(ZONE\)\.$"):
        build_panel(mixed)
    with pytest.raises(DataError, match=r"^data: the index mixes timezones .* frame.index = "):
        build_panel(mixed.set_index("date"))


def test_a_bad_value_among_offset_times_is_named():
    times = pd.date_range("2021-03-20", periods=20, freq="D", tz="Europe/Berlin").astype(str)
    with pytest.raises(DataError, match=r"row 5 value 'oops' is not a timestamp"):
        build_panel(frame([*times[:5], "oops", *times[6:]]))


def test_the_calendar_of_utc_times_is_the_local_clock():
    times = pd.date_range("2021-06-01", periods=48, freq="h", tz="Asia/Tokyo")
    utc = naive(times, "h")
    assert (utc.hour != times.hour).all()
    local = wall_clock(utc, "Asia/Tokyo", "h")
    np.testing.assert_array_equal(calendar_features(local, "h"),
                                  calendar_features(times.tz_localize(None), "h"))


@pytest.mark.parametrize("freq, lookback", [("B", 3), ("BME", 3), ("D", 2), ("ME", 2),
                                            ("W-SUN", 2)])
def test_a_known_frequency_holds_for_a_few_rows(freq, lookback):
    """A model's history of `lookback` rows: pandas may read a few business days as daily, or
    two months as 744 hours; the frequency the model knows stands where every step follows it."""
    times = pd.date_range("2021-01-01", periods=80, freq=freq)
    for start in range(0, 80 - lookback, 7):
        part = frame(times[start:start + lookback])
        assert build_panel(part, freq=freq).freq == freq
    daily = frame(pd.date_range("2021-01-01", periods=10, freq="D"))
    assert build_panel(daily, freq="B").freq == "D"  # a weekend in it: inferred, not "B"


def test_periods_are_read_at_their_start():
    periods = pd.period_range("2015-01", periods=24, freq="M")
    by_column = build_panel(frame(periods))
    by_index = build_panel(frame(periods).set_index("date"))
    for panel in (by_column, by_index):
        assert panel.time.equals(periods.to_timestamp()) and panel.freq == "MS"


def test_an_integer_year_column_is_the_time_axis():
    years = pd.DataFrame({"year": np.arange(1871, 1971), "volume": np.arange(100.0)})
    panel = build_panel(years)
    assert panel.columns == ("volume",) and panel.time_name == "year" and panel.freq == 1
    assert panel.time[0] == 1871


def test_whole_float_steps_are_steps_and_fractions_are_refused():
    assert build_panel(frame(np.arange(20.0)), time_col="date").freq == 1
    with pytest.raises(DataError, match=r"'date' row 1 holds 0.5; a time axis holds timestamps"):
        build_panel(frame(np.arange(20) / 2), time_col="date")


def test_flags_are_features_of_zero_and_one():
    times = pd.date_range("2021-01-01", periods=30, freq="D")
    panel = build_panel(frame(times, holiday=times.dayofweek >= 5), target="y",
                        future_features=["holiday"])
    np.testing.assert_array_equal(panel.values[:, 1], (times.dayofweek >= 5).astype(np.float32))


def test_a_long_frame_without_its_id_column_is_named_as_such():
    days = pd.date_range("2021-01-01", periods=20, freq="D")
    stores = pd.DataFrame({"store": np.repeat(["a", "b"], 20), "day": np.tile(days, 2),
                           "sales": np.arange(40.0)}).sort_values("day")
    with pytest.raises(DataError, match=r"looks like a long frame .* set data.id_col=store"):
        build_panel(stores)
    assert build_panel(stores, id_col="store").series_ids == ("a", "b")


@pytest.mark.parametrize("ids", [np.repeat([101, 202], 20), np.repeat(["101", "202"], 20)])
def test_integer_ids_of_another_name_are_named_too(ids):
    """Not "sort the frame", then "aggregate the duplicates", which would mix the series."""
    days = pd.date_range("2021-01-01", periods=20, freq="D")
    items = pd.DataFrame({"item": ids, "day": np.tile(days, 2), "sales": np.arange(40.0)})
    for sort in (False, True):
        with pytest.raises(DataError, match=r"^data: timestamps repeat and column 'item' tells "
                                            r"the rows apart: .* set data.id_col=item"):
            build_panel(items, sort=sort)
    with pytest.raises(DataError, match=r"the index tells the rows apart: .* with its series ids "
                                        r"as the index; move them to a column \(df.reset_index"
                                        r"\(\)\) and set data.id_col=item\.$"):
        build_panel(items.set_index("item"), time_col="day")
    assert build_panel(items, id_col="item").series_ids == tuple(map(str, ids[[0, -1]]))
    with pytest.raises(DataError, match="duplicate timestamp"):  # floats: measurements, not ids
        build_panel(items.assign(item=items["item"].astype(float)), target="sales", sort=True)
    units = items.assign(units=np.arange(40) % 7)  # before the ids, fewer values than rows
    with pytest.raises(DataError, match="column 'item' tells the rows apart"):
        build_panel(units[["units", "item", "day", "sales"]], target="units")


def test_a_repeated_time_of_one_series_is_a_duplicate_not_an_unnamed_id():
    """One re-sent row, a repeated hour of a clock change, two overlapping reads: "aggregate",
    even beside integer measurements or an index whose pairs with the times are unique."""
    hours = pd.date_range("2021-01-01", periods=48, freq="h")
    counts = pd.DataFrame({"time": hours, "visitors": np.arange(48) % 9, "site": "north"})
    resent = pd.concat([counts.iloc[:30], counts.iloc[[29]].assign(visitors=8),
                        counts.iloc[30:]], ignore_index=True)
    overlapping = pd.concat([counts.iloc[:25], counts.iloc[24:]])  # the index not reset
    for frame in (resent, overlapping.set_index(overlapping.index.astype(str))):
        with pytest.raises(DataError, match="^data: duplicate timestamp"):
            build_panel(frame, target="visitors", time_col="time", sort=True)


def test_ids_keep_their_type_and_one_name_of_two_types_is_refused():
    days = np.tile(pd.date_range("2021-01-01", periods=10, freq="D"), 2)
    ints = pd.DataFrame({"unique_id": np.repeat([7, 8], 10), "ds": days, "y": 1.0})
    panel = build_panel(ints)
    assert panel.series_ids == ("7", "8") and panel.id_dtype == "int64"
    mixed = ints.astype({"unique_id": object})
    mixed.loc[10:, "unique_id"] = "7"
    with pytest.raises(DataError, match=r"'unique_id' holds the series id '7' as two values"):
        build_panel(mixed)


@pytest.mark.parametrize("freq, season, names", [
    ("ms", 86_400_000, 6), ("15min", 96, 6), ("h", 24, 5), ("D", 7, 4), ("B", 5, 4),
    ("W-SUN", 52, 2), ("SMS", 24, 2), ("MS", 12, 1), ("QE-DEC", 4, 1), ("YS", 1, 0)])
def test_season_and_calendar_follow_the_step_length(freq, season, names):
    # "ms" is milliseconds, not month start; a weekly step is a week wherever it is anchored
    assert season_length(freq) == season
    assert len(calendar_names(freq)) == names


def test_the_time_as_both_index_and_column_is_read_once():
    times = pd.date_range("2021-01-01", periods=50, freq="h")
    panel = build_panel(frame(times).set_index("date", drop=False))  # a common pandas idiom
    assert panel.columns == ("y",) and panel.time_name == "date" and panel.freq == "h"


def test_messages_show_times_on_the_frames_own_clock():
    times = pd.date_range("2024-03-30", periods=100, freq="h", tz="Europe/Berlin")
    with pytest.raises(DataError, match=r"row 50 \(2024-04-01 03:00:00\+02:00\)"):
        build_panel(frame(times, y=np.where(np.arange(100) == 50, np.nan, 1.0)))


@pytest.mark.parametrize("freq, starts", [
    ("MS", ["2001-01-01", "1999-07-01", "2001-03-01"]),
    ("ME", ["2001-01-15", "1999-07-31", "2001-02-28"]),  # the first may lie off the offset
    ("W-SUN", ["2021-01-03", "2020-12-06", "2021-02-07"]),
    ("B", ["2021-01-04", "2021-01-08", "2020-12-31"]),
    ("QS", ["2001-01-01", "1990-04-01", "2001-10-01"]),
    ("2MS", ["2001-01-01", "2001-03-01", "2000-11-01"]),
    ("2MS", ["2001-01-01", "2001-02-01", "2000-11-01"])])  # odd and even months: no one grid
def test_calendar_frequencies_share_one_grid_with_each_series_own_times(freq, starts):
    """Months, business days ...: every series' times, and the rows before a date, as one
    date range per series gives them (where the series share no grid, from those)."""
    lengths = [30, 7, 1]
    frame = pd.concat([pd.DataFrame({"id": f"s{i}", "y": np.arange(n, dtype=float),
                                     "ds": pd.date_range(start, periods=n, freq=freq)
                                     if pd.Timestamp(start).is_month_end or freq != "ME"
                                     else [pd.Timestamp(start)] + list(pd.date_range(
                                         pd.Timestamp(start) + pd.offsets.MonthEnd(),
                                         periods=n - 1, freq=freq))})
                       for i, (start, n) in enumerate(zip(starts, lengths, strict=True))])
    panel = build_panel(frame, time_col="ds", id_col="id")
    assert panel.freq.startswith(freq)  # QS: QS-JAN
    assert (panel._calendar_grid is None) == (starts[1] == "2001-02-01")
    each = pd.DatetimeIndex(np.concatenate([panel.series_time(s) for s in range(3)]))
    assert panel.time_at(np.arange(panel.bounds[-1])).equals(each)
    assert panel.time_at(np.array([panel.bounds[2], 3])).equals(each[[panel.bounds[2], 3]])
    later = each.max() + pd.Timedelta(days=400)
    for stamp in [each.min(), each[5], each[5] + pd.Timedelta(hours=1), later]:
        expected = [panel.series_time(s).searchsorted(stamp) for s in range(3)]
        np.testing.assert_array_equal(panel.rows_before(stamp), expected)


def test_calendar_grid_positions_mark_rows_off_each_series_grid():
    ticks, unit = as_ticks(pd.DatetimeIndex([
        "2001-01-01", "2001-02-01", "2001-04-01", "2001-04-15",  # s0: a gap, then off the grid
        "1999-06-15", "1999-07-01", "1999-08-01"]))  # s1: off the offset, then on it
    bounds = np.array([0, 4, 7])
    positions = grid_positions(ticks, bounds, "MS", unit)
    np.testing.assert_array_equal(positions, [0, 1, 3, -1, 0, 1, 2])
    np.testing.assert_array_equal(positions, _positions_each(ticks, bounds, "MS", unit))
