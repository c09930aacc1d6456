"""forecast: recurrent neural forecasters with a zero-copy windowing pipeline.

    import forecast
    model = forecast.Forecaster(cell="lstm", lookback=96, horizon=24).fit(df)
    model.predict()                      # DataFrame indexed by the future timestamps
"""

from forecast import baselines, metrics
from forecast.data import WindowDataModule
from forecast.forecaster import Forecaster
from forecast.models import ForecastModule

__version__ = "0.1.0"


def load(path_or_uri: str) -> Forecaster:
    """A saved Forecaster from a directory (`Forecaster.save`) or an MLflow model URI."""
    from pathlib import Path

    if Path(str(path_or_uri)).exists():
        return Forecaster.load(path_or_uri)
    from forecast.mlflow_model import load_forecaster

    return load_forecaster(str(path_or_uri))


__all__ = ["Forecaster", "ForecastModule", "WindowDataModule", "baselines", "load", "metrics",
           "__version__"]
