"""ForecastNet: what every network shares (sizes, RevIN, channel independence)."""

from __future__ import annotations

import torch
from torch import nn

from forecast.errors import ConfigError
from forecast.models.norm import RevIN


class ForecastNet(nn.Module):
    """Base class of the forecasting networks. Tensors in, tensors out; no Lightning.

    Subclasses build their layers for `self.core_inputs` -> `self.core_targets` channels and
    implement `_forward` (training output) and, if it differs, `_predict` (the horizon).

    Args:
        n_inputs: channels C of the input window (targets first).
        n_targets: leading channels to forecast.
        lookback: input steps L.
        horizon: forecast steps H.
        n_time_features: calendar features F per step (known in the future too).
        revin: reversible instance normalisation of each window (mean/std, learnt affine).
        subtract_last: center each window on its last value (NLinear, SegRNN); with `revin`
            the window is also divided by its std (PatchTST's RevIN variant).
        channel_independent: run every channel as its own univariate series with shared
            weights (as PatchTST/SegRNN); needs every input channel to be a target.

    Shapes (legend: B batch, L lookback, H horizon, C inputs, T targets, F time features):
        forward(x [B, L, C], x_time [B, L, F], y_time [B, H, F], y [B, H, T]) -> training output
        predict(x, x_time, y_time) -> [B, H, T]
    """

    def __init__(self, n_inputs: int, n_targets: int, lookback: int, horizon: int,
                 n_time_features: int = 0, revin: bool = False, subtract_last: bool = False,
                 channel_independent: bool = False):
        super().__init__()
        if not 1 <= n_targets <= n_inputs:
            raise ConfigError(f"model: n_targets={n_targets} must be between 1 and "
                              f"n_inputs={n_inputs}.")
        if channel_independent and n_targets != n_inputs:
            raise ConfigError("model.channel_independent: every input channel must be a target "
                              f"(got {n_inputs} inputs, {n_targets} targets); drop data.features "
                              "or set model.channel_independent=false.")
        self.n_inputs, self.n_targets = n_inputs, n_targets
        self.lookback, self.horizon, self.n_time_features = lookback, horizon, n_time_features
        self.channel_independent = channel_independent
        self.core_inputs = 1 if channel_independent else n_inputs
        self.core_targets = 1 if channel_independent else n_targets
        self.norm = (RevIN(self.core_inputs, affine=revin, subtract_last=subtract_last,
                           scale=revin) if revin or subtract_last else None)

    def forward(self, x, x_time=None, y_time=None, y=None) -> torch.Tensor:
        """Training output, compared with `self.target(x, y)` by the loss."""
        return self._wrap(self._forward, x, x_time, y_time, y)

    def predict(self, x, x_time=None, y_time=None) -> torch.Tensor:
        """The forecast [B, H, T]."""
        return self._wrap(self._predict, x, x_time, y_time, None)

    def target(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """What the training output is compared with (the horizon by default)."""
        return y

    def _forward(self, x, x_time, y_time, y) -> torch.Tensor:
        raise NotImplementedError

    def _predict(self, x, x_time, y_time, y) -> torch.Tensor:
        return self._forward(x, x_time, y_time, None)

    def _wrap(self, fn, x, x_time, y_time, y) -> torch.Tensor:
        batch, channels = x.shape[0], x.shape[-1]
        if self.channel_independent:  # [B, L, C] -> [B*C, L, 1]; time features repeat per channel
            x = x.transpose(1, 2).reshape(batch * channels, -1, 1)
            x_time, y_time = (None if t is None else t.repeat_interleave(channels, dim=0)
                              for t in (x_time, y_time))
            if y is not None:
                y = y.transpose(1, 2).reshape(batch * channels, -1, 1)
        stats = None
        if self.norm is not None:
            x, stats = self.norm.normalize(x)
            if y is not None:
                y = self.norm.normalize_targets(y, stats)
        out = fn(x, x_time, y_time, y)  # [B', T', core_targets]
        if stats is not None:
            out = self.norm.denormalize(out, stats)
        if self.channel_independent:  # [B*C, T', 1] -> [B, T', C] -> target channels
            out = out.reshape(batch, channels, -1).transpose(1, 2)
        return out


def time_inputs(x: torch.Tensor, x_time: torch.Tensor | None) -> torch.Tensor:
    """Inputs with calendar features appended: [B, L, C] + [B, L, F] -> [B, L, C + F]."""
    return x if x_time is None else torch.cat([x, x_time], dim=-1)


def check_no_bidirectional(bidirectional: bool, mode: str) -> None:
    if bidirectional:
        raise ConfigError(f"model.bidirectional: a {mode} model cannot be bidirectional (the "
                          "backward pass would see the future it must predict); set it to false.")
