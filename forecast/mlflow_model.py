"""A Forecaster as an MLflow pyfunc model: log it with a run, load it from any model URI."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import torch
from mlflow.models import infer_signature

from forecast.forecaster import Forecaster


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: `predict(history_df)` returns `Forecaster.predict(history_df)`."""

    def load_context(self, context) -> None:
        self.forecaster = Forecaster.load(context.artifacts["forecaster"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.forecaster.predict(model_input)


def log_forecaster(forecaster: Forecaster, name: str = "model",
                   registered_model_name: str | None = None):
    """Log `forecaster` to the active MLflow run as a pyfunc model; returns its ModelInfo.

    The signature and input example are the forecaster's own training history tail, so a
    served model documents the frame it expects.
    """
    example = forecaster.history_frame()
    signature = infer_signature(example, forecaster.predict(example))
    with tempfile.TemporaryDirectory() as folder:
        path = forecaster.save(Path(folder) / "forecaster")
        return mlflow.pyfunc.log_model(
            name=name, python_model=str(Path(__file__).with_name("pyfunc_entry.py")), artifacts={"forecaster": str(path)},
            signature=signature, input_example=example,
            registered_model_name=registered_model_name,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "forecast"])


def load_forecaster(uri: str) -> Forecaster:
    """The Forecaster inside an MLflow model URI (runs:/<id>/model, models:/<name>/<version> ...)."""
    return mlflow.pyfunc.load_model(uri).unwrap_python_model().forecaster
