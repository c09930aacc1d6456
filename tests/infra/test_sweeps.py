"""Hydra multiruns: a model sweep grouped in MLflow, an Optuna search, parallel jobs via joblib."""

from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import FAST, run_train

SMALL = ("+experiment=sine", *FAST, "baselines=none", "logger.log_model=false")


def sweep(tmp_path: Path, *overrides: str, new_store: bool = False
          ) -> tuple[MlflowClient, list, Path]:
    """Run `forecast.train -m` into an empty sqlite store (`new_store`: one not there yet);
    (client, all runs, sweep folder)."""
    store, folder = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "sweep"
    result = run_train("-m", *SMALL, *overrides, f"logger.tracking_uri={store}",
                       f"hydra.sweep.dir={folder}", cwd=tmp_path, timeout=900,
                       new_store=new_store)
    assert result.returncode == 0, result.stderr[-3000:]
    noise = [line for line in (result.stdout + result.stderr).splitlines()
             if "setup plugin alembic" in line or "Creating initial MLflow database" in line]
    assert not noise, noise[:3]  # library set-up chatter, once per plugin or store
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("sine").experiment_id])
    return client, runs, folder


def neural(runs: list) -> list:
    return [r for r in runs if r.data.tags.get("family") == "neural"]


@pytest.mark.slow
def test_optuna_tunes_lookback_hidden_size_and_lr_on_validation_loss(tmp_path):
    client, runs, folder = sweep(tmp_path, "hparams_search=sine_optuna",
                                 "hydra.sweeper.n_trials=2")
    nets = neural(runs)
    assert len(nets) == 2
    result = yaml.safe_load((folder / "optimization_results.yaml").read_text())
    assert set(result["best_params"]) == {"data.lookback", "model.hidden_size",
                                          "optim.optimizer.lr"}
    # the objective is the best validation loss of a run, as logged per epoch
    best_val = min(min(m.value for m in client.get_metric_history(r.info.run_id, "val_loss"))
                   for r in nets)
    assert result["best_value"] == pytest.approx(best_val, rel=1e-6)
    best_run = min(nets, key=lambda r: min(
        m.value for m in client.get_metric_history(r.info.run_id, "val_loss")))
    assert int(best_run.data.params["data.lookback"]) == result["best_params"]["data.lookback"]


@pytest.mark.slow
def test_parallel_model_sweep_gives_one_grouped_run_per_model_in_one_new_store(tmp_path):
    # Two worker processes start together on a store that does not exist yet: both create its
    # tables, experiment and runs at the same moment; the third job reuses a worker process.
    # (The Optuna test above runs its jobs one after another, with Hydra's basic launcher.)
    _, runs, folder = sweep(tmp_path, "model=rnn,lstm,gru", "hydra/launcher=parallel",
                            new_store=True)
    nets = neural(runs)
    assert sorted(r.data.tags["sweep_job"] for r in nets) == ["0", "1", "2"]
    assert sorted(r.data.tags["model"] for r in nets) == ["gru", "lstm", "rnn"]
    assert {r.data.tags["sweep"] for r in runs} == {str(folder)}  # parents and children alike
    assert len([r for r in runs if r.data.tags.get("role") == "parent"]) == 3
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert all("val_loss" in r.data.metrics and "test_mse" in r.data.metrics for r in nets)


@pytest.mark.slow
def test_a_failed_job_is_listed_at_the_end_of_the_sweep_and_the_others_run(tmp_path):
    result = run_train("-m", *SMALL, "model.hidden_size=8,abc", "hydra.sweep.dir=sweep",
                       cwd=tmp_path)  # a relative sweep folder
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Error executing job" not in result.stderr
    summary = result.stderr[result.stderr.index("error: 1 job(s) of the sweep failed:"):]
    assert summary.splitlines()[1].startswith("  job 1 (")
    assert "model.hidden_size=abc): model.hidden_size: expected an integer" in summary
    assert list((tmp_path / "sweep" / "0" / "checkpoints").glob("*.ckpt"))  # job 0 trained
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("sine").experiment_id])
    assert {r.data.tags["sweep"] for r in runs} == {str(tmp_path / "sweep")}  # absolute


def test_an_optuna_storage_is_refused_in_one_line_before_the_sweep(tmp_path):
    """hydra-optuna-sweeper 1.3 runs on Optuna 2.x, whose sqlite storage fails under SQLAlchemy 2
    (an AssertionError from inside Optuna once the study is made); the study stays in memory."""
    result = run_train("-m", *SMALL, "hparams_search=sine_optuna",
                       f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",
                       "hydra.sweep.dir=sweep", cwd=tmp_path, new_store=True)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(ours) == 1 and ours[0].startswith("error: hydra.sweeper.storage: not supported")
    assert "the study is kept in memory" in ours[0]
    assert list(tmp_path.iterdir()) == []  # no study, no sweep folder, no MLflow store
