"""Cost of the CNCE ring: MoCoRing vs MoCo and IRing vs IR per training step, on CPU.

The ring paper (Table 5) reports a Ring epoch at 1.0x-1.4x a plain one: the
extra work is one anchor-to-pool matrix product and a per-row selection. This
benchmark measures it side by side in one run with the paper's sizes: a
65,536-entry pool (memory bank / queue), 128-d keys, batch 128, ResNet-18
with the CIFAR stem on 32x32 images, k = 4096 drawn negatives for IR, the
ring at its annealed target (l = 1, u = 10: the largest selection cost, a
top-6,554 per anchor; at u = 100 the ring does no ranking at all).

Two tables are printed and written to ``benchmarks/results/ring_overhead.md``:

1. a full training step (forward, loss, backward, SGD step, bank / queue and
   momentum updates);
2. the loss alone on fixed random embeddings (no encoder), which isolates
   the ring's own work.

Configurations are interleaved step by step (after one warm-up step each) so
that machine load affects them alike; the median over steps of the wall time
and of the process CPU time is reported (on a shared machine CPU time is the
steadier of the two).

Run: ``python benchmarks/ring_overhead.py [--steps 3] [--loss-steps 10]``
(about 2-4 minutes on 2 CPU cores). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bench_report import clock, publish, since, timed_step
from ssl_contrastive.info_nce import info_nce
from ssl_contrastive.ir import IR, memory_bank_nce
from ssl_contrastive.memory_bank import MemoryBank
from ssl_contrastive.moco import MoCo
from ssl_contrastive.queue import KeyQueue
from ssl_encoders.resnet import ResNet18
from ssl_ring.ring_selector import RingSelector

RESULTS = Path(__file__).resolve().parent / "results" / "ring_overhead.md"


def ring() -> RingSelector:
    return RingSelector(l=1.0, u=10.0, schedule="none")


def build(method: str, with_ring: bool, pool: int, dim: int):
    torch.manual_seed(0)
    encoder = ResNet18(stem="cifar")
    selector = ring() if with_ring else None
    if method == "IR":
        objective = IR(out_dim=dim, encoder=encoder, selector=selector,
                       source=MemoryBank(k=4096, dim=dim, num_examples=pool))
    else:
        objective = MoCo(out_dim=dim, encoder=encoder, selector=selector, source=KeyQueue(size=pool, dim=dim))
        objective.source.update(F.normalize(torch.randn(pool, dim), dim=1))  # a full queue
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=1e-4)
    return objective, optimizer


def loss_step(method: str, selector, source, batch: int, dim: int, pool: int) -> tuple[float, float]:
    z = F.normalize(torch.randn(batch, dim), dim=1).requires_grad_()
    start = clock()
    if method == "IR":
        index = torch.randint(pool, (batch,))
        loss, _ = memory_bank_nce(z, source, index, 0.07, selector)
    else:
        k = F.normalize(torch.randn(batch, dim), dim=1)
        negatives = z @ source.pool()[0].clone().T
        keep = None if selector is None else selector.select(negatives.detach(), None)
        loss = info_nce((z * k).sum(1), negatives, keep, 0.07)
    loss.backward()
    return since(start)


def table(title: str, times: dict[tuple[str, bool], list[tuple[float, float]]]) -> str:
    lines = [f"### {title}", "",
             "| method | plain wall ms/step | Ring wall ms/step | Ring / plain (wall) "
             "| plain CPU ms/step | Ring CPU ms/step | Ring / plain (CPU) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for method in ("IR", "MoCo"):
        cells = []
        for column in (0, 1):  # wall, CPU
            plain = 1000 * statistics.median(t[column] for t in times[(method, False)])
            ringed = 1000 * statistics.median(t[column] for t in times[(method, True)])
            cells += [f"{plain:.0f}", f"{ringed:.0f}", f"{ringed / plain:.2f}x"]
        lines.append(f"| {method} vs {method}Ring | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="measured full training steps per configuration")
    parser.add_argument("--loss-steps", type=int, default=10, help="measured loss-only steps per configuration")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--pool", type=int, default=65536)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    configs = [(m, r) for m in ("IR", "MoCo") for r in (False, True)]
    began = time.perf_counter()

    # 2. loss only (cheap, run first)
    sources = {"IR": MemoryBank(k=4096, dim=args.dim, num_examples=args.pool), "MoCo": KeyQueue(size=args.pool, dim=args.dim)}
    sources["MoCo"].update(F.normalize(torch.randn(args.pool, args.dim), dim=1))
    selectors = {False: None, True: ring()}
    loss_times: dict = {c: [] for c in configs}
    for rep in range(args.loss_steps + 1):
        for method, with_ring in configs:
            t = loss_step(method, selectors[with_ring], sources[method], args.batch, args.dim, args.pool)
            if rep > 0:
                loss_times[(method, with_ring)].append(t)

    # 1. full training steps
    gen = torch.Generator().manual_seed(0)
    views = [torch.randn(args.batch, 3, 32, 32, generator=gen) for _ in range(2)]
    index = torch.randperm(args.pool, generator=gen)[: args.batch]
    built = {c: build(c[0], c[1], args.pool, args.dim) for c in configs}
    step_times: dict = {c: [] for c in configs}
    for rep in range(args.steps + 1):
        for config in configs:
            t = timed_step(*built[config], views, index)
            if rep > 0:
                step_times[config].append(t)
            print(f"  {'warm-up' if rep == 0 else f'step {rep}'} {config[0]}{'Ring' if config[1] else ''}: "
                  f"{1000 * t[0]:.0f} ms wall, {1000 * t[1]:.0f} ms CPU", flush=True)

    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",) * 3
    machine = (f"{platform.platform()}; {platform.processor() or platform.machine()}; {os.cpu_count()} CPUs "
               f"(torch threads {torch.get_num_threads()}); torch {torch.__version__}; Python {platform.python_version()}; "
               f"load average at the end {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    report = "\n\n".join([
        "## Ring overhead (CPU)",
        f"Machine: {machine}.",
        f"Pool {args.pool:,} entries, {args.dim}-d keys, batch {args.batch}, ResNet-18 (CIFAR stem) on 32x32 inputs, "
        f"IR k = 4096 drawn negatives, ring l = 1, u = 10 (annealing finished), t = 0.07. "
        f"Median of {args.steps} full steps and {args.loss_steps} loss-only steps per configuration, after one warm-up "
        "each, configurations interleaved. Wall time is what a run takes; CPU time (summed over this process's "
        "threads) is less disturbed when other processes share the machine (see the load average).",
        table("Full training step (forward, loss, backward, SGD, updates)", step_times),
        table("Loss alone on random embeddings (no encoder)", loss_times),
        f"Total benchmark time: {time.perf_counter() - began:.0f} s.",
    ])
    publish(report, args.out)


if __name__ == "__main__":
    main()
