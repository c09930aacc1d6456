"""Forecaster: a recurrent forecaster as a scikit-learn estimator on DataFrames."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from sklearn.base import BaseEstimator

from forecast.data import Split, WindowDataModule
from forecast.data.calendar import calendar_features
from forecast.data.frame import build_panel
from forecast.data.scaling import Scaler
from forecast.errors import ConfigError, DataError
from forecast.logs import quiet
from forecast.models import NETS, ForecastModule

MODES = {"many_to_one": "ManyToOne", "many_to_many": "ManyToMany", "seq2seq": "Seq2Seq",
         "segment": "SegmentRNN"}
FORMAT_VERSION = 1


class Forecaster(BaseEstimator):
    """Fit a recurrent forecaster on a DataFrame and forecast the next `horizon` steps.

    Wide frames (a time column or DatetimeIndex, one column per series) and long frames
    (`unique_id, ds, y`) are accepted; `predict` answers in the same form, indexed by the
    future timestamps. Training holds out the last `val_size` of each series for early stopping.

    Args:
        mode: "many_to_one", "many_to_many", "seq2seq" or "segment".
        cell: "rnn", "lstm" or "gru".
        lookback, horizon: input and forecast steps.
        hidden_size, num_layers, dropout, bidirectional, revin, channel_independent,
            teacher_forcing, segment_length: network options (see `forecast.models`); options a
            mode does not use are ignored.
        target, features, time_col, id_col, calendar, fill, scaler: data options (see
            `WindowDataModule`).
        val_size: fraction (< 1) or rows (>= 1) of each series held out for validation.
        loss, lr, batch_size, max_epochs, patience, gradient_clip_val: training options.
        accelerator: Lightning accelerator ("cpu", "gpu", "auto").
        seed: seed of weights, shuffling and dropout.

    Example:
        >>> from forecast.data.synthetic import sine_frame
        >>> model = Forecaster(lookback=48, horizon=12, max_epochs=1).fit(sine_frame(n_steps=600))
        >>> model.predict().shape
        (12, 1)
    """

    def __init__(self, mode: str = "many_to_one", cell: str = "lstm", lookback: int = 96,
                 horizon: int = 24, hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, revin: bool = False,
                 channel_independent: bool = False, teacher_forcing: float = 0.5,
                 segment_length: int = 24, target=None, features=None, time_col=None,
                 id_col=None, calendar: bool = False, fill=None, scaler: str = "standard",
                 val_size: float = 0.2, loss: str = "mse", lr: float = 1e-3,
                 batch_size: int = 64, max_epochs: int = 20, patience: int = 5,
                 gradient_clip_val: float = 1.0, accelerator: str = "cpu", seed: int = 0):
        self.mode, self.cell, self.lookback, self.horizon = mode, cell, lookback, horizon
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.bidirectional, self.revin = bidirectional, revin
        self.channel_independent, self.teacher_forcing = channel_independent, teacher_forcing
        self.segment_length, self.target, self.features = segment_length, target, features
        self.time_col, self.id_col, self.calendar = time_col, id_col, calendar
        self.fill, self.scaler, self.val_size, self.loss = fill, scaler, val_size, loss
        self.lr, self.batch_size, self.max_epochs = lr, batch_size, max_epochs
        self.patience, self.gradient_clip_val = patience, gradient_clip_val
        self.accelerator, self.seed = accelerator, seed

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y=None) -> Forecaster:
        """Train on the DataFrame `X` (`y` is ignored: the targets are columns of X)."""
        if self.mode not in MODES:
            raise ConfigError(f"mode: unknown mode '{self.mode}'; use one of {sorted(MODES)}.")
        quiet()
        pl.seed_everything(self.seed, verbose=False)
        dm = WindowDataModule(
            frame=X, target=self.target, features=self.features, time_col=self.time_col,
            id_col=self.id_col, fill=self.fill, lookback=self.lookback, horizon=self.horizon,
            split=Split(val=self.val_size, test=0), scaler=self.scaler, calendar=self.calendar,
            batch_size=self.batch_size, seed=self.seed)
        net_class = NETS[MODES[self.mode]]
        accepted = inspect.signature(net_class).parameters
        options = {k: v for k, v in self.get_params().items() if k in accepted}
        net = net_class(**options, **dm.dims)
        module = ForecastModule(net, self.loss,
                                optimizer=lambda params: torch.optim.Adam(params, lr=self.lr))
        validate = len(dm.starts_["val"]) > 0
        callbacks = [pl.callbacks.EarlyStopping("val_loss", patience=self.patience)] if validate else []
        trainer = pl.Trainer(max_epochs=self.max_epochs, accelerator=self.accelerator, devices=1,
                             gradient_clip_val=self.gradient_clip_val, logger=False,
                             callbacks=callbacks, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             limit_val_batches=1.0 if validate else 0)
        trainer.fit(module, dm)
        return self._set_fitted(dm, net, {"class": type(net).__name__, "kwargs": {
            **options, **dm.dims}})

    @classmethod
    def from_fitted(cls, dm: WindowDataModule, net: torch.nn.Module, net_kwargs: dict,
                    **params) -> Forecaster:
        """Wrap a network trained elsewhere (the CLI) on `dm`'s data as a Forecaster."""
        known = inspect.signature(cls).parameters
        merged = {k: v for k, v in {**net_kwargs, **params}.items() if k in known}
        forecaster = cls(**merged)
        return forecaster._set_fitted(dm, net, {"class": type(net).__name__,
                                                "kwargs": {**net_kwargs, **dm.dims}})

    def _set_fitted(self, dm: WindowDataModule, net, net_spec: dict) -> Forecaster:
        panel, lookback = dm.panel_, dm.spec.lookback
        self.net_ = net.cpu().eval()
        self.net_spec_ = net_spec
        self.scaler_ = dm.scaler
        self.data_ = {  # everything predict needs to read a new frame like the training one
            "columns": list(panel.columns), "n_targets": panel.n_targets,
            "fill": dm.columns["fill"], "freq": panel.freq, "series_ids": list(panel.series_ids),
            "lookback": lookback, "horizon": dm.spec.horizon, "calendar": bool(dm.calendar),
            "id_col": panel.id_col, "time_name": panel.time_name,
        }
        ends = panel.bounds[1:]
        self.history_ = dm.unscaled(ends[:, None] - lookback + np.arange(lookback))  # [S, L, C]
        self.history_end_ = list(panel.time_at(ends - 1))
        return self

    # -- forecasting ------------------------------------------------------------------------
    def predict(self, X: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the `horizon` steps after the end of `X` (default: after the training data).

        Returns:
            Wide input: a DataFrame indexed by the future timestamps, one column per target.
            Long input: columns `[id, time, *targets]`, `horizon` rows per series.
        """
        self._check_fitted()
        data = self.data_
        if X is None:
            history, ends, ids = self.history_, self.history_end_, data["series_ids"]
        else:
            history, ends, ids = self._read_history(X)
        scaler = self._scaler_for(ids, history)
        series = np.arange(len(ids))
        scaled = scaler.transform(history.reshape(-1, history.shape[-1]),
                                  np.arange(len(ids) + 1) * data["lookback"])
        x = torch.from_numpy(scaled.reshape(history.shape))
        future = [_future_times(end, data["freq"], data["horizon"]) for end in ends]
        x_time = y_time = None
        if data["calendar"]:
            x_time = torch.stack([torch.from_numpy(calendar_features(
                _past_times(end, data["freq"], data["lookback"]), data["freq"])) for end in ends])
            y_time = torch.stack([torch.from_numpy(calendar_features(t, data["freq"]))
                                  for t in future])
        with torch.inference_mode():
            out = self.net_.predict(x, x_time, y_time).numpy()  # [S, H, T]
        values = scaler.inverse_transform(out, series, slice(0, data["n_targets"]))
        return self._to_frame(values, future, ids)

    def _read_history(self, X: pd.DataFrame):
        data = self.data_
        targets, features = data["columns"][:data["n_targets"]], data["columns"][data["n_targets"]:]
        missing = [c for c in data["columns"] if c not in X.columns]
        if missing:
            raise DataError(f"predict: the history misses column(s) {missing} the model was "
                            f"trained on; pass a frame with columns {data['columns']}.")
        time_col = data["time_name"] if data["time_name"] in X.columns else None
        panel = build_panel(X, target=targets, features=features, time_col=time_col,
                            id_col=data["id_col"], fill=data["fill"])
        if str(panel.freq) != str(data["freq"]):
            raise DataError(f"predict: the history's frequency is {panel.freq}, but the model "
                            f"was trained on {data['freq']}; resample it to {data['freq']}.")
        lookback = data["lookback"]
        short = [sid for sid, n in zip(panel.series_ids, panel.lengths) if n < lookback]
        if short:
            raise DataError(f"predict: series {short[:5]} have fewer than lookback={lookback} "
                            "rows; pass at least that many rows of history per series.")
        ends = panel.bounds[1:]
        history = np.stack([panel.values[e - lookback:e] for e in ends])
        return history, list(panel.time_at(ends - 1)), list(panel.series_ids)

    def history_frame(self) -> pd.DataFrame:
        """The last `lookback` training rows in the input's form: a valid `predict` input."""
        self._check_fitted()
        data, frames = self.data_, []
        for s, sid in enumerate(data["series_ids"]):
            times = _past_times(self.history_end_[s], data["freq"], data["lookback"])
            frame = pd.DataFrame(self.history_[s].astype(float), columns=data["columns"])
            frame.insert(0, data["time_name"], times)
            if data["id_col"] is not None:
                frame.insert(0, data["id_col"], sid)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def _scaler_for(self, ids: list[str], history: np.ndarray) -> Scaler:
        """The fitted statistics of known series; a series new to the model is scaled by its own
        history."""
        known = {sid: i for i, sid in enumerate(self.data_["series_ids"])}
        scaler = Scaler(self.scaler_.method)
        scaler.fit(history.reshape(-1, history.shape[-1]),
                   np.arange(len(ids) + 1) * history.shape[1], np.full(len(ids), history.shape[1]))
        for row, sid in enumerate(ids):
            if sid in known:
                scaler.center_[row] = self.scaler_.center_[known[sid]]
                scaler.scale_[row] = self.scaler_.scale_[known[sid]]
        return scaler

    def _to_frame(self, values: np.ndarray, future: list[pd.Index], ids: list[str]) -> pd.DataFrame:
        data = self.data_
        targets = data["columns"][:data["n_targets"]]
        if data["id_col"] is None:
            return pd.DataFrame(values[0], index=pd.Index(future[0], name=data["time_name"]),
                                columns=targets)
        id_col = data["id_col"]
        frames = [pd.DataFrame(values[s], columns=targets).assign(
            **{id_col: sid, data["time_name"]: future[s]}) for s, sid in enumerate(ids)]
        return pd.concat(frames, ignore_index=True)[[id_col, data["time_name"], *targets]]

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This Forecaster is not fitted yet; call fit(df) first.")

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted forecaster to directory `path` (JSON + tensors, no pickle)."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT_VERSION, "params": self.get_params(), "net": self.net_spec_,
                "data": {**self.data_, "freq": self.data_["freq"]},
                "scaler": self.scaler_.state_dict(),
                "history_end": [str(t) for t in self.history_end_]}
        (path / "forecaster.json").write_text(json.dumps(meta, indent=1, default=str))
        torch.save({"state_dict": self.net_.state_dict(),
                    "history": torch.from_numpy(self.history_)}, path / "weights.pt")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """Read a forecaster written by `save` (weights loaded with `weights_only=True`)."""
        path = Path(path)
        if not (path / "forecaster.json").is_file():
            raise DataError(f"load: '{path}' holds no saved forecaster (forecaster.json missing).")
        meta = json.loads((path / "forecaster.json").read_text())
        tensors = torch.load(path / "weights.pt", weights_only=True, map_location="cpu")
        forecaster = cls(**meta["params"])
        forecaster.net_spec_ = meta["net"]
        forecaster.net_ = NETS[meta["net"]["class"]](**meta["net"]["kwargs"])
        forecaster.net_.load_state_dict(tensors["state_dict"])
        forecaster.net_.eval()
        forecaster.scaler_ = Scaler.from_state_dict(meta["scaler"])
        data = meta["data"]
        if isinstance(data["freq"], str) and data["freq"].lstrip("-").isdigit():
            data["freq"] = int(data["freq"])
        forecaster.data_ = data
        forecaster.history_ = tensors["history"].numpy()
        forecaster.history_end_ = [_parse_time(t, data["freq"]) for t in meta["history_end"]]
        return forecaster


def _future_times(end, freq, horizon: int) -> pd.Index:
    if isinstance(freq, (int, np.integer)):
        return pd.Index(end + freq * np.arange(1, horizon + 1))
    return pd.date_range(end, periods=horizon + 1, freq=freq)[1:]


def _past_times(end, freq, lookback: int) -> pd.Index:
    if isinstance(freq, (int, np.integer)):
        return pd.Index(end - freq * np.arange(lookback - 1, -1, -1))
    return pd.date_range(end=end, periods=lookback, freq=freq)


def _parse_time(value: str, freq):
    return int(value) if isinstance(freq, int) else pd.Timestamp(value)
