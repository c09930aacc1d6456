"""The README's setup and test commands are the ones CI runs."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, re.S).group(1)
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    return {"setup": lines[0], "test": lines[1], "main": lines[2]}


def test_ci_runs_exactly_the_readme_setup_and_test_commands():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    commands = readme_commands()
    assert commands["setup"] in ci and commands["test"] in ci
    assert commands["main"].endswith("python -m forecast.train +experiment=sine")


def test_setup_pins_the_cpu_torch_wheel():
    assert "torch==2.13.0" in (REPO / "constraints.txt").read_text()
    assert "-c constraints.txt" in readme_commands()["setup"]
