"""Training logs to a real `mlflow server`; everything is read back over its REST API."""

import pytest
import requests

from tests.conftest import FAST, run_train
from tests.servers import free_port


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
