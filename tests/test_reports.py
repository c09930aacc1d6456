"""The comparison table, the figures, and what one invocation leaves in the MLflow store."""

import io

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from forecast import baselines, reports
from forecast.backtest import backtest
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.evaluate import BASELINE, NEURAL, Result
from tests.conftest import FAST, run_train


def _result(name, family, norm_mse, fit_seconds=1.0):
    return Result(name, family, np.zeros((1, 1, 1)), fit_seconds,
                  metrics={"test_norm_mse": norm_mse, "test_mse": 4 * norm_mse})


def test_table_ranks_marks_the_best_and_divides_by_the_best_baseline():
    table = reports.results_table([_result("lstm", NEURAL, 0.5),
                                   _result("ridge", BASELINE, 0.4, 0.001),
                                   _result("naive", BASELINE, 0.8)])
    assert table.model.tolist() == ["ridge", "lstm", "naive"]
    assert table.best.tolist() == ["*", "", ""]
    assert table.vs_baseline.tolist() == pytest.approx([1.0, 1.25, 2.0])
    text = reports.format_table(table)
    lines = text.splitlines()
    assert lines[1].startswith("* ridge") and lines[2].startswith("  lstm")
    assert "<0.01" in lines[1] and "1.250" in lines[2]
    markdown = reports.markdown_table(table).splitlines()
    assert len({line.count("|") for line in markdown}) == 1  # every row has every column
    assert "| ridge | baseline |" in markdown[2]


def test_terminal_table_fits_100_columns_and_shows_missing_values():
    neural = _result("seq2seq_bidirectional", NEURAL, 123.456789, fit_seconds=12345.6)
    table = reports.results_table([neural])
    assert np.isnan(table.vs_baseline[0])  # no baseline to compare with
    text = reports.format_table(table)
    assert all(len(line) <= 100 for line in text.splitlines()) and " 12346 " in text
    assert text.splitlines()[1].rstrip().endswith("-")


@pytest.fixture(scope="module")
def panel_results():
    """A three-series panel backtested with two baselines and a fake 'neural' result."""
    dm = WindowDataModule(frame=sine_frame(n_steps=300, n_series=3, long=True), lookback=24,
                          horizon=6)
    results = backtest(dm, baselines={"ridge": baselines.LinearBaseline(),
                                      "naive": baselines.RepeatLast()}, stride=4)
    results[0].family = NEURAL  # drawn as the net
    return dm, results


def test_summary_and_per_step_table(panel_results):
    dm, results = panel_results
    table = reports.results_table(results)
    text = reports.summary("sine", dm, results, table, stride=4, refit=True)
    assert text.startswith(f"sine: {len(results[0].index)} test windows, horizon 6, origins "
                           "every 4 steps (baselines refitted at each)")
    assert "vs_baseline: norm_mse / the best baseline's" in text
    alone = reports.summary("sine", dm, results[:1], reports.results_table(results[:1]),
                            stride=4, refit=False)
    assert "vs_baseline: " not in alone  # nothing to compare with: no footnote about it
    steps = reports.per_step_table(results)
    assert len(steps) == 2 * 6 and steps.step.max() == 6
    assert {"mse", "norm_mse", "mase", "norm_mae"} <= set(steps.columns)


def _png(figure) -> np.ndarray:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    buffer.seek(0)
    return matplotlib.image.imread(buffer, format="png")


def test_forecast_figure_is_a_grid_of_windows_by_series(panel_results):
    dm, results = panel_results
    figure = reports.forecast_figure(dm, results, n_windows=2)
    axes = np.array(figure.axes).reshape(2, 3)
    titles = [ax.get_title() for ax in axes[0]]
    assert [t.split(" | ")[0] for t in titles] == ["y0", "y1", "y2"]
    assert all("origin 20" in t for t in titles)  # a timestamp, not a row number
    labels = {line.get_label() for line in axes[0, 0].get_lines()}
    assert {"actual", "ridge", "naive"} <= labels
    assert _png(figure).shape[1] > 1000


def test_forecast_figure_of_one_series_with_several_targets():
    dm = WindowDataModule(frame=sine_frame(n_steps=300, n_series=2), lookback=24, horizon=6)
    results = backtest(dm, baselines={"naive": baselines.RepeatLast()}, stride=6)
    figure = reports.forecast_figure(dm, results)
    assert [ax.get_title().split(" | ")[0] for ax in figure.axes[:2]] == ["y0", "y1"]
    plt.close(figure)


@pytest.mark.parametrize("horizon", [6, 1])  # a window per cell; a stretch of one-step ones
def test_forecast_figure_shades_a_prediction_interval_around_the_forecast(horizon):
    dm = WindowDataModule(frame=sine_frame(n_steps=300), lookback=24, horizon=horizon)
    (result,) = backtest(dm, baselines={"naive": baselines.RepeatLast()}, stride=3)
    result.family, result.band = NEURAL, (80, np.full_like(result.forecast, 0.5))
    figure = reports.forecast_figure(dm, [result], n_windows=1)
    ax = figure.axes[0]
    (band,) = ax.collections
    assert band.get_label() == "naive 80% interval"
    vertices = band.get_paths()[0].vertices[:, 1]
    forecast = next(line for line in ax.get_lines() if line.get_label() == "naive").get_ydata()
    scale = dm.scaler.scale_[0, 0]  # half a scaled unit either side, in original units
    assert vertices.max() == pytest.approx(forecast.max() + 0.5 * scale, rel=1e-4)
    assert vertices.min() == pytest.approx(forecast.min() - 0.5 * scale, rel=1e-4)
    plt.close(figure)


