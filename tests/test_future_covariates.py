"""Known-future covariates (`future_features`): data hook, Forecaster, CLI config."""

import warnings

import numpy as np
import pandas as pd
import pytest

import forecast
from forecast.data import WindowDataModule
from forecast.errors import ConfigError, DataError
from tests.conftest import untrained_from_config

HORIZON = 6


@pytest.fixture(scope="module")
def priced():
    """Load = 2 x a price plan that changes every 4 hours: only its future values predict it."""
    rng = np.random.default_rng(0)
    n = 800
    price = np.repeat(rng.choice([0.0, 1.0, 2.0], size=n // 4), 4)
    return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq="h"),
                         "load": 2 * price + 0.1 * rng.standard_normal(n), "price_plan": price})


@pytest.fixture(scope="module")
def fitted(priced):
    model = forecast.Forecaster(lookback=24, horizon=HORIZON, hidden_size=16, max_epochs=10,
                                lr=1e-2, future_features=["price_plan"], calendar=True)
    return model.fit(priced.iloc[:-HORIZON])


def test_datamodule_serves_future_columns_beside_the_calendar(priced):
    dm = WindowDataModule(frame=priced, lookback=24, horizon=HORIZON, calendar=True,
                          future_features="price_plan")
    dims = dm.dims
    assert dims["n_inputs"] == 1  # x holds the load only
    assert dims["n_time_features"] == 5 + 1  # hourly calendar (5) + the price plan
    batch = dm.dataset("val").gather(np.arange(3))
    rows = dm.starts_["val"].starts(np.arange(3))[:, None] + 24 + np.arange(HORIZON)  # targets
    price = priced.price_plan.to_numpy()[rows]
    scaled = (price - dm.scaler.center_[0, 1]) / dm.scaler.scale_[0, 1]
    np.testing.assert_allclose(batch["y_time"][..., -1].numpy(), scaled, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="future_features.*targets"):
        WindowDataModule(frame=priced, target="load", future_features=["load"])


def test_future_values_drive_the_forecast(fitted, priced, tmp_path):
    future = priced.iloc[-HORIZON:][["date", "price_plan"]]
    out = fitted.predict(future=future)
    truth = priced.load.iloc[-HORIZON:].to_numpy()
    assert list(out.index) == list(future.date)
    assert np.mean((out.load.to_numpy() - truth) ** 2) < 0.1 * priced.load.var()
    flipped = fitted.predict(future=future.assign(price_plan=2 - future.price_plan))
    assert np.mean(np.abs(flipped.load.to_numpy() - out.load.to_numpy())) > 1.0
    # the same forecast from an explicit history, and after a save/load round trip
    pd.testing.assert_frame_equal(fitted.predict(priced.iloc[:-HORIZON], future=future), out)
    loaded = forecast.load(fitted.save(tmp_path / "priced"))
    pd.testing.assert_frame_equal(loaded.predict(future=future), out)


def test_more_steps_than_the_horizon_take_as_many_future_values(fitted, priced):
    history, future = priced.iloc[:-2 * HORIZON], priced.iloc[-2 * HORIZON:][["date", "price_plan"]]
    out = fitted.predict(history, future=future, n=2 * HORIZON)
    truth = priced.load.iloc[-2 * HORIZON:].to_numpy()
    assert np.mean((out.load.to_numpy() - truth) ** 2) < 0.1 * priced.load.var()
    first = fitted.predict(history, future=future.iloc[:HORIZON])
    fed_back = pd.concat([history, first.reset_index().assign(
        price_plan=future.price_plan.iloc[:HORIZON].to_numpy())], ignore_index=True)
    second = fitted.predict(fed_back, future=future.iloc[HORIZON:])
    pd.testing.assert_frame_equal(out, pd.concat([first, second]), atol=1e-5, rtol=1e-5)
    with pytest.raises(DataError, match="it must hold the next 12 timestamps"):
        fitted.predict(history, future=future.iloc[:HORIZON], n=2 * HORIZON)


