"""Where a GPU fit of ours loses time against the raw loop of `bench_training.py` (issue #7).

    PYTHONPATH=$PWD:$PWD/experiments/gpu/site python3 experiments/gpu/where_time_goes.py
    PYTHONPATH=. python experiments/gpu/where_time_goes.py --device cpu   # dry run, tiny shape

Prints, for the ETTh1-sized shape (7 channels, hidden 128, batch 256, 4 epochs):
1. wall ms per training step of raw, bare (Lightning alone) and ours, the best of `--rounds`
   (3) alternating fits (a whole fit, validation included, over its training steps);
2. the GPU's kernel time per training step of raw and bare, the same way (torch.profiler's
   kernel events): a step whose kernels take far less than its wall time is bound by the CPU,
   where every microsecond of Python the loop adds shows in full;
3. the functions with the most own time (cProfile) in bare and raw;
4. the host syncs of one fit of ours (CUDA's sync debug mode): their count, and the 14 most
   frequent call stacks (9 frames each);
5. the pieces of a checkpoint write of the ECL-sized model (weights and Adam moments, 200 MiB):
   the copy to host memory, Lightning's save, and `FileCheckpointIO`'s, in alternating order.
Output only (exit 1 if a section failed); experiments/results/gpu_probe.txt holds a run on the
H200 machine.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import cProfile
import io
import pstats
import sys
import tempfile
import time
import traceback
import warnings
from functools import partial
from pathlib import Path

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from experiments.bench_support import (
    Shape,
    as_tensors,
    logger_factory,
    make_datamodule,
    make_net,
    ours_config,
    run_ours,
    run_raw,
    synchronize,
    timed,
)
from experiments.bench_training import SHAPES
from forecast.checkpoint_io import FileCheckpointIO, host_snapshot

TINY = Shape(1, 8, 1, 8, 1, 32, 2000, 2)  # the dry run's shape


def quiet():
    """Lightning's and the progress bar's prints go to stderr, away from the report."""
    return contextlib.redirect_stdout(sys.stderr)


class Probe:
    """The three fits of one shape on one device, each prepared outside its timing."""

    def __init__(self, shape: Shape, device: str):
        self.shape, self.device = shape, device
        self.trainer = "gpu" if device == "cuda" else "default"
        self.dm = make_datamodule(shape, device)
        self.net = make_net(shape, self.dm)
        self.train = as_tensors(self.dm, "train", device)
        self.val = (*as_tensors(self.dm, "val", device), self.dm.eval_batch_size)
        self.steps = shape.epochs * -(-len(self.dm.starts_["train"]) // shape.batch_size)
        self.new_logger = logger_factory(Path(tempfile.mkdtemp(prefix="probe_")))
        autocast = partial(torch.autocast, device_type=device, dtype=torch.bfloat16)
        self.autocast = autocast if device == "cuda" else contextlib.nullcontext

    def fit(self, name: str):
        """A fit of `name` ("raw", "bare" or "ours"), ready to call."""
        net = copy.deepcopy(self.net)
        if name == "raw":
            net = net.to(self.device)
            return lambda: run_raw(self.shape, net, self.device, self.autocast, self.train,
                                   self.val)
        cfg = ours_config(self.trainer, self.shape.epochs)
        if name == "bare":
            return lambda: run_ours(self.dm, net, cfg, None, checkpoints=False, progress=False)
        logger = self.new_logger()
        return lambda: run_ours(self.dm, net, cfg, logger)

    def sync(self) -> None:
        synchronize(self.device)

    def timed(self, name: str) -> float:
        fit = self.fit(name)

        def quietly() -> None:
            with quiet():
                fit()

        return timed(quietly, self.device)


def step_times(probe: Probe, rounds: int) -> None:
    for name in ("raw", "bare", "ours"):
        probe.timed(name)  # warm-up: imports, cuDNN plans
    best = collections.defaultdict(lambda: float("inf"))
    for _ in range(rounds):
        for name in ("raw", "bare", "ours"):
            best[name] = min(best[name], probe.timed(name))
    for name, seconds in best.items():
        print(f"{name}: {seconds * 1000 / probe.steps:.3f} ms/step, raw / {name} "
              f"{best['raw'] / seconds:.3f}")


def kernel_times(probe: Probe) -> None:
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    for name in ("raw", "bare"):
        fit = probe.fit(name)
        activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA]
        with quiet(), profile(activities=activities) as recorded:
            probe.sync()
            start = time.perf_counter()
            fit()
            probe.sync()
            wall = time.perf_counter() - start
        kernels = sum(e.time_range.elapsed_us() for e in recorded.events()
                      if e.device_type != DeviceType.CPU and not e.is_user_annotation) / 1e6
        print(f"{name}: kernels {kernels * 1000 / probe.steps:.3f} ms/step of "
              f"{wall * 1000 / probe.steps:.3f} ms/step wall under the profiler "
              f"({kernels / wall:.2f})")


def own_times(probe: Probe, top: int = 20) -> None:
    for name in ("bare", "raw"):
        profiler, fit = cProfile.Profile(), probe.fit(name)
        with quiet():
            profiler.enable()
            fit()
            probe.sync()
            profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
        rows = [line[:150] for line in text.getvalue().splitlines() if line.strip()]
        print(f"-- {name}\n" + "\n".join(rows[3:3 + top + 1]))


def host_syncs(probe: Probe) -> None:
    seen = collections.Counter()

    def record(message, category, filename, lineno, file=None, line=None):
        if "synchroniz" in str(message):
            frames = [f for f in traceback.extract_stack()[:-1] if "warnings" not in f.filename]
            seen[" <- ".join(f"{Path(f.filename).name}:{f.lineno}"
                             for f in frames[-9:][::-1])] += 1

    fit = probe.fit("ours")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with quiet():
                fit()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    print(f"{sum(seen.values())} syncs in {probe.steps} steps "
          f"({probe.shape.epochs} epochs); the most frequent:")
    for stack, count in seen.most_common(14):
        print(count, stack)


def checkpoint_writes(device: str, elements: int) -> None:
    """Times the writes of a checkpoint of `elements` weights and their two Adam moments."""
    weights = {"head": torch.randn(elements * 9 // 10, device=device),
               "lstm": torch.randn(elements // 10, device=device)}

    def moments():
        return {key: value.clone() for key, value in weights.items()}

    checkpoint = {"state_dict": weights,
                  "optimizer_states": [{"exp_avg": moments(), "exp_avg_sq": moments()}]}
    folder = Path(tempfile.mkdtemp(prefix="probe_ckpt_"))
    for round_ in range(2):
        start = time.perf_counter()
        snapshot, copied = host_snapshot(checkpoint, {})
        for event in copied:
            event.synchronize()
        times = {"copy to host (pinned)": time.perf_counter() - start}
        writers = [("Lightning's save", TorchCheckpointIO()),
                   ("FileCheckpointIO", FileCheckpointIO())]
        for name, writer in writers[::-1] if round_ % 2 else writers:  # neither always first
            start = time.perf_counter()
            writer.save_checkpoint(snapshot, folder / f"{round_}-{name[:4]}.ckpt")
            times[name] = time.perf_counter() - start
        size = next(folder.glob(f"{round_}-*.ckpt")).stat().st_size / 2**20
        print(f"round {round_}, {size:.0f} MiB: " + ", ".join(
            f"{name} {seconds * 1000:.0f} ms" for name, seconds in times.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--rounds", type=int, default=3, help="timed fits of each loop")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda: torch sees no CUDA GPU; --device cpu for a dry run.")
    warnings.filterwarnings("ignore", message=".*(does not have many workers|LeafSpec|"
                                              "smaller than the logging interval).*")
    cuda = args.device == "cuda"
    shape = Shape(**{**SHAPES["etth"].__dict__, "epochs": 4}) if cuda else TINY
    probe = Probe(shape, args.device)
    sections = [(f"wall time per step, best of {args.rounds}",
                 partial(step_times, probe, args.rounds)),
                ("kernel time per step", partial(kernel_times, probe)),
                ("own time per function (cProfile)", partial(own_times, probe)),
                ("host syncs of ours", partial(host_syncs, probe) if cuda else None),
                ("checkpoint writes, ECL-sized model",
                 partial(checkpoint_writes, args.device, 17_500_000 if cuda else 175_000))]
    print(f"{shape.label()}, {args.device}; torch {torch.__version__}")
    failed = []
    for title, section in sections:
        print(f"\n===== {title}", flush=True)
        if section is None:
            print("(CUDA only)")
            continue
        try:  # one failing section leaves the others to run
            section()
        except Exception:
            traceback.print_exc(file=sys.stdout)
            failed.append(title)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
