"""Recurrent forecasting networks (plain nn.Modules) and their Lightning module."""

from forecast.models.base import ForecastNet
from forecast.models.encoders import RecurrentEncoder
from forecast.models.heads import ManyToMany, ManyToOne
from forecast.models.lit import ForecastModule
from forecast.models.norm import RevIN
from forecast.models.segment import SegmentRNN
from forecast.models.seq2seq import Seq2Seq

NETS = {cls.__name__: cls for cls in (ManyToOne, ManyToMany, Seq2Seq, SegmentRNN)}

__all__ = ["ForecastModule", "ForecastNet", "ManyToMany", "ManyToOne", "NETS",
           "RecurrentEncoder", "RevIN", "SegmentRNN", "Seq2Seq"]
