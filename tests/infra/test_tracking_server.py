"""Training logs to a real `mlflow server`; everything is read back over its REST API."""

import pytest
import pytorch_lightning as pl
import requests
import torch
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from forecast.checkpoints import ResumeCheckpoint
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.models import ForecastModule, ManyToOne
from forecast.tracking import Tracker
from tests.conftest import FAST, run_train, sqlite_store
from tests.servers import free_port, start_mlflow_server, stop


def runs_of(server, experiment_name: str) -> list[dict]:
    experiment = server.get("experiments/get-by-name", experiment_name=experiment_name)
    ids = [experiment["experiment"]["experiment_id"]]
    found = server.post("runs/search", {"experiment_ids": ids, "max_results": 100})
    return found["runs"]


def tags(run: dict) -> dict:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def metrics(run: dict) -> dict:
    return {m["key"]: m["value"] for m in run["data"].get("metrics", [])}


@pytest.mark.slow
def test_runs_metrics_and_artifacts_over_rest(served_sine_run):
    server, printed = served_sine_run
    runs = runs_of(server, "sine")
    neural = [r for r in runs if tags(r).get("family") == "neural"]
    baselines = [r for r in runs if tags(r).get("family") == "baseline"]
    parents = [r for r in runs if tags(r).get("role") == "parent"]
    assert len(neural) == 1 and len(parents) == 1 and len(baselines) >= 3
    assert {r["info"]["status"] for r in runs} == {"FINISHED"}
    run_id = neural[0]["info"]["run_id"]
    assert tags(neural[0])["mlflow.parentRunId"] == parents[0]["info"]["run_id"]
    assert {"test_mse", "test_mae", "val_loss", "train_loss_epoch"} <= set(metrics(neural[0]))
    for run in baselines:
        assert metrics(run)["test_mse"] > 0
    history = server.get("metrics/get-history", run_id=run_id, metric_key="val_loss")["metrics"]
    assert len(history) == 2  # one per epoch

    listed = server.get("artifacts/list", run_id=run_id)
    assert {"config.yaml", "forecast.png"} <= {f["path"] for f in listed["files"]}
    models = server.post("logged-models/search", {"experiment_ids": [run["info"]["experiment_id"]
                                                                    for run in neural]})
    assert [m["info"]["source_run_id"] for m in models["models"]] == [run_id]
    png = requests.get(f"{server.url}/get-artifact", params={"path": "forecast.png",
                                                            "run_uuid": run_id}, timeout=30)
    assert png.ok and png.content.startswith(b"\x89PNG")
    # the artifacts went through the server into its artifact store, not into the client's cwd
    assert list((server.folder / "artifacts").rglob("forecast.png"))
    # the run ends with one link, to its parent run in the server's UI (not two per run)
    experiment = parents[0]["info"]["experiment_id"]
    link = f"{server.url}/#/experiments/{experiment}/runs/{parents[0]['info']['run_id']}"
    assert printed.stdout.strip().splitlines()[-1] == f"MLflow: {link}"
    assert "View run" not in printed.stdout


@pytest.mark.slow
def test_unreachable_server_stops_before_training_with_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run_train("+experiment=sine", *FAST, "logger=mlflow_server",
                       f"logger.tracking_uri={url}", cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "logger.tracking_uri" in errors[0] and url in errors[0]
    assert "logger=mlflow" in errors[0]  # the way back to the local store
    assert "Traceback" not in result.stderr
    # no results table: nothing was trained
    assert not any(line.split()[:2] == ["model", "family"] for line in result.stdout.splitlines())
    assert not list(tmp_path.rglob("*.ckpt")) and not (tmp_path / "mlflow.db").exists()


def test_metrics_the_server_did_not_take_fail_the_drain_before_last_ckpt(tmp_path, monkeypatch):
    """A server that went away past MLflow's retries: MLflow's queue would log an error and drop
    the epoch, and `last.ckpt` would then claim metrics MLflow lacks. The drain fails instead."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail in a second, not minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    server = start_mlflow_server(tmp_path, sqlite_store(tmp_path / "mlflow.db"))
    try:
        tracker = Tracker(server.url, "outage", "outage")
        neural = tracker.child("lstm", "neural")
        logger = tracker.lightning_logger(neural)
        logger.log_metrics({"val_loss": 0.5, "epoch": 0}, step=10)
        logger.flush()  # the server takes it
        stop(server.process)
        logger.log_metrics({"val_loss": 0.4, "epoch": 1}, step=20)
        with pytest.raises(MlflowException, match="async logging"):
            logger.flush()
    finally:
        stop(server.process)
    assert [m["value"] for m in metrics_history(tmp_path, neural)] == [0.5]


def metrics_history(folder, run_id: str) -> list[dict]:
    """`val_loss` of run `run_id`, read from the server's store once it is down."""
    history = MlflowClient(sqlite_store(folder / "mlflow.db")).get_metric_history(run_id,
                                                                                  "val_loss")
    return [{"step": m.step, "value": m.value} for m in history]


def test_a_server_lost_mid_fit_stops_training_before_last_ckpt_outruns_mlflow(
        tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    server = start_mlflow_server(tmp_path, sqlite_store(tmp_path / "mlflow.db"))

    class ServerGoesAway(pl.Callback):
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch == 1:
                stop(server.process)

    try:
        tracker = Tracker(server.url, "outage", "outage")
        neural = tracker.child("lstm", "neural")
        dm = WindowDataModule(frame=sine_frame(n_steps=300), lookback=12, horizon=1)
        dm.setup()
        module = ForecastModule(ManyToOne(cell="lstm", hidden_size=8, **dm.dims))
        last = ResumeCheckpoint(dirpath=tmp_path / "checkpoints", filename="last",
                                min_interval_s=0)
        trainer = pl.Trainer(max_epochs=4, logger=tracker.lightning_logger(neural),
                             callbacks=[last, ServerGoesAway()], enable_progress_bar=False,
                             enable_model_summary=False)
        with pytest.raises(MlflowException):
            trainer.fit(module, dm)
    finally:
        stop(server.process)
    logged = {m["step"] for m in metrics_history(tmp_path, neural)}  # epochs MLflow holds
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    assert logged == {0} and saved == 0  # epoch 1's metrics never arrived: not claimed