def test_future_frame_is_validated(fitted, priced):
    history, future = priced.iloc[:-HORIZON], priced.iloc[-HORIZON:][["date", "price_plan"]]
    cases = [
        (None, "uses future_features \\['price_plan'\\]; pass future="),
        (future.drop(columns="price_plan"), r"misses column\(s\) \['price_plan'\]"),
        (future.iloc[1:], "has no row for 2024-02-03 02:00:00; it must hold the next 6"),
        (future.assign(date=future.date + pd.Timedelta("1h")), "no row for 2024-02-03 02:00:00"),
        (pd.concat([future, future.iloc[:1]]), "duplicate row"),
        (future.assign(price_plan=np.nan), "'price_plan' has a missing or infinite value"),
        (future.assign(price_plan=1e39), "'price_plan' holds 1e\\+39 at 2024-02-03 02:00:00, "
                                         "beyond float32's range .* rescale the column"),
        (future.assign(price_plan=future.price_plan + 1j), "'price_plan' holds complex"),
        (future.assign(date="soon"), "not timestamps"),
    ]
    for bad, message in cases:
        with warnings.catch_warnings(), pytest.raises(DataError, match=message):
            warnings.simplefilter("error")  # no numpy overflow or ComplexWarning
            fitted.predict(history, future=bad)
    with pytest.raises(DataError, match="misses column.*price_plan"):
        fitted.predict(history.drop(columns="price_plan"), future=future)
    plain = forecast.Forecaster(lookback=24, horizon=HORIZON, max_epochs=1, hidden_size=4)
    with pytest.raises(DataError, match="trained without future_features"):
        plain.fit(history[["date", "load"]]).predict(future=future)


def test_a_future_frame_may_hold_more_rows_than_the_forecast_reads(fitted, priced):
    """A whole calendar, rows before the horizon, numbers held as objects: as Darts slices."""
    history, future = priced.iloc[:-HORIZON], priced.iloc[-HORIZON:][["date", "price_plan"]]
    expected = fitted.predict(history, future=future)
    calendar = priced[["date", "price_plan"]].iloc[::-1]  # the past rows too, in reverse
    pd.testing.assert_frame_equal(fitted.predict(history, future=calendar), expected)
    as_objects = future.assign(price_plan=future.price_plan.astype(object))
    pd.testing.assert_frame_equal(fitted.predict(history, future=as_objects), expected)
    past_twice = pd.concat([calendar.iloc[-1:], calendar])  # a doubled row it does not read
    pd.testing.assert_frame_equal(fitted.predict(history, future=past_twice), expected)
    for text in ("high", "2.0"):  # digits in strings are refused, as in the history
        with pytest.raises(DataError, match="`future` column 'price_plan' is not numeric"):
            fitted.predict(history, future=future.assign(price_plan=text))


def test_future_frame_gives_the_rows_to_fill_in(fitted, priced):
    history = priced.iloc[:-HORIZON]
    grid = fitted.future_frame(history)
    assert list(grid.columns) == ["date"]
    assert grid.date.tolist() == priced.date.iloc[-HORIZON:].tolist()
    future = grid.merge(priced[["date", "price_plan"]], on="date")
    pd.testing.assert_frame_equal(fitted.predict(history, future=future),
                                  fitted.predict(history, future=priced.iloc[-HORIZON:]))
    two = fitted.future_frame(history, n=2)  # the network still reads the whole horizon
    pd.testing.assert_frame_equal(two, grid)
    pd.testing.assert_frame_equal(fitted.predict(history, future=future, n=2),
                                  fitted.predict(history, future=future).iloc[:2])


@pytest.mark.parametrize("freq", ["MS", "B"])
def test_future_frame_on_calendar_steps(freq):
    times = pd.date_range("2015-01-01", periods=80, freq=freq)
    frame = pd.DataFrame({"date": times, "y": np.sin(np.arange(80) / 3), "promo": 1.0})
    model = forecast.Forecaster(lookback=12, horizon=3, hidden_size=4, max_epochs=1,
                                future_features=["promo"]).fit(frame)
    grid = model.future_frame()
    assert grid.date.tolist() == list(pd.date_range(times[-1], periods=4, freq=freq)[1:])
    assert len(model.predict(future=grid.assign(promo=0.0))) == 3


