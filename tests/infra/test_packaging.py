"""A wheel (`pip install .`, not only the editable install of the README) carries the Hydra
configs, and its CLI composes them from any folder."""

import os
import subprocess
import sys
import zipfile

from tests.conftest import REPO


def test_a_wheel_carries_the_configs_its_cli_reads(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("forecast-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    configs = {p.relative_to(REPO).as_posix() for p in (REPO / "conf").rglob("*.yaml")}
    assert {f"forecast/{name}" for name in configs} <= names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    found = subprocess.run([sys.executable, "-c", "import forecast.overrides; "
                            "print(forecast.overrides.CONF)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == str(tmp_path / "site" / "forecast" / "conf")  # the wheel's
    shown = subprocess.run(
        [sys.executable, "-m", "forecast.train", "+experiment=sine", "--cfg", "job"],
        cwd=elsewhere, capture_output=True, text=True, timeout=120, env=env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "experiment_name: sine" in shown.stdout and "lookback:" in shown.stdout
