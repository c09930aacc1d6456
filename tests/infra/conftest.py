"""A real `mlflow server` on 127.0.0.1 and one sine run logged to it, shared by the infra tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import FAST, run_train

SERVER_START_SECONDS = 120  # sqlite migrations alone take ~10 s on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
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


def start_server(folder: Path) -> Server:
    """`mlflow server`, sqlite backend and proxied artifacts in `folder`; waits for /health."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
               "--artifacts-destination", str(folder / "artifacts")]
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)  # its own group: stop workers too
    log.close()  # the server holds its own copy
    server = Server(f"http://127.0.0.1:{port}", folder, process)
    try:
        if wait_healthy(server):
            return server
    except BaseException:
        stop_server(server)
        raise
    stop_server(server)
    raise RuntimeError(f"mlflow server did not answer /health within {SERVER_START_SECONDS} s:\n"
                       + (folder / "server.log").read_text()[-3000:])


def wait_healthy(server: Server) -> bool:
    """Poll /health until it answers, the server exits, or SERVER_START_SECONDS pass."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            if requests.get(f"{server.url}/health", timeout=5).ok:
                return True
        except requests.RequestException:  # not listening yet, or still starting up
            pass
        time.sleep(0.5)
    return False


def stop_server(server: Server) -> None:
    """SIGTERM to the server's process group, SIGKILL after 20 s."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("mlflow_server"))
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def served_sine_run(mlflow_server, tmp_path_factory):
    """`+experiment=sine` trained by the real CLI, logged to the server; (server, result)."""
    folder = tmp_path_factory.mktemp("served_sine")
    result = run_train("+experiment=sine", *FAST, "logger=mlflow_server",
                       f"logger.tracking_uri={mlflow_server.url}", cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return mlflow_server, result
