"""Benchmark: our windowing pipeline vs batches drawn from materialised windows.

    python experiments/bench_windows.py            # 10 series x 1M rows, L=336, H=96, batch 256
    python experiments/bench_windows.py --rows 100000 --out /tmp/windows.md  # a quick run

Ours: `WindowDataModule.setup()` on a long DataFrame (validate, split, scale, index), then one
epoch of training batches and one pass over the test windows. Three comparators draw the same
number of shuffled batches on a slice of one series:
- "DataLoader": every training window materialised as a tensor, `TensorDataset` +
  `DataLoader(shuffle=True)`, which collates each batch sample by sample (the common recipe);
- "indexed": the same materialised tensors, one index gather a batch (`x[perm[i:i + B]]`);
- "raw gather": no materialised windows, one torch index gather a batch from the strided
  `unfold` view of the series: serving windows as ours does, in plain torch.
Materialised windows would need ~12 GB (train) to ~17 GB (all parts) at full size, so those
run on the slice and are extrapolated linearly (time and bytes per window); the slice is also
run through our pipeline, for measured same-size ratios.

Timings are taken with no memory tracing (tracemalloc slows per-sample Python work far more
than one gather a batch, which would flatter ours); memory is measured in a second pass of
ours under tracemalloc, which follows every numpy allocation (our values, batches and
temporaries; torch tensors made with `from_numpy` share numpy memory), and through the
process RSS (VmRSS, and the VmHWM high-water mark, reset through /proc/self/clear_refs), which
also sees torch's own allocations. "Above raw" is the peak minus the memory before setup minus
the raw float32 data [T, C]: the data itself must be held once, anything more is overhead. The
report goes to `--out PATH`; without it, to experiments/results/bench_windows.md at the
default sizes and nowhere otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

from forecast.data import WindowDataModule

RESULTS = Path(__file__).parent / "results" / "bench_windows.md"
SIZES = ("series", "rows", "lookback", "horizon", "batch", "slice_rows")  # the documented run's
MB = 1e6


def long_frame(n_series: int, n_rows: int, seed: int = 0) -> pd.DataFrame:
    """n_series hourly random walks in long form (unique_id, ds, y float64)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "unique_id": np.repeat([f"s{k}" for k in range(n_series)], n_rows),
        "ds": np.tile(pd.date_range("2000-01-01", periods=n_rows, freq="h").values, n_series),
        "y": rng.standard_normal(n_series * n_rows).cumsum()})


