"""Inference speed: forecasts per second for a batch of series, ours vs a raw torch forward.

    python experiments/bench_inference.py [--series 1000] [--lookback 96] [--horizon 24]
                                          [--repeats 7] [--threads N] [--out PATH]

One forecast = the next `horizon` steps of one series. Paths timed on the same fitted LSTM and
the same 1,000-series long frame (`unique_id, ds, y`):

    raw torch      net.predict(x) on the scaled tensor [S, L, 1], under inference_mode
    core arrays    Forecaster._forecast: history array in -> forecast array out (scaling, the
                   same forward, unscaling): the predict path on tensors
    predict(df)    Forecaster.predict(long frame) -> long frame: validation + core + frame out
    pyfunc         mlflow.pyfunc.load_model(...).predict(long frame), schema enforcement included

predict(df) validates the history with `build_panel`, on the whole frame as in training: there
is no per-series reader left to compare against.

Each path is timed twice: as is, and with the network's forward replaced by its stored output,
which measures our own cost outside the forward. On a loaded machine the first is noisy (the
forward's time swings by +-20 %); the second is not, and `raw / (raw + ours)` is the ratio a
quiet machine shows. Timings are the best of interleaved repeats in random order.

The report (machine, versions, date, load average) goes to `--out PATH`; without it, to
experiments/results/bench_inference.md at the default sizes and nowhere otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch

import forecast
from forecast.data.synthetic import sine_frame
from forecast.inference import forecast_grid, read_history

RESULTS = Path(__file__).with_name("results") / "bench_inference.md"
SIZES = ("series", "lookback", "horizon", "repeats")  # the documented run's


def best_seconds(fns: dict, repeats: int) -> dict[str, float]:
    """Best wall time of each callable over interleaved repeats in a random order."""
    for fn in fns.values():
        fn()  # warm-up
    times, order, shuffle = {name: [] for name in fns}, list(fns), random.Random(0).shuffle
    for _ in range(repeats):
        shuffle(order)
        for name in order:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def fitted_model(frame: pd.DataFrame, lookback: int, horizon: int) -> forecast.Forecaster:
    """An LSTM (hidden 64) trained one epoch on one window per series: the weights do not
    change the timing, and every series is known to the model (its fitted scaling is used)."""
    model = forecast.Forecaster(cell="lstm", lookback=lookback, horizon=horizon, hidden_size=64,
                                max_epochs=1, batch_size=512, val_size=0)
    return model.fit(frame)


def pyfunc_of(model: forecast.Forecaster, folder: str):
    import mlflow

    from forecast.mlflow_model import log_forecaster

    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    with mlflow.start_run() as run:
        log_forecaster(model)
    return mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")


def run(series: int, lookback: int, horizon: int, repeats: int) -> tuple[dict, dict, dict]:
    """(seconds per path, seconds per path outside the forward, sizes)."""
    frame = sine_frame(n_steps=lookback + horizon, n_series=series, long=True)
    model = fitted_model(frame, lookback, horizon)
    history = read_history(frame, model.schema_)
    times = forecast_grid(history.ends, model.schema_.freq, lookback, horizon)
    center, scale = model._statistics(history)
    x = torch.from_numpy(np.ascontiguousarray((history.values - center) / scale))

    def raw():
        with torch.inference_mode():
            return model.net_.predict(x)

    stored = raw()
    np.testing.assert_array_equal(  # the core path is exactly the raw forward, unscaled
        model._forecast(history, times, None)[0], stored.numpy() * scale + center)
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyfunc = pyfunc_of(model, folder)
        expected = model.predict(frame)  # MLflow's schema casts the times to nanoseconds
        stamps = expected.select_dtypes("datetime").columns
        expected = expected.astype(dict.fromkeys(stamps, "datetime64[ns]"))
        pd.testing.assert_frame_equal(pyfunc.predict(frame), expected)
        paths = {"raw torch": raw, "core arrays": lambda: model._forecast(history, times, None),
                 "predict(df)": lambda: model.predict(frame),
                 "pyfunc": lambda: pyfunc.predict(frame)}
        seconds = best_seconds(paths, repeats)
        nets = [model.net_, pyfunc.unwrap_python_model().forecaster.net_]
        with mock.patch.object(nets[0], "predict", return_value=stored), \
                mock.patch.object(nets[1], "predict", return_value=stored):
            ours = best_seconds({k: v for k, v in paths.items() if k != "raw torch"}, repeats)
    ours["raw torch"] = 0.0
    return seconds, ours, {"rows": len(frame), "series": series}


def report(seconds: dict, ours: dict, info: dict, args) -> str:
    raw, n = seconds["raw torch"], info["series"]
    lines = ["| path | ms per batch | forecasts/s | vs raw torch (measured) | ms of ours, "
             "outside the forward | vs raw torch (raw / (raw + ours)) |",
             "|---|---|---|---|---|---|"]
    for name, s in seconds.items():
        own = ours[name]
        lines.append(f"| {name} | {1e3 * s:.1f} | {n / s:,.0f} | {raw / s:.3f} | "
                     f"{1e3 * own:.1f} | {raw / (raw + own):.3f} |")
    load = os.getloadavg()
    command = (f"python experiments/bench_inference.py --series {args.series} --lookback "
               f"{args.lookback} --horizon {args.horizon} --repeats {args.repeats}"
               + (f" --threads {args.threads}" if args.threads else ""))
    header = [
        "# Inference speed: forecasts per second", "",
        f"`{command}`: {n} series, a long frame of {info['rows']:,} rows in, LSTM hidden 64; "
        f"one forecast = {args.horizon} steps of one series. Best of {args.repeats} "
        "interleaved repeats. 'ms of ours' is timed with the forward replaced by its stored "
        "output, so it holds our cost only (see the script's docstring).", "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}; machine: {_cpu()}, {os.cpu_count()} "
        f"cores, torch threads {torch.get_num_threads()}",
        f"- versions: python {platform.python_version()}, torch {torch.__version__}, "
        f"pandas {pd.__version__}, numpy {np.__version__}, mlflow {_mlflow_version()}",
        f"- load average during the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
        + (" (shared machine under load: absolute times are pessimistic and the measured "
           "ratios noisy)" if load[0] > 1.5 else ""), "",
    ]
    return "\n".join(header + lines) + "\n"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _mlflow_version() -> str:
    import mlflow

    return mlflow.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--lookback", type=int, default=96)
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's; 1 avoids OpenMP spinning on a "
                             "loaded machine)")
    parser.add_argument("--out", type=Path, help="markdown report (default: "
                        "experiments/results/bench_inference.md at the default sizes, else none)")
    args = parser.parse_args()
    default_size = all(getattr(args, k) == parser.get_default(k) for k in SIZES)
    out = args.out or (RESULTS if default_size else None)
    if args.threads:
        torch.set_num_threads(args.threads)
    seconds, ours, info = run(args.series, args.lookback, args.horizon, args.repeats)
    text = report(seconds, ours, info, args)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    raw = seconds["raw torch"]
    print(f"core arrays vs raw torch: {raw / seconds['core arrays']:.3f} measured, "
          f"{raw / (raw + ours['core arrays']):.3f} from our own cost (goal >= 0.9); "
          f"predict(df): {raw / seconds['predict(df)']:.3f} measured, "
          f"{raw / (raw + ours['predict(df)']):.3f} from our own cost. "
          + (f"Written to {out}." if out else "Not written (smaller than the default sizes; "
             "pass --out PATH)."))


if __name__ == "__main__":
    main()
