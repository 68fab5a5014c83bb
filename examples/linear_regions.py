"""Linear regions of a small ReLU network before and after NAC training (NAC paper, Fig. 1).

A 2-D two-moons data set, an encoder of two ReLU layers of width 8 and the
NAC head (code length 8) trained with NAC, the two views being the point
plus small Gaussian jitter. Each linear region of the encoder is one on/off
pattern of its ReLU units (Section 3.1); the script colours a grid by
pattern, before and after training, and prints how many distinct regions
the grid and the data reach, and how many distinct codes ``sign(a)`` the data
get. Runs in under a minute on a CPU:

    python examples/linear_regions.py --out runs/linear_regions.png

What it shows on this toy (seed 0, defaults): the data go from 1 distinct
code to about 9, while the encoder's own region count in the box does not
grow (54 -> 35) -- Fig. 1's picture is not reproduced by this small setting.
With 8 code bits for 512 codes per batch the relaxed loss (Eq. 19) sits near
its value at ``z = r = 0``, ``log(2B) + D log 2``, which no set of hard codes
beats here (see the report of issue 4).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.datasets import make_moons
from torch import nn

from ssl_eval.code_statistics import activation_patterns
from ssl_nac.nac import NAC


class MLPEncoder(nn.Module):
    """Two ReLU layers on 2-D inputs; ``feature_dim`` = width."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.feature_dim = width
        self.net = nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())

    def forward_features(self, x):
        return self.net(x)[:, :, None, None]

    def pool(self, fmap):
        return fmap.flatten(1)

    def forward(self, x):
        return self.net(x)


def region_ids(objective: NAC, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per point: an id of its encoder region (pattern of both ReLU layers) and of its code sign(a)."""
    encoder = objective.encoder
    layers = {"relu1": encoder.net[1], "relu2": encoder.net[3]}
    patterns = activation_patterns(layers, objective.embed, [x])
    with torch.no_grad():
        codes = (objective.embed(x) > 0).numpy()
    region = np.concatenate([patterns["relu1"], patterns["relu2"]], axis=1)
    return np.unique(region, axis=0, return_inverse=True)[1].ravel(), np.unique(codes, axis=0, return_inverse=True)[1].ravel()


def train(objective: NAC, data: torch.Tensor, steps: int, batch: int, jitter: float, lr: float, seed: int) -> list[float]:
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(objective.parameters(), lr=lr)
    losses = []
    objective.train()
    for _ in range(steps):
        index = torch.randint(0, len(data), (batch,), generator=gen)
        x = data[index]
        views = [x + jitter * torch.randn(x.shape, generator=gen), x + jitter * torch.randn(x.shape, generator=gen)]
        loss, metrics = objective.step(views, index)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    objective.eval()
    return losses


def draw(ax, ids: np.ndarray, shape: tuple[int, int], extent, data: np.ndarray, title: str) -> None:
    colours = np.random.default_rng(0).random((ids.max() + 1, 3)) * 0.7 + 0.3
    ax.imshow(colours[ids].reshape(*shape, 3), origin="lower", extent=extent, interpolation="nearest")
    ax.scatter(data[:, 0], data[:, 1], s=2, c="k")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/linear_regions.png")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--jitter", type=float, default=0.05)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--grid", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale-by-sqrt-dim", action="store_true",
                        help="divide a and r by sqrt(D) as the reference code does (off here: on this tiny network "
                             "it keeps a near 0 at the start, the trivial point z = r = 0 where NAC barely moves)")
    args = parser.parse_args()

    torch.set_num_threads(1)  # a tiny network: threads cost more than they give
    torch.manual_seed(args.seed)
    points, _ = make_moons(n_samples=1000, noise=0.08, random_state=args.seed)
    data = torch.tensor(points, dtype=torch.float32)
    lo, hi = data.min(0).values - 0.5, data.max(0).values + 0.5
    xs, ys = torch.linspace(float(lo[0]), float(hi[0]), args.grid), torch.linspace(float(lo[1]), float(hi[1]), args.grid)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)
    extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))

    objective = NAC(encoder=MLPEncoder(8), out_dim=8, p=args.p, scale_by_sqrt_dim=args.scale_by_sqrt_dim)
    objective.eval()
    panels, rows = [], []
    for stage in ("before", "after"):
        if stage == "after":
            losses = train(objective, data, args.steps, args.batch, args.jitter, args.lr, args.seed)
            print(f"NAC loss: first step {losses[0]:.3f}, last 50 steps {np.mean(losses[-50:]):.3f}")
        grid_regions, grid_codes = region_ids(objective, grid)
        data_regions, data_codes = region_ids(objective, data)
        counts = (len(np.unique(grid_regions)), len(np.unique(data_regions)), len(np.unique(data_codes)))
        rows.append((stage, *counts))
        panels.append((stage, grid_regions, grid_codes, counts))

    print("| stage | encoder regions in the box | encoder regions reached by the data | distinct codes sign(a) of the data |")
    print("| --- | ---: | ---: | ---: |")
    for stage, n_grid, n_data, n_codes in rows:
        print(f"| {stage} | {n_grid} | {n_data} | {n_codes} |")

    fig = Figure(figsize=(10, 9))
    axes = fig.subplots(2, 2)
    for row, (stage, grid_regions, grid_codes, counts) in enumerate(panels):
        draw(axes[row, 0], grid_regions, (args.grid, args.grid), extent, points,
             f"{stage} NAC: encoder linear regions ({counts[0]} in box, {counts[1]} reached by data)")
        draw(axes[row, 1], grid_codes, (args.grid, args.grid), extent, points,
             f"{stage} NAC: code cells sign(a) ({counts[2]} distinct codes on data)")
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