def proc_status(key: str) -> float:
    """VmRSS / VmHWM of this process in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1]) * 1024
    return float("nan")


def reset_peak() -> None:
    tracemalloc.reset_peak()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    except OSError:
        pass


class Meter:
    """Time, tracemalloc peak and RSS high-water mark of a block, relative to its start."""

    def __enter__(self):
        reset_peak()
        self.traced0, self.rss0 = tracemalloc.get_traced_memory()[0], proc_status("VmRSS")
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        traced, peak = tracemalloc.get_traced_memory()
        self.kept, self.peak = traced - self.traced0, peak - self.traced0
        self.rss_kept = proc_status("VmRSS") - self.rss0
        self.rss_peak = proc_status("VmHWM") - self.rss0


def ours(frame: pd.DataFrame, args) -> dict:
    """Setup, one training epoch and one test pass of our pipeline."""
    dm = WindowDataModule(frame=frame, lookback=args.lookback, horizon=args.horizon,
                          batch_size=args.batch, eval_batch_size=args.batch)
    with Meter() as setup:
        dm.setup()
    with Meter() as epoch:
        batches = sum(1 for _ in dm.train_dataloader())
    with Meter() as test:
        test_batches = sum(1 for _ in dm.test_dataloader())
    return dict(dm=dm, setup=setup, epoch=epoch, test=test, batches=batches,
                test_batches=test_batches, windows=len(dm.starts_["train"]),
                all_windows=sum(len(index) for index in dm.starts_.values()),
                raw=dm.values_.nbytes)


def comparators(n_rows: int, train_rows: int, args, dm: WindowDataModule) -> dict:
    """`args.rounds` interleaved rounds of the three comparators' epochs over the training
    windows (the first `train_rows` rows) of one series of `n_rows` rows, and of our epoch
    (`dm`, set up on the same slice): seconds of each, a list per name."""
    values = torch.from_numpy(long_frame(1, n_rows).y.to_numpy(np.float32))[:, None]  # [T, 1]
    lookback, batch = args.lookback, args.batch
    view = values[:train_rows].unfold(0, lookback + args.horizon, 1).transpose(1, 2)
    n = len(view)

    def materialise():
        return view[:, :lookback].contiguous(), view[:, lookback:].contiguous()  # the copies

    def batches(draw):
        order = torch.randperm(n)
        return sum(1 for i in range(0, n, batch) if draw(order[i:i + batch]) is not None)

    def raw_gather(index):
        window = view[index]  # [B, L+H, 1]: one copy, of this batch only
        return window[:, :lookback], window[:, lookback:]

    x, y = materialise()
    runs = {
        "build": materialise,
        "ours": lambda: sum(1 for _ in dm.train_dataloader()),
        "loader": lambda: sum(1 for _ in DataLoader(TensorDataset(x, y), batch_size=batch,
                                                    shuffle=True)),
        "indexed": lambda: batches(lambda index: (x[index], y[index])),
        "gather": lambda: batches(raw_gather),
    }
    seconds = {name: [] for name in runs}
    for _ in range(args.rounds):  # interleaved: a slow phase of a shared machine hits all
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return dict(seconds=seconds, batches=-(-n // batch), windows=n, bytes=x.nbytes + y.nbytes,
                raw=values.nbytes)


def median(theirs: dict, name: str) -> float:
    return float(np.median(theirs["seconds"][name]))


def many_short_series(args) -> float:
    """Setup seconds of a long frame of 10,000 series of 200 rows (validation is vectorised)."""
    frame = long_frame(10_000, 200)
    dm = WindowDataModule(frame=frame, lookback=24, horizon=6)
    start = time.perf_counter()
    dm.setup()
    return time.perf_counter() - start


def commit() -> str:
    """The checked-out commit (with "+changes" when the tree differs from it)."""
    def git(*command):
        return subprocess.run(["git", *command], cwd=Path(__file__).parent, text=True,
                               capture_output=True).stdout.strip()
    return (git("rev-parse", "--short", "HEAD") or "unknown") + ("+changes" if git(
        "status", "--porcelain", "--untracked-files=no", "--", ":/", ":!:/experiments/results")
        else "")  # results written before are no change to the code


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return dict(cpu=cpu, cores=len(os.sched_getaffinity(0)), torch=torch.__version__,
                numpy=np.__version__, pandas=pd.__version__, python=platform.python_version(),
                threads=torch.get_num_threads(), load=os.getloadavg()[0],
                date=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), commit=commit())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per series")
    parser.add_argument("--lookback", type=int, default=336)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--slice-rows", type=int, default=50_000,
                        help="rows of the slice the materialising comparator runs on")
    parser.add_argument("--rounds", type=int, default=7,
                        help="interleaved rounds of the same-slice comparison (median, range)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: no thread contention on a busy machine)")
    parser.add_argument("--out", type=Path, help="markdown report (default: "
                        "experiments/results/bench_windows.md at the default sizes, else none)")
    args = parser.parse_args()
    default_size = all(getattr(args, k) == parser.get_default(k) for k in SIZES)
    out = args.out or (RESULTS if default_size else None)
    torch.set_num_threads(args.threads)
    info = machine()
    ours(long_frame(2, 2_000), argparse.Namespace(**{**vars(args), "lookback": 24,
                                                      "horizon": 6}))  # warm up imports
    frame = long_frame(args.series, args.rows)
    full = ours(frame, args)  # timed, untraced
    same = ours(long_frame(1, args.slice_rows), args)
    theirs = comparators(args.slice_rows, int(same["dm"].borders_[0, 0]), args, same["dm"])
    short = many_short_series(args)
    tracemalloc.start()
    memory = ours(frame, args)  # the same run again, for its memory
    tracemalloc.stop()
    info["load_end"] = os.getloadavg()[0]
    report = render(args, info, full, memory, same, theirs, short)
    print(report)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        print(f"written to {out}")


def table_rows(args, full, memory, theirs) -> list[tuple[str, str, str, str]]:
    """(quantity, ours, DataLoader, indexed) rows of the results table; the comparators
    extrapolated from the slice to the full size."""
    scale = full["windows"] / theirs["windows"]  # linear extrapolation of the comparators
    raw, per_window = full["raw"], theirs["bytes"] / theirs["windows"]
    build = median(theirs, "build") * scale
    epochs = {name: median(theirs, name) * scale for name in ("loader", "indexed")}
    kept = memory["setup"].kept - raw
    their_kept = per_window * full["windows"]
    peak = kept + max(memory["epoch"].peak, memory["test"].peak)
    per_batch = {name: 1e3 * median(theirs, name) / theirs["batches"]
                 for name in ("loader", "indexed")}
    held = (f"{their_kept / MB:,.0f} MB ({their_kept / raw:.0f}x); "
            f"{per_window * full['all_windows'] / MB:,.0f} MB "
            f"({per_window * full['all_windows'] / raw:.0f}x) with val and test windows")
    return [
        ("training windows in the epoch", f"{full['windows']:,}", f"{full['windows']:,}",
         "same"),
        ("setup / materialise (s)", f"{full['setup'].seconds:.2f}", f"{build:.1f}",
         f"{build:.1f}"),
        (f"one epoch, batch {args.batch} (s)", f"{full['epoch'].seconds:.1f}",
         f"{epochs['loader']:.1f}", f"{epochs['indexed']:.1f}"),
        ("total (s)", f"{full['setup'].seconds + full['epoch'].seconds:.1f}",
         f"{build + epochs['loader']:.1f}", f"{build + epochs['indexed']:.1f}"),
        ("per batch (ms)", f"{1e3 * full['epoch'].seconds / full['batches']:.3f}",
         f"{per_batch['loader']:.3f}", f"{per_batch['indexed']:.3f}"),
        ("memory kept above the raw data", f"{kept / MB:.2f} MB ({kept / raw:.2%})", held,
         "same"),
        ("peak above the raw data (epoch)", f"{peak / MB:.2f} MB ({peak / raw:.1%})",
         "kept + one batch", "kept + one batch"),
    ]


def render(args, info, full, memory, same, theirs, short) -> str:
    """The results as markdown: the full-size table, the measured same-size ratios, the
    method."""
    scale, raw = full["windows"] / theirs["windows"], full["raw"]
    rows = table_rows(args, full, memory, theirs)
    table = "\n".join(["| | ours: WindowDataModule | materialised + DataLoader (extrapolated) "
                       "| materialised, indexed a batch at a time (extrapolated) |",
                       "|---|---|---|---|"] + [f"| {' | '.join(row)} |" for row in rows])
    ms = {name: 1e3 * np.array(times) / theirs["batches"]
          for name, times in theirs["seconds"].items()}
    ratios = {name: ms[name] / ms["ours"] for name in ms}  # round by round
    slice_table = "\n".join(
        ["| | ms per batch: median (range) | epoch / ours, round by round: median (range) |",
         "|---|---|---|"] + [
            f"| {label} | {np.median(ms[name]):.3f} ({ms[name].min():.3f}-{ms[name].max():.3f}) "
            f"| {np.median(ratios[name]):.2f}x ({ratios[name].min():.2f}-"
            f"{ratios[name].max():.2f}) |"
            for name, label in (("ours", "ours: WindowDataModule's loader"),
                                ("loader", "materialised + DataLoader(shuffle=True)"),
                                ("indexed", "materialised, indexed a batch at a time"),
                                ("gather", "raw gather from the unfold view (no materialising)"))])
    shared = max(info["load"], info["load_end"]) > 1.5  # this single-threaded run adds ~1
    setup = memory["setup"]
    return f"""# Windowing benchmark

