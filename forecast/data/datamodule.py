"""WindowDataModule: frame -> panel -> split -> scale -> windows, served to Lightning."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from forecast.data.calendar import (
    calendar_features,
    note_empty_calendar,
    season_length,
    stack_known,
)
from forecast.data.dataset import WindowDataset, WindowLoader
from forecast.data.frame import build_panel, note_row_numbers, read_frame
from forecast.data.panel import Panel
from forecast.data.scaling import Scaler
from forecast.data.split import PARTS, Split, split_borders
from forecast.data.static import StaticEncoder
from forecast.data.timeaxis import wall_clock
from forecast.data.windows import WindowSpec, check_enough_rows, gather_windows, window_index
from forecast.errors import ConfigError, DataError, is_positive_int
from forecast.metrics import naive_scale
from forecast.plain import plain_data

log = logging.getLogger(__name__)


class WindowDataModule(pl.LightningDataModule):
    """Serves lookback -> horizon windows of a DataFrame or CSV/Parquet file.

    `setup()` validates the frame, splits each series chronologically, fits the scaler on the
    training rows only, scales the float32 values in place (`values_` [T, C] is the only copy
    of the data; `unscaled` gives original units back) and indexes the windows of each part
    (`starts_`, a `WindowIndex` per part: no per-window array). Batches are gathered from
    `values_` by index, never materialised as a whole.

    Args:
        path: CSV or Parquet file (ignored when `frame` is given).
        read_options: keyword arguments of `pd.read_csv` / `pd.read_parquet` for `path`, e.g.
            {"sep": ";", "decimal": ","} (Excel's CSV in much of Europe) or
            {"parse_dates": ["date"], "dayfirst": True}.
        frame: a DataFrame, wide or long (see `forecast.data.frame`).
        target, features, time_col, id_col, fill, sort: column selection and cleaning, see
            `build_panel`.
        lookback, horizon, stride: window shape (`stride` for training windows).
        split: a `Split`, its fields as a mapping (fractions, row borders, dates or a preset),
            or a preset name ("ett_hour").
        scaler: "standard", "minmax" or "none".
        calendar: add calendar features (hour, weekday ...) as known-future inputs.
        future_features: columns whose future values are known (a price plan, holidays ...).
            Scaled like the other channels, they join the calendar features as the batch's
            `x_time`/`y_time` (not `x`), so forecasting needs their next `horizon` values.
        static_features: columns of a long frame with one value per series (a region, a
            capacity): encoded by a `StaticEncoder` (one-hot or standardised), they join
            `x_time`/`y_time` at every step of the series' windows.
        season: season length for seasonal baselines; None infers it from the frequency.
        batch_size: training batch size; `eval_batch_size` for val/test (default 4x).
        steps_per_execution: training batches per Lightning step (a list of them): the module
            takes an optimiser step on each, and Lightning's own cost per step (~0.3-0.9 ms of
            Python) is paid once per list. With `ForecastModule`, `global_step`, `max_steps`,
            the loggers' step axis and its `train_loss_step` every `log_every_n_steps` count
            optimiser steps, an integer `limit_train_batches` batches (the loader serves no
            more), and `forecast.progress.ProgressBar` batches; Lightning's own bar, a
            fractional `limit_train_batches`, an integer `val_check_interval` and the batch
            hooks of callbacks count lists (README: "The training step").
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
        read_options: Mapping | None = None,
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
        split: Split | Mapping | str | None = None,
        scaler: str = "standard",
        calendar: bool = False,
        future_features: str | Sequence[str] | None = None,
        static_features: str | Sequence[str] | None = None,
        season: int | None = None,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        steps_per_execution: int = 1,
        on_device: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        if path is None and frame is None:
            raise ConfigError("data.path: give a CSV/Parquet path (or a DataFrame as `frame`, "
                              "also to load_from_checkpoint).")
        self.path, self.frame = path, frame
        self.read_options = dict(_plain(read_options) or {})
        future, static = _names(future_features), _names(static_features)
        if overlap := set(future) & set(_names(target)):
            raise ConfigError(f"data.future_features: {sorted(overlap)} are targets; a target's "
                              "future is what the model forecasts, so drop it from the list.")
        if overlap := set(static) & set(_names(target) + future):
            raise ConfigError(f"data.static_features: {sorted(overlap)} are also targets or "
                              "future_features; a column is one of them, so drop it from one.")
        self.columns = dict(target=_plain(target), features=_plain(features), time_col=time_col,
                            id_col=id_col, fill=fill, sort=sort, future_features=future,
                            static_features=static)
        self.spec = WindowSpec(lookback, horizon, stride)
        self.split = _as_split(_plain(split))
        self.scaler = Scaler(scaler)
        self.calendar, self.season_ = calendar, season
        if batch_size < 1:
            raise ConfigError(f"data.batch_size: must be >= 1, got {batch_size}.")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or 4 * batch_size
        if not is_positive_int(steps_per_execution):
            raise ConfigError("data.steps_per_execution: must be a positive integer, got "
                              f"{steps_per_execution!r}.")
        self.steps_per_execution = steps_per_execution
        self.on_device, self.seed = on_device, seed
        # What `load_from_checkpoint(path, frame=...)` rebuilds this module with (plain data:
        # the frame is not saved, a path is).
        self.save_hyperparameters(checkpoint_plain(
            {"path": _full_path(path), "read_options": self.read_options, **self.columns,
             "lookback": lookback, "horizon": horizon, "stride": stride,
             "split": asdict(self.split), "scaler": scaler, "calendar": calendar,
             "season": season, "batch_size": batch_size, "eval_batch_size": eval_batch_size,
             "steps_per_execution": steps_per_execution, "seed": seed}), logger=False)
        self.panel_: Panel | None = None
        self.static_encoder_: StaticEncoder | None = None
        self._restored: dict | None = None  # a checkpoint's scaler, applied by setup()
        self._tensors: dict = {}  # device -> a dataset holding the series there

    # -- setup ------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.panel_ is not None:
            return
        frame = self.frame if self.frame is not None else read_frame(self.path, **self.read_options)
        panel = build_panel(frame, **self.columns)
        note_row_numbers(frame, panel, self.columns["time_col"])
        borders = split_borders(self.split, panel)  # [S, 3]
        check_enough_rows(panel.lengths, borders, self.spec, panel.series_ids,
                          panel.id_col)
        values = panel.values  # [T, C] float32, owned by the panel: scaled in place below
        if self._restored is None:
            self.scaler.fit(values, panel.bounds, borders[:, 0])
        else:
            self.scaler = _check_restored(self._restored, panel)
        values = self.scaler.transform(values, panel.bounds, out=values)
        n_past = values.shape[1] - len(self.columns["future_features"])
        calendar = static = future = None
        if self.calendar:  # of the local clock where the times are UTC (`timeaxis.naive`)
            times = wall_clock(panel.time_at(np.arange(len(values))), panel.tz, panel.freq)
            calendar = calendar_features(times, panel.freq)
            note_empty_calendar(panel.freq, panel.time_name, panel.start)
        if panel.static is not None:  # each series' encoding on each of its rows
            restored = (self._restored or {}).get("static")
            self.static_encoder_ = (StaticEncoder().fit(panel.static) if restored is None
                                    else StaticEncoder.from_state_dict(restored))
            encoded = self.static_encoder_.transform(panel.static)  # [S, F]
            static = np.repeat(encoded, panel.lengths, axis=0)
        if n_past < values.shape[1]:  # known-future columns ride with the calendar (x_time)
            future = np.ascontiguousarray(values[:, n_past:])
            values = np.ascontiguousarray(values[:, :n_past])
        self.values_ = values  # [T, C_past]: the inputs x
        # [T, F] or None: calendar, static, then known-future columns (last, see `unscaled`)
        self.calendar_ = stack_known(calendar, static, future)
        self.n_calendar_ = 0 if calendar is None else calendar.shape[1]
        parts = np.concatenate([np.zeros_like(borders[:, :1]), borders], axis=1)  # [S, 4]
        self.starts_ = {
            name: window_index(panel.bounds, parts[:, i:i + 2], self.spec,
                               stride=self.spec.stride if name == "train" else 1)
            for i, name in enumerate(PARTS)
        }
        if self.season_ is None:
            self.season_ = season_length(panel.freq)
        self.borders_, self.panel_ = borders, replace(panel, values=None)

    # -- what models need to know ------------------------------------------------------------
    @property
    def dims(self) -> dict[str, int]:
        """Constructor arguments every network takes from the data."""
        self.setup()
        return dict(n_inputs=self.values_.shape[1], n_targets=self.panel_.n_targets,
                    n_time_features=0 if self.calendar_ is None else self.calendar_.shape[1],
                    lookback=self.spec.lookback, horizon=self.spec.horizon)

    @property
    def season(self) -> int:
        self.setup()
        return self.season_

    # -- datasets and loaders ----------------------------------------------------------------
    def dataset(self, part: str) -> WindowDataset:
        """The windows of a part; on the trainer's device with `on_device`."""
        self.setup()
        dataset = WindowDataset(self.values_, self.starts_[part], self.spec,
                                self.panel_.n_targets, self.calendar_)
        trainer = getattr(self, "trainer", None)
        if not (self.on_device and trainer):
            return dataset
        device = trainer.strategy.root_device
        if device not in self._tensors:  # moved once, shared by every part's dataset
            self._tensors[device] = dataset.to(device)
        on_device = self._tensors[device]
        return WindowDataset(on_device.values, self.starts_[part], self.spec,
                             self.panel_.n_targets, on_device.calendar)

    def loader(self, part: str, distributed: bool = False) -> WindowLoader:
        """Batches of a part; shuffled for "train", and then in lists of `steps_per_execution`
        batches when that is above 1; sharded across ranks if `distributed`."""
        trainer = getattr(self, "trainer", None)
        shard = trainer is not None and distributed
        rank, world = (trainer.global_rank, trainer.world_size) if shard else (0, 1)
        if trainer is not None and getattr(trainer, "overfit_batches", 0):
            raise ConfigError("trainer.overfit_batches: Lightning rewrites a torch DataLoader "
                              "for it, and the window loader is none; train on a few batches "
                              "with trainer.limit_train_batches=N (and limit_val_batches=N).")
        train, group = part == "train", self.steps_per_execution
        # Lightning's integer limit counts training items, here lists: the loader counts batches.
        limit = getattr(trainer, "limit_train_batches", None) if train and group > 1 else None
        return WindowLoader(self.dataset(part), self.batch_size if train else self.eval_batch_size,
                            shuffle=train, seed=self.seed, rank=rank, world_size=world,
                            group=group if train else 1,
                            max_batches=limit if type(limit) is int else None)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        # Batches of GPU-resident windows (and every batch on a CPU) are on the device already:
        # Lightning's walk over the batch (~25 calls of its collection helper) is skipped.
        parts = batch if isinstance(batch, list) else [batch]  # a list: steps_per_execution > 1
        if all(isinstance(part, dict) and all(isinstance(value, torch.Tensor)
                                              and value.device == device for value in part.values())
               for part in parts):
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

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
        """Scaled inputs [N, L, C] and targets [N, H, n_targets] of a part: a read-only view
        of the series for a single series, else one index gather."""
        self.setup()
        return gather_windows(self.values_, self.starts_[part], self.spec, self.panel_.n_targets)

    def window_series(self, part: str) -> np.ndarray:
        """[N] series index of each window of a part."""
        self.setup()
        return self.starts_[part].window_series()

    def window_times(self, part: str) -> np.ndarray:
        """[N, H] timestamps of the targets of each window of a part."""
        self.setup()
        return self.target_times(self.starts_[part].starts())

    def target_times(self, starts: np.ndarray) -> np.ndarray:
        """[K, H] timestamps (or integer steps) of the targets of the windows at rows
        `starts`."""
        rows = np.asarray(starts)[:, None] + self.spec.lookback + np.arange(self.spec.horizon)
        return np.asarray(self.panel_.time_at(rows)).reshape(rows.shape)

    def inverse_transform(self, scaled: np.ndarray, part: str,
                          index: np.ndarray | None = None) -> np.ndarray:
        """Target values [N, ..., n_targets] of a part's windows (or of `index` among them)
        back in original units; `scaled` may be a tensor (`trainer.predict`'s, bf16 too)."""
        if isinstance(scaled, torch.Tensor):
            scaled = scaled.detach().cpu()
            half = scaled.dtype in (torch.bfloat16, torch.float16)  # numpy has no bf16
            scaled = (scaled.float() if half else scaled).numpy()
        series = self.window_series(part)
        return self.scaler.inverse_transform(scaled, series if index is None else series[index],
                                             slice(0, self.panel_.n_targets))

    def unscaled(self, rows: np.ndarray) -> np.ndarray:
        """[..., C] every column (known-future ones last) of the stacked rows `rows` (any
        shape of int) in original units."""
        self.setup()
        rows = np.asarray(rows)
        series = np.searchsorted(self.panel_.bounds, rows, side="right") - 1
        scaled = self.values_[rows]
        n_future = len(self.columns["future_features"])
        if n_future:
            scaled = np.concatenate([scaled, self.calendar_[rows][..., -n_future:]], axis=-1)
        return scaled * self.scaler.scale_[series] + self.scaler.center_[series]

    def mase_scale(self, part: str) -> np.ndarray:
        """[N, 1, T] in-sample seasonal-naive MAE (original units) of each window's series."""
        # The naive MAE of the scaled series times the scale is the MAE in original units.
        scale = naive_scale(self.values_, self.panel_.bounds, self.borders_[:, 0], self.season)
        scale = scale * self.scaler.scale_[:, :self.values_.shape[1]]
        return scale[self.window_series(part)][:, None, :self.panel_.n_targets]

    # -- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What a checkpoint needs to reproduce the data transform (plain types only)."""
        if self.panel_ is None:
            return {}
        state = {"scaler": self.scaler.state_dict(tensors=True),
                 "columns": list(self.panel_.columns), "series_ids": list(self.panel_.series_ids),
                 "n_targets": self.panel_.n_targets, "freq": str(self.panel_.freq)}
        if self.static_encoder_ is not None:
            state["static"] = self.static_encoder_.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Use the scaler of a checkpoint instead of fitting one (Lightning calls this when a
        run resumes, after `setup`): the data is rescaled in place if it differs."""
        if not state:
            return
        self._restored = state
        if self.panel_ is None:
            return
        restored = _check_restored(state, self.panel_)
        if not (np.array_equal(restored.center_, self.scaler.center_)
                and np.array_equal(restored.scale_, self.scaler.scale_)):
            # Rare (the data changed since the checkpoint): prepare the data again, scaled
            # with the checkpoint's statistics.
            self.panel_ = None
            self._tensors.clear()
            self.setup()


def _check_restored(state: dict, panel: Panel) -> Scaler:
    """The checkpoint's scaler, after checking that it was fitted on data shaped like `panel`."""
    for key, ours in (("columns", list(panel.columns)), ("series_ids", list(panel.series_ids))):
        if key in state and list(state[key]) != ours:
            raise DataError(f"data: the checkpoint was trained on {key} {state[key][:10]}, but "
                            f"the data has {ours[:10]}; use the same data.target/data.features "
                            "and series, or train from scratch.")
    return Scaler.from_state_dict(state["scaler"])


def _as_split(split) -> Split:
    if isinstance(split, Split):
        return split
    if isinstance(split, str):  # a preset name
        return Split(preset=split)
    if split is not None and not isinstance(split, Mapping):
        raise ConfigError(f"data.split: expected fractions, borders, dates or a preset name, "
                          f"got {split!r}.")
    return Split(**(split or {}))


def checkpoint_plain(values: dict) -> dict:
    """`values` as a checkpoint holds them for loading without pickle (`weights_only`):
    timestamps as ISO text, numpy numbers as Python's; a value of another kind (a dtype in
    `read_options`) is left out, to be passed to `load_from_checkpoint` again."""
    plain = {}
    for key, value in values.items():
        try:
            plain[key] = plain_data(value)
        except (TypeError, ValueError):
            log.info(f"WindowDataModule: {key}={value!r} is not plain data; a checkpoint leaves "
                     f"it out (pass {key}= to load_from_checkpoint again).")
    return plain


def _full_path(path) -> str | None:
    """A local `path` made absolute (a checkpoint is loaded from anywhere); a URL as it is."""
    if path is None or "://" in str(path):
        return None if path is None else str(path)
    return str(Path(path).resolve())


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