@pytest.mark.parametrize("mode", ["many_to_many", "seq2seq"])
def test_every_mode_with_known_future_inputs_takes_them(priced, mode):
    long = pd.concat([priced.assign(unique_id=name) for name in ("a", "b")])
    long = long.rename(columns={"load": "y"})
    model = forecast.Forecaster(mode=mode, lookback=24, horizon=HORIZON, hidden_size=8,
                                max_epochs=1, future_features=["price_plan"])
    model.fit(long[long.date < long.date.max() - pd.Timedelta(hours=HORIZON - 1)])
    future = long[long.date > long.date.max() - pd.Timedelta(hours=HORIZON)]
    out = model.predict(future=future[["unique_id", "date", "price_plan"]])
    assert list(out.columns) == ["unique_id", "date", "y"] and len(out) == 2 * HORIZON
    with pytest.raises(DataError, match="has no row for series 'b' at "):
        model.predict(future=future[future.unique_id == "a"])
    history = long[long.date < long.date.max() - pd.Timedelta(hours=HORIZON - 1)]
    every_store = pd.concat([future, future[future.unique_id == "a"].assign(unique_id="c")])
    only_a = model.predict(history[history.unique_id == "a"],
                           future=every_store[["unique_id", "date", "price_plan"]])
    pd.testing.assert_frame_equal(only_a.reset_index(drop=True),
                                  out[out.unique_id == "a"].reset_index(drop=True))
    grid = model.future_frame()
    assert list(grid.columns) == ["unique_id", "date"] and len(grid) == 2 * HORIZON
    pd.testing.assert_frame_equal(grid, out[["unique_id", "date"]])
    with pytest.raises(ConfigError, match="segment model uses no known-future"):
        forecast.Forecaster(mode="segment", future_features=["price_plan"]).fit(long)


def test_future_rows_are_named_on_the_datas_own_clock():
    """The model holds hourly times in UTC; a message shows them as the data has them."""
    times = pd.date_range("2021-03-20", "2021-03-28 00:00", freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame({"date": times, "price": 1.0, "y": np.cos(np.arange(len(times)))})
    model = forecast.Forecaster(lookback=6, horizon=3, hidden_size=4, max_epochs=1,
                                target="y", future_features=["price"]).fit(frame)
    future = model.future_frame(frame).assign(price=1.0)  # 01:00+01:00, 03:00+02:00, 04:00
    cases = [(future.iloc[1:], r"no row for 2021-03-28 01:00:00\+01:00; .* history: "
                               r"2021-03-28 01:00:00\+01:00 .. 2021-03-28 04:00:00\+02:00 "),
             (pd.concat([future, future.iloc[[1]]]),
              r"duplicate row for 2021-03-28 03:00:00\+02:00;"),
             (future.assign(price=[1.0, np.nan, 1.0]),
              r"missing or infinite value at 2021-03-28 03:00:00\+02:00;")]
    for bad, message in cases:
        with pytest.raises(DataError, match=message):
            model.predict(frame, future=bad)


def test_a_missing_future_row_names_the_range_of_its_own_series():
    def series(name, start, n):
        times = pd.date_range(start, periods=n, freq="MS")
        return pd.DataFrame({"unique_id": name, "ds": times, "y": np.sin(np.arange(n)),
                             "promo": 0.0})

    frame = pd.concat([series("a", "2020-01-01", 30), series("c", "2019-01-01", 20)])
    model = forecast.Forecaster(lookback=6, horizon=3, hidden_size=4, max_epochs=1,
                                future_features=["promo"]).fit(frame)
    future = model.future_frame(frame).assign(promo=1.0)
    indexed = future.set_index(["unique_id", "ds"])  # NeuralForecast's form, as X may be
    pd.testing.assert_frame_equal(model.predict(frame, future=indexed),
                                  model.predict(frame, future=future))
    with pytest.raises(DataError, match=r"no row for series 'c' at 2020-09-01 00:00:00; .* "
                                        r"\(for 'c': 2020-09-01 00:00:00 .. 2020-11-01 "):
        model.predict(frame, future=future[~((future.unique_id == "c")
                                             & (future.ds == "2020-09-01"))])


def test_cli_config_key_reaches_the_model(priced, tmp_path):
    dm, model = untrained_from_config(priced, tmp_path, "data=csv", "data.target=load",
                                      "data.future_features=[price_plan]", "data.lookback=24",
                                      f"data.horizon={HORIZON}")
    assert dm.dims["n_time_features"] == 1 and dm.dims["n_inputs"] == 1
    assert model.future_features == ["price_plan"] and model.schema_.n_future == 1
    ahead = pd.DataFrame({"date": pd.date_range(priced.date.max(), periods=HORIZON + 1,
                                                freq="h")[1:], "price_plan": 1.0})
    assert model.predict(future=ahead).shape == (HORIZON, 1)
