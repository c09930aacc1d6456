"""Synthetic series for experiments, examples and tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def sine_frame(n_steps: int = 4000, period: float = 50.0, noise: float = 0.1, n_series: int = 1,
               start: str = "2020-01-01", freq: str = "h", long: bool = False,
               seed: int = 0) -> pd.DataFrame:
    """Noisy sines `y = sin(2 pi t / period + phase) + noise * N(0, 1)`, hourly by default.

    Args:
        n_steps: rows per series.
        period: steps per cycle.
        noise: standard deviation of the Gaussian noise (the irreducible error is noise**2).
        n_series: number of series; series k has phase 2 pi k / n_series.
        long: return long form (`unique_id, ds, y`) instead of wide (`date, y0, y1 ...`).
        seed: noise seed.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    phases = 2 * np.pi * np.arange(n_series) / n_series
    values = np.sin(2 * np.pi * t[:, None] / period + phases) + noise * rng.standard_normal(
        (n_steps, n_series))
    dates = pd.date_range(start, periods=n_steps, freq=freq)
    names = ["y"] if n_series == 1 else [f"y{k}" for k in range(n_series)]
    wide = pd.DataFrame(values, columns=names).assign(date=dates)[["date", *names]]
    if not long:
        return wide
    return (wide.melt(id_vars="date", var_name="unique_id", value_name="y")
            .rename(columns={"date": "ds"})[["unique_id", "ds", "y"]])
