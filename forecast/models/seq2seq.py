"""Encoder-decoder (seq2seq) forecaster with teacher forcing."""

from __future__ import annotations

import torch
from torch import nn

from forecast.models.base import ForecastNet, time_inputs
from forecast.models.encoders import RecurrentEncoder


class Seq2Seq(ForecastNet):
    """Recurrent encoder, then an autoregressive recurrent decoder over the horizon.

    The decoder starts from the encoder's final state (both directions concatenated when the
    encoder is bidirectional) and the last observed target. Each step's input is the previous
    target value and that step's calendar features. In training, the previous value is the
    true one with probability `teacher_forcing` (decided per step and batch), else the
    model's own prediction; `predict` always feeds back its own predictions. So
    `train_loss_epoch` is teacher-forced in part and `val_loss` is not.

    Args:
        teacher_forcing: probability of feeding the true previous value while training.
        cell, hidden_size, num_layers, bidirectional, nonlinearity: see `RecurrentEncoder`;
            the decoder is one-directional with D * hidden_size units.
        dropout: between stacked layers, and on each decoder output before the head.

    Example:
        >>> net = Seq2Seq(n_inputs=3, n_targets=1, lookback=24, horizon=6, bidirectional=True)
        >>> net.predict(torch.zeros(8, 24, 3)).shape
        torch.Size([8, 6, 1])
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, nonlinearity: str = "tanh",
                 teacher_forcing: float = 0.5, **base):
        super().__init__(**base)
        self.teacher_forcing = teacher_forcing
        self.encoder = RecurrentEncoder(self.core_inputs + self.n_time_features, hidden_size,
                                        num_layers, dropout, bidirectional, cell, nonlinearity)
        self.decoder = RecurrentEncoder(self.core_targets + self.n_time_features,
                                        self.encoder.output_size, num_layers, dropout, False,
                                        cell, nonlinearity)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, self.core_targets)

    def _forward(self, x, x_time, y_time, y):
        _, state = self.encoder(time_inputs(x, x_time))
        state = self.encoder.merge_directions(state)
        previous = x[:, -1:, :self.core_targets]  # [B, 1, T] last observed target
        forecast = []
        for h in range(self.horizon):
            marks = None if y_time is None else y_time[:, h:h + 1]
            output, state = self.decoder(time_inputs(previous, marks), state)
            step = self.head(self.dropout(output))  # [B, 1, T]
            forecast.append(step)
            teach = y is not None and self.training and torch.rand(()) < self.teacher_forcing
            previous = y[:, h:h + 1] if teach else step
        return torch.cat(forecast, dim=1)  # [B, H, T]

    def _predict(self, x, x_time, y_time, y):
        return self._forward(x, x_time, y_time, None)
