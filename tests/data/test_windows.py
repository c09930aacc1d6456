import numpy as np
import pytest
import torch

from forecast.data.dataset import WindowDataset, WindowLoader
from forecast.data.shuffle import Permutation
from forecast.data.windows import (
    WindowSpec,
    check_enough_rows,
    gather_windows,
    window_index,
    window_starts,
    window_view,
)
from forecast.errors import ConfigError, DataError


def test_ett_test_part_has_every_window():
    spec = WindowSpec(lookback=96, horizon=96)
    starts = window_starts(np.array([0, 17420]), np.array([[11520, 14400]]), spec)
    assert len(starts) == 2880 - 96 + 1 and starts[0] == 11520 - 96
    assert starts[-1] + spec.length == 14400  # the last window ends on the border


def test_windows_equal_naive_slicing_and_view_is_zero_copy():
    values = np.arange(60, dtype=np.float32).reshape(30, 2)
    spec = WindowSpec(lookback=5, horizon=3, stride=2)
    index = window_index(np.array([0, 30]), np.array([[0, 30]]), spec)
    assert list(index.starts()) == list(range(0, 30 - 8 + 1, 2))
    view = window_view(values, spec)
    assert np.shares_memory(view, values)
    x, y = gather_windows(values, index, spec, n_targets=1)
    assert np.shares_memory(x, values) and not x.flags.writeable  # one series: a view
    for k, t in enumerate(index.starts()):
        np.testing.assert_array_equal(x[k], values[t:t + 5])
        np.testing.assert_array_equal(y[k], values[t + 5:t + 8, :1])


def test_windows_never_cross_series():
    bounds = np.array([0, 10, 25])
    index = window_index(bounds, np.array([[0, 10], [0, 15]]), WindowSpec(4, 2))
    assert list(index.starts()) == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    assert list(index.window_series()) == [0] * 5 + [1] * 10
    assert index.as_slice() is None


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_window_spec_rejects_non_positive_sizes(bad):
    with pytest.raises(ConfigError, match="data.lookback"):
        WindowSpec(lookback=bad, horizon=1)


def test_permutation_is_a_seeded_bijection_that_mixes():
    for n in (1, 2, 3, 5, 64, 1000, 4097):
        order = Permutation(n, seed=7)(np.arange(n))
        assert sorted(order.tolist()) == list(range(n))
        torch_order = Permutation(n, seed=7)(torch.arange(n))
        assert torch_order.tolist() == order.tolist()  # the same order on any device
    order = Permutation(10_000, seed=0)(np.arange(10_000))
    assert not np.array_equal(order, Permutation(10_000, seed=1)(np.arange(10_000)))
    rank_correlation = np.corrcoef(np.arange(10_000), order)[0, 1]
    assert abs(rank_correlation) < 0.05
    assert np.median(np.abs(np.diff(order))) > 1000  # neighbours land far apart


def small_dataset(n_rows=100, lookback=4, horizon=2):
    values = np.arange(n_rows, dtype=np.float32)[:, None]
    index = window_index(np.array([0, n_rows]), np.array([[0, n_rows]]),
                         WindowSpec(lookback, horizon))
    return WindowDataset(values, index, WindowSpec(lookback, horizon), 1)


def test_loader_serves_every_window_once_per_epoch_and_a_short_last_batch():
    dataset = small_dataset()
    loader = WindowLoader(dataset, batch_size=16, shuffle=True, seed=3)
    batches = list(loader)
    assert [len(b["x"]) for b in batches] == [16] * 5 + [15] and len(loader) == 6
    firsts = torch.cat([b["x"][:, 0, 0] for b in batches]).long()
    assert sorted(firsts.tolist()) == list(range(95))
    assert firsts.tolist() != list(range(95))
    second = torch.cat([b["x"][:, 0, 0] for b in loader]).long()  # next epoch, new order
    assert sorted(second.tolist()) == list(range(95)) and second.tolist() != firsts.tolist()
    assert len(WindowLoader(dataset, 16, drop_last=True)) == 5


def test_grouped_loader_serves_the_same_batches_in_lists():
    """`group=4`: lists of 4 consecutive batches of the same order, the last list shorter."""
    dataset = small_dataset()
    plain = list(WindowLoader(dataset, batch_size=8, shuffle=True, seed=5))
    grouped_loader = WindowLoader(dataset, batch_size=8, shuffle=True, seed=5, group=4)
    grouped = list(grouped_loader)
    assert [len(group) for group in grouped] == [4, 4, 4] and len(grouped_loader) == 3
    assert len(plain) == 12
    for a, b in zip(plain, sum(grouped, []), strict=True):
        assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    assert [len(g) for g in WindowLoader(dataset, batch_size=16, group=4)] == [4, 2]
    assert len(WindowLoader(dataset, batch_size=16, group=4)) == 2


def test_ranks_share_the_windows_like_distributed_sampler():
    dataset = small_dataset()
    seen = []
    for rank in range(3):
        loader = WindowLoader(dataset, batch_size=8, shuffle=True, seed=1, rank=rank,
                              world_size=3)
        seen.append(torch.cat([b["x"][:, 0, 0] for b in loader]).long().tolist())
    assert [len(s) for s in seen] == [32, 32, 32]  # 95 windows padded to 96
    assert set(sum(seen, [])) == set(range(95))

    evaluated, served = [], []  # unshuffled (validation, test): padded, the padding marked
    for rank in range(3):
        loader = WindowLoader(dataset, batch_size=8, rank=rank, world_size=3)
        batches = list(loader)
        served.append(sum(len(b["x"]) for b in batches))
        evaluated += torch.cat([b["x"][:b.get("n_real", len(b["x"])), 0, 0]
                                for b in batches]).long().tolist()
        assert len(loader) == len(batches) == 4 and "n_real" not in batches[0]
    assert served == [32, 32, 32]  # equal shares: Lightning wants as many batches on each rank
    assert sorted(evaluated) == list(range(95))  # the real rows: every window once
    alone = list(WindowLoader(small_dataset(), batch_size=8, rank=150, world_size=200))
    assert len(alone) == 1 and alone[0]["n_real"] == 0  # a rank past the 95 windows: padding