Command: `python experiments/bench_windows.py --series {args.series} --rows {args.rows} \\
--lookback {args.lookback} --horizon {args.horizon} --batch {args.batch} \\
--slice-rows {args.slice_rows} --rounds {args.rounds} --threads {args.threads}` (long form,
hourly, float64 input;
commit {info['commit']}).

Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, torch {info['torch']},
numpy {info['numpy']}, pandas {info['pandas']}; {info['date']}. Load average
{info['load']:.1f} at the start and {info['load_end']:.1f} at the end: {
"**the machine was shared with other jobs; timings were taken under load**" if shared
else "a quiet machine"}.

Raw data: {raw / MB:.0f} MB (the float32 values [T, C] = [{args.series * args.rows:,}, 1]).

{{table}}

**Extrapolated comparators.** Materialising every training window cannot fit in this
machine's memory at full size, so the comparators ran on the training windows of one series of
{args.slice_rows:,} rows ({theirs['windows']:,} windows, {theirs['bytes'] / MB:.0f} MB of
window tensors for {theirs['raw'] / MB:.2f} MB of data) and their time and memory were scaled
linearly by the number of windows (x{scale:.0f}).

**Measured on the same slice, in this run** ({theirs['batches']:,} shuffled batches of
{args.batch}; {args.rounds} rounds, each timing ours and the three comparators in turn, so a
slow phase of a shared machine falls on all of them):

