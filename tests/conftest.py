"""Shared fixtures: small sine frames and a helper that runs the real training entry point."""

from __future__ import annotations

import os

# Before torch is imported (here and in every CLI subprocess): one intra-op thread. The models
# under test are tiny, and on a shared 2-core machine spinning OpenMP threads make runs 10-30x
# slower. Benchmarks in experiments/ choose their own threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from forecast.data.synthetic import sine_frame
from tests.servers import start_mlflow_server, stop

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FORECAST_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture
def sine_wide():
    return sine_frame(n_steps=600, n_series=2)


@pytest.fixture
def sine_long():
    return sine_frame(n_steps=400, n_series=3, long=True)


@pytest.fixture
def store(tmp_path) -> str:
    """A fresh embedded MLflow store (sqlite) in a temporary folder."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def run_train(*overrides: str, cwd: Path, env: dict | None = None,
              timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m forecast.train OVERRIDES` as a user runs it, in `cwd`."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    if "MLFLOW_TRACKING_URI" not in (env or {}):  # runs go where the test says, not the shell
        environment.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "forecast.train", *overrides], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=timeout)


def cli_runs(tmp_path_factory, cases: dict, workers: int = 2) -> dict:
    """The real CLI once per case, a few processes at a time, each in a new folder: `cases`
    maps a name to (prepare(folder) -> overrides); returns name -> (folder, result)."""
    def run(name):
        folder = tmp_path_factory.mktemp(name)
        return name, folder, run_train(*cases[name](folder), cwd=folder, timeout=240)

    tmp_path_factory.getbasetemp()  # created once here: two threads creating it would race
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {name: (folder, result) for name, folder, result in pool.map(run, cases)}


FAST = ("trainer=fast", "trainer.max_epochs=2", "data.frame.n_steps=600")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 (sqlite backend, proxied artifacts), per session."""
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow_server"))
    try:
        yield server
    finally:
        stop(server.process)


def printed_results(stdout: str) -> dict[str, dict[str, str]]:
    """The results table `forecast.train` prints, as {model: {column: cell}}."""
    lines = stdout.splitlines()
    header = next(k for k, line in enumerate(lines) if line.split()[:2] == ["model", "family"])
    columns = lines[header].split()
    rows = {}
    for line in lines[header + 1:]:
        cells = line.lstrip("* ").split()
        if len(cells) != len(columns):
            break
        rows[cells[0]] = dict(zip(columns, cells, strict=True))
    return rows


def untrained_from_config(frame, folder: Path, *overrides: str):
    """(datamodule, Forecaster) of the CLI's config for `frame` (written to a CSV in `folder`)
    and `overrides`: the untrained net wrapped by `Forecaster.from_fitted`, as the CLI wraps
    its trained one."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    import forecast
    from forecast.experiment import _net_kwargs

    frame.to_csv(folder / "frame.csv", index=False)
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"data.path={folder / 'frame.csv'}", *overrides])
    dm = instantiate(cfg.data)
    net = instantiate(cfg.model, **dm.dims)
    return dm, forecast.Forecaster.from_fitted(dm, net, _net_kwargs(cfg))
