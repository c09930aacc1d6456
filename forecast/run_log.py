"""What one invocation of `forecast.train` logs into the runs a `Tracker` opened: params,
scores, figures and the model on the neural run, one run per baseline, and the comparison on
the parent."""

from __future__ import annotations

import mlflow
import numpy as np

from forecast.evaluate import Result
from forecast.tracking import Tracker


def flatten(config: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def log_invocation(tracker: Tracker, cfg, neural_run: str, dm, results: list[Result], table,
                   forecaster) -> None:
    """Log one invocation: the neural run (params, metrics, config, figures, model), one run per
    baseline, and on the parent the comparison table, per-step errors and figures.

    Args:
        results: the neural result first, then the baselines (as `forecast.backtest` returns).
        table: `forecast.reports.results_table(results)`.
    """
    from omegaconf import OmegaConf

    from forecast import reports
    from forecast.evaluate import BASELINE
    from forecast.mlflow_model import log_forecaster

    params = flatten(OmegaConf.to_container(cfg, resolve=True))
    neural, baselines = results[0], [r for r in results if r.family == BASELINE]
    ratios = dict(zip(table.model, table.vs_baseline, strict=True))
    colors = reports.model_colors(results)
    tracker.log_params(tracker.parent_id, params)
    tracker.log_params(neural_run, params)
    _log_scores(tracker, neural_run, neural, ratios)
    history = {name: _history(tracker, neural_run, name)
               for name in ("train_loss_epoch", "val_loss")}
    _log_figure(tracker, [neural_run], "training.png",
                reports.training_figure(history, f"{neural.name}: loss per epoch"))
    shown = [neural] + sorted(baselines, key=lambda r: r.metrics[f"test_{reports.RANK_BY}"])[:2]
    _log_figure(tracker, [neural_run, tracker.parent_id], "forecast.png",
                reports.forecast_figure(dm, shown, colors=colors))
    if cfg.logger.log_model:
        with mlflow.start_run(run_id=neural_run):
            log_forecaster(forecaster, "model", cfg.logger.register_as)
    tracker.finish(neural_run)
    data_params = {k: v for k, v in params.items() if k.startswith(("data.", "backtest."))}
    for result in baselines:
        run_id = tracker.child(result.name, BASELINE)
        estimator_params = {f"baseline.{k}": v for k, v in result.params.items()}
        tracker.log_params(run_id, {**data_params, **estimator_params})
        _log_scores(tracker, run_id, result, ratios)
        tracker.finish(run_id)
    _log_comparison(tracker, results, table, colors)


def _log_comparison(tracker: Tracker, results: list[Result], table, colors: dict) -> None:
    """On the parent: results.md/.csv, per_step.csv, horizon_error.png, the best model."""
    from forecast import reports

    parent = tracker.parent_id
    tracker.log_text(parent, reports.markdown_table(table), "results.md")
    tracker.log_text(parent, table.to_csv(index=False), "results.csv")
    tracker.log_text(parent, reports.per_step_table(results).to_csv(index=False), "per_step.csv")
    _log_figure(tracker, [parent], "horizon_error.png", reports.horizon_figure(results, colors))
    tracker.client.set_tag(parent, "best_model", str(table.model.iloc[0]))
    neural_ratio = table.vs_baseline[table.model == results[0].name].iloc[0]
    for name, value in (("best_test_norm_mse", table[reports.RANK_BY].iloc[0]),
                        ("best_test_mse", table.mse.iloc[0]),
                        ("neural_vs_baseline", neural_ratio)):
        if np.isfinite(value):
            tracker.client.log_metric(parent, name, float(value))


def _log_scores(tracker: Tracker, run_id: str, result: Result, ratios: dict) -> None:
    """The result's metrics, and `test_vs_baseline` when there are baselines to compare with."""
    tracker.log_result(run_id, result)
    if np.isfinite(ratios[result.name]):
        tracker.client.log_metric(run_id, "test_vs_baseline", float(ratios[result.name]))


def _history(tracker: Tracker, run_id: str, metric: str) -> list[float]:
    """Values of a metric in the order they were logged (one per epoch for epoch metrics)."""
    history = tracker.client.get_metric_history(run_id, metric)
    return [m.value for m in sorted(history, key=lambda m: (m.step, m.timestamp))]


def _log_figure(tracker: Tracker, run_ids: list[str], path: str, figure) -> None:
    """Log a figure to each run, then free it (pyplot keeps every open figure alive)."""
    import matplotlib.pyplot as plt

    for run_id in run_ids:
        tracker.log_figure(run_id, figure, path)
    plt.close(figure)
