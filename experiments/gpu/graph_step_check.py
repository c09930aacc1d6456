"""Would a CUDA-graph training step reach issue #7's goal? A feasibility check for a GPU session.

    PYTHONPATH=$PWD:$PWD/experiments/gpu/site python3 experiments/gpu/graph_step_check.py
    PYTHONPATH=. python experiments/gpu/graph_step_check.py --device cpu   # dry run: eager only

At the ETTh1-sized shape of `bench_training.py` the raw loop's step is bound by the CPU
(experiments/results/gpu_probe.txt): its kernels take under 0.9 ms of a ~2.4 ms training step,
so Lightning's ~0.9 ms of Python a step shows in full. A step captured once in a CUDA graph and
replayed costs the CPU one launch. This script times, on the same windows (materialised on the
GPU), batches (one shuffled epoch, the short last batch dropped) and initial weights, with bf16
autocast:

- eager: `bench_support.train_step`, the raw loop's step (Adam, clipping at norm 1);
- graph: the same step (Adam with `capturable=True`, autocast without its weight cache, as
  capture requires) run for the first 3 batches on a side stream, captured, and replayed for
  the other batches, each copied into the graph's input buffers first.

Both train on the first 3 batches untimed (the graph's warm-up and capture are a fixed cost of a
fit); the time per step is that of the other batches. It prints the ms per step of each, their
ratio, and both networks' validation loss after the same batches (they should agree to bf16
noise). If graph / eager is well under 0.6, a graphed
step inside ForecastModule (manual optimisation) could absorb Lightning's cost and still beat the
raw loop; if capture fails (cuDNN's RNN, autocast), the error says where.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import traceback
from functools import partial

import numpy as np
import torch
from torch.nn.functional import mse_loss

from experiments.bench_support import (
    Shape,
    as_tensors,
    make_datamodule,
    make_net,
    timed,
    train_step,
)
from experiments.bench_support import validate as validation_loss
from experiments.bench_training import SHAPES
from forecast.data.shuffle import Permutation

WARM_UP = 3  # batches run eagerly on a side stream before capture
TINY = Shape(1, 8, 1, 8, 1, 32, 2000, 1)  # the dry run's shape


class Batches:
    """One epoch of shuffled training batches [B, L, C], [B, H, T] of materialised windows."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0):
        order = torch.from_numpy(Permutation(len(x), seed)(np.arange(len(x))))
        whole = len(x) // batch_size * batch_size
        self.index = order[:whole].to(x.device).view(-1, batch_size)
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.index[number]
        return self.x[rows], self.y[rows]


def eager_epoch(net, batches: Batches, autocast, device: str) -> float:
    """Seconds of the batches after the first `WARM_UP`."""
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for number in range(WARM_UP):
        train_step(net, optimizer, *batches[number], autocast)

    def rest() -> None:
        for number in range(WARM_UP, len(batches)):
            train_step(net, optimizer, *batches[number], autocast)

    return timed(rest, device)


def graphed_step(net, x: torch.Tensor, y: torch.Tensor) -> None:
    """The raw step without `zero_grad`: inside a captured graph the backward pass writes the
    gradients afresh at every replay."""
    with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
        loss = mse_loss(net(x, None, None, y), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0, foreach=True)


def graph_epoch(net, batches: Batches) -> float:
    """Seconds of the replays, for the batches after the first `WARM_UP`."""
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, capturable=True)
    static_x, static_y = (tensor.clone() for tensor in batches[0])
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # cuDNN plans, Adam's state, the allocator's pools
        for number in range(WARM_UP):
            static_x.copy_(batches[number][0])
            static_y.copy_(batches[number][1])
            optimizer.zero_grad(set_to_none=True)
            graphed_step(net, static_x, static_y)
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        graphed_step(net, static_x, static_y)
        optimizer.step()

    def rest() -> None:
        for number in range(WARM_UP, len(batches)):
            x, y = batches[number]
            static_x.copy_(x)
            static_y.copy_(y)
            graph.replay()

    return timed(rest, "cuda")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs of each")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("error: --device cuda: torch sees no CUDA GPU; --device cpu for a dry run.")
    shape = SHAPES["etth"] if cuda else TINY
    dm = make_datamodule(shape, args.device)
    initial = make_net(shape, dm).to(args.device)
    batches = Batches(*as_tensors(dm, "train", args.device), shape.batch_size)
    val = (*as_tensors(dm, "val", args.device), dm.eval_batch_size)
    autocast = (partial(torch.autocast, device_type="cuda", dtype=torch.bfloat16) if cuda
                else contextlib.nullcontext)
    print(f"{shape.label()}, {args.device}; {len(batches)} batches an epoch; "
          f"torch {torch.__version__}")
    runs = {"eager": lambda net: eager_epoch(net, batches, autocast, args.device)}
    if cuda:
        runs["graph"] = lambda net: graph_epoch(net, batches)
    best, losses, failed = {}, {}, []
    for name, run in runs.items():
        try:
            for round_ in range(args.rounds + 1):  # the first epoch warms up
                net = copy.deepcopy(initial)
                seconds = run(net)
                if round_:
                    best[name] = min(best.get(name, float("inf")), seconds)
            losses[name] = validation_loss(net, *val, autocast)
        except Exception:
            print(f"{name} failed:")
            traceback.print_exc(file=sys.stdout)
            failed.append(name)
    for name in losses:
        print(f"{name}: {best[name] * 1000 / (len(batches) - WARM_UP):.3f} ms/step (best of "
              f"{args.rounds} epochs), val loss after one epoch {losses[name]:.4f}")
    if {"eager", "graph"} <= losses.keys():
        print(f"graph / eager time per step: {best['graph'] / best['eager']:.2f}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
