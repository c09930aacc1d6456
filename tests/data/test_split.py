import pandas as pd
import pytest

from forecast.data.split import Split
from forecast.errors import ConfigError

TIME = pd.date_range("2020-01-01", periods=7588, freq="D")


def test_fractions_follow_tslib():
    # exchange_rate: 7588 rows -> 5311 train, 760 val, 1517 test
    assert Split(val=0.1, test=0.2).borders_for(TIME) == (5311, 6071, 7588)


def test_row_borders_and_counts():
    assert Split(borders=[8640, 11520, 14400]).borders_for(pd.RangeIndex(17420)) == (8640, 11520, 14400)
    assert Split(val=48, test=48).borders_for(pd.RangeIndex(700)) == (604, 652, 700)


def test_dates():
    assert Split(dates=["2020-01-11", "2020-01-21"]).borders_for(TIME[:40]) == (10, 20, 40)


def test_impossible_split_is_a_config_error():
    with pytest.raises(ConfigError, match="data.split"):
        Split(borders=[100, 50, 200]).borders_for(pd.RangeIndex(300))
