"""One sine run logged to the session's real `mlflow server` (tests/conftest.py), shared by the
infra tests."""

from __future__ import annotations

import pytest

from tests.conftest import FAST, run_train


@pytest.fixture(scope="session")
def served_sine_run(mlflow_server, tmp_path_factory):
    """`+experiment=sine` trained by the real CLI, logged to the server; (server, result)."""
    folder = tmp_path_factory.mktemp("served_sine")
    result = run_train("+experiment=sine", *FAST, "logger=mlflow_server",
                       f"logger.tracking_uri={mlflow_server.url}", cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return mlflow_server, result
