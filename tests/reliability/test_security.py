"""Nothing executes pickled code on load, and no secret reaches the logged params."""

import torch
from mlflow.tracking import MlflowClient

from tests.conftest import FAST, run_train

SECRET = "s3cr3t-Pa55"


def test_checkpoints_load_without_pickle_and_secrets_stay_out_of_params(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train("+experiment=sine", *FAST, "baselines=none", "logger.log_model=false",
                       f"logger.tracking_uri={uri}", f"+logger.api_token={SECRET}", cwd=tmp_path,
                       env={"MLFLOW_TRACKING_PASSWORD": SECRET, "MLFLOW_TRACKING_USERNAME": "me"})
    assert result.returncode == 0, result.stderr[-2000:]
    for checkpoint in tmp_path.glob("outputs/sine/*/checkpoints/*.ckpt"):
        state = torch.load(checkpoint, weights_only=True)  # raises on any pickled object
        assert "state_dict" in state
    client = MlflowClient(uri)
    for run in client.search_runs([client.get_experiment_by_name("sine").experiment_id]):
        assert not any(SECRET in str(v) for v in run.data.params.values())
        assert not any(SECRET in str(v) for v in run.data.tags.values())
        if run.data.tags.get("role") == "parent":  # the overrides, the secret's value masked
            assert run.data.tags["overrides"].endswith(" +logger.api_token=***")
