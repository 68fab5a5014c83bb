"""Benchmark: is data loading the bottleneck of a speech ResNet-18 training step?

The goal (issue 5): the training DataLoader delivers items at least 2x as fast
as a ResNet-18 training step consumes them. Both are measured side by side in
one run, on the real pipeline's components (built through the registry from
``examples/pipelines/ir_resnet18-w0.25_1xb32-constlr-8e_librispeech-mini.yaml``, its batch size and views):

- **loader**: the trainer's own loader (``MultiViewDataset`` over the
  ``librispeech`` dataset, ``EpochSampler``, ``ResumableLoader``) with 2
  workers; an item is one utterance with its two training views (random crop
  of the cached log-mel frames, frequency and time masks, ``top_db`` floor,
  z-score: ``1 x 64 x 64`` each). Whole epochs are timed, worker start-up
  included, as the trainer iterates them (workers are not persistent); the
  rate after the first batch is shown too. For comparison, the same loader
  when every item is decoded from its flac file (crop of the waveform,
  log-mel, masks, floor, z-score per view; what the cache avoids), and the
  cached loader in the main process (0 workers, which the CPU pipelines use).
- **step**: the pipeline's IR objective (memory bank) on a ResNet-18 with a
  1-channel 64x64 input, at the paper's full width and at the CPU pipeline's
  width: forward of both views, loss, backward and an SGD step, on a real
  batch from the loader, with torch's default intra-op threads (what the
  trainer uses; one per core) and with one thread (on a busy machine the
  default threads can be many times slower than one).

Rounds interleave every configuration so that machine load affects them
alike; the median over rounds is reported. Wall time only: the loader's work
runs in its worker processes. Items/s and spectrograms/s (two per item) are
printed and written to ``benchmarks/results/speech_loader.md`` with the
machine's description.

Run: ``python benchmarks/speech_loader.py [--data DIR] [--rounds 5] [--steps 3]``
(about 2-5 minutes on 2 CPU cores). Needs ``../shared/data/librispeech-mini``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset

from bench_report import publish
from ssl_core import make_registry
from ssl_core.config import load_config
from ssl_core.epoch_sampler import EpochSampler, ResumableLoader
from ssl_core.multi_view_dataset import MultiViewDataset
from ssl_core.optimization import build_optimizer
from ssl_core.pipeline import build_pipeline
from ssl_speech.audio_io import load_audio
from ssl_speech.crop import crop_or_pad
from ssl_speech.masking import freq_mask, time_mask

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "librispeech-mini"
DEFAULT_PIPELINE = ROOT / "examples" / "pipelines" / "ir_resnet18-w0.25_1xb32-constlr-8e_librispeech-mini.yaml"
GOAL = 2.0


class DecodeEveryItem(Dataset):
    """The training items of ``MultiViewDataset`` made without the cache: decode, then per view
    crop the waveform, log-mel, masks, ``top_db`` floor and z-score (as ``benchmarks/speech_cache.py``)."""

    def __init__(self, data, views):
        self.data, self.views = data, views

    def __len__(self) -> int:
        return len(self.data.files)

    def __getitem__(self, key):
        index = key[0] if isinstance(key, tuple) else key
        features, views = self.data.features, self.views
        wave = load_audio(self.data.files[index], features.sample_rate)
        out = []
        for _ in range(views.n_views):
            db = features.power_db(crop_or_pad(wave, features.num_samples, "random"))
            db = freq_mask(db, views.freq_mask_width, views.num_masks, features.floor_db)
            db = time_mask(db, views.time_mask_width, views.num_masks, features.floor_db)
            z = (features.clamp_top_db(db) - self.data.mean) / self.data.std
            out.append(z.unsqueeze(0).float())
        return out, index, self.data.labels[index]


def loader_epoch(loader: ResumableLoader, epoch: int) -> tuple[float, float]:
    """(items/s over the whole epoch, worker start included; items/s after the first batch)."""
    loader.sampler.set_epoch(epoch)
    batch, batches = loader.sampler.batch_size, 0
    start = time.perf_counter()
    first = None
    for _ in loader:
        batches += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    after_first = (batches - 1) * batch / (end - first) if batches > 1 else float("nan")
    return batches * batch / (end - start), after_first


def train_step(objective, optimizer, views, index) -> float:
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss, _ = objective.step(views, index)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def machine(load_before: float) -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical cores, {platform.platform()}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, torch intra-op threads {torch.get_num_threads()}; 1-minute load average "
            f"{load_before:.2f} before and {os.getloadavg()[0]:.2f} after the runs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding LibriSpeech/train-clean-100")
    parser.add_argument("--pipeline", type=Path, default=DEFAULT_PIPELINE, help="the speech pipeline whose batch and views are used")
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.25], help="ResNet-18 widths timed")
    parser.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads(), 1],
                        help="torch intra-op threads of the timed steps (default: torch's default, and 1)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median reported)")
    parser.add_argument("--epochs", type=int, default=2, help="cached-loader epochs per round")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per width and thread count per round")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speech_loader.md")
    args = parser.parse_args(argv)
    args.threads = list(dict.fromkeys(args.threads))
    if not (args.data / "LibriSpeech" / "train-clean-100").is_dir():
        print(f"skipped: no LibriSpeech/train-clean-100 under {args.data} (the project's shared data, "
              f"../shared/data/librispeech-mini); pass --data", file=sys.stderr)
        return 1
    load_before = os.getloadavg()[0]
    registry = make_registry(autoload=False, warn=False)
    with tempfile.TemporaryDirectory() as cache_dir:
        base = [f"data.params.root={args.data.resolve()}", f"data.params.cache_dir={cache_dir}", "data.num_workers=0"]
        pipelines = {w: build_pipeline(load_config(args.pipeline, [*base, f"encoder.params.width={w}"], registry), registry)
                     for w in args.widths}
        first = pipelines[args.widths[0]]
        values = first.config.values
        batch, seed = values["train"]["batch_size"], values["seed"]

        def loader(dataset, workers: int) -> ResumableLoader:
            return ResumableLoader(dataset, EpochSampler(len(dataset), batch, seed), num_workers=workers)

        cached = MultiViewDataset(first.train_data, first.views, seed)
        loaders = {
            f"feature cache, {args.workers} workers": (loader(cached, args.workers), args.epochs),
            "feature cache, main process (0 workers)": (loader(cached, 0), args.epochs),
            f"decode every item (no cache), {args.workers} workers": (loader(DecodeEveryItem(first.train_data, first.views),
                                                                           args.workers), 1),
        }
        views, index, _ = next(iter(loaders["feature cache, main process (0 workers)"][0]))
        default_threads = torch.get_num_threads()
        steps = {}
        for w, pipe in pipelines.items():
            pipe.objective.train()
            optimizer = build_optimizer(pipe.objective.parameters(), values["train"]["optimizer"])
            for threads in args.threads:
                torch.set_num_threads(threads)
                train_step(pipe.objective, optimizer, views, index)  # warm-up
                steps[(w, threads)] = (pipe.objective, optimizer)
        loader_rates = {name: [] for name in loaders}
        step_times = {key: [] for key in steps}
        epoch = 0
        for _ in range(args.rounds):
            torch.set_num_threads(default_threads)  # the trainer's main process (the 0-worker loader)
            for name, (data_loader, epochs) in loaders.items():
                for _ in range(epochs):
                    loader_rates[name].append(loader_epoch(data_loader, epoch))
                    epoch += 1
            for (w, threads), (objective, optimizer) in steps.items():
                torch.set_num_threads(threads)
                step_times[(w, threads)] += [train_step(objective, optimizer, views, index) for _ in range(args.steps)]
        torch.set_num_threads(default_threads)
        n_items, n_views = len(first.train_data), first.views.n_views
    # each width's fastest step (over thread counts) is the one the loader must outpace
    step_rate = {key: batch / statistics.median(t) for key, t in step_times.items()}
    fastest = {w: max(rate for (v, _), rate in step_rate.items() if v == w) for w in args.widths}
    widths = " | ".join(f"loader / fastest step, width {w:g}" for w in args.widths)
    rows = [f"| what | items/s | spectrograms/s | items/s after the first batch | {widths} |",
            "| --- | ---: | ---: | ---: |" + " ---: |" * len(args.widths)]
    loader_rate = {}
    for name, rates in loader_rates.items():
        loader_rate[name] = (statistics.median(r[0] for r in rates), statistics.median(r[1] for r in rates))
        whole, after = loader_rate[name]
        ratios = " | ".join(f"{whole / fastest[w]:.1f}x" for w in args.widths)
        rows.append(f"| loader: {name} | {whole:.0f} | {whole * n_views:.0f} | {after:.0f} | {ratios} |")
    for (w, threads), rate in step_rate.items():
        label = "full width, 512x2x2 pre-pool" if w == 1.0 else f"width {w:g}"
        rows.append(f"| step: ResNet-18 {label}, IR forward+backward+SGD, {threads} thread{'s' * (threads > 1)} "
                    f"| {rate:.1f} | {rate * n_views:.1f} | |" + " |" * len(args.widths))
    cached_name = next(iter(loaders))
    whole, after = loader_rate[cached_name]
    verdicts = [f"- width {w:g}: loader ({cached_name}) / fastest step = {whole / rate:.1f}x over whole epochs "
                f"({after / rate:.1f}x after the first batch); goal >= {GOAL:g}x: "
                f"{'met' if whole / rate >= GOAL else 'met after the first batch only' if after / rate >= GOAL else 'NOT met'}"
                for w, rate in fastest.items()]
    table = "\n".join(rows)
    summary = "\n".join(verdicts)
    objective = values["objective"]
    text = (
        "# Speech training loader vs ResNet-18 training step\n\n"
        f"{n_items} utterances of librispeech-mini (LibriSpeech train-clean-100), the pipeline "
        f"`{args.pipeline.relative_to(ROOT) if args.pipeline.is_relative_to(ROOT) else args.pipeline}`: batch {batch}, "
        f"{n_views} training views per item (random crop, 64x64 log-mel, frequency and time masks up to "
        f"{first.views.freq_mask_width} and {first.views.time_mask_width}, `top_db` floor, z-score). Loader: the "
        f"trainer's loader, whole epochs timed (worker start-up included, {len(first.train_data) // batch} batches per "
        f"epoch), {args.epochs} cached epochs per round. Step: the pipeline's `{objective['name']}` objective "
        f"(memory bank k {objective['negatives']['source']['params'].get('k')}), SGD lr "
        f"{values['train']['optimizer']['lr']}, on one real batch, {args.steps} steps per width and thread count per round "
        f"after a warm-up step. {args.rounds} interleaved rounds, medians of wall time. Loader and step run one after the other here; "
        "in training they share the same cores.\n\n"
        f"{table}\n\n{summary}\n\n"
        f"Machine: {machine(load_before)}.\n\n"
        "Produced by `python benchmarks/speech_loader.py`.\n"
    )
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
