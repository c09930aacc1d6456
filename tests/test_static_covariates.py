"""Static covariates (`static_features`): one value per series, encoded and carried by every
step of its windows; frame checks, datamodule, Forecaster, CLI config."""

import doctest

import numpy as np
import pandas as pd
import pytest

import forecast
import forecast.data.static
from forecast.data import WindowDataModule
from forecast.data.static import StaticEncoder
from forecast.errors import ConfigError, DataError
from tests.conftest import REPO, sqlite_store, untrained_from_config

HORIZON = 1


def signed_panel(n_series: int = 16, n: int = 240, seed: int = 0) -> pd.DataFrame:
    """y follows the driver z of the step before with a sign given by the series' kind: with one
    step of lookback only the static `kind` tells a forecaster which way y will go."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        kind = "up" if i % 2 == 0 else "down"
        z = rng.standard_normal(n)
        y = np.r_[0.0, (1.0 if kind == "up" else -1.0) * z[:-1]] + 0.3 * rng.standard_normal(n)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range(
            "2024-01-01", periods=n, freq="h"), "y": y, "z": z, "kind": kind,
            "capacity": 10.0 + i}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def panel():
    return signed_panel()


def fit(frame, static, epochs=15, **options):
    options = {"features": ["z"], **options}
    model = forecast.Forecaster(lookback=1, horizon=HORIZON, hidden_size=16, max_epochs=epochs,
                                lr=1e-2, patience=epochs, batch_size=128,
                                static_features=static, seed=0, **options)
    return model.fit(frame)


@pytest.fixture(scope="module")
def fitted(panel):
    return fit(panel, ["kind", "capacity"])


def test_encoder_one_hot_and_standardised_with_unknown_categories_as_zeros():
    table = pd.DataFrame({"kind": ["a", "b", "a"], "size": [1.0, 2.0, 3.0], "on": [True] * 3},
                         index=["s0", "s1", "s2"])
    encoder = StaticEncoder().fit(table)
    assert encoder.names == ["kind=a", "kind=b", "size", "on=True"]
    encoded = encoder.transform(table)
    np.testing.assert_allclose(encoded[:, :2], [[1, 0], [0, 1], [1, 0]])
    np.testing.assert_allclose(encoded[:, 2], (table["size"] - 2) / np.std([1, 2, 3]), rtol=1e-6)
    new = pd.DataFrame({"kind": ["c"], "size": [2.0], "on": [False]}, index=["s9"])
    np.testing.assert_allclose(StaticEncoder.from_state_dict(encoder.state_dict())
                               .transform(new), [[0, 0, 0, 0]])
    with pytest.raises(DataError, match="'size' was a number in training, but series 's9' has"):
        encoder.transform(new.assign(size="big"))
    assert doctest.testmod(forecast.data.static).failed == 0


def test_datamodule_carries_each_series_encoding_at_every_step(panel):
    dm = WindowDataModule(frame=panel, id_col="unique_id", features="all", lookback=4,
                          horizon=2, static_features=["kind", "capacity"])
    dims = dm.dims
    assert dims["n_inputs"] == 2  # y and z: `features="all"` leaves the static columns out
    assert dims["n_time_features"] == 3  # kind=down, kind=up, capacity
    numbers = np.arange(0, len(dm.starts_["train"]), 97)
    batch = dm.dataset("train").gather(numbers)
    series = dm.starts_["train"].window_series()[numbers]
    expected = dm.static_encoder_.transform(dm.panel_.static)[series]  # [B, 3]
    for part in ("x_time", "y_time"):
        np.testing.assert_array_equal(batch[part].numpy(),
                                      np.broadcast_to(expected[:, None], batch[part].shape))
    assert set(np.unique(expected[:, 1])) == {0.0, 1.0}
    assert dm.state_dict()["static"] == dm.static_encoder_.state_dict()
    # rows in any order (sort=True), with gaps filled: each series keeps its own values
    shuffled = panel.drop(index=[5, 6]).sample(frac=1.0, random_state=0)
    other = WindowDataModule(frame=shuffled, id_col="unique_id", features="all", lookback=4,
                             horizon=2, static_features=["kind", "capacity"], sort=True,
                             fill="interpolate")
    other.setup()
    windows = np.arange(len(other.starts_["train"]))
    ids = np.asarray(other.panel_.series_ids)[other.starts_["train"].window_series()]
    expected = dm.static_encoder_.transform(dm.panel_.static.loc[ids])
    np.testing.assert_array_equal(other.dataset("train").gather(windows)["y_time"][:, -1],
                                  expected)


def test_static_columns_are_checked(panel):
    def setup(frame, **options):
        WindowDataModule(frame=frame, lookback=4, horizon=2, **options).setup()

    changing = panel.copy()
    changing.loc[5, "kind"] = "down"
    cases = [
        (changing, {"static_features": ["kind"]},
         r"\(series 's0'\): static feature 'kind' changes within the series: 'down' at row 5 "
         r"\(2024-01-01 05:00:00\), 'up' before"),
        (panel.assign(capacity=panel.capacity.where(panel.index != 300)),
         {"static_features": "capacity"}, r"'capacity' has no value \(or an infinite one\) at "
         "row 300"),
        (panel.assign(capacity=panel.capacity.where(panel.index != 7, np.inf)),
         {"static_features": "capacity"}, r"'capacity' has no value \(or an infinite one\) at "
         "row 7"),
        (panel.assign(capacity=panel.capacity.where(panel.index != 9, 3.5)),
         {"static_features": "capacity"}, r"'capacity' changes within the series: 3.5 at row 9 "
         r"\(2024-01-01 09:00:00\), 10.0 before"),
        (panel, {"static_features": ["region"]}, r"data.static_features: unknown column"),
        (panel[panel.unique_id == "s0"].drop(columns="unique_id").set_index("ds"),
         {"static_features": ["kind"], "target": "y"}, "describe the series of a long frame"),
    ]
    for frame, options, message in cases:
        with pytest.raises(DataError, match=message):
            setup(frame, **options)
    with pytest.raises(ConfigError, match="static_features.*also"):
        WindowDataModule(frame=panel, target="y", static_features=["y"])


def test_static_features_carry_what_the_history_cannot(panel, fitted):
    """One step of history says nothing of the sign; the series' kind says all of it."""
    blind = fit(panel, None)
    test = signed_panel(seed=1)
    errors = {}
    for name, model in (("static", fitted), ("blind", blind)):
        scored = model.backtest(test, n_windows=40, step=1)
        errors[name] = float(np.mean((scored["y"] - scored["y-actual"]) ** 2))
    # the noise floor is 0.09; without the sign the best forecast is ~0, an error of ~1.09
    assert errors["static"] < 0.3 < 0.8 < errors["blind"], errors


