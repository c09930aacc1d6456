"""A Forecaster as an MLflow pyfunc model: log it with a run, load it from any model URI.

The pyfunc takes one DataFrame, the history in the training frame's form (timestamps may come
as strings, as in a JSON scoring request), and returns the forecast with the time as a column
(a served model answers with records, which would drop an index). A model with
`future_features` takes the history followed by the next `horizon` (or `n`) rows of each series,
whose target values are ignored (send null) and whose future feature values are the known ones.
The parameter `level` (`params={"level": [80, 95]}`, or `"params"` in a scoring request) adds
the bounds of those prediction intervals, as `Forecaster.predict(level=...)`; `n`
(`params={"n": 48}`) forecasts that many steps, as `Forecaster.predict(n=...)`.
"""

from __future__ import annotations

import numbers
import tempfile
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import ParamSchema, ParamSpec

from forecast.data.timeaxis import localized, naive
from forecast.errors import ConfigError, DataError, ForecastError
from forecast.forecaster import Forecaster
from forecast.inference import Schema, as_index, forecast_grid
from forecast.logs import quieted
from forecast.tracking import redact

# The pyfunc's parameters: `level`, a list of percentages (80.0 as well as 80), none by default;
# `n`, the steps to forecast (0: the horizon).
PARAMS = ParamSchema([ParamSpec("level", "double", [], (-1,)), ParamSpec("n", "long", 0)])


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: `predict(history_df, params={"level": [...], "n": 48})` is
    `Forecaster.predict(history_df, level=..., n=...)`, time as a column."""

    def load_context(self, context) -> None:
        self.forecaster = Forecaster.load(context.artifacts["forecaster"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        level, n = (params or {}).get("level"), (params or {}).get("n") or None
        try:
            return pyfunc_predict(self.forecaster, model_input,
                                  None if isinstance(level, list) and not level else level, n)
        except ForecastError as error:  # served: a 400 answer with our message, not a generic 500
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None


def pyfunc_predict(forecaster: Forecaster, frame: pd.DataFrame,
                   level: list[int] | None = None, n: int | None = None) -> pd.DataFrame:
    """What the pyfunc answers: the forecast of `frame` (see the module docstring)."""
    history, future = split_future_rows(aware_times(frame, forecaster.schema_), forecaster.schema_,
                                        n)
    forecast = forecaster.predict(history, future=future, level=level, n=n)
    return naive_times(forecast.reset_index() if forecaster.schema_.id_col is None else forecast,
                       forecaster.schema_)


def aware_times(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The naive times a timezone-aware model's pyfunc takes (see `naive_times`) back in the
    model's timezone, as `Forecaster.predict` takes them."""
    if (schema.tz is None or not isinstance(frame, pd.DataFrame)
            or schema.time_name not in frame.columns):
        return frame
    times = pd.DatetimeIndex(pd.to_datetime(frame[schema.time_name]))
    if times.tz is not None:
        return frame
    return frame.assign(**{schema.time_name: localized(times, schema.tz, schema.freq)})


def naive_times(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """`frame` with the times of a timezone-aware model as the model holds them (MLflow
    signatures have no timezones): naive UTC for steps under a day, else the local clock."""
    if schema.tz is None or schema.time_name not in frame.columns:
        return frame
    times = naive(pd.DatetimeIndex(frame[schema.time_name]), schema.freq)
    return frame.assign(**{schema.time_name: times})


def split_future_rows(frame: pd.DataFrame, schema: Schema, n: int | None = None):
    """(history, future): with future features, the rows at the end of each series whose
    targets are all null are the future; without, the whole frame is history and future None.

    Raises DataError when a model with future features gets no such rows (a forecast from
    the history's own last rows would be of the past)."""
    if not schema.n_future or not isinstance(frame, pd.DataFrame):
        return frame, None
    missing = [c for c in schema.targets if c not in frame.columns]
    if missing:
        return frame, None  # predict names the missing columns
    given = frame[schema.targets].notna().any(axis=1).to_numpy()[::-1]
    if schema.id_col is None or schema.id_col not in frame.columns:
        given_later = np.maximum.accumulate(given)
    else:
        ids = frame[schema.id_col].to_numpy()[::-1]
        given_later = pd.Series(given).groupby(ids, sort=False).cummax().to_numpy()
    ahead = ~given_later[::-1]
    if not ahead.any():
        steps = max(schema.horizon, int(n)) if isinstance(n, numbers.Integral) else schema.horizon
        raise DataError(f"this model takes known-future inputs {schema.future_features}: "
                        f"append the next {steps} rows of each series, with null targets "
                        f"{schema.targets} and the known values of those columns.")
    return frame[~ahead], frame[ahead]


def input_example(forecaster: Forecaster) -> pd.DataFrame:
    """The training history's tail; with future features, followed by `horizon` rows per series
    whose targets are NaN and whose future features repeat their last value (a format example)."""
    schema = forecaster.schema_
    history = naive_times(forecaster.history_frame(), schema)
    if not schema.n_future:
        return history
    last = history.groupby(schema.id_col, sort=False).tail(1) if schema.id_col else history.tail(1)
    ahead = last.loc[last.index.repeat(schema.horizon)].reset_index(drop=True)
    times = forecast_grid(forecaster.history_end_, schema.freq, 0, schema.horizon)  # [S, H]
    ahead[schema.time_name] = as_index(times)
    ahead[schema.targets] = np.nan
    return pd.concat([history, ahead], ignore_index=True)


def log_forecaster(forecaster: Forecaster, name: str = "model",
                   registered_model_name: str | None = None):
    """Log `forecaster` to the active MLflow run as a pyfunc model; returns its ModelInfo.

    Models from code: the model is `pyfunc_entry.py` plus the saved forecaster (JSON and
    weights), so loading it unpickles nothing. The signature and input example come from the
    training history's tail; `registered_model_name` also registers it in the Model Registry.
    """
    forecaster._check_fitted()
    schema = forecaster.schema_
    named = [c for c in [*schema.columns, *schema.static_features, schema.time_name,
                         schema.id_col] if c is not None and not isinstance(c, str)]
    if named:  # MLflow signatures and JSON requests name columns with text
        raise ConfigError(f"log_forecaster: the model's columns {named} are not named with "
                          "text, which an MLflow model needs; refit on the frame with text names "
                          "(frame.rename(columns=str)) and log that.")
    example = input_example(forecaster)
    with tempfile.TemporaryDirectory() as folder, quieted():
        # an integer time axis has no missing values to warn about
        warnings.filterwarnings("ignore", message=".*schema contains integer column")
        signature = infer_signature(example, pyfunc_predict(forecaster, example))
        signature.params = PARAMS
        path = forecaster.save(Path(folder) / "forecaster")
        return mlflow.pyfunc.log_model(
            name=name, python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
            artifacts={"forecaster": str(path)}, signature=signature, input_example=example,
            registered_model_name=registered_model_name,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "forecast"])


def load_forecaster(uri: str) -> Forecaster:
    """The Forecaster inside an MLflow model URI (runs:/<id>/model, models:/<name>/<version>)."""
    try:
        with quieted():
            model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"load: no MLflow model at '{uri}' in the store "
                        f"{redact(mlflow.get_tracking_uri())} ({reason}); check the run id or the "
                        "model's name and version, and the store (MLFLOW_TRACKING_URI)."
                        ) from None
    return model.unwrap_python_model().forecaster
