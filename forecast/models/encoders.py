"""RecurrentEncoder: one wrapper over nn.RNN, nn.LSTM and nn.GRU."""

from __future__ import annotations

import functools
import warnings

import torch
from torch import nn

from forecast.errors import ConfigError

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # h, or (h, c) for LSTM


class RecurrentEncoder(nn.Module):
    """A stack of recurrent layers with `batch_first` tensors.

    Args:
        input_size: features per step.
        hidden_size: units per layer and direction.
        num_layers: stacked layers.
        dropout: dropout between stacked layers (torch ignores it for one layer).
        bidirectional: also run right-to-left; outputs and summary double in size.
        cell: "rnn" (Elman), "lstm" or "gru".
        nonlinearity: "tanh" or "relu", for `cell="rnn"` only.

    Shapes:
        x: [B, L, input_size] -> outputs [B, L, D * hidden_size], D = 2 if bidirectional else 1.
    """

    def __init__(self, input_size: int, hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, cell: str = "lstm",
                 nonlinearity: str = "tanh"):
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"model.cell: unknown cell '{cell}'; use one of {sorted(CELLS)}.")
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"model.nonlinearity: use 'tanh' or 'relu', not '{nonlinearity}'.")
        if nonlinearity != "tanh" and cell != "rnn":
            raise ConfigError(f"model.nonlinearity: '{nonlinearity}' is an option of "
                              f"model.cell=rnn; the {cell.upper()}'s gates fix their own "
                              "activations: set model.cell=rnn or keep nonlinearity tanh.")
        if hidden_size < 1 or num_layers < 1:
            raise ConfigError("model.hidden_size and model.num_layers must be >= 1.")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"model.dropout: must be in [0, 1), got {dropout}.")
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = CELLS[cell](input_size, hidden_size, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0,
                               bidirectional=bidirectional, **extra)
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.directions = 2 if bidirectional else 1

    @property
    def output_size(self) -> int:
        return self.directions * self.hidden_size

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        if (x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
                and not autocast_runs(self.cell, torch.get_autocast_dtype("cpu"))):
            # In the weights' precision (float32), as autocast always runs a GRU on a CPU.
            dtype = self.rnn.weight_ih_l0.dtype
            with torch.autocast("cpu", enabled=False):
                return self.rnn(x.to(dtype), _cast(state, dtype))
        return self.rnn(x, state)

    def summary(self, state: State) -> torch.Tensor:
        """Final hidden state of the top layer, both directions: [B, D * hidden_size]."""
        h = state[0] if isinstance(state, tuple) else state  # [layers * D, B, hidden]
        return h[-self.directions:].permute(1, 0, 2).reshape(h.shape[1], -1)

    def merge_directions(self, state: State) -> State:
        """[layers * D, B, hidden] -> [layers, B, D * hidden]: a state for a one-way decoder."""
        def merge(h):
            layers, batch = self.num_layers, h.shape[1]
            h = h.view(layers, self.directions, batch, self.hidden_size)
            return h.permute(0, 2, 1, 3).reshape(layers, batch, self.output_size)
        return tuple(merge(h) for h in state) if isinstance(state, tuple) else merge(state)


@functools.cache
def autocast_runs(cell: str, dtype: torch.dtype) -> bool:
    """Whether torch runs `cell` under CPU autocast to `dtype` on this machine. Its LSTM under
    autocast is oneDNN's, which needs AVX-512 for bfloat16 and float16: on an AVX2-only CPU it
    fails, and `RecurrentEncoder` runs the layer in its weights' precision instead, warning once
    per cell and dtype. The probe leaves the random stream as it was (resumed runs rely on it)."""
    try:
        with torch.random.fork_rng(devices=[]), torch.autocast("cpu", dtype=dtype):
            CELLS[cell](1, 1)(torch.zeros(1, 1, 1))
    except RuntimeError:
        name, layer = str(dtype).removeprefix("torch."), cell.upper()
        warnings.warn(f"{layer} layers run in float32 under {name} autocast on this CPU: torch "
                      f"(oneDNN) has no {name} {layer} kernel for it (AVX-512 needed); the rest "
                      "of the network keeps the mixed precision.", stacklevel=2)
        return False
    return True


def _cast(state: State | None, dtype: torch.dtype) -> State | None:
    if state is None:
        return None
    return tuple(s.to(dtype) for s in state) if isinstance(state, tuple) else state.to(dtype)
