"""Linear regions of a small ReLU network before and after NAC training (NAC paper, Fig. 1).

Fig. 1 of the paper: the activation boundaries of a two-layer ReLU network on
2-D toy data, and NAC training making the network cut the data into many more
distinct linear regions. Here the network is NAC's own coding head applied to
the raw point (the encoder is the identity, h = x):

    a = W2 ReLU(W1 x + b1) + b2,  code c = sign(a)   (Eq. 3; D = width)

trained with the NAC loss of Eq. 19 (in-batch negatives, the sum over all 2B
codes, no 1/sqrt(D) scaling: the equation as printed), the two views of a
point being the point plus small Gaussian jitter. The linear region of an
input is the on/off pattern of all units (first layer and code, Section 3.1);
the paper's measure of expressivity is the number of distinct codewords on
the data (Section 3.2). The script prints, before and after training, the
distinct regions reached by the data points, the distinct codes sign(a)
among them and the regions in the drawn box, and saves a before/after PNG
(regions coloured, activation boundaries drawn, data in black):

    python examples/linear_regions.py --out runs/linear_regions.png

Defaults (seed 0, 500 two-moons points, width 8, batch 16, 2,000 Adam steps;
25 s on a busy CPU core, imports included): the data reach 38 -> 76 regions
and 11 -> 44 distinct codes; the box holds 77 -> 206 regions. Seeds 1 and 2:
regions on the data 15 -> 49 and 29 -> 63, codes 5 -> 30 and 7 -> 33. With
batch 256 (seed 0): 38 -> 84 regions, 11 -> 53 codes, at a higher cost per
step. Where this differs from the figure:

- width 8, not Fig. 1's 4: with 4 units the code has 4 bits (at most 16
  codes) and the effect is small and seed-dependent here (seeds 0-2: codes
  4 -> 8, 2 -> 7, 2 -> 5; regions on the data 13 -> 16, 10 -> 19, 10 -> 7).
  ``--width 4`` runs the figure's size.
- the paper does not say what data, noise or schedule its figure used; two
  moons, jitter 0.05 and Adam lr 0.01 are this script's choices.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.datasets import make_moons
from torch import nn

from ssl_nac.nac import NAC


class PointEncoder(nn.Module):
    """The identity on 2-D points (``feature_dim`` 2): the head of NAC is the whole network of Fig. 1."""

    feature_dim = 2

    def forward(self, x):
        return x

    def forward_features(self, x):
        return x[:, :, None, None]

    def pool(self, fmap):
        return fmap.flatten(1)


def pre_activations(objective: NAC, x: torch.Tensor) -> torch.Tensor:
    """``[N, 2 * width]``: the first layer's pre-activations, then the code layer's ``a`` (unscaled: same signs)."""
    first, _, second = objective.head.layers
    with torch.no_grad():
        u = first(x)
        return torch.cat([u, second(torch.relu(u))], dim=1)


def pattern_ids(bits: np.ndarray) -> np.ndarray:
    """One integer per row: rows with the same on/off pattern get the same id."""
    return np.unique(bits, axis=0, return_inverse=True)[1].ravel()


def count_regions(objective: NAC, data: torch.Tensor, grid: torch.Tensor) -> dict[str, int]:
    """Distinct regions (all units' pattern) of the data and of the grid, and distinct codes sign(a) of the data."""
    width = objective.head.layers[0].out_features
    on_data, on_grid = pre_activations(objective, data) > 0, pre_activations(objective, grid) > 0
    return {"data_regions": len(np.unique(on_data.numpy(), axis=0)),
            "data_codes": len(np.unique(on_data[:, width:].numpy(), axis=0)),
            "box_regions": len(np.unique(on_grid.numpy(), axis=0))}


def train(objective: NAC, data: torch.Tensor, steps: int, batch: int, jitter: float, lr: float, seed: int) -> list[float]:
    """Adam on the NAC loss, two jittered views of ``batch`` random points per step."""
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(objective.parameters(), lr=lr)
    losses = []
    objective.train()
    for _ in range(steps):
        index = torch.randperm(len(data), generator=gen)[:batch]
        x = data[index]
        views = [x + jitter * torch.randn(x.shape, generator=gen), x + jitter * torch.randn(x.shape, generator=gen)]
        loss, _ = objective.step(views, index)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    objective.eval()
    return losses


def draw(ax, objective: NAC, grid: torch.Tensor, shape: tuple[int, int], extent, data: np.ndarray, title: str) -> None:
    pre = pre_activations(objective, grid)
    ids = pattern_ids((pre > 0).numpy())
    colours = np.random.default_rng(0).random((ids.max() + 1, 3)) * 0.5 + 0.5
    ax.imshow(colours[ids].reshape(*shape, 3), origin="lower", extent=extent, interpolation="nearest")
    xs = np.linspace(extent[0], extent[1], shape[1])
    ys = np.linspace(extent[2], extent[3], shape[0])
    width = objective.head.layers[0].out_features
    for unit in range(pre.shape[1]):  # activation boundaries: first layer solid, code layer dashed
        values = pre[:, unit].numpy().reshape(shape)
        if values.min() < 0 < values.max():
            ax.contour(xs, ys, values, levels=[0.0], colors="k", linewidths=0.6,
                       linestyles="solid" if unit < width else "dashed")
    ax.scatter(data[:, 0], data[:, 1], s=3, c="k")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def linear_regions(out: str | Path | None = "runs/linear_regions.png", steps: int = 2000, batch: int = 16,
                   width: int = 8, p: float = 0.1, jitter: float = 0.05, lr: float = 0.01, points: int = 500,
                   grid: int = 300, seed: int = 0, scale_by_sqrt_dim: bool = False, log=print) -> dict[str, dict[str, int]]:
    """Train NAC on two moons; return the region counts ``{"before": {...}, "after": {...}}`` and save the PNG."""
    torch.manual_seed(seed)
    moons, _ = make_moons(n_samples=points, noise=0.08, random_state=seed)
    data = torch.tensor(moons, dtype=torch.float32)
    data = (data - data.mean(0)) / data.std(0)
    lo, hi = data.min(0).values - 0.5, data.max(0).values + 0.5
    xs, ys = torch.linspace(float(lo[0]), float(hi[0]), grid), torch.linspace(float(lo[1]), float(hi[1]), grid)
    box = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)
    extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))

    objective = NAC(encoder=PointEncoder(), out_dim=width, hidden_dim=width, p=p, scale_by_sqrt_dim=scale_by_sqrt_dim)
    objective.eval()
    fig = Figure(figsize=(10, 5))
    axes = fig.subplots(1, 2)
    counts = {"before": count_regions(objective, data, box)}
    draw(axes[0], objective, box, (grid, grid), extent, data.numpy(), "at initialisation: "
         f"{counts['before']['data_regions']} regions, {counts['before']['data_codes']} codes on the data")
    losses = train(objective, data, steps, batch, jitter, lr, seed)
    log(f"NAC loss: first step {losses[0]:.3f}, mean of the last 100 steps {np.mean(losses[-100:]):.3f}")
    counts["after"] = count_regions(objective, data, box)
    draw(axes[1], objective, box, (grid, grid), extent, data.numpy(), f"after {steps} NAC steps: "
         f"{counts['after']['data_regions']} regions, {counts['after']['data_codes']} codes on the data")
    log(f"| stage | regions reached by the {points} points | distinct codes sign(a) of the points | regions in the box |")
    log("| --- | ---: | ---: | ---: |")
    for stage, c in counts.items():
        log(f"| {stage} | {c['data_regions']} | {c['data_codes']} | {c['box_regions']} |")
    if out is not None:
        fig.tight_layout()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=90)
        log(f"wrote {out}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/linear_regions.png")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--width", type=int, default=8, help="units per layer, also the code length D (Fig. 1: 4)")
    parser.add_argument("--p", type=float, default=0.1, help="flip probability of the channel")
    parser.add_argument("--jitter", type=float, default=0.05, help="std of the Gaussian jitter making the two views")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--points", type=int, default=500)
    parser.add_argument("--grid", type=int, default=300, help="grid points per side of the drawn box")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale-by-sqrt-dim", action="store_true",
                        help="divide a and r by sqrt(D) as the reference code does (weaker effect here)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # a tiny network: threads cost more than they give
    linear_regions(args.out, args.steps, args.batch, args.width, args.p, args.jitter, args.lr, args.points, args.grid,
                   args.seed, args.scale_by_sqrt_dim)


if __name__ == "__main__":
    main()
