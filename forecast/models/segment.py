"""Segment-wise recurrence for long lookbacks (SegRNN, Lin et al., 2023)."""

from __future__ import annotations

import torch
from torch import nn

from forecast.errors import ConfigError
from forecast.models.base import ForecastNet, check_no_bidirectional
from forecast.models.encoders import RecurrentEncoder


class SegmentRNN(ForecastNet):
    """Recurrence over segments instead of steps, with parallel multi-step decoding.

    Each channel is a univariate series (channel independence is built in). The lookback is cut
    into segments of `segment_length` steps, each embedded by a linear layer; the recurrence
    runs over L / S segments, not L steps, so a 720-step lookback takes 15 recurrent steps.
    The horizon is decoded as H / S segments in parallel: one recurrent step from the final
    state for every output segment, whose input is a position embedding (which segment) and
    a channel embedding (which series). Calendar features are not used.

    SegRNN's own normalisation, `subtract_last=True` (the forecast is a change from the last
    value), is the default here. `revin=True` then also divides each window by its std, with a
    learnt affine (PatchTST's RevIN variant); SegRNN's RevIN option is mean/std without affine.

    Args:
        segment_length: steps per segment S; must divide lookback and horizon.
        channel_embedding: half of each decoder query says which channel it forecasts
            (SegRNN's `channel_id`); without it the position embedding fills the query.
        cell, hidden_size, num_layers, dropout, nonlinearity: see `RecurrentEncoder`; dropout
            acts before the output layer, as in SegRNN.
        **base: sizes and normalisation of `ForecastNet` (channel independence is built in).

    Example:
        >>> net = SegmentRNN(n_inputs=7, n_targets=7, lookback=96, horizon=48, segment_length=24)
        >>> net.predict(torch.zeros(4, 96, 7)).shape
        torch.Size([4, 48, 7])
    """

    def __init__(self, segment_length: int = 48, channel_embedding: bool = True, cell: str = "gru",
                 hidden_size: int = 512, num_layers: int = 1, dropout: float = 0.0,
                 bidirectional: bool = False, nonlinearity: str = "tanh",
                 subtract_last: bool = True, **base):
        if base.get("channel_independent"):
            raise ConfigError("model.channel_independent: the segment model runs every channel "
                              "as its own series already; leave it false.")
        if base.get("n_time_features"):
            raise ConfigError("model: the segment model (SegRNN) uses no calendar, known-future "
                              "or static inputs; choose another model, or drop them.")
        super().__init__(subtract_last=subtract_last, **base)
        check_no_bidirectional(bidirectional, "segment")
        for key in ("lookback", "horizon"):
            if getattr(self, key) % segment_length:
                raise ConfigError(f"model.segment_length: {segment_length} must divide "
                                  f"data.{key}={getattr(self, key)}.")
        if channel_embedding and hidden_size % 2:
            raise ConfigError("model.hidden_size: must be even for a segment model with a channel "
                              "embedding (half position, half channel).")
        self.segment_length = segment_length
        self.n_out_segments = self.horizon // segment_length
        self.embed = nn.Sequential(nn.Linear(segment_length, hidden_size), nn.ReLU())
        self.encoder = RecurrentEncoder(hidden_size, hidden_size, num_layers, 0.0, False, cell,
                                        nonlinearity)
        position_size = hidden_size // 2 if channel_embedding else hidden_size
        self.position = nn.Parameter(torch.randn(self.n_out_segments, position_size))
        self.channel = (nn.Parameter(torch.randn(self.n_inputs, hidden_size - position_size))
                        if channel_embedding else None)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, segment_length)

    def _forward(self, x, x_time, y_time, y):
        batch, lookback, channels = x.shape
        seg, m = self.segment_length, self.n_out_segments
        segments = x.transpose(1, 2).reshape(batch * channels, lookback // seg, seg)  # [BC, N, S]
        _, state = self.encoder(self.embed(segments))  # state: [layers, BC, d]
        queries = self.position.unsqueeze(0).expand(channels, -1, -1)  # [C, M, d or d/2]
        if self.channel is not None:  # + which channel: [C, M, d]
            queries = torch.cat([queries, self.channel.unsqueeze(1).expand(-1, m, -1)], dim=-1)
        queries = queries.repeat(batch, 1, 1).reshape(batch * channels * m, 1, -1)  # [BCM, 1, d]
        state = _repeat_state(state, m)
        output, _ = self.encoder(queries, state)  # one step per query, in parallel
        out = self.head(self.dropout(output)).view(batch, channels, m * seg)  # [B, C, H]
        return out.transpose(1, 2)[..., :self.n_targets]  # [B, H, T]


def _repeat_state(state, m: int):
    """Each row of a [layers, N, d] state repeated m times in place: [layers, N * m, d]."""
    if isinstance(state, tuple):
        return tuple(s.repeat_interleave(m, dim=1) for s in state)
    return state.repeat_interleave(m, dim=1)
