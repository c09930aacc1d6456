"""The real entry point, end to end, against a temporary MLflow store."""

import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import DIVERGING, FAST, REPO, run_train


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sine")
    result = run_train("+experiment=sine", *FAST, cwd=folder, new_store=True)  # as on day one
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, result


def test_prints_the_comparison_table(sine_run):
    _, result = sine_run
    for name in ("lstm", "repeat_last", "seasonal_naive", "ridge", "vs_baseline", "fit_s"):
        assert name in result.stdout
    # the MLflow run ids written beside the checkpoints before fit are not a reason to warn
    assert "exists and is not empty" not in result.stdout + result.stderr
    assert "Downloading artifacts" not in result.stderr
    assert "Validating input example" not in result.stderr


def test_the_run_folder_keeps_what_was_printed_in_train_log(sine_run):
    folder, result = sine_run
    (log,) = folder.glob("outputs/sine/*/train.log")
    text = log.read_text()
    for line in ("lstm", "ridge", "MLflow: parent run", "lstm's prediction intervals"):
        assert line in text
    assert text.startswith("[20") and "][INFO] " in text  # stamped, unlike stdout
    assert "[INFO]" not in result.stdout


def test_ends_with_where_the_runs_are(sine_run):
    folder, result = sine_run
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    parent = client.search_runs([client.get_experiment_by_name("sine").experiment_id],
                                "tags.role = 'parent'")[0]
    tags = parent.data.tags  # provenance: the preset, each group's choice, the overrides
    assert (tags["experiment_preset"], tags["choice.model"], tags["choice.data"]) == (
        "sine", "lstm", "sine")
    assert tags["overrides"].startswith("+experiment=sine ")
    hint = result.stdout.strip().splitlines()[-2:]
    assert hint[0].startswith(f"MLflow: parent run {parent.info.run_id} in sqlite:///")
    assert hint[1].strip() == f"mlflow ui --backend-store-uri sqlite:///{folder / 'mlflow.db'}"


def test_runs_metrics_and_artifacts_in_the_default_local_store(sine_run):
    folder, _ = sine_run
    assert (folder / "mlflow.db").exists()
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sine")
    runs = client.search_runs([experiment.experiment_id])
    neural = [r for r in runs if r.data.tags.get("family") == "neural"]
    baseline = [r for r in runs if r.data.tags.get("family") == "baseline"]
    assert len(neural) == 1 and len(baseline) >= 3
    assert all(r.info.status == "FINISHED" for r in runs)
    run = neural[0]
    for metric in ("test_mse", "test_mae", "test_norm_mse", "val_loss", "train_loss_epoch"):
        assert metric in run.data.metrics
    # the logged model's prediction intervals, scored on the test windows
    assert 0.5 < run.data.metrics["test_coverage_80"] < run.data.metrics["test_coverage_95"] <= 1
    for metric in ("val_loss", "epoch"):  # once an epoch (Lightning passes `epoch` each call)
        history = client.get_metric_history(run.info.run_id, metric)
        assert sorted(m.step for m in history) == [0, 1], metric
    # horizon 1: no per-horizon-step metrics, which would only repeat the test metrics
    assert not [m for r in runs for m in r.data.metrics if m.endswith("_by_step")]
    assert run.data.params["model.hidden_size"] == "32"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "forecast.png"} <= artifacts
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    parent_artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"results.md", "results.csv"} <= parent_artifacts
    for r in baseline:
        assert {"test_mse", "test_mae"} <= set(r.data.metrics)
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    forecaster = model.unwrap_python_model().forecaster
    assert len(model.predict(forecaster.history_frame())) == 1


def test_tracking_uri_override_and_failed_run(tmp_path):
    """An error only training shows (a loss that diverged) marks the runs FAILED, with the
    error."""
    store = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = run_train("+experiment=sine", *FAST, *DIVERGING, f"logger.tracking_uri={store}",
                       cwd=tmp_path)
    assert result.returncode != 0
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("sine").experiment_id])
    assert runs and all(r.info.status == "FAILED" for r in runs)
    assert "diverged" in runs[0].data.tags["error"]
    assert not Path(tmp_path / "mlflow.db").exists()


def test_help_lists_the_config_surface(tmp_path):
    result = run_train("--help", cwd=tmp_path)
    for key in ("data.lookback", "model.hidden_size", "logger.tracking_uri", "model: gru",
                "hydra/launcher=parallel"):
        assert key in result.stdout, key


@pytest.mark.parametrize("path, message", [
    ("data.path=missing.csv", "data.path: file 'missing.csv' does not exist"),
    ("data.path=???", "data.path: no file given; add data.path="),
])
def test_a_missing_data_file_answers_before_the_heavy_imports(tmp_path, path, message):
    code = ("import sys\n"
            "from hydra import compose, initialize_config_dir\n"
            "from forecast.config_check import check_config\n"
            "from forecast.errors import ForecastError\n"
            f"with initialize_config_dir({str(REPO / 'conf')!r}, version_base='1.3'):\n"
            f"    cfg = compose('train', overrides=['data=csv', {path!r}])\n"
            "try:\n"
            "    check_config(cfg)\n"
            "except ForecastError as error:\n"
            "    print(error)\n"
            "print(sorted({'torch', 'pytorch_lightning', 'mlflow', 'sklearn'} & set(sys.modules)))")
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=tmp_path).stdout.splitlines()
    assert printed[0].startswith(message) and printed[-1] == "[]", printed


def test_help_and_typos_answer_before_the_heavy_imports():
    """`--help` and Hydra's override errors come before torch, Lightning and MLflow load."""
    code = ("import sys, forecast.train; "
            "print(sorted({'torch', 'pytorch_lightning', 'mlflow', 'sklearn'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert loaded.stdout.strip() == "[]"
