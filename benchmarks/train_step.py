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
training only (``evaluate=[]``) under each variant of ``WHOLE_RUN`` (as
before the fast path: eager, views made one image at a time with PIL, JPEGs
decoded at every read; then channels-last, batched views, the decoded-image
cache and compile added one by one), one after the other in this process's
run, with each variant's wall time; then a short run of each from the same
initial weights gives the largest difference of its first ``--check-steps``
losses from the eager variant that makes the same views (per-item seeded
views make them the same batches), beside the noise floor: eager again
with initial weights perturbed by one part in a million.

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


BEFORE = ["train.channels_last=false", "views.params.batched=false", "data.params.cache_decoded=false"]
"""Before the fast path: eager convolutions, views one image at a time with PIL, JPEGs decoded at every read."""

WHOLE_RUN = {
    "eager, per-image PIL views, decoding every read (before)": ("per-image", ["train.compile=false", *BEFORE]),
    "channels_last, per-image PIL views": ("per-image", ["train.compile=false", *BEFORE[1:]]),
    "eager, batched views": ("batched", ["train.compile=false", "train.channels_last=false",
                                         "data.params.cache_decoded=false"]),
    "channels_last, batched views": ("batched", ["train.compile=false", "data.params.cache_decoded=false"]),
    "channels_last, batched views, decoded-image cache": ("batched", ["train.compile=false"]),
    "channels_last + compile, batched views, decoded-image cache": ("batched", ["train.compile=true"]),
}
"""Part 2's variants: which views they make, and the overrides each adds to ``ssl-core run PIPELINE``."""


RUN = ["evaluate=[]", "eval_options.random_init_baseline=false", "train.progress_bar=false"]
"""Overrides of every Part 2 run: training only."""


def whole_run(pipeline: Path, overrides: list[str], out: Path) -> float:
    """Wall time of ``ssl-core run PIPELINE`` (training only) under ``overrides``, the pipeline's logging as it is."""
    command = [sys.executable, "-m", "ssl_core.cli", "run", str(pipeline), f"output={out}", *RUN, *overrides]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def first_losses(pipeline: Path, overrides: list[str], out: Path, steps: int, init: Path) -> list[float]:
    """The loss of each of the first ``steps`` steps under ``overrides``, the encoder starting from ``init``."""
    from ssl_core.plots import read_metrics

    command = [sys.executable, "-m", "ssl_core.cli", "run", str(pipeline), f"output={out}", *RUN, *overrides,
               f"train.max_steps={steps}", "train.log_every_n_steps=1", f"encoder.init_from={init}"]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return [value for step, value in read_metrics(out)["loss"] if step >= 1][:steps]


def initial_weights(pipeline: Path, folder: Path, perturbation: float) -> tuple[Path, Path]:
    """The pipeline's encoder at seed 0, and the same weights times (1 + ``perturbation`` x N(0, 1)), as files."""
    import yaml

    encoder = yaml.safe_load(pipeline.read_text())["encoder"]
    torch.manual_seed(0)
    weights = make_registry().build("encoder", encoder["name"], encoder.get("params", {}), in_channels=3).state_dict()
    noise = torch.Generator().manual_seed(1)
    perturbed = {k: v * (1 + perturbation * torch.randn(v.shape, generator=noise)) if v.is_floating_point() else v
                 for k, v in weights.items()}
    paths = folder / "initial.pt", folder / "perturbed.pt"
    torch.save(weights, paths[0])
    torch.save(perturbed, paths[1])
    return paths


PERTURBATION = 1e-6
"""Relative noise on the initial weights for Part 2's noise floor: how far eager drifts from rounding-sized changes."""


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
            initial, perturbed = initial_weights(args.pipeline, Path(tmp), PERTURBATION)
            first, eager_losses, floors = None, {}, []
            for i, (name, (views, overrides)) in enumerate(WHOLE_RUN.items()):
                seconds = whole_run(args.pipeline, overrides, Path(tmp) / f"variant{i}")
                losses = first_losses(args.pipeline, overrides, Path(tmp) / f"losses{i}", args.check_steps, initial)
                first = first or seconds
                if views not in eager_losses:  # the first variant with these views is eager: the reference
                    eager_losses[views] = losses
                    noisy = first_losses(args.pipeline, overrides, Path(tmp) / f"noisy{i}", args.check_steps, perturbed)
                    floors.append(f"{views} views {max(abs(a - b) for a, b in zip(noisy, losses)):.1e}")
                diff = max(abs(a - b) for a, b in zip(losses, eager_losses[views]))
                rows.append(f"| {name} | {views} | `{' '.join(overrides)}` | {seconds / 60:.2f} min | "
                            f"{first / seconds:.2f}x | {diff:.1e} |")
                print(rows[-1], flush=True)
        parts += [f"Part 2: the whole training of `{args.pipeline}` (`ssl-core run`, training only, `evaluate=[]`, "
                  "the pipeline's logging; wall time of the command, start-up included), each variant one after the "
                  "other. 'views' says how the training views are made: one image at a time with PIL, or a batch at "
                  "once (torchvision's random parameters per image, its kernels per batch: the same augmentations, "
                  "whose pixels differ from PIL's by rounding; `benchmarks/quality.py --suite views` compares the "
                  "two over seeds). 'max loss diff' is the largest |loss - eager loss| over the first "
                  f"{args.check_steps} steps of a second run of each variant, from the same initial encoder weights, "
                  "against the eager variant with the same views.",
                  "| variant | views | overrides | wall time | speed-up | max loss diff |\n"
                  "|---|---|---|---:|---:|---:|\n" + "\n".join(rows),
                  f"Noise floor of 'max loss diff': the eager run again with its initial weights multiplied by "
                  f"(1 + {PERTURBATION:g} x N(0, 1)) differs from it by {', '.join(floors)} over the same steps. "
                  "This pipeline (MoCo, SGD with momentum, temperature 0.07) amplifies rounding-sized differences "
                  "within a few steps, so its whole-run losses can only agree to that floor; from the same weights "
                  "and batches a step agrees to within the Part 1 figures."]
    publish("\n\n".join(parts), RESULTS)


if __name__ == "__main__":
    main()
