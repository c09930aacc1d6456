"""The same seed gives the same metrics, run after run (CPU)."""

import pandas as pd

import forecast
from forecast.data.synthetic import sine_frame
from tests.conftest import FAST, printed_results, run_train


def test_cli_twice_with_one_seed_gives_identical_tables(tmp_path):
    tables = []
    for attempt in ("first", "second"):
        folder = tmp_path / attempt
        folder.mkdir()
        result = run_train("+experiment=sine", *FAST, "logger=none", "baselines=none",
                           "model.dropout=0.2", "model.num_layers=2", cwd=folder)
        assert result.returncode == 0, result.stderr[-2000:]
        row = printed_results(result.stdout)["lstm"]
        row.pop("fit_s")
        tables.append(row)
    assert {"mse", "mae", "norm_mse"} <= set(tables[0]) and tables[0] == tables[1]


def test_forecaster_with_one_seed_predicts_identically():
    frame = sine_frame(n_steps=500)
    forecasts = [forecast.Forecaster(lookback=24, horizon=6, max_epochs=2, dropout=0.3,
                                     num_layers=2, seed=7).fit(frame).predict()
                 for _ in range(2)]
    pd.testing.assert_frame_equal(*forecasts)
    other = forecast.Forecaster(lookback=24, horizon=6, max_epochs=2, dropout=0.3, num_layers=2,
                                seed=8).fit(frame).predict()
    assert not other.equals(forecasts[0])
