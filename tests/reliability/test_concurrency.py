"""Three runs at once against one tracking server: none lost, every metric there. (Parallel
runs into one embedded sqlite store, created by two of them at once, are tested in
tests/infra/test_sweeps.py with Hydra's parallel launcher.)"""

from concurrent.futures import ThreadPoolExecutor

from mlflow.tracking import MlflowClient

from tests.conftest import FAST, run_train

RUNS = 3  # more than the cores of the CI machine: the runs do overlap
# An experiment of their own: the session's server holds other tests' sine runs too.
ONE = ("+experiment=sine", *FAST, "baselines=none", "logger.log_model=false",
       "logger.experiment_name=concurrency")


def parallel_runs(folder, uri):
    def run(k):
        return run_train(*ONE, f"seed={k}", f"logger.tracking_uri={uri}",
                         f"hydra.run.dir=outputs/run{k}", cwd=folder, timeout=600)

    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        results = list(pool.map(run, range(RUNS)))
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]


def check_store(uri):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("concurrency")
    runs = client.search_runs([experiment.experiment_id], "tags.family = 'neural'")
    assert len(runs) == RUNS
    assert sorted(r.data.params["seed"] for r in runs) == [str(k) for k in range(RUNS)]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert {"test_mse", "test_mae", "val_loss"} <= set(run.data.metrics)
        assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 2


def test_parallel_runs_into_a_tracking_server(tmp_path, mlflow_server):
    parallel_runs(tmp_path, mlflow_server.url)
    check_store(mlflow_server.url)
