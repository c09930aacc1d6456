import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from forecast.data.frame import build_panel, read_frame
from forecast.errors import DataError


def long_frame(lengths=(30, 50, 40), freq="h", seed=0) -> pd.DataFrame:
    """Series 'a', 'b', 'c' ... of different lengths and start dates, with a feature `x`."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, n in enumerate(lengths):
        start = pd.Timestamp("2021-01-01") + k * pd.tseries.frequencies.to_offset(freq)
        parts.append(pd.DataFrame({"unique_id": "abcdefgh"[k],
                                   "ds": pd.date_range(start, periods=n, freq=freq),
                                   "y": rng.normal(10 * k, 1 + k, n), "x": rng.normal(size=n)}))
    return pd.concat(parts, ignore_index=True)


def test_wide_frame_keeps_targets_first_and_infers_hourly(sine_wide):
    sine_wide["temp"] = np.arange(len(sine_wide), dtype=float)
    panel = build_panel(sine_wide, target="y1", features=["temp", "y0"])
    assert panel.columns == ("y1", "temp", "y0")
    assert panel.n_targets == 1 and panel.freq == "h" and panel.values.dtype == np.float32
    np.testing.assert_allclose(panel.values[:, 0], sine_wide["y1"].to_numpy(), rtol=1e-6)
    assert panel.time.equals(pd.DatetimeIndex(sine_wide["date"]))


def test_ett_conventions_s_m_ms(sine_wide):
    frame = sine_wide.assign(OT=np.arange(len(sine_wide), dtype=float))
    assert build_panel(frame).columns == ("y0", "y1", "OT")  # M: every column is a target
    s = build_panel(frame, target="OT")  # S: one target, no inputs besides it
    assert s.columns == ("OT",) and s.n_targets == 1
    ms = build_panel(frame, target="OT", features="all")  # MS: all columns in, one out
    assert ms.columns == ("OT", "y0", "y1") and ms.n_targets == 1


def test_long_frame_stacks_series_of_different_lengths():
    frame = long_frame()
    panel = build_panel(frame, features=["x"])
    assert panel.series_ids == ("a", "b", "c") and panel.columns == ("y", "x")
    assert list(panel.bounds) == [0, 30, 80, 120]
    assert panel.id_col == "unique_id" and panel.time_name == "ds"
    np.testing.assert_allclose(panel.values, frame[["y", "x"]].to_numpy(), rtol=1e-6)
    for s, sid in enumerate(panel.series_ids):
        assert panel.series_time(s).equals(pd.DatetimeIndex(frame.ds[frame.unique_id == sid]))
    assert panel.time.equals(pd.DatetimeIndex(frame.ds))


def test_long_frame_with_interleaved_rows_is_grouped_by_series():
    frame = long_frame((20, 20))
    interleaved = frame.sort_values(["ds", "unique_id"], kind="stable")
    panel = build_panel(interleaved)
    np.testing.assert_allclose(panel.values[:, 0], frame.y.to_numpy(), rtol=1e-6)


def test_unsorted_long_frame_is_sorted_on_request():
    frame = long_frame()
    panel = build_panel(frame.sample(frac=1.0, random_state=1), sort=True)
    assert set(panel.series_ids) == {"a", "b", "c"}
    for s, sid in enumerate(panel.series_ids):
        part = frame[frame.unique_id == sid]
        rows = slice(panel.bounds[s], panel.bounds[s + 1])
        np.testing.assert_allclose(panel.values[rows, 0], part.y.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamps_keep_their_resolution(unit):
    time = pd.date_range("2021-03-01", periods=50, freq="15min", unit=unit)
    frame = pd.DataFrame({"y": np.arange(50.0)}, index=time)
    panel = build_panel(frame.drop(index=time[[7, 8]]), fill="ffill")
    assert panel.freq == "15min" and panel.time.unit == unit and panel.time.equals(time)
    assert list(panel.time_at(np.array([49, 0]))) == [time[49], time[0]]
    assert panel.rows_before("2021-03-01 01:10").tolist() == [5]


def test_integer_time_axis():
    frame = pd.DataFrame({"year": np.arange(1900, 1950), "flow": np.arange(50.0)})
    panel = build_panel(frame, time_col="year")
    assert panel.freq == 1 and panel.time[0] == 1900 and panel.time[-1] == 1949


def test_a_time_column_of_another_name_is_found_or_named():
    """Not silently trained on row numbers."""
    n = 50
    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=n, freq="h"),
                          "load": np.arange(n, dtype=float), "region": ["north"] * n})
    panel = build_panel(frame, target="load")  # the one datetime column is the time axis
    assert panel.time_name == "when" and panel.freq == "h"
    as_text = frame.assign(when=frame.when.astype(str))  # as read from a CSV: no dtype to go by
    with pytest.raises(DataError, match="column 'when' holds timestamps.*data.time_col=when"):
        build_panel(as_text, target="load")
    assert build_panel(as_text, target="load", time_col="when").freq == "h"


def test_every_numeric_column_leaves_out_text_but_not_bad_numbers(caplog):
    n = 50
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq="h"),
                          "load": np.arange(n, dtype=float), "region": ["north"] * n})
    with caplog.at_level("INFO", logger="forecast"):
        assert build_panel(frame).columns == ("load",)
    assert "leaving out the text column(s) ['region']" in caplog.text
    assert build_panel(frame, target="load", features="all").columns == ("load",)
    with pytest.raises(DataError, match="'region' is not numeric"):  # named, it must be numeric
        build_panel(frame, target=["load", "region"])
    typo = frame.assign(load=frame.load.astype(object))
    typo.loc[9, "load"] = "abc"  # a number column with one bad entry is reported, not dropped
    with pytest.raises(DataError, match="'load' is not numeric.*row 9"):
        build_panel(typo)


def test_numbers_held_as_objects_or_categories_are_read():
    # what a JSON or SQL read gives for a column of numbers with a None in it
    n = 50
    read = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq="h"),
                         "load": pd.Series([None, *range(1, n)], dtype=object),
                         "level": pd.Series(np.arange(n) % 3 * 1.5).astype("category")})
    panel = build_panel(read, fill="ffill")
    np.testing.assert_array_equal(panel.values[:4], [[1, 0], [1, 1.5], [2, 3], [3, 0]])
    with pytest.raises(DataError, match=r"'load' is not numeric \(row 0: '0'\)"):
        build_panel(read.assign(load=np.arange(n).astype(str)))  # text is not read as numbers
    headerless = pd.DataFrame({"date": read.date, 0: read.load})  # names need not be text
    assert build_panel(headerless, target=[0], fill="ffill").values[1, 0] == 1


def test_month_end_series_and_their_gaps():
    time = pd.date_range("2000-01-31", periods=36, freq="ME")
    frame = pd.DataFrame({"date": time, "y": np.arange(36.0)})
    panel = build_panel(frame)
    assert panel.freq == "ME" and panel.time.equals(time)
    with pytest.raises(DataError, match="irregular.*row 5"):
        build_panel(frame.drop(index=[5]).reset_index(drop=True))
    filled = build_panel(frame.drop(index=[5]).reset_index(drop=True), fill="interpolate")
    np.testing.assert_allclose(filled.values[:, 0], np.arange(36.0))


@pytest.mark.parametrize("change, words", [
    (lambda f: f.assign(y0=f.y0.where(f.index != 7)), ["y0", "row 7", "data.fill"]),
    (lambda f: f.assign(y0=f.y0.replace(f.y0.iloc[3], np.inf)), ["y0", "row 3"]),
    (lambda f: f.assign(y1=f.y1.astype(object).where(f.index != 3, "n/a")),
     ["y1", "not numeric", "row 3"]),
    (lambda f: pd.concat([f.iloc[:5], f.iloc[4:]]), ["duplicate", "row 5"]),
    (lambda f: f.iloc[[0, 2, 1, *range(3, len(f))]], ["not sorted", "row 2", "data.sort"]),
    (lambda f: f.drop(index=[10, 11]), ["irregular", "row 10", "data.fill"]),
    (lambda f: f.assign(date=f.date.astype(str).where(f.index != 4, "soon")),
     ["'date'", "row 4", "not a timestamp"]),
    (lambda f: f.assign(date=f.date.where(f.index != 6)), ["'date'", "row 6", "no timestamp"]),
    (lambda f: f.iloc[0:0], ["empty"]),
    (lambda f: f.set_axis(["date", "y0", "y0"], axis=1), ["y0", "more than once"]),
])
def test_bad_input_names_the_problem(sine_wide, change, words):
    with pytest.raises(DataError) as error:
        build_panel(change(sine_wide).reset_index(drop=True))
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("key, value, words", [
    ("target", "price", ["data.target", "'price'", "y0, y1"]),
    ("features", ["load"], ["data.target/data.features", "'load'"]),
    ("time_col", "when", ["data.time_col", "'when'"]),
    ("id_col", "series", ["data.id_col", "'series'"]),
    ("fill", "mean", ["data.fill", "'mean'", "interpolate"]),
])
def test_unknown_names_list_what_exists(sine_wide, key, value, words):
    with pytest.raises(DataError) as error:
        build_panel(sine_wide, **{key: value})
    for word in words:
        assert word in str(error.value)


def test_day_first_dates_are_named_so():
    hours = pd.date_range("2021-01-01", periods=400, freq="h")
    frame = pd.DataFrame({"date": hours.strftime("%d/%m/%Y %H:%M"), "y": np.arange(400.0)})
    with pytest.raises(DataError, match=r"row 288 value '13/01/2021 00:00' is not a timestamp; "
                                        r"the dates look day-first .* dayfirst=True"):
        build_panel(frame)
    frame.loc[3, "date"] = "soon"  # not a date at all: the usual advice
    with pytest.raises(DataError, match=r"row 3 value 'soon' is not a timestamp; fix it or set"):
        build_panel(frame)


def test_integer_times_that_are_dates_written_as_yyyymmdd_are_named_so():
    weeks = pd.date_range("1958-03-29", periods=40, freq="7D")
    frame = pd.DataFrame({"date": weeks.strftime("%Y%m%d").astype(int), "co2": np.arange(40.0)})
    with pytest.raises(DataError, match=r"row 1 \(19580405\) follows 19580329\. These integers "
                                        r"look like dates written as YYYYMMDD"):
        build_panel(frame, time_col="date")
    steps = frame.assign(date=np.r_[0:20, 21:41])  # a gap in plain steps: the usual advice
    with pytest.raises(DataError, match=r"follows 19\. Resample to a regular grid"):
        build_panel(steps, time_col="date")
    seconds = frame.assign(date=1609459200 + 3600 * np.r_[0:20, 21:41])  # a gap in epoch seconds
    with pytest.raises(DataError, match=r"These integers look like Unix epoch seconds: .*"
                                        r"pd.to_datetime\(df\['col'\], unit='s'\)\)\. Resample"):
        build_panel(seconds, time_col="date")


def test_a_column_named_by_a_number_is_chosen_by_that_number(sine_wide):
    numbered = sine_wide.rename(columns={"y0": 0, "y1": 1})  # pd.DataFrame(array) names them so
    assert list(build_panel(numbered, target=0).columns) == [0]
    assert list(build_panel(numbered, target=[1], features=0).columns) == [1, 0]
    texts = sine_wide.rename(columns={"y0": "0", "y1": "1"})  # a CSV's header is text
    with pytest.raises(DataError, match=r"unknown column\(s\) \[0\]; .* Pass '0': the name is "
                                        r"str, not 0\.$"):
        build_panel(texts, target=0)


@pytest.mark.parametrize("change, words", [
    (lambda f: f.drop(index=[45]), ["series 'b'", "row 45", "irregular"]),
    (lambda f: f.assign(y=f.y.where(f.index != 100)), ["series 'c'", "row 100", "'y'"]),
    (lambda f: pd.concat([f.iloc[:61], f.iloc[[60]], f.iloc[61:]]), ["series 'b'", "duplicate",
                                                                       "row 61", "row 60"]),
    (lambda f: f.iloc[[*range(40), 41, 40, *range(42, 120)]], ["series 'b'", "not sorted"]),
    (lambda f: f.assign(unique_id=f.unique_id.where(f.index != 9)), ["unique_id", "row 9"]),
    (lambda f: f.assign(ds=f.ds.where(f.unique_id != "c", f.ds + (f.ds - f.ds.iloc[80]))),
     ["series 'c'", "different frequencies"]),
])
def test_bad_long_input_names_series_and_frame_row(change, words):
    with pytest.raises(DataError) as error:
        build_panel(change(long_frame()).reset_index(drop=True))
    for word in words:
        assert word in str(error.value)


def test_missing_values_are_counted_in_the_series_named():
    frame = long_frame()  # series a: rows 0-29, b: 30-79, c: 80-119
    frame.loc[[29, 85, 90, 95], "y"] = np.nan
    with pytest.raises(DataError, match=r"^data \(series 'a'\): column 'y' has 1 missing or "
                                        r"infinite value\(s\) \(4 in 2 series\), the first at "
                                        r"row 29 "):
        build_panel(frame)
    with pytest.raises(DataError, match=r"series 'c'\): column 'y' has 3 missing or infinite "
                                        r"value\(s\), the first at row 84 "):
        build_panel(frame.drop(index=29).reset_index(drop=True))


def test_fill_policies_within_each_series():
    frame = long_frame((6, 6))
    frame.loc[[0, 2, 3, 8], "y"] = [np.nan, np.nan, np.inf, np.nan]  # a's head, a's middle, b's
    frame = frame.drop(index=[9]).reset_index(drop=True)  # a missing step of series b
    y = frame.y.to_numpy()
    panel = build_panel(frame, fill="ffill")
    np.testing.assert_allclose(panel.values[:6, 0], [y[1], y[1], y[1], y[1], y[4], y[5]],
                               rtol=1e-6)
    assert list(panel.bounds) == [0, 6, 12]
    b = [y[6], y[7], y[7], y[7], y[9], y[10]]  # rows 8 (nan) and the missing step: last value
    np.testing.assert_allclose(panel.values[6:, 0], b, rtol=1e-6)
    line = build_panel(frame, fill="interpolate").values[:, 0]
    np.testing.assert_allclose(line[1:5], np.linspace(y[1], y[4], 4), rtol=1e-5)
    np.testing.assert_allclose(line[7:11], np.linspace(y[7], y[9], 4), rtol=1e-5)
    assert line[0] == pytest.approx(y[1])  # a leading gap takes the first value
    zero = build_panel(frame, fill="zero").values[:, 0]
    assert zero[[0, 2, 3, 8, 9]].tolist() == [0, 0, 0, 0, 0]


def test_fill_cannot_invent_a_column_without_values():
    frame = long_frame((6, 6)).assign(x=lambda f: f.x.where(f.unique_id == "a"))
    with pytest.raises(DataError, match="series 'b'.*'x' has no value at all"):
        build_panel(frame, features=["x"], fill="ffill")


def test_fill_rejects_timestamps_off_the_grid(sine_wide):
    frame = sine_wide.copy()
    frame.loc[5, "date"] += pd.Timedelta("30min")
    with pytest.raises(DataError, match="row 5.*not a whole number of h steps"):
        build_panel(frame, fill="ffill")


def test_input_frame_is_not_modified(sine_wide):
    before = sine_wide.copy()
    panel = build_panel(sine_wide)
    panel.values[:] = 0.0  # the panel owns its values
    pd.testing.assert_frame_equal(sine_wide, before)


def test_csv_and_parquet_files_read_alike(sine_wide, tmp_path):
    sine_wide.to_csv(tmp_path / "wide.csv", index=False)
    sine_wide.to_parquet(tmp_path / "wide.parquet")
    from_csv = build_panel(read_frame(tmp_path / "wide.csv"))
    from_parquet = build_panel(read_frame(tmp_path / "wide.parquet"))
    np.testing.assert_array_equal(from_csv.values, from_parquet.values)
    assert from_csv.freq == from_parquet.freq == "h"


def test_a_missing_file_says_when_the_data_folder_variable_is_empty(monkeypatch):
    monkeypatch.setenv("FORECAST_DATA_DIR", "")  # the presets' ${paths.data_dir}/ett/... -> /ett
    with pytest.raises(DataError, match=r"FORECAST_DATA_DIR is set, but empty\.$"):
        read_frame("/ett/ETTh1.csv")
    monkeypatch.setenv("FORECAST_DATA_DIR", "/nowhere")
    with pytest.raises(DataError, match=r"default \.\./shared/data\)\.$"):
        read_frame("/nowhere/ett/ETTh1.csv")


def test_read_frame_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_frame(tmp_path / "missing.csv")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match="cannot read"):
        read_frame(bad)
    twice = tmp_path / "twice.csv"  # pandas alone would read the second `load` as `load.1`
    twice.write_text("date,load,load,\n2021-01-01,1,2,\n2021-01-02,1,2,\n")
    with pytest.raises(DataError, match=r"names the column\(s\) \['load'\] more than once"):
        read_frame(twice)
    (tmp_path / "unnamed.csv").write_text(",,y\n0,1,2\n")  # blank names are pandas' Unnamed
    assert list(read_frame(tmp_path / "unnamed.csv").columns) == ["Unnamed: 0", "Unnamed: 1", "y"]


def test_a_column_whose_changes_float32_cannot_hold_is_named(caplog):
    # a meter reading near 1e9 that moves by 10: float32 steps there are 64 apart
    t = np.arange(200)
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=200, freq="h"),
                          "meter": 1e9 + 10 * np.sin(t / 3), "flat": 5.0,
                          "load": 1e5 + 1e3 * np.sin(t / 3)})
    with caplog.at_level(logging.WARNING, logger="forecast"):
        build_panel(frame)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith("data: column 'meter' varies little")
    assert "subtract the level" in warned[0]


def test_lost_precision_is_judged_per_series_and_not_for_rounding_noise(caplog):
    """A meter near 1e9 moving by 10 beside a series of scale 1 is named (the pooled column's
    spread hid it); a constant series whose std is float64 rounding (2e-22 at 1e-6) is not."""
    t = np.arange(200)
    frame = pd.DataFrame({"unique_id": np.repeat(["meter", "small", "micro"], 200),
                          "ds": np.tile(pd.date_range("2024-01-01", periods=200, freq="h"), 3),
                          "y": np.r_[1e9 + 10 * np.sin(t / 3), np.sin(t / 3), np.full(200, 1e-6)]})
    with caplog.at_level(logging.WARNING, logger="forecast"):
        build_panel(frame)
        build_panel(frame[frame.unique_id == "micro"].drop(columns="unique_id"))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert warned[0].startswith("data: column 'y' of series 'meter' varies little")


@pytest.mark.parametrize("fill", [None, "ffill"])
def test_a_value_beyond_float32_is_named_not_called_missing(fill):
    """1e300 is finite, but float32 holds it as inf: no numpy warning, no advice to fill it."""
    frame = long_frame()
    frame.loc[57, "y"] = -1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"^data \(series 'b'\): column 'y' holds -1e\+300 at "
                                            r"row 62 \(.*\), beyond float32's range .*rescale"):
            build_panel(frame.iloc[::-1], fill=fill, sort=True)  # 57 is row 119 - 57 there


def test_a_complex_column_is_refused_by_name(sine_wide):
    with pytest.raises(DataError, match="column 'y1' holds complex numbers.*np.real"):
        build_panel(sine_wide.assign(y1=sine_wide.y1.astype(complex)))


def test_what_a_fill_makes_up_is_counted(caplog):
    times = pd.date_range("2020-01-01", periods=100, freq="h")
    late = pd.DataFrame({"date": times, "a": np.r_[np.full(60, np.nan), np.arange(40.0)],
                         "b": 1.0}).drop(index=[5, 6])  # a sensor installed late, two gaps
    with caplog.at_level(logging.INFO, logger="forecast"):
        build_panel(late, fill="ffill")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == ("data.fill=ffill: 60% of the 100 rows are made up (2 missing "
                                   "h steps inserted, 58 missing values filled, most in 'a' "
                                   "(58)).")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="forecast"):
        build_panel(pd.DataFrame({"date": times, "y": 1.0}).drop(index=[50]), fill="ffill")
    assert caplog.records[0].levelno == logging.INFO


def test_dates_that_read_either_way_are_named(caplog):
    # the first of each month, written day first: read month first, they are 12 days a year
    months = pd.date_range("2020-01-01", periods=48, freq="MS")
    frame = pd.DataFrame({"date": months.strftime("%d/%m/%Y"), "sales": np.arange(48.0)})
    with caplog.at_level(logging.WARNING, logger="forecast"), pytest.raises(DataError):
        build_panel(frame)
    assert "'01/01/2020' that read either way" in caplog.text and "dayfirst=True" in caplog.text
    caplog.clear()
    days = pd.date_range("2020-01-01", periods=48, freq="D").strftime("%m/%d/%Y")
    with caplog.at_level(logging.WARNING, logger="forecast"):
        build_panel(pd.DataFrame({"date": days, "sales": np.arange(48.0)}))  # 01/13 settles it
    assert not caplog.records


def test_a_misspelt_column_is_answered_with_the_close_one():
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=50, freq="h"),
                          "load": 1.0, "temp": 2.0})
    with pytest.raises(DataError, match=r"\['Load'\]; .*Did you mean 'load' for 'Load'\?"):
        build_panel(frame, target="Load")
    with pytest.raises(DataError, match=r"Did you mean 'temp' for 'tmp'\?$"):
        build_panel(frame, target="load", features=["tmp"])
    with pytest.raises(DataError, match=r"got str \(a file: read it first"):
        build_panel("load.csv")


def test_monthly_dates_on_a_fixed_day_are_told_to_move_to_month_starts():
    fifteenths = pd.date_range("2020-01-01", periods=30, freq="MS") + pd.Timedelta(days=14)
    with pytest.raises(DataError, match=r"monthly on a fixed day .*dt\.to_period\('M'\)"):
        build_panel(pd.DataFrame({"date": fifteenths, "sales": np.arange(30.0)}))
