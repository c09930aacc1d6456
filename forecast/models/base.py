"""ForecastNet: what every network shares (sizes, RevIN, channel independence)."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Mapping

import torch
from torch import nn

from forecast.errors import ConfigError
from forecast.models.norm import RevIN
from forecast.plain import python_number


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

    A network records the arguments it was built with: `spec` (saved in `ForecastModule`'s
    checkpoints) and `net_from_spec` build it again.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in vars(cls):
            cls.__init__ = _recording_arguments(cls.__init__)

    @property
    def spec(self) -> dict | None:
        """{"class": "module.Class", "kwargs": {...}}, the class and arguments that build this
        network again; None where an argument is not plain data (JSON)."""
        arguments = getattr(self, "_init_arguments", None)
        try:  # numpy numbers (sizes read from data) as Python's
            arguments = json.loads(json.dumps(arguments, default=python_number))
        except (TypeError, ValueError):
            arguments = None
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        return None if arguments is None else {"class": name, "kwargs": arguments}

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

    def check_trainable(self) -> None:
        """Raise a ConfigError for options this network may be loaded with, not trained with
        (`ForecastModule` asks)."""

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


def _recording_arguments(init):
    """`init`, also keeping its arguments as `_init_arguments` (those of the outermost
    `__init__` win: it returns last); None where it takes *args or positional-only ones."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = {}
        for name, parameter in list(signature.parameters.items())[1:]:
            if (parameter.kind is parameter.VAR_POSITIONAL and bound.arguments.get(name)
                    or parameter.kind is parameter.POSITIONAL_ONLY):  # no keyword rebuilds it
                arguments = None
                break
            if parameter.kind is parameter.VAR_KEYWORD:
                arguments.update(bound.arguments.get(name, {}))
            elif parameter.kind is not parameter.VAR_POSITIONAL:
                arguments[name] = bound.arguments[name]
        self._init_arguments = arguments

    return __init__


def net_from_spec(spec: Mapping) -> ForecastNet:
    """The network that `spec` (a `ForecastNet.spec`) describes. Its class must be imported
    already: a checkpoint names classes, it does not import code."""
    name = spec.get("class") if isinstance(spec, Mapping) else None
    classes = {f"{c.__module__}.{c.__qualname__}": c for c in _subclasses(ForecastNet)}
    if name not in classes:
        raise ConfigError(f"net: {name!r} is not an imported ForecastNet class; import the "
                          "module that defines it before loading, or pass net=YourNet(...).")
    return classes[name](**spec.get("kwargs", {}))


def _subclasses(cls: type) -> list[type]:
    found = []
    for subclass in cls.__subclasses__():
        found += [subclass, *_subclasses(subclass)]
    return found


def time_inputs(x: torch.Tensor, x_time: torch.Tensor | None) -> torch.Tensor:
    """Inputs with calendar features appended: [B, L, C] + [B, L, F] -> [B, L, C + F]."""
    return x if x_time is None else torch.cat([x, x_time], dim=-1)


def check_no_bidirectional(bidirectional: bool, mode: str) -> None:
    if bidirectional:
        raise ConfigError(f"model.bidirectional: a {mode} model cannot be bidirectional (the "
                          "backward pass would see the future it must predict); set it to false.")
