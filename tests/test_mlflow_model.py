"""The CLI's MLflow model as a serving job meets it: a pyfunc with signature and input example,
loaded in a fresh process, registered by name, served by `mlflow models serve`, and
checkpoints that load with `weights_only=True`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

import forecast
from forecast.data.synthetic import sine_frame
from forecast.errors import DataError
from forecast.mlflow_model import log_forecaster
from tests import servers
from tests.conftest import FAST, REPO, run_train, sqlite_store

pytestmark = pytest.mark.slow
REGISTERED = "sine_lstm"
ENV = {"PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> dict:
    """One real `python -m forecast.train` run that registers its model."""
    cwd = tmp_path_factory.mktemp("cli")
    result = run_train("+experiment=sine", *FAST, f"logger.register_as={REGISTERED}",
                       cwd=cwd, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    store = f"sqlite:///{cwd / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["sine"], filter_string="tags.family = 'neural'")
    assert len(runs) == 1
    run_id = runs.run_id[0]
    folder = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=str(cwd / "dl"))
    return {"cwd": cwd, "store": store, "run_id": run_id, "uri": f"runs:/{run_id}/model",
            "forecaster": forecast.Forecaster.load(Path(folder) / "artifacts" / "forecaster")}


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    """The sine of the `sine` experiment (600 steps), up to a point inside the test part."""
    return sine_frame(n_steps=600, period=50, noise=0.1, seed=0).iloc[400:560]


def test_cli_logs_a_registered_pyfunc_with_signature_and_example(cli_run):
    info = mlflow.models.get_model_info(cli_run["uri"])
    inputs = {c.name: c.type.name for c in info.signature.inputs.inputs}
    assert inputs == {"date": "datetime", "y": "double"}
    assert info.saved_input_example_info is not None
    assert "python_function" in info.flavors
    client = MlflowClient(cli_run["store"])
    versions = client.search_model_versions(f"name = '{REGISTERED}'")
    assert [v.run_id for v in versions] == [cli_run["run_id"]]
    mlflow.set_tracking_uri(cli_run["store"])
    for uri, reason in [(f"runs:/{'0' * 32}/model", "Run with id="),
                        (f"models:/{REGISTERED}/7", "")]:  # no such run; no version 7
        with pytest.raises(DataError, match=rf"^load: no MLflow model at '{uri}' in the store "
                                            rf"sqlite:///.*\({reason}.*check the run id"):
            forecast.load(uri)


def test_the_logged_model_says_how_it_was_trained(cli_run):
    """get_params of the CLI's model: the run's settings, not the Forecaster's defaults."""
    params = cli_run["forecaster"].get_params()
    assert (params["max_epochs"], params["lr"], params["loss"]) == (2, 0.003, "mse")  # FAST, sine
    # the sine preset's optim=adam_cosine; T_max follows max_epochs, as ${trainer.max_epochs}
    assert (params["lr_scheduler"], params["lr_scheduler_kwargs"]) == ("CosineAnnealingLR",
                                                                       {"eta_min": 0.0})
    assert cli_run["forecaster"].best_epoch_ in (1, 2)  # the run's best of its 2 epochs
    assert params["ema_decay"] is None  # the sine preset averages no weights
    assert params["val_size"] == 60  # data.split.val=0.1 of 600 steps: rows of train + val


def test_fresh_process_pyfunc_equals_forecaster_predict(cli_run, history, tmp_path):
    history.to_parquet(tmp_path / "history.parquet")
    script = f"""
import mlflow, pandas as pd, forecast
history = pd.read_parquet({str(tmp_path / 'history.parquet')!r})
pyfunc = mlflow.pyfunc.load_model({cli_run['uri']!r})
pyfunc.predict(history).to_parquet("pyfunc.parquet")
pyfunc.predict(history, params={{"level": [80, 95]}}).to_parquet("intervals.parquet")
forecast.load({cli_run['uri']!r}).predict(history).to_parquet("run.parquet")
forecast.load("models:/{REGISTERED}/1").predict(history).to_parquet("registered.parquet")
"""
    env = {**os.environ, **ENV, "MLFLOW_TRACKING_URI": cli_run["store"]}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = cli_run["forecaster"].predict(history)
    assert expected.index[0] == history.date.iloc[-1] + pd.Timedelta("1h")
    pyfunc = pd.read_parquet(tmp_path / "pyfunc.parquet")  # MLflow's schema casts to datetime[ns]
    pd.testing.assert_frame_equal(pyfunc.set_index("date"), expected, check_freq=False,
                                  check_index_type=False)
    intervals = pd.read_parquet(tmp_path / "intervals.parquet").set_index("date")
    pd.testing.assert_frame_equal(intervals, cli_run["forecaster"].predict(history, level=[80, 95]),
                                  check_freq=False, check_index_type=False)  # calibrated on
    # the CLI run's validation windows
    assert list(intervals.columns) == ["y", "y-lo-80", "y-hi-80", "y-lo-95", "y-hi-95"]
    for name in ("run", "registered"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"), expected,
                                      check_freq=False)


