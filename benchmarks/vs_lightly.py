"""Our SimCLR and MoCo training steps against the same steps written directly with lightly.

The lightly steps follow lightly's own SimCLR / MoCo examples with the same
encoder, batch and data as ours: the projection heads of
``lightly.models.modules.heads``, ``lightly.loss.NTXentLoss`` (in-batch for
SimCLR; with ``memory_bank_size=(65536, 128)``, lightly's FIFO queue, for
MoCo), ``lightly.models.utils.update_momentum`` and ``batch_shuffle`` /
``batch_unshuffle``. Ours are the registry's ``simclr`` and ``moco`` with the
``in_batch`` source and a full 65,536-key ``queue``. Differences that are
not overhead are removed on purpose: both SimCLR steps encode the two views
as one batch of 2B (ours does; lightly's example calls the backbone twice,
which changes the BatchNorm statistics, not the machinery), and our queue
starts full, as lightly's bank does.

Each step is zero_grad, forward, loss, backward and an SGD step; the
implementations are interleaved step by step after one warm-up each, and the
median wall and process CPU time are compared. Goal: ours at most 1.02x
lightly's.

Run: ``python benchmarks/vs_lightly.py [--steps 7 --batch 128]``; writes
``benchmarks/results/vs_lightly.md``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from pathlib import Path

import lightly
import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss
from lightly.models.modules.heads import MoCoProjectionHead, SimCLRProjectionHead
from lightly.models.utils import batch_shuffle, batch_unshuffle, update_momentum
from torch import nn

from bench_report import machine, publish
from objective_overhead import EncoderStub, encoder_modules, measure
from ssl_contrastive.in_batch import InBatchNegatives
from ssl_contrastive.moco import MoCo
from ssl_contrastive.queue import KeyQueue
from ssl_contrastive.simclr import SimCLR
from ssl_encoders.resnet import ResNet18, ResNetEncoder

RESULTS = Path(__file__).resolve().parent / "results" / "vs_lightly.md"
QUEUE = 65536
DIM = 128


class LightlySimCLR(nn.Module):
    """SimCLR as in lightly's example: SimCLRProjectionHead and NTXentLoss(temperature=0.5)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = SimCLRProjectionHead(encoder.feature_dim, 512, DIM)
        self.criterion = NTXentLoss(temperature=0.5)

    def step(self, views, index):
        z = self.head(self.encoder(torch.cat(views)))
        z0, z1 = z.chunk(2)
        return self.criterion(z0, z1), {}


