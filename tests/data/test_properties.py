"""Property tests: the windows equal naive slicing; inverse(transform(x)) == x."""

import numpy as np
import pandas as pd
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forecast.data import WindowDataModule
from forecast.data.dataset import WindowDataset, WindowLoader
from forecast.data.scaling import METHODS, Scaler
from forecast.data.split import Split
from forecast.data.windows import WindowSpec, gather_windows, window_index

PARTS = ("train", "val", "test")


@st.composite
def panels(draw):
    """Several series of random lengths, a window shape and per-series part borders."""
    lookback, horizon = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    stride = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, 60), min_size=1, max_size=4))
    borders = []
    for n in lengths:
        cuts = sorted(draw(st.lists(st.integers(0, n), min_size=2, max_size=2)))
        borders.append([cuts[0], cuts[1], n])
    return WindowSpec(lookback, horizon, stride), np.array(lengths), np.array(borders)


def naive_windows(values, lengths, borders, spec, part, stride):
    """Every window by plain slicing of each series, in order."""
    xs, ys, first_row = [], [], 0
    for n, border in zip(lengths, borders, strict=True):
        series = values[first_row:first_row + n]
        lo = 0 if part == 0 else border[part - 1]
        for t in range(max(lo - spec.lookback, 0), border[part] - spec.length + 1, stride):
            xs.append(series[t:t + spec.lookback])
            ys.append(series[t + spec.lookback:t + spec.length, :1])
        first_row += n
    return xs, ys


@settings(max_examples=150, deadline=None)
@given(panels())
def test_windows_equal_naive_slicing(case):
    spec, lengths, borders = case
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    values = np.arange(bounds[-1] * 2, dtype=np.float32).reshape(-1, 2)
    parts = np.concatenate([np.zeros((len(lengths), 1), int), borders], axis=1)
    for p in range(3):
        stride = spec.stride if p == 0 else 1
        index = window_index(bounds, parts[:, p:p + 2], spec, stride)
        xs, ys = naive_windows(values, lengths, borders, spec, p, stride)
        assert len(index) == len(xs)
        if not xs:
            continue
        x, y = gather_windows(values, index, spec, n_targets=1)
        np.testing.assert_array_equal(x, np.stack(xs))
        np.testing.assert_array_equal(y, np.stack(ys))
        # The torch side serves the same windows, in order, in batches of any size.
        batches = list(WindowLoader(WindowDataset(values, index, spec, 1), batch_size=3))
        np.testing.assert_array_equal(torch.cat([b["x"] for b in batches]).numpy(), x)
        np.testing.assert_array_equal(torch.cat([b["y"] for b in batches]).numpy(), y)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(20, 40), min_size=1, max_size=3), st.integers(1, 5),
       st.integers(1, 3), st.integers(1, 3))
def test_datamodule_serves_every_window_of_every_series(lengths, lookback, horizon, stride):
    frame = pd.DataFrame({
        "unique_id": np.repeat([f"s{k}" for k in range(len(lengths))], lengths),
        "ds": np.concatenate([np.arange(n) for n in lengths]),
        "y": np.concatenate([np.arange(n) + 1000.0 * k for k, n in enumerate(lengths)])})
    dm = WindowDataModule(frame=frame, time_col="ds", lookback=lookback, horizon=horizon,
                          stride=stride, split=Split(val=4, test=4), scaler="none")
    dm.setup()
    for p, part in enumerate(PARTS):
        expected = 0
        for n in lengths:
            lo, hi = (0, n - 8, n - 4, n)[p], (0, n - 8, n - 4, n)[p + 1]
            first = max(lo - lookback, 0)
            step = stride if part == "train" else 1
            expected += len(range(first, hi - lookback - horizon + 1, step))
        _, y = dm.windows(part)
        assert len(y) == len(dm.starts_[part]) == expected
        served = sum(len(b["y"]) for b in dm.loader(part))
        assert served == expected  # every window, the last batch included


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(METHODS), st.lists(st.integers(1, 30), min_size=1, max_size=4),
       st.data())
def test_inverse_of_transform_is_identity(method, lengths, data):
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    values = data.draw(arrays(np.float32, (int(bounds[-1]), 2),
                              elements=st.floats(-1e4, 1e4, width=32)))
    train_ends = np.array([data.draw(st.integers(1, n)) for n in lengths])
    scaler = Scaler(method).fit(values, bounds, train_ends)
    scaled = scaler.transform(values, bounds)
    restored = scaler.inverse_transform_series(scaled, bounds)
    # float32 rounding: a few ulps of the largest magnitude involved.
    tolerance = 1e-5 * (np.abs(values).max() + np.abs(scaler.center_).max() + 1)
    np.testing.assert_allclose(restored, values, rtol=0, atol=tolerance)
    series = np.repeat(np.arange(len(lengths)), lengths)
    per_row = scaler.inverse_transform(scaled[:, None, :], series)[:, 0]  # the window path
    np.testing.assert_allclose(per_row, values, rtol=0, atol=tolerance)
