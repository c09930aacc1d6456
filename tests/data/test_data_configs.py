"""conf/data/csv.yaml and csv_long.yaml: every documented key reaches the datamodule."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from forecast.data import WindowDataModule
from tests.data.test_frame import long_frame

CONF = Path(__file__).resolve().parents[2] / "conf"


def data_config(*overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides)).data


@pytest.fixture
def ett_like(tmp_path) -> Path:
    """A CSV shaped like ETTh1: 17,420 hourly rows from 2016-07-01, six loads and OT."""
    rng = np.random.default_rng(0)
    columns = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    frame = pd.DataFrame(rng.normal(size=(17420, 7)).cumsum(axis=0), columns=columns)
    frame.insert(0, "date", pd.date_range("2016-07-01", periods=17420, freq="h"))
    frame.to_csv(tmp_path / "ETTh1.csv", index=False)
    return tmp_path / "ETTh1.csv"


def test_csv_with_the_ett_preset_and_ms_columns(ett_like):
    cfg = data_config("data=csv", f"data.path={ett_like}",
                      "data.target=OT", "data.features=all", "data.split.preset=ett_hour",
                      "data.lookback=96", "data.horizon=96")
    dm = instantiate(cfg)
    assert isinstance(dm, WindowDataModule)
    assert dm.dims == dict(n_inputs=7, n_targets=1, n_time_features=0, lookback=96, horizon=96)
    assert dm.borders_[0].tolist() == [8640, 11520, 14400]


def test_split_given_as_a_preset_name_or_dates(ett_like):
    path = f"data.path={ett_like}"
    by_name = instantiate(data_config("data=csv", path, "data.split=ett_hour"))
    by_dates = instantiate(data_config("data=csv", path,
                                       "data.split.dates=[2017-06-26,2017-10-24,2018-02-21]"))
    by_dates.setup()
    assert by_name.split.preset == "ett_hour"
    assert by_dates.borders_[0].tolist() == [8640, 11520, 14400]  # the same borders, by date


def test_csv_long(tmp_path):
    long_frame((30, 50, 40)).to_parquet(tmp_path / "long.parquet")
    cfg = data_config("data=csv_long", f"data.path={tmp_path / 'long.parquet'}",
                      "data.features=[x]", "data.lookback=4", "data.horizon=2",
                      "data.fill=ffill", "data.calendar=true")
    dm = instantiate(cfg)
    dm.setup()
    assert dm.panel_.series_ids == ("a", "b", "c") and dm.panel_.columns == ("y", "x")
    assert dm.dims["n_time_features"] == 5
    train_rows = np.array([21, 35, 28])  # int(0.7 n)
    assert np.bincount(dm.window_series("train")).tolist() == (train_rows - 5).tolist()
