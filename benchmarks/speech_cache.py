"""Benchmark: a speech training epoch with the feature cache vs decoding every item every epoch.

Both pipelines produce the same training inputs, two ``1 x 64 x 64`` z-scored
log-mel views per utterance (random crop, frequency and time masking):

- **no cache** (what the reference code does each epoch): decode the flac
  file, then per view crop or pad the waveform to 150,526 samples, compute
  the log-mel spectrogram, mask and z-score it;
- **cache**: ``LibriSpeech`` decodes every file once into the memory-mapped
  feature cache (epoch 1 includes that build); each view then crops frames
  read from the map and masks them (``log_mel`` views).

The data is ``librispeech-mini`` (251 utterances of train-clean-100, one per
speaker, 14 s on average) from the project's shared data. Torch runs
single-threaded in both pipelines, as in DataLoader workers. Both are timed
side by side in one run; the Markdown table is printed and written to
``benchmarks/results/speech_cache.md`` with the machine's description.

Run: ``python benchmarks/speech_cache.py [--data DIR] [--epochs N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchaudio

from bench_report import publish
from ssl_speech.audio_io import load_audio
from ssl_speech.crop import crop_or_pad
from ssl_speech.librispeech import LibriSpeech
from ssl_speech.log_mel import LogMel
from ssl_speech.masking import freq_mask, time_mask
from ssl_speech.speech_views import LogMelViews

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "librispeech-mini"
N_VIEWS = 2


def epoch_cached(dataset: LibriSpeech, views: LogMelViews) -> float:
    start = time.perf_counter()
    for i in range(len(dataset)):
        x, _ = dataset[i]
        for _ in range(N_VIEWS):
            views.train(x)
    return time.perf_counter() - start


def epoch_uncached(files: list[Path], features: LogMel, views: LogMelViews, mean: float, std: float) -> float:
    start = time.perf_counter()
    for path in files:
        wave = load_audio(path, features.sample_rate)
        for _ in range(N_VIEWS):
            crop = crop_or_pad(wave, features.num_samples, "random")
            db = features.power_db(crop)
            db = freq_mask(db, views.freq_mask_width, views.num_masks, features.floor_db)
            db = time_mask(db, views.time_mask_width, views.num_masks, features.floor_db)
            ((features.clamp_top_db(db) - mean) / std).unsqueeze(0)
    return time.perf_counter() - start


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {torch.__version__}, torchaudio {torchaudio.__version__}, "
        f"numpy {np.__version__}; 1-minute load average at start {load:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding LibriSpeech/train-clean-100")
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per pipeline (the first includes the cache build)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speech_cache.md")
    args = parser.parse_args(argv)
    if not (args.data / "LibriSpeech" / "train-clean-100").is_dir():
        print(f"skipped: no LibriSpeech/train-clean-100 under {args.data}", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    info = machine()
    views = LogMelViews(n_views=N_VIEWS)
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        dataset = LibriSpeech(root=str(args.data), cache_dir=cache_dir)
        build = time.perf_counter() - start
        cached = [build + epoch_cached(dataset, views)]
        uncached = [epoch_uncached(dataset.files, dataset.features, views, dataset.mean, dataset.std)]
        for _ in range(args.epochs - 1):  # interleaved, so both see the same machine load
            cached.append(epoch_cached(dataset, views))
            uncached.append(epoch_uncached(dataset.files, dataset.features, views, dataset.mean, dataset.std))
        cache_mb = dataset.cache.data_path.stat().st_size / 2**20
    n = len(dataset)
    later_c, later_u = float(np.mean(cached[1:])), float(np.mean(uncached[1:]))
    rows = [
        "| pipeline | epoch 1 (s) | epochs 2+ (s, mean) | items/s (epochs 2+) | speed-up (epochs 2+) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| decode + log-mel every epoch | {uncached[0]:.2f} | {later_u:.2f} | {n / later_u:.0f} | 1.0x |",
        f"| feature cache (epoch 1 builds it) | {cached[0]:.2f} | {later_c:.3f} | {n / later_c:.0f} | {later_u / later_c:.1f}x |",
    ]
    table = "\n".join(rows)
    text = (
        "# Speech feature cache: epoch time\n\n"
        f"{n} utterances of librispeech-mini (LibriSpeech train-clean-100), {N_VIEWS} training views "
        f"(random crop of 150,526 samples, 64x64 log-mel, frequency and time masks, z-score) per utterance, "
        f"{args.epochs} epochs per pipeline, interleaved; torch single-threaded. Cache size {cache_mb:.1f} MB; "
        f"cache build {build:.2f} s.\n\n"
        f"{table}\n\n"
        f"Machine: {info}.\n\n"
        "Produced by `python benchmarks/speech_cache.py`.\n"
    )
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
