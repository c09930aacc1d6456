"""Every experiment preset composes, loads its data under its protocol and builds its model."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from experiments.accuracy_report import SETTINGS
from forecast.building import build_module
from forecast.data.datasets import classic_frame, m4_frame
from forecast.data.frame import build_panel
from forecast.errors import DataError
from forecast.evaluate import build_baselines
from forecast.experiment import _training_params
from forecast.forecaster import Forecaster
from forecast.models import ManyToOne
from forecast.models.base import net_from_spec
from tests.conftest import REPO, SHARED_DATA

PRESETS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))


def compose_preset(name: str, tmp_path: Path, *overrides: str):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"+experiment={name}", f"paths.data_dir={SHARED_DATA}",
                                           f"paths.output_dir={tmp_path}", *overrides])


# name -> (training rows of the first series, test windows, channels): the standard protocols
PROTOCOL = {
    "etth1_m96": (8640, 2785, 7), "etth1_m720": (8640, 2785, 7), "etth1_s336": (8640, 2785, 1),
    "etth2_m96": (8640, 2785, 7), "exchange96": (5311, 1422, 8), "ili24": (676, 170, 7),
    "m4_hourly": (652, 414, 1), "airline": (84, 25, 1), "co2": (1598, 405, 1),
    "sine": (2800, 800, 1),
}


@pytest.mark.parametrize("name", PRESETS)
def test_preset_follows_its_protocol_and_builds_its_model(name, tmp_path):
    cfg = compose_preset(name, tmp_path)
    assert cfg.experiment_name == name
    dm = instantiate(cfg.data)
    dm.setup()
    train_rows, test_windows, channels = PROTOCOL[name]
    assert dm.borders_[0, 0] == train_rows
    assert len(dm.starts_["test"]) == test_windows and len(dm.starts_["val"]) > 0
    assert dm.dims["n_inputs"] == channels
    net = instantiate(cfg.model, **dm.dims)
    module = build_module(cfg.optim, net)
    assert module.gradient_clip_val == 1.0
    assert net_from_spec(module.hparams.net).spec == net.spec  # checkpoints rebuild it
    assert json.loads(json.dumps(dict(dm.hparams)))["lookback"] == dm.spec.lookback
    module.configure_optimizers()
    module.check_optimization()  # the first steps too: T_max=0 would fail only there
    instantiate(cfg.callbacks)
    assert set(build_baselines(cfg.baselines, dm.season)) >= {"repeat_last", "ridge"}
    batch = dm.dataset("test").gather(torch.tensor([0, test_windows - 1]))
    with torch.no_grad():
        forecast = module(batch)
    assert forecast.shape == batch["y"].shape and torch.isfinite(forecast).all()
    Forecaster(**_training_params(cfg))._optimization(validate=True)  # the Python API takes it


def test_a_presets_training_carries_over_to_the_python_api(tmp_path):
    params = _training_params(compose_preset("etth1_m96", tmp_path))
    assert (params["lr_scheduler"], params["lr_scheduler_kwargs"]) == ("CosineAnnealingLR",
                                                                       {"eta_min": 0.0})
    assert (params["ema_decay"], params["weight_decay"]) == (0.995, 0.0)
    unaveraged = _training_params(compose_preset("etth1_m96", tmp_path, "~callbacks.ema"))
    assert unaveraged["ema_decay"] is None
    decay = _training_params(compose_preset("sine", tmp_path, "optim=adam_decay"))
    assert (decay["lr_scheduler"], decay["lr_scheduler_kwargs"]) == ("ExponentialLR",
                                                                     {"gamma": 0.9})
    unstopped = _training_params(compose_preset("sine", tmp_path, "callbacks=none"))
    assert unstopped["patience"] == unstopped["max_epochs"] == 60  # no early stopping ran
    adamw = _training_params(compose_preset("sine", tmp_path, "optim.optimizer.weight_decay=0.1",
                                            "optim.optimizer._target_=torch.optim.AdamW"))
    assert adamw["weight_decay"] == 0.0  # decoupled decay is not Adam's L2: not carried over
    custom = _training_params(compose_preset(
        "sine", tmp_path, "optim.scheduler._target_=mylib.schedules.Warmup"))
    assert "lr_scheduler" not in custom  # not a torch scheduler: nothing to carry over
    clipping = compose_preset("sine", tmp_path, "optim.gradient_clip_val=0.5",
                              "optim.gradient_clip_algorithm=value")
    clipped = _training_params(clipping)
    assert (clipped["gradient_clip_val"], clipped["gradient_clip_algorithm"]) == (0.5, "value")
    module = build_module(clipping.optim, ManyToOne(n_inputs=1, n_targets=1, lookback=4,
                                                    horizon=1))
    assert (module.gradient_clip_val, module.gradient_clip_algorithm) == (0.5, "value")


def test_every_preset_has_its_protocol_checked():
    assert set(PRESETS) == set(PROTOCOL)


def run_script(script: str, *args: str) -> None:
    """Run experiments/SCRIPT ARGS from the repository root, as the READMEs say (`PYTHONPATH=.`);
    it must succeed."""
    result = subprocess.run([sys.executable, f"experiments/{script}", *args], cwd=REPO,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [str(REPO), os.environ.get("PYTHONPATH", "")])})
    assert result.returncode == 0, result.stderr[-3000:]


def run_experiment_script(script: str, *args: str, results: Path) -> None:
    """Run experiments/SCRIPT on the shared data, results into `results`; it must succeed."""
    run_script(script, *args, "--results", str(results), "--data-dir", str(SHARED_DATA))


@pytest.mark.slow
def test_benchmark_runs_one_setting_and_writes_the_table(tmp_path):
    run_experiment_script("benchmark.py", "--only", "airline", "--quick", results=tmp_path)
    report = (tmp_path / "accuracy.md").read_text()
    for name in ("segrnn", "repeat_last", "seasonal_naive", "mean", "ridge", "gbm", "knn"):
        assert f"| {name} |" in report, name
    assert "## airline" in report and "best baseline" in report
    assert "`PYTHONPATH=. python experiments/benchmark.py --only airline --quick`" in report


@pytest.mark.slow
def test_benchmark_scores_m4_in_original_units_with_owa(tmp_path):
    run_experiment_script("benchmark.py", "--only", "m4_hourly", "--quick", results=tmp_path)
    table = pd.read_csv(tmp_path / "accuracy.csv").set_index("model")
    naive = table.loc["seasonal_naive"]  # the M4 organisers' figure: sMAPE 13.912, MASE 1.193
    assert naive.smape == pytest.approx(13.912, abs=1e-3)
    assert naive.mase == pytest.approx(1.193, abs=1e-3)
    for model in ("segrnn", "knn", "ridge"):  # OWA: against Naive2 (sMAPE 18.383, MASE 2.395)
        row = table.loc[model]
        assert row.owa == pytest.approx(0.5 * (row.smape / 18.383 + row.mase / 2.395), rel=1e-6)


@pytest.mark.slow
def test_variants_are_ranked_on_validation_beside_the_baselines(tmp_path):
    run_experiment_script("variants.py", "airline", "", "model.hidden_size=8", "--quick",
                          "--jobs", "2", "--metric", "smape", results=tmp_path)
    report = (tmp_path / "variants_airline.md").read_text()
    assert "| variant | val smape | test smape |" in report
    assert "--metric smape --quick" in report  # the header's command
    rows = {cells[1].strip(): float(cells[2]) for line in report.splitlines()
            if (cells := line.split("|")) and len(cells) > 3 and cells[2].strip()[:1].isdigit()}
    assert {"(the preset)", "model.hidden_size=8", "baseline: ridge",
            "baseline: repeat_last"} <= set(rows)
    assert list(rows.values()) == sorted(rows.values())  # ranked by validation MSE
    picked = min(("(the preset)", "model.hidden_size=8"), key=rows.get)
    assert f"Picked on validation: **{picked}**" in report


@pytest.mark.slow
def test_interval_experiment_scores_coverage_of_the_net_and_ridge(tmp_path):
    run_experiment_script("intervals.py", "--only", "co2", "--quick", results=tmp_path)
    report = (tmp_path / "intervals.md").read_text()
    rows = [line.split(" | ") for line in report.splitlines() if line.startswith("| co2 |")]
    assert [(row[1], row[2]) for row in rows] == [
        ("segrnn", "normalised"), ("segrnn", "plain"), ("ridge", "normalised"), ("ridge", "plain")]
    for row in rows:
        covers = [float(cell.split(" / ")[0]) for cell in row[5:9]]  # 50, 80, 90, 95%
        widths = [float(cell.split(" / ")[1]) for cell in row[5:9]]
        miss = float(row[9].rstrip(" |"))
        assert miss == pytest.approx(np.mean(np.abs(np.array(covers) - [.5, .8, .9, .95])),
                                     abs=2e-3)
        assert all(0 <= c <= 1 for c in covers) and covers == sorted(covers)
        assert widths == sorted(widths) and widths[0] > 0
    assert "--only co2 --quick" in report


@pytest.mark.slow
@pytest.mark.parametrize("script, args", [
    ("benchmark.py", ["--only", "airline", "--quick", "--data-dir", str(SHARED_DATA)]),
    ("variants.py", ["airline", "", "--quick", "--data-dir", str(SHARED_DATA)]),
    ("intervals.py", ["--only", "co2", "--quick", "--data-dir", str(SHARED_DATA)]),
    ("bench_windows.py", ["--series", "1", "--rows", "3000", "--slice-rows", "2000",
                          "--lookback", "24", "--horizon", "6"]),
    ("bench_inference.py", ["--series", "10", "--lookback", "24", "--horizon", "6",
                            "--repeats", "1"]),
    ("gpu_windows_check.py", ["--accelerator", "cpu", "--series", "2", "--rows", "10000",
                              "--batches", "10"]),
    ("gpu/forecaster_check.py", ["--accelerator", "cpu"]),
    ("gpu/where_time_goes.py", ["--device", "cpu", "--rounds", "1"]),
    ("gpu/graph_step_check.py", ["--device", "cpu", "--rounds", "1"]),
])
def test_smoke_runs_leave_the_committed_results_alone(script, args):
    results = REPO / "experiments" / "results"
    before = {path: path.stat().st_mtime_ns for path in results.iterdir()}
    run_script(script, *args)
    assert {path: path.stat().st_mtime_ns for path in results.iterdir()} == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the answer where no GPU is seen")
def test_a_benchmark_asked_for_a_gpu_torch_does_not_see_says_so_in_one_line():
    result = subprocess.run([sys.executable, "experiments/variants.py", "airline", "",
                             "--quick", "--accelerator", "gpu"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: --accelerator gpu: torch {torch.__version__} sees no CUDA GPU on this machine; "
        "use --accelerator cpu (or install a CUDA build of torch)."]


def test_gpu_accuracy_script_runs_the_gpu_settings():
    script = (REPO / "experiments" / "gpu" / "accuracy.sh").read_text()
    defaults = re.search(r"\|\| settings=\(([^)]*)\)", script).group(1).split()
    limits = re.findall(r"\[(\w+)\]=\d+", script)
    assert sorted(defaults) == sorted(limits) == sorted(n for n, s in SETTINGS.items()
                                                        if s.get("gpu"))


def test_m4_loader_appends_the_test_file_and_drops_the_padding(tmp_path):
    (tmp_path / "train.csv").write_text('"V1","V2","V3","V4"\n"H1",1,2,3\n"H2",5,6,\n')
    (tmp_path / "test.csv").write_text('"V1","V2"\n"H1",4\n"H2",7\n')
    frame = m4_frame(tmp_path / "train.csv", tmp_path / "test.csv")
    assert frame.unique_id.tolist() == ["H1"] * 4 + ["H2"] * 3
    assert frame.ds.tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert frame.y.tolist() == [1, 2, 3, 4, 5, 6, 7]


def test_m4_loader_rejects_a_hole_inside_a_series(tmp_path):
    (tmp_path / "train.csv").write_text('"V1","V2","V3","V4"\n"H1",1,,3\n')
    with pytest.raises(DataError, match="'H1'"):
        m4_frame(tmp_path / "train.csv")


@pytest.mark.parametrize("name, rows, freq", [("airline", 144, "MS"), ("lynx", 114, "YS-JAN"),
                                              ("sunspots", 309, "YS-JAN"), ("nile", 100, "YS-JAN"),
                                              ("co2", 2284, "W-SAT"), ("elnino", 732, "MS")])
def test_classic_loaders_give_a_regular_dated_series(name, rows, freq):
    panel = build_panel(classic_frame(SHARED_DATA / "classic" / f"{name}.csv"), fill="interpolate")
    assert panel.values.shape == (rows, 1) and panel.freq == freq


def test_unknown_classic_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="not a known classic series"):
        classic_frame(tmp_path / "shampoo.csv")
