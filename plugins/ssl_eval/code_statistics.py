"""Statistics of activation codes: distinct codewords, Hamming separation, bit balance.

The activation code of a layer is its on/off pattern, ``c = sign(a)``
(Eq. 3 of the NAC paper); the pattern of all ReLU layers together names the
linear region an input lies in (Section 3.1), so the number of distinct
codewords on a dataset is the number of distinct linear regions it reaches,
and the Hamming distance between codewords (Eq. 4) is the minimum number of
region boundaries between them.

Statistics of ``N`` codes of ``D`` bits:

- ``distinct_codewords`` (and ``distinct_fraction`` = / N), and the empirical
  ``codeword_entropy`` in bits (at most ``log2 N``);
- ``mean_hamming_distance`` over all ``N (N - 1) / 2`` pairs, exact for any
  N: ``sum_d n1_d (N - n1_d) / (N (N - 1) / 2)`` with ``n1_d`` the items
  whose bit d is on;
- ``min_hamming_distance`` over pairs of items: 0 exactly when two items
  share a codeword; otherwise exact (chunked matmul over all pairs) when
  ``N <= exact_max``, else the minimum over a seeded random subset of
  ``exact_max`` items -- an upper bound, reported as such;
  ``min_distance_distinct_codewords`` the same over the distinct codewords;
- bit balance: ``bit_on_mean`` (mean over bits of the fraction of items with
  the bit on), ``bit_balance_max_deviation`` (max over bits of
  ``|fraction - 0.5|``), per-bit entropy mean and minimum in bits, and the
  number of ``constant_bits`` (on for all items or for none).
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch
from torch import Tensor, nn


def _entropy_bits(prob: np.ndarray) -> np.ndarray:
    prob = np.clip(prob, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = -(prob * np.log2(prob) + (1 - prob) * np.log2(1 - prob))
    return np.nan_to_num(terms, nan=0.0)


def min_pairwise_distance(bits: np.ndarray, chunk: int = 2048) -> int:
    """Exact minimum Hamming distance over pairs of distinct rows of ``bits`` (``[N, D]`` booleans, N >= 2)."""
    signs = torch.as_tensor(bits).float() * 2 - 1
    n, d = signs.shape
    best = d
    for start in range(0, n, chunk):
        dots = signs[start:start + chunk] @ signs.T
        rows = torch.arange(dots.shape[0])
        dots[rows, rows + start] = -float("inf")  # exclude each item paired with itself
        best = min(best, int(round((d - float(dots.max())) / 2)))
    return best


def code_statistics(bits, exact_max: int = 20000, seed: int = 0) -> tuple[dict[str, float], dict[str, str]]:
    """Statistics of ``[N, D]`` codes (booleans, or values whose sign is the code); see the module doc.

    Returns:
        ``(stats, methods)``: the numbers, and how the minimum distances were obtained.
    """
    bits = np.asarray(bits.detach().cpu() if isinstance(bits, Tensor) else bits)
    bits = bits if bits.dtype == bool else bits > 0
    if bits.ndim != 2 or bits.shape[0] < 1:
        raise ValueError(f"codes must be [N, D] with N >= 1, got shape {bits.shape}")
    n, d = bits.shape
    packed = np.packbits(bits, axis=1)
    unique, counts = np.unique(packed, axis=0, return_counts=True)
    unique_bits = np.unpackbits(unique, axis=1, count=d).astype(bool)
    on = bits.sum(axis=0).astype(np.float64)
    fraction = on / n
    entropy = _entropy_bits(fraction)
    freq = counts / n
    stats = {
        "num_codes": float(n),
        "code_bits": float(d),
        "distinct_codewords": float(len(unique)),
        "distinct_fraction": len(unique) / n,
        "codeword_entropy": float(-(freq * np.log2(freq)).sum()),
        "bit_on_mean": float(fraction.mean()),
        "bit_balance_max_deviation": float(np.abs(fraction - 0.5).max()),
        "bit_entropy_mean": float(entropy.mean()),
        "bit_entropy_min": float(entropy.min()),
        "constant_bits": float(((on == 0) | (on == n)).sum()),
    }
    methods = {}
    if n >= 2:
        stats["mean_hamming_distance"] = float((on * (n - on)).sum() / (n * (n - 1) / 2))
    rng = np.random.default_rng(seed)
    for key, items, duplicates in (("min_hamming_distance", bits, len(unique) < n),
                                   ("min_distance_distinct_codewords", unique_bits, False)):
        if len(items) < 2:
            continue
        if duplicates:
            stats[key], methods[key] = 0.0, "exact (two items share a codeword)"
        elif len(items) <= exact_max:
            stats[key], methods[key] = float(min_pairwise_distance(items)), "exact (all pairs)"
        else:
            subset = items[np.sort(rng.choice(len(items), exact_max, replace=False))]
            stats[key] = float(min_pairwise_distance(subset))
            methods[key] = (f"upper bound: exact minimum over a random subset of {exact_max} of {len(items)} "
                            f"(seed {seed})")
    return stats, methods


def find_module(name: str, *models: nn.Module | None) -> tuple[nn.Module, nn.Module]:
    """``(owner, module)``: the module called ``name`` in the first of ``models`` that has one."""
    names = []
    for model in models:
        if model is None:
            continue
        modules = dict(model.named_modules())
        if name in modules:
            return model, modules[name]
        names += [n for n in modules if n]
    raise ValueError(f"no module named '{name}'; modules: {', '.join(names[:40])}{' ...' if len(names) > 40 else ''}")


@torch.no_grad()
def activation_patterns(modules: dict[str, nn.Module], forward: Callable[[Tensor], object],
                        batches: Iterable[Tensor]) -> dict[str, np.ndarray]:
    """On/off patterns (``output > 0``, flattened per item) of ``modules`` while ``forward`` runs on ``batches``.

    A forward hook on each module records its output; for a Linear or Conv
    layer that is the pre-activation ``a`` whose sign is the code (Eq. 3),
    for a ReLU its output, positive exactly where the unit is on.
    """
    store: dict[str, list[np.ndarray]] = {name: [] for name in modules}
    handles = [module.register_forward_hook(lambda m, i, out, name=name: store[name].append(
        (out.detach() > 0).flatten(1).cpu().numpy())) for name, module in modules.items()]
    try:
        for x in batches:
            forward(x)
    finally:
        for handle in handles:
            handle.remove()
    return {name: np.concatenate(parts) if parts else np.zeros((0, 0), bool) for name, parts in store.items()}


class CodeStatistics:
    """Distinct codewords (linear regions reached), Hamming separation and bit balance of activation codes.

    Args:
        split: the dataset split encoded (eval transform).
        layers: ``"embedding"`` (the code ``sign(a)`` of the objective's head),
            or names of modules of the encoder (``encoder.named_modules()``,
            e.g. ``"layer4.1.relu"``) or of the objective (e.g.
            ``"head.layers.1"``), whose outputs' on/off pattern is the code.
        combined: also report the statistics of the concatenated patterns of
            all ``layers`` (the activation region of those layers together).
        exact_max: largest number of codes whose minimum pairwise distance is
            computed exactly; above it, over a random subset (an upper bound).
        seed: seed of that subset.
    """

    def __init__(self, split: str = "test", layers: tuple[str, ...] = ("embedding",), combined: bool = False,
                 exact_max: int = 20000, seed: int = 0):
        if not layers:
            raise ValueError("layers must name at least one layer")
        if exact_max < 2:
            raise ValueError(f"exact_max must be >= 2, got {exact_max}")
        self.split, self.layers, self.combined = split, list(layers), combined
        self.exact_max, self.seed = exact_max, seed

    def patterns(self, ctx) -> dict[str, np.ndarray]:
        out = {}
        if "embedding" in self.layers:
            out["embedding"] = (ctx.features(self.split, layer="embedding")[0] > 0).numpy()
        hooked = [name for name in self.layers if name != "embedding"]
        if hooked:
            found = {name: find_module(name, ctx.encoder, ctx.objective) for name in hooked}
            in_objective = any(owner is ctx.objective and owner is not ctx.encoder for owner, _ in found.values())
            model = ctx.objective if in_objective else ctx.encoder
            forward = model.embed if in_objective else model
            was_training = model.training
            model.eval()
            try:
                loader = ctx.loader(ctx.split(self.split))
                out.update(activation_patterns({n: m for n, (_, m) in found.items()}, forward,
                                                (x.to(ctx.device) for x, _ in loader)))
            finally:
                model.train(was_training)
        return {name: out[name] for name in self.layers}

    def evaluate(self, ctx) -> dict:
        patterns = self.patterns(ctx)
        if self.combined and len(patterns) > 1:
            patterns["combined"] = np.concatenate(list(patterns.values()), axis=1)
        metrics, methods = {}, {}
        for name, bits in patterns.items():
            stats, how = code_statistics(bits, self.exact_max, self.seed)
            metrics.update({f"{name}/{k}": v for k, v in stats.items()})
            methods.update({f"{name}/{k}": v for k, v in how.items()})
        protocol = {
            "dataset": ctx.dataset,
            "split": self.split,
            "layers": self.layers,
            "combined": "concatenation of all layers' patterns" if "combined" in patterns else None,
            "code": "unit on (output > 0) -> 1; mean pairwise distance exact over all pairs",
            "min_distance_methods": methods,
            "exact_max": self.exact_max,
            "seed": self.seed,
        }
        return {"metrics": metrics, "protocol": protocol}

