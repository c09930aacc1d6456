"""forecast: recurrent neural forecasters with a zero-copy windowing pipeline.

    import forecast
    model = forecast.Forecaster(cell="lstm", lookback=96, horizon=24).fit(df)
    model.predict()                      # DataFrame indexed by the future timestamps
"""

from pathlib import Path

from forecast import baselines, metrics
from forecast.data import WindowDataModule
from forecast.forecaster import Forecaster
from forecast.models import ForecastModule

__version__ = "0.1.0"


def load(path_or_uri) -> Forecaster:
    """A Forecaster from a directory written by `Forecaster.save`, or from an MLflow model URI
    (`runs:/<run_id>/model`, `models:/<name>/<version>`, `file:///...`)."""
    text = str(path_or_uri)
    if ":/" in text and not Path(text).exists():  # a URI scheme, not a local path
        from forecast.mlflow_model import load_forecaster

        return load_forecaster(text)
    return Forecaster.load(text)


__all__ = ["Forecaster", "ForecastModule", "WindowDataModule", "baselines", "load", "metrics",
           "__version__"]
