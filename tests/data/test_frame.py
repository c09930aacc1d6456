import numpy as np
import pandas as pd
import pytest

from forecast.data.frame import build_panel, read_frame
from forecast.errors import DataError


def test_wide_frame_keeps_targets_first_and_infers_hourly(sine_wide):
    sine_wide["temp"] = np.arange(len(sine_wide), dtype=float)
    panel = build_panel(sine_wide, target="y1", features=["temp", "y0"])
    assert panel.columns == ("y1", "temp", "y0")
    assert panel.n_targets == 1 and panel.freq == "h" and panel.values.dtype == np.float32
    np.testing.assert_allclose(panel.values[:, 0], sine_wide["y1"].to_numpy(), rtol=1e-6)


def test_features_all_takes_every_other_numeric_column(sine_wide):
    panel = build_panel(sine_wide, target="y0", features="all")
    assert panel.columns == ("y0", "y1")


def test_long_frame_stacks_series(sine_long):
    panel = build_panel(sine_long)
    assert panel.series_ids == ("y0", "y1", "y2")
    assert list(panel.bounds) == [0, 400, 800, 1200]
    assert panel.id_col == "unique_id" and panel.time_name == "ds"


def test_integer_time_axis(tmp_path):
    frame = pd.DataFrame({"year": np.arange(1900, 1950), "flow": np.arange(50.0)})
    panel = build_panel(frame, time_col="year")
    assert panel.freq == 1 and panel.time[0] == 1900


@pytest.mark.parametrize("change, words", [
    (lambda f: f.assign(y0=f.y0.where(f.index != 7)), ["y0", "row 7", "data.fill"]),
    (lambda f: f.assign(y0=f.y0.replace(f.y0.iloc[3], np.inf)), ["y0", "row 3"]),
    (lambda f: f.assign(y1=["a"] * len(f)), ["y1", "not numeric"]),
    (lambda f: pd.concat([f.iloc[:5], f.iloc[4:]]), ["duplicate", "row 5"]),
    (lambda f: f.iloc[[0, 2, 1, *range(3, len(f))]], ["not sorted", "data.sort"]),
    (lambda f: f.drop(index=[10, 11]), ["irregular", "row 10", "data.fill"]),
    (lambda f: f.iloc[0:0], ["empty"]),
])
def test_bad_input_names_the_problem(sine_wide, change, words):
    with pytest.raises(DataError) as error:
        build_panel(change(sine_wide).reset_index(drop=True))
    for word in words:
        assert word in str(error.value)


def test_unknown_target_lists_columns(sine_wide):
    with pytest.raises(DataError, match=r"unknown column\(s\) \['price'\].*y0, y1"):
        build_panel(sine_wide, target="price")


def test_fill_policies_repair_nan_and_gaps(sine_wide):
    broken = sine_wide.drop(index=[10, 11]).reset_index(drop=True)
    broken.loc[20, "y0"] = np.nan
    panel = build_panel(broken, fill="interpolate")
    assert len(panel.values) == len(sine_wide) and np.isfinite(panel.values).all()


def test_unsorted_frame_is_sorted_on_request(sine_wide):
    shuffled = sine_wide.sample(frac=1.0, random_state=0)
    panel = build_panel(shuffled, sort=True)
    np.testing.assert_allclose(panel.values[:, 0], sine_wide.y0.to_numpy(), rtol=1e-6)


def test_read_frame_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_frame(tmp_path / "missing.csv")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match="cannot read"):
        read_frame(bad)
