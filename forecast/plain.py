"""Plain data (JSON's kinds) from values that pandas and numpy hand out: what saved models and
checkpoints store, read back without pickle."""

from __future__ import annotations

import datetime
import json
import os

import numpy as np


def python_number(value):
    """`json.dumps` default: numpy scalars as Python numbers; nothing else."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def plain_data(value):
    """`value` as JSON's kinds: numpy scalars as Python numbers, timestamps as ISO text, paths
    as text. Raises TypeError (or ValueError) for anything else."""
    return json.loads(json.dumps(value, default=_plain_value))


def _plain_value(value):
    if isinstance(value, datetime.date):  # pd.Timestamp too
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return str(value)
    return python_number(value)
