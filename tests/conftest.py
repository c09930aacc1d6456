"""Shared fixtures: small sine frames and a helper that runs the real training entry point."""

from __future__ import annotations

import os

# Before torch is imported (here and in every CLI subprocess): one intra-op thread. The models
# under test are tiny, and on a shared 2-core machine spinning OpenMP threads make runs 10-30x
# slower. Benchmarks in experiments/ choose their own threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
import threading
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
    """An empty embedded MLflow store (sqlite) in a temporary folder."""
    return sqlite_store(tmp_path / "mlflow.db")


@functools.cache
def empty_store() -> Path:
    """An MLflow sqlite store with its tables made, once per test process. Copied wherever a
    test needs a new store, it saves MLflow's table migrations (~4 s a store on a slow 2-core
    machine); the CLI's own creation of a store is tested where `run_train(new_store=True)`."""
    folder = Path(tempfile.mkdtemp(prefix="forecast-empty-store-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    from mlflow.tracking import MlflowClient

    MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder / "mlflow.db"


_copying = threading.Lock()  # tests start runs from several threads at once


def sqlite_store(path: Path) -> str:
    """The URI of a sqlite store at `path`: a copy of `empty_store()` unless one is there."""
    with _copying:
        if not path.exists():
            shutil.copyfile(empty_store(), path)
    return f"sqlite:///{path}"


def store_of(overrides: tuple[str, ...], cwd: Path, env: dict) -> Path | None:
    """The sqlite file a `forecast.train` run with `overrides` logs to, if any."""
    uri = env.get("MLFLOW_TRACKING_URI", "")
    for override in overrides:
        if override in ("logger=none", "logger.enabled=false", "logger=mlflow_server"):
            return None
        if override.startswith("logger.tracking_uri="):
            uri = override.split("=", 1)[1]
    if not uri:
        return cwd / "mlflow.db"
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def run_train(*overrides: str, cwd: Path, env: dict | None = None, timeout: int = 300,
              new_store: bool = False) -> subprocess.CompletedProcess:
    """`python -m forecast.train OVERRIDES` as a user runs it, in `cwd`. A sqlite store it logs
    to that does not exist yet is copied from `empty_store()` first, unless `new_store`."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    if "MLFLOW_TRACKING_URI" not in (env or {}):  # runs go where the test says, not the shell
        environment.pop("MLFLOW_TRACKING_URI", None)
    path = None if new_store else store_of(overrides, Path(cwd), environment)
    if path is not None:
        sqlite_store(Path(cwd, path))
    return subprocess.run([sys.executable, "-m", "forecast.train", *overrides], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=timeout)


def cli_runs(tmp_path_factory, cases: dict, workers: int = 2) -> dict:
    """The real CLI once per case, a few processes at a time, each in a new folder with no
    store: `cases` maps a name to (prepare(folder) -> overrides); returns name -> (folder,
    result)."""
    def run(name):
        folder = tmp_path_factory.mktemp(name)
        return name, folder, run_train(*cases[name](folder), cwd=folder, timeout=240,
                                       new_store=True)

    tmp_path_factory.getbasetemp()  # created once here: two threads creating it would race
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {name: (folder, result) for name, folder, result in pool.map(run, cases)}


FAST = ("trainer=fast", "trainer.max_epochs=2", "data.frame.n_steps=600")
# A run whose loss diverges: an error only training shows.
DIVERGING = ("optim.optimizer.lr=1e9", "optim.gradient_clip_val=0", "model=rnn",
             "model.nonlinearity=relu", "baselines=none")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 (sqlite backend, proxied artifacts), per session."""
    folder = tmp_path_factory.mktemp("mlflow_server")
    server = start_mlflow_server(folder, sqlite_store(folder / "mlflow.db"))
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