def test_served_model_answers_a_scoring_request(cli_run, history, tmp_path):
    port = servers.free_port()
    env = {**os.environ, **ENV, "MLFLOW_TRACKING_URI": cli_run["store"],
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", cli_run["uri"],
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    server = servers.start(command, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log",
                           cwd=tmp_path, env=env, limit=300)
    try:
        # the request a client builds from a DataFrame: timestamps become ISO strings
        split = json.loads(history.to_json(orient="split", date_format="iso", index=False))
        assert isinstance(split["data"][0][0], str)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", headers={"Content-Type": "application/json"},
            data=json.dumps({"dataframe_split": split}).encode())
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", headers={"Content-Type": "application/json"},
            data=json.dumps({"dataframe_split": split, "params": {"level": [90]}}).encode())
        with urllib.request.urlopen(request, timeout=60) as response:
            with_interval = pd.DataFrame(json.loads(response.read())["predictions"])
        short = json.loads(history.tail(3).to_json(orient="split", date_format="iso", index=False))
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", headers={"Content-Type": "application/json"},
            data=json.dumps({"dataframe_split": short}).encode())
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 400  # the client's mistake, said in our words
        assert "fewer than lookback" in json.loads(refused.value.read())["message"]
    finally:
        servers.stop(server)
    served = pd.DataFrame(answer["predictions"])
    expected = cli_run["forecaster"].predict(history)
    assert list(pd.to_datetime(served.date)) == list(expected.index)  # timestamps not mangled
    np.testing.assert_array_equal(served.y.to_numpy(), expected.y.to_numpy(dtype=np.float64))
    bounds = cli_run["forecaster"].predict(history, level=90)[["y-lo-90", "y-hi-90"]]
    np.testing.assert_array_equal(with_interval[["y-lo-90", "y-hi-90"]].to_numpy(),
                                  bounds.to_numpy(dtype=np.float64))


def test_cli_checkpoints_load_with_weights_only(cli_run):
    checkpoints = sorted(Path(cli_run["cwd"]).glob("outputs/**/checkpoints/*.ckpt"))
    assert {p.name for p in checkpoints} == {"best.ckpt", "last.ckpt"}
    for path in checkpoints:
        checkpoint = torch.load(path, weights_only=True, map_location="cpu")  # no pickle code
        assert any(key.startswith("net.") for key in checkpoint["state_dict"])


def test_pyfunc_takes_future_rows_for_future_features(tmp_path):
    """With future_features the pyfunc input is the history followed by the next horizon rows
    of each series (targets null, future features known)."""
    rng = np.random.default_rng(0)
    frame = sine_frame(n_steps=200, n_series=2, long=True)
    frame["price_plan"] = rng.standard_normal(len(frame))
    history = frame[frame.ds < frame.ds.max() - pd.Timedelta(hours=3)]
    future = frame[frame.ds > frame.ds.max() - pd.Timedelta(hours=4)]
    model = forecast.Forecaster(lookback=24, horizon=4, hidden_size=8, max_epochs=1,
                                future_features=["price_plan"]).fit(history)
    mlflow.set_tracking_uri(sqlite_store(tmp_path / "mlflow.db"))
    with mlflow.start_run() as run:
        info = log_forecaster(model)
    assert {c.name: c.required for c in info.signature.inputs.inputs}["y"] is False
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    served_input = pd.concat([history, future.assign(y=np.nan)]).sort_values(
        ["unique_id", "ds"], kind="stable")
    expected = model.predict(history, future=future.drop(columns="y")).astype(
        {"ds": "datetime64[ns]"})  # MLflow's schema casts the input's times to nanoseconds
    pd.testing.assert_frame_equal(pyfunc.predict(served_input), expected)
    # n=8 steps: the last 8 rows of each series are the future
    earlier = frame.ds <= frame.ds.max() - pd.Timedelta(hours=8)
    served_input = pd.concat([frame[earlier], frame[~earlier].assign(y=np.nan)]).sort_values(
        ["unique_id", "ds"], kind="stable")
    expected = model.predict(frame[earlier], future=frame[~earlier].drop(columns="y"), n=8)
    pd.testing.assert_frame_equal(pyfunc.predict(served_input, params={"n": 8}),
                                  expected.astype({"ds": "datetime64[ns]"}))
    # a history alone, or too few future rows, is refused rather than forecast from its tail
    with pytest.raises(MlflowException, match=r"append the next 4 rows of each series"):
        pyfunc.predict(history)
    short = pd.concat([history, future[future.ds < future.ds.max()].assign(y=np.nan)])
    with pytest.raises(MlflowException, match=r"`future` .*next 4 timestamps"):
        pyfunc.predict(short.sort_values(["unique_id", "ds"], kind="stable"))


def test_an_integer_time_axis_logs_without_mlflow_schema_hints(tmp_path):
    """MLflow warns twice that integer columns cannot hold missing values; a time axis never
    does, so the warning is noise in every M4-like run."""
    frame = pd.DataFrame({"step": np.arange(300), "load": np.sin(np.arange(300) / 5.0)})
    model = forecast.Forecaster(lookback=20, horizon=5, max_epochs=1, hidden_size=8,
                                time_col="step").fit(frame)
    mlflow.set_tracking_uri(sqlite_store(tmp_path / "mlflow.db"))
    with mlflow.start_run(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = log_forecaster(model)
    assert {c.name: c.type.name for c in info.signature.inputs.inputs}["step"] == "long"
    assert not [w for w in caught if "integer column" in str(w.message)]