def test_predict_reads_static_values_from_the_new_frame(panel, fitted, tmp_path):
    out = fitted.predict()
    assert list(out.columns) == ["unique_id", "ds", "y"] and len(out) == 16
    pd.testing.assert_frame_equal(fitted.predict(fitted.history_frame()), out)
    history = fitted.history_frame()
    assert set(history.columns) >= {"kind", "capacity"}
    # the kind is read from the frame given, not from the training data
    s0 = history[history.unique_id == "s0"]
    flipped = s0.assign(kind="down")
    a, b = fitted.predict(s0).y.iloc[0], fitted.predict(flipped).y.iloc[0]
    z = s0.z.iloc[-1]  # y follows +z for "up", -z for "down"
    assert abs(a - z) < 0.5 < 1 < abs(z) and abs(b + z) < 0.5, (a, b, z)
    loaded = forecast.load(fitted.save(tmp_path / "static"))
    pd.testing.assert_frame_equal(loaded.predict(), out)
    pd.testing.assert_frame_equal(loaded.predict(flipped), fitted.predict(flipped))
    with pytest.raises(DataError, match=r"misses column\(s\) \['kind'\]"):
        fitted.predict(history.drop(columns="kind"))
    # a static value that changed before the rows the forecast reads (lookback 1) is theirs
    tail = panel.groupby("unique_id").tail(3)
    changed = tail.assign(kind=np.where(np.arange(len(tail)) % 2, "up", "down"))
    pd.testing.assert_frame_equal(fitted.predict(changed),
                                  fitted.predict(changed.groupby("unique_id").tail(1)))
    with pytest.raises(ConfigError, match="segment model uses no known-future"):
        forecast.Forecaster(mode="segment", static_features=["kind"]).fit(panel)