{{slice_table}}

Setup on the slice: ours {same['setup'].seconds:.3f} s, materialising
{median(theirs, 'build'):.3f} s (median; {theirs['bytes'] / MB:.0f} MB of windows against
{same['raw'] / MB:.2f} MB of data held once). A per-sample `DataLoader` pays Python work
for every window; indexing materialised windows a batch at a time is the fastest way to serve
them, at lookback + horizon times the memory; the raw gather is plain torch serving windows
without materialising them (one advanced index of the strided view a batch, with no shuffle
bookkeeping); ours gathers with numpy, through the window index, into a batch dict.

Our run in detail:
- setup (validate, split, scale in place, index): {full['setup'].seconds:.2f} s. Transient
  peak {setup.peak / MB:.0f} MB above the input frame (the float32 values plus
  temporaries, mostly pandas' int64 codes while factorising the series ids); kept
  afterwards: {setup.kept / MB:.2f} MB, the scaled data itself ({raw / MB:.2f} MB)
  plus statistics and the window index. RSS
  +{setup.rss_kept / MB:.0f} MB kept, high-water +{setup.rss_peak / MB:.0f} MB.
- training epoch: {full['batches']:,} batches in {full['epoch'].seconds:.1f} s, peak
  {memory['epoch'].peak / MB:.2f} MB above the set-up state (a batch is
  {args.batch * (args.lookback + args.horizon) * 4 / MB:.2f} MB; the shuffled order is
  computed in blocks of 4,096 positions); RSS high-water
  +{memory['epoch'].rss_peak / MB:.1f} MB.
- test pass (every window): {full['test_batches']:,} batches in {full['test'].seconds:.1f} s,
  peak {memory['test'].peak / MB:.2f} MB.
- a long frame of 10,000 series x 200 rows sets up in {short:.2f} s.

Method: every timing is taken with no memory tracing; the memory figures come from a second,
traced pass of ours. tracemalloc follows numpy and Python allocations (our batches are numpy
gathers wrapped by `torch.from_numpy`); /proc/self/status VmRSS/VmHWM follow all allocations,
torch's included (VmHWM is reset through /proc/self/clear_refs before each phase). "Above the
raw data" subtracts the float32 data, which any pipeline holds once. The comparators' memory is
the exact size of their window tensors. Torch runs {args.threads} intra-op thread(s) in all.
""".replace("{table}", table).replace("{slice_table}", slice_table)


if __name__ == "__main__":
    main()
