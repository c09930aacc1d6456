"""Real servers for the tests (`mlflow server`, `mlflow models serve`) on 127.0.0.1.

Each runs in its own process group, so stopping it also stops the workers it forked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

START_SECONDS = 120  # sqlite migrations alone take ~10 s on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], health_url: str, log: Path, cwd: Path,
          env: dict | None = None, limit: float = START_SECONDS) -> subprocess.Popen:
    """Start `command` and wait until `health_url` answers; else stop it and raise with the
    tail of its log."""
    with open(log, "wb") as out:  # the server keeps its own copy of the file
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(health_url, timeout=5).ok:
                    return process
            except requests.RequestException:  # not listening yet, or still starting up
                pass
            time.sleep(0.5)
    except BaseException:
        stop(process)
        raise
    stop(process)
    raise RuntimeError(f"{' '.join(command[:4])} did not answer {health_url} within "
                       f"{limit:.0f} s (exit code {process.returncode}):\n"
                       + log.read_text(errors="replace")[-3000:])


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class MlflowServer:
    """A running `mlflow server`: its URL and a small client of its REST API."""

    url: str
    folder: Path
    process: subprocess.Popen

    def get(self, path: str, **params) -> dict:
        response = requests.get(f"{self.url}/api/2.0/mlflow/{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.url}/api/2.0/mlflow/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()


def start_mlflow_server(folder: Path, backend_store_uri: str) -> MlflowServer:
    """`mlflow server` on `backend_store_uri` with proxied artifacts in `folder`, one worker.
    MLflow's job runners (7 `huey` processes for GenAI scorers, ~6 s of CPU each) are off."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
               "--port", url.rsplit(":", 1)[1], "--workers", "1",
               "--backend-store-uri", backend_store_uri,
               "--artifacts-destination", str(folder / "artifacts")]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = start(command, f"{url}/health", folder / "server.log", cwd=folder, env=env)
    return MlflowServer(url, folder, process)
