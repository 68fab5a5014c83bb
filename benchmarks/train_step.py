"""Training speed: eager against channels-last, torch.compile and both, side by side in one run.

Part 1, one training step: NAC's step (encoder on both views, head,
inference network, loss, backward, Adam step) on 32x32 inputs at the CPU
pipelines' sizes, for the ResNet-18 (CIFAR stem, width 0.25) and the VGG16-bn
(width 0.25) encoders. Each option starts from the same weights and gets the
same batches and the same bit flips (the RNG is seeded per step), steps are
interleaved option by option so that load on the shared machine falls on all
alike, and the first ``--check-steps`` losses of each option are compared with
eager mode's. The compile time is the first step's extra time.

Part 2, a whole CPU pipeline (``--pipeline``): ``ssl-core run`` of its
training only (``evaluate=[]``) under each variant of ``WHOLE_RUN`` (eager
with the views made in the training process, as before the fast path; the
defaults; data-loader workers that make the next batches' views while the
step runs; compile on top), one after the other in this process's run, with
each variant's wall time and the largest difference of its logged losses
from the first variant's (per-item seeded views make them the same batches).

Run: ``python benchmarks/train_step.py [--steps 8] [--pipeline examples/pipelines/X.yaml]``.
Writes ``benchmarks/results/train_step.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench_report import machine, publish
from ssl_core.fast_path import apply_fast_path, to_channels_last
from ssl_core.registry import make_registry

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "train_step.md"
ENCODERS = {
    "ResNet-18 (CIFAR stem, width 0.25)": ("resnet18", {"stem": "cifar", "width": 0.25}),
    "VGG16-bn (width 0.25)": ("vgg16_bn", {"pretrained": False, "width": 0.25}),
}
OPTIONS = {"eager": (False, False), "channels_last": (True, False), "compile": (False, True),
           "channels_last + compile": (True, True)}


def build(registry, encoder_name: str, encoder_params: dict):
    torch.manual_seed(0)
    encoder = registry.build("encoder", encoder_name, encoder_params, in_channels=3)
    objective = registry.build("objective", "nac", {"p": 0.4, "out_dim": 128}, encoder=encoder, source=None,
                               selector=None, num_examples=5000)
    return objective, encoder


def step(objective, optimizer, views, index, seed: int, channels_last: bool) -> tuple[float, float]:
    """One training step with the RNG seeded (same flips for every option); (loss, wall seconds)."""
    torch.manual_seed(seed)
    start = time.perf_counter()
    if channels_last:
        views = to_channels_last(views)
    optimizer.zero_grad(set_to_none=True)
    loss, _ = objective.step(views, index)
    loss.backward()
    optimizer.step()
    return loss.item(), time.perf_counter() - start


def bench_encoder(registry, title: str, spec, batch: int, steps: int, check_steps: int) -> list[str]:
    torch.manual_seed(1)
    batches = [([torch.rand(batch, 3, 32, 32), torch.rand(batch, 3, 32, 32)], torch.arange(batch))
               for _ in range(4)]
    runs = {}
    for name, (channels_last, compile_) in OPTIONS.items():
        objective, encoder = build(registry, *spec)
        objective.train()
        apply_fast_path(objective, encoder, channels_last, compile_)
        runs[name] = {"objective": objective, "optimizer": torch.optim.Adam(objective.parameters(), lr=1e-3),
                      "losses": [], "times": [], "channels_last": channels_last}
    total = max(steps, check_steps) + 1
    for k in range(total):  # interleaved: step k of every option, then step k + 1
        views, index = batches[k % len(batches)]
        for name, run in runs.items():
            loss, seconds = step(run["objective"], run["optimizer"], views, index, k, run["channels_last"])
            run["losses"].append(loss)
            run["times"].append(seconds)
        print(f"[train_step] {title}: step {k + 1}/{total}", flush=True)
    eager = runs["eager"]
    eager_median = statistics.median(eager["times"][1:])
    rows = []
    for name, run in runs.items():
        median = statistics.median(run["times"][1:])
        first_extra = run["times"][0] - median
        diff = max(abs(a - b) for a, b in zip(run["losses"][:check_steps], eager["losses"][:check_steps]))
        rows.append(f"| {title} | {name} | {median:.3f} | {eager_median / median:.2f}x | {first_extra:.1f} | {diff:.1e} |")
    return rows


WHOLE_RUN = {
    "eager, views in the training process (before)": ["train.compile=false", "train.channels_last=false",
                                                      "data.num_workers=0"],
    "channels_last (default), views in the training process": ["train.compile=false", "data.num_workers=0"],
    "channels_last, 1 data-loader worker": ["train.compile=false", "data.num_workers=1"],
    "channels_last, 2 data-loader workers": ["train.compile=false", "data.num_workers=2"],
    "channels_last + compile, 1 data-loader worker": ["train.compile=true", "data.num_workers=1"],
}
"""Part 2's variants: the overrides each adds to ``ssl-core run PIPELINE``."""


