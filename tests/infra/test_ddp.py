"""`trainer=ddp`: two CPU processes (gloo) train what one process trains."""

import json
import math

import pytest
import torch
from mlflow.tracking import MlflowClient

from tests.conftest import run_train

# 601 steps: 61 validation windows, an odd count, which two ranks cannot share evenly
SMALL = ("+experiment=sine", "trainer.max_epochs=2",
         "data.frame.n_steps=601", "logger.log_model=false", "~baselines.gbm", "~baselines.knn")


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path):
    """Same seed and data; ddp with batch 32 per process against one process with batch 64.

    Rank r takes windows r, r+2, ... of the same shuffled epoch, so the two per-process batches
    of each step together are exactly the single process's batch, and DDP averages equal-sized
    per-rank gradient means: the same update. Only float summation order differs (gloo
    all-reduce), so the test metrics agree to ~1e-6; we allow 1e-4 relative.
    """
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    single = run_train(*SMALL, "data.batch_size=64", f"logger.tracking_uri={store}",
                       "logger.run_name=single", cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = run_train(*SMALL, "trainer=ddp", "data.batch_size=32", f"logger.tracking_uri={store}",
                    "logger.run_name=ddp", cwd=tmp_path)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in ddp.stdout + ddp.stderr  # two processes
    # evaluated and printed once, by the main process
    assert sum(line.split()[:2] == ["model", "family"] for line in ddp.stdout.splitlines()) == 1
    # the epoch lines come from rank 0 of the workers, which are as quiet as the main process
    assert ddp.stdout.count("epoch 2/2 ") == 1
    assert "exists and is not empty" not in ddp.stderr and "LeafSpec" not in ddp.stderr

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("sine")
    runs = {}
    for name in ("single", "ddp"):
        parent = client.search_runs([experiment.experiment_id],
                                    f"tags.mlflow.runName = '{name}'")
        assert len(parent) == 1, name  # one parent per invocation: workers open no runs
        children = client.search_runs(
            [experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent[0].info.run_id}'")
        neural = [r for r in children if r.data.tags["family"] == "neural"]
        assert len(neural) == 1 and len(children) == 5  # lstm + 4 baselines, each once
        runs[name] = neural[0]

    one, two = runs["single"], runs["ddp"]
    for metric in ("test_mse", "test_mae"):
        assert math.isclose(one.data.metrics[metric], two.data.metrics[metric], rel_tol=1e-4)
    history = {name: sorted(client.get_metric_history(run.info.run_id, "val_loss"),
                            key=lambda m: m.step) for name, run in runs.items()}
    assert [m.step for m in history["single"]] == [m.step for m in history["ddp"]] == [0, 1]
    for single, sharded in zip(history["single"], history["ddp"], strict=True):
        # the mean over every validation window once: no padded window counted twice
        assert math.isclose(single.value, sharded.value, rel_tol=1e-4)
    # Sharded: each process steps through half the windows, so both runs take the same number
    # of optimizer steps (unsharded, ddp would take twice as many).
    names, steps = {run.info.run_id: name for name, run in runs.items()}, {}
    for runs_file in tmp_path.glob("outputs/sine/*/checkpoints/mlflow_runs.json"):
        name = names[json.loads(runs_file.read_text())["neural"]]
        checkpoint = torch.load(runs_file.with_name("last.ckpt"), weights_only=True)
        steps[name] = checkpoint["global_step"]
    assert steps["single"] == steps["ddp"] > 0
