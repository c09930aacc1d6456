import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

import forecast
from forecast.errors import DataError


@pytest.fixture(scope="module")
def fitted():
    from forecast.data.synthetic import sine_frame

    frame = sine_frame(n_steps=600, n_series=2)
    return forecast.Forecaster(lookback=48, horizon=12, max_epochs=2, hidden_size=16).fit(frame), frame


def test_predict_returns_future_timestamps(fitted):
    model, frame = fitted
    out = model.predict()
    assert list(out.columns) == ["y0", "y1"] and len(out) == 12
    assert out.index[0] == frame.date.iloc[-1] + pd.Timedelta("1h")
    history = model.predict(frame.iloc[:300])
    assert history.index[0] == frame.date.iloc[299] + pd.Timedelta("1h")


def test_save_load_round_trip_is_identical_and_pickle_free(fitted, tmp_path):
    model, frame = fitted
    model.save(tmp_path / "m")
    torch.load(tmp_path / "m" / "weights.pt", weights_only=True)  # no pickled objects
    loaded = forecast.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.predict(frame), model.predict(frame))


def test_clone_and_params(fitted):
    model, _ = fitted
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "net_")


def test_long_in_long_out():
    from forecast.data.synthetic import sine_frame

    frame = sine_frame(n_steps=300, n_series=3, long=True)
    out = forecast.Forecaster(lookback=24, horizon=4, max_epochs=1).fit(frame).predict()
    assert list(out.columns) == ["unique_id", "ds", "y"] and len(out) == 12
    assert set(out.unique_id) == {"y0", "y1", "y2"}


def test_predict_checks_the_history(fitted):
    model, frame = fitted
    with pytest.raises(DataError, match="misses column"):
        model.predict(frame.drop(columns="y1"))
    with pytest.raises(DataError, match="lookback=48"):
        model.predict(frame.iloc[:20])
    assert np.isfinite(model.predict(frame).to_numpy()).all()