class LightlyMoCo(nn.Module):
    """MoCo v2 as in lightly's example: momentum copies, batch shuffle, NTXentLoss with a 65,536-key bank."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = MoCoProjectionHead(encoder.feature_dim, encoder.feature_dim, DIM)
        self.encoder_momentum = copy.deepcopy(encoder)
        self.head_momentum = copy.deepcopy(self.head)
        for p in (*self.encoder_momentum.parameters(), *self.head_momentum.parameters()):
            p.requires_grad_(False)
        self.criterion = NTXentLoss(temperature=0.07, memory_bank_size=(QUEUE, DIM))

    def step(self, views, index):
        update_momentum(self.encoder, self.encoder_momentum, 0.999)
        update_momentum(self.head, self.head_momentum, 0.999)
        q = self.head(self.encoder(views[0]))
        with torch.no_grad():
            shuffled, order = batch_shuffle(views[1])
            k = batch_unshuffle(self.head_momentum(self.encoder_momentum(shuffled)), order)
        return self.criterion(q, k), {}


def build(name: str, encoder: nn.Module) -> nn.Module:
    if name == "SimCLR (ssl-core)":
        return SimCLR(temperature=0.5, out_dim=DIM, hidden_dim=512, encoder=encoder, source=InBatchNegatives())
    if name == "SimCLR (lightly)":
        return LightlySimCLR(encoder)
    if name == "MoCo (ssl-core)":
        queue = KeyQueue(size=QUEUE, dim=DIM)
        queue.update(F.normalize(torch.randn(QUEUE, DIM), dim=1))  # full from the start, as lightly's bank
        return MoCo(out_dim=DIM, temperature=0.07, momentum=0.999, encoder=encoder, source=queue)
    return LightlyMoCo(encoder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=7, help="measured steps per implementation (after one warm-up)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    began, load_before = time.perf_counter(), os.getloadavg()[0]
    torch.manual_seed(0)
    encoder = ResNet18(stem="cifar")
    names = ["SimCLR (ssl-core)", "SimCLR (lightly)", "MoCo (ssl-core)", "MoCo (lightly)"]
    models = {}
    for name in names:
        torch.manual_seed(1)
        model = build(name, copy.deepcopy(encoder)).train()
        params = [p for p in model.parameters() if p.requires_grad]
        models[name] = (model, torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=1e-4),
                        EncoderStub(encoder_modules(model, ResNetEncoder)))
    gen = torch.Generator().manual_seed(0)
    views = [torch.randn(args.batch, 3, 32, 32, generator=gen) for _ in range(2)]
    index = torch.arange(args.batch)
    times: dict[str, list[tuple[float, float]]] = {n: [] for n in names}  # full steps
    others: dict[str, list[tuple[float, float]]] = {n: [] for n in names}  # the same steps without the encoders
    for rep in range(args.steps + 1):
        # ABBA: ours first in odd rounds, lightly's first in even ones, so that neither gains from its position
        for name in (names if rep % 2 else [names[1], names[0], names[3], names[2]]):
            t, other = measure(*models[name], views, index)
            if rep > 0:
                times[name].append(t)
                others[name].append(other)
            print(f"  {'warm-up' if rep == 0 else f'step {rep}'} {name}: {1000 * t[0]:.0f} ms wall, "
                  f"{1000 * t[1]:.0f} ms CPU", flush=True)

    def med(name, column):
        return statistics.median(t[column] for t in times[name])

    def spread(name, column):
        if len(times[name]) < 2:
            return 0.0
        q = statistics.quantiles([t[column] for t in times[name]], n=4)
        return (q[2] - q[0]) / med(name, column)

    def paired(ours, theirs, column):
        """Median over rounds of the round's ratio (the two steps of a round ran back to back)."""
        return statistics.median(a[column] / b[column] for a, b in zip(times[ours], times[theirs]))

    def split_ratio(ours, theirs):
        """(encoder ms, ours-else ms, lightly-else ms, ratio): the step as the shared encoder part plus each one's rest (CPU)."""
        encoder = statistics.median(f[1] - o[1] for n in (ours, theirs) for f, o in zip(times[n], others[n]))
        ours_else = statistics.median(o[1] for o in others[ours])
        theirs_else = statistics.median(o[1] for o in others[theirs])
        return encoder, ours_else, theirs_else, (encoder + ours_else) / (encoder + theirs_else)

    lines = ["| method | ssl-core ms/step (wall / CPU) | lightly ms/step (wall / CPU) | ssl-core / lightly (wall) "
             "| ssl-core / lightly (CPU) | median of paired ratios (wall / CPU) | step spread (IQR / median, wall) "
             "| encoder ms (CPU, both) | everything else ms, ssl-core / lightly (CPU) | ratio from the split (CPU) "
             "| goal <= 1.02x (from the split) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for method in ("SimCLR", "MoCo"):
        ours, theirs = f"{method} (ssl-core)", f"{method} (lightly)"
        ratio_wall, ratio_cpu = med(ours, 0) / med(theirs, 0), med(ours, 1) / med(theirs, 1)
        noise = max(spread(ours, 0), spread(theirs, 0))
        pair_wall, pair_cpu = paired(ours, theirs, 0), paired(ours, theirs, 1)
        encoder, ours_else, theirs_else, split = split_ratio(ours, theirs)
        verdict = "met" if split <= 1.02 else "not met"
        lines.append(f"| {method} | {1000 * med(ours, 0):.0f} / {1000 * med(ours, 1):.0f} | "
                     f"{1000 * med(theirs, 0):.0f} / {1000 * med(theirs, 1):.0f} | {ratio_wall:.3f}x | {ratio_cpu:.3f}x | "
                     f"{pair_wall:.3f}x / {pair_cpu:.3f}x | "
                     f"{100 * noise:.0f}% | {1000 * encoder:.0f} | {1000 * ours_else:.0f} / {1000 * theirs_else:.0f} | "
                     f"{split:.3f}x | {verdict} |")
    report = "\n\n".join([
        "# Our SimCLR and MoCo steps against lightly's",
        f"`python benchmarks/vs_lightly.py --steps {args.steps} --batch {args.batch}`; lightly {lightly.__version__}; machine: {machine(load_before)}.",
        f"ResNet-18 (CIFAR stem), 32x32 inputs, batch {args.batch}, the same initial weights and data for both; "
        f"SimCLR temperature 0.5, head 512-512-{DIM}; MoCo temperature 0.07, momentum 0.999, queue {QUEUE:,} (full), "
        f"shuffled-BN keys. Medians over {args.steps} interleaved rounds after one warm-up each, the "
        "order within a round alternating (ABBA). Whole steps differ from round to round by more than "
        "the 2% goal (the spread column), so each step is also run again with its encoder calls served from the "
        "recorded outputs (as `objective_overhead.py`): the encoders' work is the same in both implementations, "
        "and the verdict compares encoder + each one's everything-else (CPU-time medians), which the noise of the "
        "large encoder part cannot swamp.",
        "\n".join(lines),
        f"Total benchmark time: {time.perf_counter() - began:.0f} s.",
    ])
    publish(report, args.out)


if __name__ == "__main__":
    main()