def test_cli_config_key_reaches_the_model(panel, tmp_path):
    dm, model = untrained_from_config(panel, tmp_path, "data=csv_long", "data.lookback=4",
                                      "data.horizon=2", "data.static_features=[kind]")
    assert dm.dims["n_time_features"] == 2 and dm.dims["n_inputs"] == 1
    assert model.static_features == ["kind"] and model.predict().shape == (2 * 16, 3)


@pytest.mark.parametrize("mode", ["many_to_many", "seq2seq"])
def test_every_mode_with_known_future_inputs_takes_static_ones(panel, mode):
    model = fit(panel, ["kind"], epochs=1, mode=mode, features=None)
    assert model.net_.n_time_features == 2
    scored = model.backtest(panel, n_windows=2, step=1)
    assert len(scored) == 16 * 2 and np.isfinite(scored["y"]).all()
    refitted = model.backtest(panel, n_windows=2, step=1, refit=2)  # a clone's own encoder
    assert np.isfinite(refitted["y"]).all() and not np.allclose(refitted["y"], scored["y"])


@pytest.mark.parametrize("overrides, keys", [
    (["data.static_features=[kind]"], "data.static_features"),
    (["data.calendar=true", "data.future_features=[z]"], "data.calendar/data.future_features"),
])
def test_the_cli_refuses_known_inputs_for_the_segment_model(overrides, keys):
    from hydra import compose, initialize_config_dir

    from forecast.config_check import check_config

    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["+experiment=sine", "model=segrnn", *overrides])
    with pytest.raises(ConfigError, match=f"^{keys}: the segment model"):
        check_config(cfg)
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        check_config(compose("train", overrides=["+experiment=sine", "model=gru", *overrides]))


def test_an_mlflow_model_takes_the_static_columns(fitted, tmp_path):
    import mlflow

    from forecast.mlflow_model import log_forecaster

    mlflow.set_tracking_uri(sqlite_store(tmp_path / "mlflow.db"))
    with mlflow.start_run() as run:
        info = log_forecaster(fitted)
    inputs = {c.name: c.type.name for c in info.signature.inputs.inputs}
    assert inputs["kind"] == "string" and inputs["capacity"] == "double", inputs
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    flipped = fitted.history_frame().assign(kind="down")
    expected = fitted.predict(flipped).astype({"ds": "datetime64[ns]"})  # as MLflow casts inputs
    pd.testing.assert_frame_equal(pyfunc.predict(flipped), expected)


def test_baselines_get_the_static_features_as_the_net_does(panel):
    from forecast import baselines
    from forecast.evaluate import run_baselines

    dm = WindowDataModule(frame=panel, features=["z"], static_features=["kind", "capacity"],
                          lookback=4, horizon=2)
    told = baselines.GradientBoostingBaseline(n_lags=4, max_iter=20)
    blind = baselines.GradientBoostingBaseline(n_lags=4, max_iter=20, calendar=False)
    scores = {r.name: r.metrics["test_norm_mse"]
              for r in run_baselines({"told": told, "blind": blind}, dm)}
    assert told.n_time_features_ == 3 and blind.n_time_features_ == 0  # kind=down/up, capacity
    assert scores["told"] != scores["blind"]


def test_the_cli_trains_on_static_features_and_logs_a_model_that_takes_them(panel, tmp_path):
    import mlflow

    from tests.conftest import run_train

    panel.to_csv(tmp_path / "stores.csv", index=False)
    result = run_train("data=csv_long", "data.path=stores.csv", "data.features=[z]",
                       "data.static_features=[kind,capacity]", "data.lookback=4",
                       "data.horizon=2", "trainer=fast", "trainer.max_epochs=1",
                       "~baselines.knn", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(search_all_experiments=True)
    assert set(runs.status) == {"FINISHED"} and {"lstm", "ridge", "gbm"} <= set(
        runs["tags.mlflow.runName"])
    neural = runs[runs["tags.family"] == "neural"].run_id.iloc[0]
    info = mlflow.models.get_model_info(f"runs:/{neural}/model")
    inputs = {c.name: c.type.name for c in info.signature.inputs.inputs}
    assert inputs["kind"] == "string" and inputs["capacity"] == "double", inputs
