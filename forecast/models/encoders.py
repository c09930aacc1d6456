"""RecurrentEncoder: one wrapper over nn.RNN, nn.LSTM and nn.GRU."""

from __future__ import annotations

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
