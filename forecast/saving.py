"""Saving a fitted `Forecaster` to a folder and reading it back: `forecaster.json` (parameters,
network spec, schema, scaler) and `weights.pt` (tensors only, read with `weights_only=True`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecast.data.scaling import Scaler
from forecast.errors import ConfigError, DataError
from forecast.inference import Schema
from forecast.intervals import Calibration
from forecast.models import NETS
from forecast.plain import python_number

FORMAT_VERSION = 2  # 2: training options added to the parameters (lr_scheduler, ema_decay ...)
READABLE_FORMATS = (1, 2)


def save(forecaster, path: Path) -> Path:
    """Write the fitted `forecaster` to directory `path`."""
    path.mkdir(parents=True, exist_ok=True)
    ends = forecaster.history_end_
    params = forecaster.get_params()
    for key, value in params.items():
        try:
            json.dumps(value, default=python_number)
        except TypeError:
            raise ConfigError(f"save: {key}={value!r} cannot be written as JSON; pass "
                              "numbers, strings, lists and dicts.") from None
    meta = {"format": FORMAT_VERSION, "params": params, "net": forecaster.net_spec_,
            "best_epoch": forecaster.best_epoch_,
            "calibration_windows": (0 if forecaster.calibration_ is None
                                    else forecaster.calibration_.windows),
            "schema": forecaster.schema_.to_dict(), "scaler": forecaster.scaler_.state_dict(),
            "history_end": [t.isoformat() for t in ends] if isinstance(
                ends, pd.DatetimeIndex) else [int(t) for t in ends],
            "static": None if forecaster.static_ is None else forecaster.static_.to_dict("list")}
    (path / "forecaster.json").write_text(json.dumps(meta, indent=1, default=python_number))
    calibration = {} if forecaster.calibration_ is None else {
        "interval_widths": torch.from_numpy(forecaster.calibration_.widths),
        "interval_floor": torch.from_numpy(forecaster.calibration_.floor)}
    torch.save({"state_dict": forecaster.net_.state_dict(),
                "history": torch.from_numpy(forecaster.history_), **calibration},
               path / "weights.pt")
    return path


def load(cls, path: Path):
    """A `cls` (Forecaster) read from directory `path`, as `save` wrote it."""
    if not (path / "forecaster.json").is_file():
        raise DataError(f"load: '{path}' holds no saved forecaster (forecaster.json missing).")
    redo = "save the model again, or point load to the folder that save wrote"
    try:
        meta = json.loads((path / "forecaster.json").read_text())
    except (ValueError, OSError) as error:  # JSONDecodeError and UnicodeDecodeError too
        raise DataError(f"load: cannot read '{path / 'forecaster.json'}' ({error}); "
                        f"{redo}.") from None
    if not isinstance(meta, dict) or meta.get("format") not in READABLE_FORMATS:
        saved = meta.get("format") if isinstance(meta, dict) else None
        raise DataError(f"load: '{path}' was saved in format {saved}; this "
                        f"version of forecast reads formats {list(READABLE_FORMATS)}.")
    if not (path / "weights.pt").is_file():
        raise DataError(f"load: '{path / 'weights.pt'}' is missing (save writes it beside "
                        f"forecaster.json); {redo}.")
    try:
        tensors = torch.load(path / "weights.pt", weights_only=True, map_location="cpu")
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError ...
        raise DataError(f"load: cannot read '{path / 'weights.pt'}' ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''}); "
                        f"{redo}.") from None
    forecaster = cls(**meta["params"])
    forecaster.net_spec_, forecaster.best_epoch_ = meta["net"], meta.get("best_epoch")
    forecaster.net_ = NETS[meta["net"]["class"]](**meta["net"]["kwargs"])
    forecaster.net_.load_state_dict(tensors["state_dict"])
    forecaster.net_.eval()
    forecaster.scaler_ = Scaler.from_state_dict(meta["scaler"])
    forecaster.schema_ = Schema.from_dict(meta["schema"])
    forecaster.history_ = tensors["history"].numpy()
    static = meta.get("static")  # (absent in files saved before static features)
    forecaster.static_ = None if static is None else pd.DataFrame(
        static, index=pd.Index(forecaster.schema_.series_ids, name="series"))
    forecaster.calibration_ = None  # fitted without validation, or saved by an older version
    if "interval_floor" in tensors:  # (widths without a floor: unnormalised, pre-release)
        forecaster.calibration_ = Calibration(tensors["interval_widths"].numpy(),
                                              tensors["interval_floor"].numpy(),
                                              meta["calibration_windows"])
    ends = meta["history_end"]
    forecaster.history_end_ = (pd.Index(ends, dtype=np.int64)
                               if isinstance(forecaster.schema_.freq, int)
                               else pd.DatetimeIndex(ends))
    return forecaster

