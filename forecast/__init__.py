"""forecast: recurrent neural forecasters with a zero-copy windowing pipeline.

    import forecast
    model = forecast.Forecaster(cell="lstm", lookback=96, horizon=24).fit(df)
    model.predict()                      # DataFrame indexed by the future timestamps
"""

from importlib import import_module
from pathlib import Path

__version__ = "0.1.0"

# Imported on first use, so that `forecast.data` or `forecast.models` alone need neither
# scikit-learn nor MLflow (e.g. the training benchmark on a bare GPU machine).
_LAZY = {"Forecaster": ("forecast.forecaster", "Forecaster"),
         "ForecastModule": ("forecast.models", "ForecastModule"),
         "WindowDataModule": ("forecast.data", "WindowDataModule"),
         "scorer": ("forecast.scoring", "scorer"),
         "baselines": ("forecast.baselines", None), "metrics": ("forecast.metrics", None)}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'forecast' has no attribute '{name}'")
    module, attribute = _LAZY[name]
    module = import_module(module)
    return module if attribute is None else getattr(module, attribute)


def load(path_or_uri):
    """A Forecaster from a directory written by `Forecaster.save`, or from an MLflow model URI
    (`runs:/<run_id>/model`, `models:/<name>/<version>`, `file:///...`)."""
    text = str(path_or_uri)
    if ":/" in text and not Path(text).exists():  # a URI scheme, not a local path
        from forecast.mlflow_model import load_forecaster

        return load_forecaster(text)
    from forecast.forecaster import Forecaster

    return Forecaster.load(text)


__all__ = ["Forecaster", "ForecastModule", "WindowDataModule", "baselines", "load", "metrics",
           "scorer", "__version__"]
