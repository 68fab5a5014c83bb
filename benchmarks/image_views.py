"""Benchmark: images per second through the CIFAR-10 image views, on 2 DataLoader workers.

Reads a seeded class-balanced subset of the real CIFAR-10 JPEG training tree
(``../shared/data/cifar10-jpg``, through the ``image_folder`` dataset) and
pushes every image through each configuration of the ``image`` views, as a
training DataLoader does (batches of 256, 2 workers): the training rows use
the trainer's own ``MultiViewDataset`` and its collate, so "batched" rows
make a batch's views at once and "per image" rows one image at a time with
PIL (``batched: false``); the decoded-image cache row is warm after the
warm-up pass (in the main process, where the cache lives on). Each configuration is
run once to warm the file cache, then timed over one full pass; worker
start-up is included. ``decode only`` reads and decodes the JPEGs with no
augmentation, the floor under every other row.

Run: ``python benchmarks/image_views.py [--images 4000 --workers 2 --batch-size 256]``.
Writes ``benchmarks/results/image_views.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from ssl_core.multi_view_dataset import MultiViewDataset
from ssl_image.image_folder import image_folder
from ssl_image.image_views import ImageViews, ToUnitTensor

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpg"


class Viewed(Dataset):
    """Items ``(stack of n views, label)``, as a contrastive training loader yields them."""

    def __init__(self, base: Dataset, make_view, n_views: int):
        self.base, self.make_view, self.n_views = base, make_view, n_views

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        x, y = self.base[i]
        return torch.stack([self.make_view(x) for _ in range(self.n_views)]), y


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(data: Dataset, workers: int, batch_size: int) -> float:
    """Seconds for one full pass over ``data``."""
    collate = data.collate if isinstance(data, MultiViewDataset) else None  # the trainer's batches
    loader = DataLoader(data, batch_size=batch_size, num_workers=workers, shuffle=True,
                        generator=torch.Generator().manual_seed(0), collate_fn=collate)
    t0 = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(SHARED))
    parser.add_argument("--images", type=int, default=4000, help="images in the subset (a multiple of 10)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "image_views.md"))
    args = parser.parse_args()

    if not Path(args.root).is_dir():
        raise SystemExit(f"CIFAR-10 JPEG tree not found at {args.root}; pass --root")
    base = image_folder("train", root=args.root, per_class=args.images // 10, subset_seed=0)
    cached = image_folder("train", root=args.root, per_class=args.images // 10, subset_seed=0, cache_decoded=True)
    decode = ToUnitTensor()  # the views' own PIL-to-tensor step, nothing else
    per_image = ImageViews(batched=False)
    configs = [  # (name, dataset, views per image, workers)
        ("decode only (no views)", Viewed(base, decode, 1), 1, args.workers),
        ("eval view (resize, centre crop, normalise)", Viewed(base, ImageViews().eval, 1), 1, args.workers),
        ("train, 2 views, SimCLR CIFAR recipe, per image (PIL)", MultiViewDataset(base, per_image, 0), 2, args.workers),
        ("train, 2 views, SimCLR CIFAR recipe, batched (default)", MultiViewDataset(base, ImageViews(), 0), 2,
         args.workers),
        ("train, 2 views, + Gaussian blur p=0.5, batched", MultiViewDataset(base, ImageViews(blur_prob=0.5), 0), 2,
         args.workers),
        ("train, 2 views, Lab (CMC), batched", MultiViewDataset(base, ImageViews(color_space="lab"), 0), 2,
         args.workers),
        ("train, 2 views, SimCLR CIFAR recipe, per image (PIL), main process", MultiViewDataset(base, per_image, 0),
         2, 0),
        ("train, 2 views, SimCLR CIFAR recipe, batched, main process", MultiViewDataset(base, ImageViews(), 0), 2, 0),
        ("train, 2 views, batched, decoded-image cache, main process", MultiViewDataset(cached, ImageViews(), 0), 2,
         0),
    ]
    load_before = os.getloadavg()[0]
    rows = []
    for name, data, n_views, workers in configs:
        run(data, workers, args.batch_size)  # warm the file cache and the code paths
        seconds = run(data, workers, args.batch_size)
        rows.append((name, n_views, workers, len(base) / seconds, len(base) * n_views / seconds))
        print(f"{name}: {rows[-1][3]:.0f} images/s")

    lines = [
        "# Image views throughput",
        "",
        f"{len(base)} CIFAR-10 training JPEGs ({len(base) // 10} per class, seeded) from `{Path(args.root).name}`, "
        f"DataLoader batch {args.batch_size}, shuffled, one timed pass after one warm-up pass "
        f"(worker start-up included). Produced by `python benchmarks/image_views.py`.",
        "",
        "| configuration | views per image | workers | images / s | views / s |",
        "| --- | ---: | ---: | ---: | ---: |",
        *[f"| {n} | {v} | {w} | {ips:,.0f} | {vps:,.0f} |" for n, v, w, ips, vps in rows],
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, {platform.platform()}. "
        f"1-minute load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after the runs "
        f"(other processes sharing the CPUs lower every row alike).",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