def test_horizon_figure_lines_per_step_and_bars_for_one_step(panel_results):
    _, results = panel_results
    figure = reports.horizon_figure(results)
    assert len(figure.axes[0].get_lines()) == 2
    assert len(figure.axes[0].get_lines()[0].get_xdata()) == 6
    plt.close(figure)
    one_step = [_result("lstm", NEURAL, 0.5), _result("ridge", BASELINE, 0.4)]
    for r in one_step:
        r.per_step = {"norm_mse": np.array([0.5]), "norm_mae": np.array([0.7])}
    figure = reports.horizon_figure(one_step)
    assert len(figure.axes[0].patches) == 2
    plt.close(figure)


def test_training_figure_marks_the_best_epoch_and_goes_log_when_steep():
    figure = reports.training_figure({"train_loss_epoch": [90.0, 1.0, 0.5, 0.4],
                                      "val_loss": [50.0, 0.9, 0.6, 0.7]})
    ax = figure.axes[0]
    assert ax.get_yscale() == "log"
    assert "epoch 3" in ax.get_legend_handles_labels()[1][-1]
    plt.close(figure)


@pytest.fixture(scope="module")
def invocation(tmp_path_factory):
    """One real `python -m forecast.train` run (4-step horizon, stride 3) in a fresh store."""
    folder = tmp_path_factory.mktemp("report")
    result = run_train("+experiment=sine", *FAST, "data.horizon=4", "backtest.stride=3",
                       "~baselines.gbm", "logger.log_model=false", cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sine")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.role = 'parent'")
    children = client.search_runs([experiment.experiment_id],
                                  f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return client, parent, children, folder


@pytest.mark.slow
def test_runs_of_one_invocation_are_grouped_under_the_parent(invocation):
    client, parent, children, _ = invocation
    families = sorted((r.data.tags["family"], r.data.tags["model"]) for r in children)
    assert families == [("baseline", "knn"), ("baseline", "mean"), ("baseline", "repeat_last"),
                        ("baseline", "ridge"), ("baseline", "seasonal_naive"), ("neural", "lstm")]
    for run in children:
        assert run.data.tags["mlflow.runName"] == run.data.tags["model"]
        assert run.info.status == "FINISHED"
        # The same metric names on every run, so the compare view lines them up.
        metrics = set(run.data.metrics)
        assert {"test_norm_mse", "test_mse", "test_mase", "test_vs_baseline"} <= metrics
        history = client.get_metric_history(run.info.run_id, "test_norm_mse_by_step")
        assert sorted(m.step for m in history) == [1, 2, 3, 4]
        assert run.data.params["backtest.stride"] == "3"
    best = min(children, key=lambda r: r.data.metrics["test_norm_mse"])
    assert parent.data.tags["best_model"] == best.data.tags["model"]
    assert parent.data.metrics["best_test_norm_mse"] == pytest.approx(
        best.data.metrics["test_norm_mse"])
    neural = next(r for r in children if r.data.tags["family"] == "neural")
    assert parent.data.metrics["neural_vs_baseline"] == pytest.approx(
        neural.data.metrics["test_vs_baseline"])


@pytest.mark.slow
def test_artifacts_of_the_parent_and_neural_runs(invocation):
    client, parent, children, folder = invocation
    parent_files = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert parent_files == {"results.md", "results.csv", "per_step.csv", "forecast.png",
                            "horizon_error.png", "config.yaml"}
    neural = next(r for r in children if r.data.tags["family"] == "neural")
    assert {"config.yaml", "forecast.png", "training.png"} <= {
        a.path for a in client.list_artifacts(neural.info.run_id)}
    local = folder / "artifacts"
    table = pd.read_csv(client.download_artifacts(parent.info.run_id, "results.csv", str(local)))
    assert sorted(table.model) == sorted(r.data.tags["model"] for r in children)
    assert table.vs_baseline[table.family == "baseline"].min() == pytest.approx(1.0)
    steps = pd.read_csv(client.download_artifacts(parent.info.run_id, "per_step.csv", str(local)))
    assert len(steps) == 6 * 4
    for run in children:  # MLflow's step h is the table's step h: the curves are not reversed
        history = client.get_metric_history(run.info.run_id, "test_norm_mse_by_step")
        logged = [m.value for m in sorted(history, key=lambda m: m.step)]
        table = steps[steps.model == run.data.tags["model"]].sort_values("step")
        np.testing.assert_allclose(logged, table.norm_mse, rtol=1e-6)
    image = matplotlib.image.imread(client.download_artifacts(neural.info.run_id, "training.png",
                                                              str(local)))
    assert image.shape[0] > 300 and image.std() > 0  # a drawn figure, not a blank canvas
