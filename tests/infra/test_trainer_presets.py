"""trainer=gpu and trainer=ddp compose as documented; the GPU preset fails clearly without a GPU;
background checkpoints hold the values of the moment they were taken; the training benchmark
builds its Trainer from the same settings users get."""

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from pytorch_lightning.plugins.io import TorchCheckpointIO

from experiments.bench_support import trainer_settings
from forecast.checkpoint_io import BackgroundCheckpointIO
from tests.conftest import REPO, run_train


def composed(*overrides: str):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=["+experiment=sine", *overrides])


def test_gpu_preset_sets_bf16_windows_on_the_gpu_and_background_checkpoints():
    cfg = composed("trainer=gpu")
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
    assert cfg.data.on_device is True
    assert cfg.trainer.plugins[0]._target_ == "forecast.checkpoint_io.BackgroundCheckpointIO"
    assert cfg.trainer.gradient_clip_val == 1.0  # the rest of trainer/default.yaml still holds
    assert composed("trainer=gpu", "data.on_device=false").data.on_device is False
    assert composed().data.on_device is False


def test_ddp_preset_spawns_two_cpu_processes():
    trainer = composed("trainer=ddp").trainer
    assert (trainer.strategy, trainer.accelerator, trainer.devices) == ("ddp_spawn", "cpu", 2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_preset_without_a_gpu_fails_before_anything_with_one_line(tmp_path):
    result = run_train("+experiment=sine", "trainer=gpu", cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: trainer.accelerator=gpu")
    assert "trainer=default" in errors[0]
    assert not (tmp_path / "mlflow.db").exists()


def test_background_checkpoint_keeps_the_values_at_save_time(tmp_path):
    io = BackgroundCheckpointIO()
    io.checkpoint_io = TorchCheckpointIO()
    weights = torch.ones(1000)
    io.save_checkpoint({"state_dict": {"w": weights}, "epoch": 3}, tmp_path / "best.ckpt")
    weights.add_(1.0)  # the next optimizer step, while the thread may still be writing
    io.teardown()  # Lightning calls it at the end of fit: waits for the writes
    saved = torch.load(tmp_path / "best.ckpt", weights_only=True)
    assert saved["epoch"] == 3 and torch.equal(saved["state_dict"]["w"], torch.ones(1000))


@pytest.mark.parametrize("preset", ["default", "gpu"])
def test_benchmark_builds_the_trainer_users_get(preset):
    expected = OmegaConf.to_container(composed(f"trainer={preset}").trainer, resolve=False)
    for key in ("_target_", "default_root_dir", "max_epochs"):
        expected.pop(key)
    settings = trainer_settings(preset)
    settings.pop("max_epochs")
    plugins = settings.pop("plugins", [])
    assert [type(p).__name__ for p in plugins] == [p["_target_"].rsplit(".", 1)[1]
                                                    for p in expected.pop("plugins", [])]
    assert settings == expected
