import numpy as np
import pytest

from forecast.data.windows import WindowSpec, gather_windows, window_starts, window_view
from forecast.errors import ConfigError


def test_ett_test_part_has_every_window():
    spec = WindowSpec(lookback=96, horizon=96)
    starts = window_starts(np.array([0, 17420]), np.array([[11520, 14400]]), spec)
    assert len(starts) == 2880 - 96 + 1 and starts[0] == 11520 - 96


def test_windows_equal_naive_slicing_and_view_is_zero_copy():
    values = np.arange(60, dtype=np.float32).reshape(30, 2)
    spec = WindowSpec(lookback=5, horizon=3, stride=2)
    starts = window_starts(np.array([0, 30]), np.array([[0, 30]]), spec)
    assert list(starts) == list(range(0, 30 - 8 + 1, 2))
    view = window_view(values, spec)
    assert np.shares_memory(view, values)
    x, y = gather_windows(values, starts, spec, n_targets=1)
    for k, t in enumerate(starts):
        np.testing.assert_array_equal(x[k], values[t:t + 5])
        np.testing.assert_array_equal(y[k], values[t + 5:t + 8, :1])


def test_windows_never_cross_series():
    bounds = np.array([0, 10, 25])
    starts = window_starts(bounds, np.array([[0, 10], [0, 15]]), WindowSpec(4, 2))
    assert list(starts) == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_window_spec_rejects_non_positive_sizes(bad):
    with pytest.raises(ConfigError, match="data.lookback"):
        WindowSpec(lookback=bad, horizon=1)
