"""Many-to-one and many-to-many recurrent forecasters."""

from __future__ import annotations

import torch
from torch import nn

from forecast.errors import ConfigError
from forecast.models.base import ForecastNet, check_no_bidirectional, time_inputs
from forecast.models.encoders import RecurrentEncoder


class ManyToOne(ForecastNet):
    """Encoder's final hidden state -> the whole horizon in one linear map.

    The head reads the last state, as Darts' BlockRNNModel does, not the last H step outputs:
    a linear head over the last H outputs (NeuralForecast's LSTM) measured about twice the error.

    Args:
        cell, hidden_size, num_layers, bidirectional, nonlinearity: the encoder, see
            `RecurrentEncoder`.
        dropout: between stacked layers, and on the final state before the head (so it acts
            with one layer too).
        **base: sizes and options of `ForecastNet`.

    Example:
        >>> net = ManyToOne(n_inputs=2, n_targets=1, lookback=24, horizon=6, cell="gru")
        >>> net.predict(torch.zeros(8, 24, 2)).shape
        torch.Size([8, 6, 1])
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, nonlinearity: str = "tanh",
                 **base):
        super().__init__(**base)
        self.encoder = RecurrentEncoder(self.core_inputs + self.n_time_features, hidden_size,
                                        num_layers, dropout, bidirectional, cell, nonlinearity)
        future = self.horizon * self.n_time_features  # the known-future calendar
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size + future, self.horizon * self.core_targets)

    def _forward(self, x, x_time, y_time, y):
        _, state = self.encoder(time_inputs(x, x_time))
        summary = self.dropout(self.encoder.summary(state))  # [B, D*hidden]
        if y_time is not None:
            summary = torch.cat([summary, y_time.flatten(1)], dim=1)  # + [B, H*F]
        return self.head(summary).view(x.shape[0], self.horizon, self.core_targets)


class ManyToMany(ForecastNet):
    """An output at every step: predicts the next value along the sequence.

    Trained on all L next-step targets at once; forecasts the horizon by feeding each
    prediction back (needs every input channel to be a target). So `train_loss_epoch` is a
    one-step error and `val_loss` the error of the fed-back horizon.

    Args:
        cell, hidden_size, num_layers, nonlinearity: the encoder, see `RecurrentEncoder`
            (one-directional: a step's output may not see the steps after it).
        dropout: between stacked layers, and on each step's output before the head.
        bidirectional: refused (see above).
        **base: sizes and options of `ForecastNet`; training refuses `revin` and
            `subtract_last` (a window's statistics would hold the next-step targets).

    Example:
        >>> net = ManyToMany(n_inputs=1, n_targets=1, lookback=24, horizon=3)
        >>> net(torch.zeros(8, 24, 1)).shape, net.predict(torch.zeros(8, 24, 1)).shape
        (torch.Size([8, 24, 1]), torch.Size([8, 3, 1]))
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, nonlinearity: str = "tanh",
                 **base):
        super().__init__(**base)
        check_no_bidirectional(bidirectional, "many-to-many")
        if self.core_inputs != self.core_targets:
            raise ConfigError("model: a many-to-many model feeds its predictions back, so every "
                              "input channel must be a target; drop data.features.")
        self.encoder = RecurrentEncoder(self.core_inputs + self.n_time_features, hidden_size,
                                        num_layers, dropout, False, cell, nonlinearity)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, self.core_targets)

    def check_trainable(self) -> None:
        """Refuse window normalisation for training (a network saved with it still loads)."""
        if self.norm is not None:
            on = "model.revin" if self.norm.scale else "model.subtract_last"
            raise ConfigError(f"{on}: a many-to-many model learns the next value at every input "
                              "step, and the window's statistics (mean/std, last value) are "
                              "taken from those same values, so it would learn from what it "
                              "must predict; set model.revin and model.subtract_last false, or "
                              "use a many-to-one, seq2seq or segment model with them.")

    def target(self, x, y):
        """The next value at every input step: x[:, 1:] then the first future value."""
        return torch.cat([x[:, 1:, :self.n_targets], y[:, :1]], dim=1)

    def _forward(self, x, x_time, y_time, y):
        outputs, _ = self.encoder(time_inputs(x, x_time))
        return self.head(self.dropout(outputs))  # [B, L, T]

    def _predict(self, x, x_time, y_time, y):
        outputs, state = self.encoder(time_inputs(x, x_time))
        step = self.head(outputs[:, -1:])  # [B, 1, T]
        forecast = [step]
        for h in range(1, self.horizon):
            marks = None if y_time is None else y_time[:, h - 1:h]  # time of the fed-back value
            outputs, state = self.encoder(time_inputs(step, marks), state)
            step = self.head(outputs)
            forecast.append(step)
        return torch.cat(forecast, dim=1)  # [B, H, T]