def whole_run(pipeline: Path, overrides: list[str], out: Path) -> tuple[float, list[float]]:
    """Wall time of the pipeline's training under ``overrides``, and its logged losses."""
    from ssl_core.plots import read_metrics

    command = [sys.executable, "-m", "ssl_core.cli", "run", str(pipeline), f"output={out}", "evaluate=[]",
               "eval_options.random_init_baseline=false", "train.progress_bar=false", *overrides]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, [value for _, value in read_metrics(out)["loss"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per option (after the first)")
    parser.add_argument("--check-steps", type=int, default=20, help="steps whose losses are compared with eager")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--pipeline", type=Path, help="also time this CPU pipeline's whole training, before and after")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    registry = make_registry()
    rows = []
    for title, spec in ENCODERS.items():
        rows += bench_encoder(registry, title, spec, args.batch, args.steps, args.check_steps)
    parts = [
        "# Training speed: eager vs channels-last vs torch.compile (CPU)",
        f"`python benchmarks/train_step.py --steps {args.steps} --check-steps {args.check_steps} --batch {args.batch}"
        f"{f' --pipeline {args.pipeline}' if args.pipeline else ''}`; machine: {machine(load)}.",
        f"Part 1: one NAC training step (both views through the encoder, head, inference network, loss, backward, "
        f"Adam) at batch {args.batch} of 32x32 inputs; the options interleaved step by step from the same weights, "
        f"batches and bit flips; median over the steps after the first. 'first-step extra' is the first step's time "
        f"above the median (compilation). 'max loss diff' is the largest |loss - eager loss| over the first "
        f"{args.check_steps} steps.",
        "| encoder | option | seconds per step | speed-up | first-step extra (s) | max loss diff |\n"
        "|---|---|---:|---:|---:|---:|\n" + "\n".join(rows),
    ]
    if args.pipeline:
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, (name, overrides) in enumerate(WHOLE_RUN.items()):
                seconds, losses = whole_run(args.pipeline, overrides, Path(tmp) / f"variant{i}")
                if i == 0:
                    first, reference = seconds, losses
                diff = max(abs(a - b) for a, b in zip(losses, reference)) if len(losses) == len(reference) else float("nan")
                rows.append(f"| {name} | `{' '.join(overrides)}` | {seconds / 60:.2f} min | {first / seconds:.2f}x | "
                            f"{diff:.1e} ({len(losses)} logged) |")
                print(rows[-1], flush=True)
        parts += [f"Part 2: the whole training of `{args.pipeline}` (`ssl-core run`, training only, `evaluate=[]`), "
                  "each variant one after the other; 'max loss diff' is over the logged training losses against "
                  "the first variant's:",
                  "| variant | overrides | wall time | speed-up | max loss diff |\n|---|---|---:|---:|---:|\n"
                  + "\n".join(rows)]
    publish("\n\n".join(parts), RESULTS)


if __name__ == "__main__":
    main()
