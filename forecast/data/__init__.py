"""Data pipeline: frame -> split -> scaling -> windows -> dataset -> datamodule."""

from forecast.data.datamodule import WindowDataModule
from forecast.data.split import Split
from forecast.data.windows import WindowSpec

__all__ = ["WindowDataModule", "Split", "WindowSpec"]