def test_torch_dataset_gathers_the_same_batches_as_numpy():
    dataset = small_dataset()
    on_torch = dataset.to("cpu")
    assert on_torch.on_torch and not dataset.on_torch
    for a, b in zip(WindowLoader(dataset, 10, shuffle=True, seed=2),
                    WindowLoader(on_torch, 10, shuffle=True, seed=2), strict=True):
        assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    np.testing.assert_array_equal(dataset[-1]["y"].numpy(), [[98.0], [99.0]])
    with pytest.raises(IndexError):
        dataset[95]


def test_torch_dataset_gathers_on_the_device_of_the_series():
    # "meta" tensors have no data: the gather provably runs where the series live.
    on_meta = small_dataset().to("meta")
    batch = on_meta.gather(np.array([0, 5, 7]))  # window numbers stay on the host
    assert batch["x"].device.type == "meta" and batch["x"].shape == (3, 4, 1)


def test_every_short_series_is_counted_and_the_first_named():
    lengths = np.array([30, 5, 30, 7, 6])
    borders = np.stack([lengths - 4, lengths - 2, lengths], axis=1)
    with pytest.raises(DataError) as caught:
        check_enough_rows(lengths, borders, WindowSpec(lookback=8, horizon=3), list("abcde"))
    assert str(caught.value).startswith(
        "data: 3 of 5 series have fewer rows than lookback + horizon = 8 + 3 (id: rows, the "
        "first 3) {'b': 5, 'd': 7, 'e': 6}; drop them (keep the series of 11 rows or more)")
    with pytest.raises(DataError, match=r"^data: series 'b' has 5 rows, fewer than lookback "
                                        r"\+ horizon = 8 \+ 3; drop it \(keep the series of 11 "):
        check_enough_rows(lengths[:3], borders[:3], WindowSpec(lookback=8, horizon=3), list("abc"))
    with pytest.raises(DataError, match=r"drop it \(df\[df.groupby\('store'\)\['store'\]"
                                        r"\.transform\('size'\) >= 11\]\)"):
        check_enough_rows(lengths[:3], borders[:3], WindowSpec(lookback=8, horizon=3),
                          list("abc"), id_col="store")


def test_a_part_too_short_in_some_series_only_leaves_them_without_its_windows(caplog):
    """A panel refuses a part only where no series has a window of it; series whose part is
    too short are named, and give no window of it."""
    lengths = np.array([40, 12, 40])
    borders = np.stack([lengths - 8, lengths - 4, lengths], axis=1)  # b: train rows 0..4
    spec = WindowSpec(lookback=8, horizon=3)
    with caplog.at_level("WARNING", logger="forecast"):
        check_enough_rows(lengths, borders, spec, list("abc"))
    assert caplog.text.count("give no") == 2  # b has neither train nor val windows
    assert "give no val window, such as series 'b'" in caplog.text
    assert ("data: 1 of 3 series give no train window, such as series 'b': the train part "
            "(rows 0..4 of the series) is too short for one window of 11 rows") in caplog.text
    starts = window_index(np.r_[0, np.cumsum(lengths)],
                          np.stack([np.zeros(3, np.int64), borders[:, 0]], axis=1), spec).starts()
    assert not ((starts >= 40) & (starts < 52)).any()  # none of b's rows start a window
    caplog.clear()
    with caplog.at_level("WARNING", logger="forecast"):  # c ends before the test part
        check_enough_rows(lengths, np.stack([lengths - 8, lengths - 4, [40, 12, 36]], axis=1)
                          .clip(max=lengths[:, None]), spec, list("abc"))
    assert ("1 of 3 series have no test rows, such as series 'c' (the split's test part lies "
            "past its rows); they are left out of the test windows (not tested on)"
            ) in caplog.text
    with pytest.raises(DataError, match=r"^data: series 'a': the train part .* too short"):
        check_enough_rows(np.array([12, 12]), np.array([[4, 8, 12], [4, 8, 12]]), spec,
                          list("ab"))


def test_a_val_or_test_part_with_its_lookback_before_it_is_told_to_hold_a_horizon():
    """Windows of a later part take their lookback from the rows before it: with those there,
    the part lacks rows for the horizon, not for lookback + horizon."""
    spec = WindowSpec(lookback=16, horizon=4)
    with pytest.raises(DataError, match=r"^data: the val part \(rows 37..40 of the series\) holds "
                                        r"3 row\(s\), fewer than the horizon 4; give it at "
                                        r"least 4 rows \(data.split.val=4\)\.$"):
        check_enough_rows(np.array([40]), np.array([[37, 40, 40]]), spec, ["s"])
    with pytest.raises(DataError, match=r"test part .* fewer than the horizon 4; .*split.test=4"):
        check_enough_rows(np.array([40]), np.array([[30, 37, 40]]), spec, ["s"])
    with pytest.raises(DataError, match=r"^data: the val part \(rows 0..3 .* too short for one "
                                        r"window of 20 rows \(lookback \+ horizon\); change"):
        check_enough_rows(np.array([40]), np.array([[0, 3, 3]]), spec, ["s"])
