"""WindowDataModule: frame -> panel -> split -> scale -> windows, served to Lightning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from forecast.data.calendar import calendar_features, season_length
from forecast.data.dataset import WindowDataset, WindowLoader
from forecast.data.frame import Panel, build_panel, read_frame
from forecast.data.scaling import Scaler
from forecast.data.split import PARTS, Split, split_borders
from forecast.data.windows import (WindowSpec, check_enough_rows, gather_windows,
                                   window_series, window_starts)
from forecast.errors import ConfigError
from forecast.metrics import naive_scale


class WindowDataModule(pl.LightningDataModule):
    """Serves lookback -> horizon windows of a DataFrame or CSV/Parquet file.

    `setup()` validates the frame, splits each series chronologically, fits the scaler on the
    training rows only and computes the start row of every window; batches are gathered from
    the one scaled array, never materialised as a whole.

    Args:
        path: CSV or Parquet file (ignored when `frame` is given).
        frame: a DataFrame, wide or long (see `forecast.data.frame`).
        target, features, time_col, id_col, fill, sort: column selection and cleaning, see
            `build_panel`.
        lookback, horizon, stride: window shape (`stride` for training windows).
        split: a `Split` or its fields as a mapping (fractions, row borders or dates).
        scaler: "standard", "minmax" or "none".
        calendar: add calendar features (hour, weekday ...) as known-future inputs.
        future_features: columns whose future values are known (a price plan, holidays ...).
            Scaled like the other channels, they join the calendar features as the batch's
            `x_time`/`y_time` (not `x`), so forecasting needs their next `horizon` values.
        season: season length for seasonal baselines; None infers it from the frequency.
        batch_size: training batch size; `eval_batch_size` for val/test (default 4x).
        on_device: keep the series on the trainer's device (GPU) and gather batches there.
        seed: seed of the shuffling order.

    Example:
        >>> from forecast.data.synthetic import sine_frame
        >>> dm = WindowDataModule(frame=sine_frame(n_steps=500), lookback=24, horizon=6)
        >>> dm.setup()
        >>> batch = next(iter(dm.train_dataloader()))
        >>> tuple(batch["x"].shape), tuple(batch["y"].shape)
        ((64, 24, 1), (64, 6, 1))
    """

    def __init__(
        self,
        path: str | Path | None = None,
        frame: pd.DataFrame | None = None,
        target: str | Sequence[str] | None = None,
        features: str | Sequence[str] | None = None,
        time_col: str | None = None,
        id_col: str | None = None,
        fill: str | None = None,
        sort: bool = False,
        lookback: int = 96,
        horizon: int = 1,
        stride: int = 1,
        split: Split | Mapping | None = None,
        scaler: str = "standard",
        calendar: bool = False,
        future_features: str | Sequence[str] | None = None,
        season: int | None = None,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        on_device: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        if path is None and frame is None:
            raise ConfigError("data.path: give a CSV/Parquet path (or a DataFrame as `frame`).")
        self.path, self.frame = path, frame
        future = _names(future_features)
        if overlap := set(future) & set(_names(target)):
            raise ConfigError(f"data.future_features: {sorted(overlap)} are targets; a target's "
                              "future is what the model forecasts, so drop it from the list.")
        self.columns = dict(target=_plain(target), features=_plain(features), time_col=time_col,
                            id_col=id_col, fill=fill, sort=sort, future_features=future)
        self.spec = WindowSpec(lookback, horizon, stride)
        self.split = split if isinstance(split, Split) else Split(**_plain(split or {}))
        self.scaler = Scaler(scaler)
        self.calendar, self.season_ = calendar, season
        if batch_size < 1:
            raise ConfigError(f"data.batch_size: must be >= 1, got {batch_size}.")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or 4 * batch_size
        self.on_device, self.seed = on_device, seed
        self.panel_: Panel | None = None

    # -- setup ------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.panel_ is not None:
            return
        frame = self.frame if self.frame is not None else read_frame(self.path)
        panel = build_panel(frame, **self.columns)
        borders = split_borders(self.split, panel.time, panel.bounds)  # [S, 3]
        check_enough_rows(panel.lengths, borders, self.spec, panel.series_ids)
        self.scaler.fit(panel.values, panel.bounds, borders[:, 0])
        scaled = self.scaler.transform(panel.values, panel.bounds)  # [T, C] float32
        n_past = scaled.shape[1] - len(self.columns["future_features"])
        self.scaled_ = np.ascontiguousarray(scaled[:, :n_past])  # the inputs x: [T, C_past]
        parts = np.stack([np.zeros_like(borders[:, 0]), *borders.T], axis=1)  # [S, 4]
        self.starts_ = {
            name: window_starts(panel.bounds, parts[:, i:i + 2], self.spec,
                                stride=self.spec.stride if name == "train" else 1)
            for i, name in enumerate(PARTS)
        }
        known = [calendar_features(panel.time, panel.freq)] if self.calendar else []
        if n_past < scaled.shape[1]:
            known.append(scaled[:, n_past:])  # known-future columns ride with the calendar
        self.calendar_ = np.concatenate(known, axis=1) if known else None  # [T, F] or None
        if self.season_ is None:
            self.season_ = season_length(panel.freq)
        self.borders_, self.panel_ = borders, panel

    # -- what models need to know ------------------------------------------------------------
    @property
    def dims(self) -> dict[str, int]:
        """Constructor arguments every network takes from the data."""
        self.setup()
        return dict(n_inputs=self.scaled_.shape[1], n_targets=self.panel_.n_targets,
                    n_time_features=0 if self.calendar_ is None else self.calendar_.shape[1],
                    lookback=self.spec.lookback, horizon=self.spec.horizon)

    @property
    def season(self) -> int:
        self.setup()
        return self.season_

    # -- datasets and loaders ----------------------------------------------------------------
    def dataset(self, part: str) -> WindowDataset:
        self.setup()
        calendar = None if self.calendar_ is None else torch.from_numpy(self.calendar_)
        dataset = WindowDataset(torch.from_numpy(self.scaled_), torch.from_numpy(self.starts_[part]),
                                self.spec, self.panel_.n_targets, calendar)
        trainer = getattr(self, "trainer", None)
        if self.on_device and trainer is not None:
            dataset = dataset.to(trainer.strategy.root_device)
        return dataset

    def loader(self, part: str, distributed: bool = False) -> WindowLoader:
        """Batches of a part; shuffled for "train"; sharded across ranks if `distributed`."""
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer and distributed else (0, 1)
        train = part == "train"
        return WindowLoader(self.dataset(part), self.batch_size if train else self.eval_batch_size,
                            shuffle=train, seed=self.seed, rank=rank, world_size=world)

    def train_dataloader(self) -> WindowLoader:
        return self.loader("train", distributed=True)

    def val_dataloader(self) -> WindowLoader:
        return self.loader("val", distributed=True)

    def test_dataloader(self) -> WindowLoader:
        return self.loader("test", distributed=True)

    def predict_dataloader(self) -> WindowLoader:
        return self.loader("test", distributed=True)

    # -- numpy views for baselines and evaluation ---------------------------------------------
    def windows(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """Scaled inputs [N, L, C] and targets [N, H, n_targets] of a part (index gather)."""
        self.setup()
        return gather_windows(self.scaled_, self.starts_[part], self.spec, self.panel_.n_targets)

    def window_series(self, part: str) -> np.ndarray:
        """[N] series index of each window of a part."""
        return window_series(self.starts_[part], self.panel_.bounds)

    def window_times(self, part: str) -> np.ndarray:
        """[N, H] timestamps of the targets of each window of a part."""
        rows = self.starts_[part][:, None] + self.spec.lookback + np.arange(self.spec.horizon)
        return np.asarray(self.panel_.time)[rows]

    def inverse_transform(self, scaled: np.ndarray, part: str,
                          index: np.ndarray | None = None) -> np.ndarray:
        """Target values [N, ..., n_targets] of a part's windows (or of `index` among them)
        back in original units."""
        series = self.window_series(part)
        return self.scaler.inverse_transform(scaled, series if index is None else series[index],
                                             slice(0, self.panel_.n_targets))

    def mase_scale(self, part: str) -> np.ndarray:
        """[N, 1, T] in-sample seasonal-naive MAE (original units) of each window's series."""
        scale = naive_scale(self.panel_.values, self.panel_.bounds, self.borders_[:, 0], self.season)
        return scale[self.window_series(part)][:, None, :self.panel_.n_targets]

    def state_dict(self) -> dict:
        """What a checkpoint needs to reproduce the data transform (plain types only)."""
        if self.panel_ is None:
            return {}
        return {"scaler": self.scaler.state_dict(), "columns": list(self.panel_.columns),
                "n_targets": self.panel_.n_targets, "freq": str(self.panel_.freq)}


def _names(value) -> list:
    """None, a column name or a list of names -> a list of names."""
    value = _plain(value) or []
    return [value] if isinstance(value, str) else list(value)


def _plain(value):
    """OmegaConf containers -> plain Python (Hydra passes ListConfig/DictConfig)."""
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf ships with hydra-core
        pass
    return value
