"""The README's `## Python API` section runs as written: its python blocks, in order."""

from __future__ import annotations

import re

import mlflow
import pytest

from tests.conftest import REPO

SECTION = "## Python API"


def python_blocks(markdown: str, section: str) -> list[str]:
    """The ```python blocks between the heading `section` and the next `## ` heading."""
    start = markdown.index(f"\n{section}\n")
    end = markdown.find("\n## ", start + len(section) + 2)
    body = markdown[start:end if end != -1 else None]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


@pytest.mark.slow
def test_python_api_snippets_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks((REPO / "README.md").read_text(), SECTION)
    assert len(blocks) >= 5, "the section lost its examples"
    monkeypatch.chdir(tmp_path)  # the snippets write my_model/, mlflow.db, request.json here
    previous_uri = mlflow.get_tracking_uri()
    namespace: dict = {"__name__": "readme"}
    try:
        for number, code in enumerate(blocks, 1):
            exec(compile(code, f"README.md {SECTION} block {number}", "exec"), namespace)
    finally:
        mlflow.set_tracking_uri(previous_uri)
    printed = capsys.readouterr().out
    assert printed.count("y0") >= 3  # the forecasts the snippets print
    assert (tmp_path / "my_model" / "weights.pt").is_file()
    assert (tmp_path / "request.json").read_text().startswith('{"dataframe_split"')
    assert namespace["again"].predict(namespace["df"]).equals(
        namespace["model"].predict(namespace["df"]))
