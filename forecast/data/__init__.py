"""Data pipeline: frame -> split -> scaling -> windows -> dataset -> datamodule.

`WindowDataModule` (and with it Lightning and torch) is imported on first use, so that the
frame checks (`forecast.data.frame`) run before the CLI's heavy imports.
"""

from importlib import import_module

_LAZY = {"WindowDataModule": "forecast.data.datamodule", "Split": "forecast.data.split",
         "WindowSpec": "forecast.data.windows"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'forecast.data' has no attribute '{name}'")
    return getattr(import_module(_LAZY[name]), name)


__all__ = ["WindowDataModule", "Split", "WindowSpec"]
