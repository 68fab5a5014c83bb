"""examples/linear_regions.py shows Fig. 1's effect: NAC training puts the data into more linear regions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "linear_regions.py"


def load_example():
    spec = importlib.util.spec_from_file_location("linear_regions_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nac_training_multiplies_the_regions_on_the_data(tmp_path):
    example = load_example()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lines = []
        counts = example.linear_regions(tmp_path / "regions.png", steps=300, points=200, grid=40, seed=0, log=lines.append)
    finally:
        torch.set_num_threads(threads)
    before, after = counts["before"], counts["after"]
    assert after["data_codes"] >= 1.5 * before["data_codes"], counts  # measured: 10 -> 21
    assert after["data_regions"] > before["data_regions"] and after["box_regions"] > before["box_regions"], counts
    assert before["data_codes"] <= before["data_regions"] <= before["box_regions"]  # codes are part of the pattern
    assert (tmp_path / "regions.png").stat().st_size > 10_000
    assert f"| after | {after['data_regions']} | {after['data_codes']} | {after['box_regions']} |" in lines


def test_counts_are_regions_of_the_network(tmp_path):
    """A point's region is the on/off pattern of both layers: equal patterns, equal affine map of the code layer."""
    example = load_example()
    torch.manual_seed(0)
    objective = example.NAC(encoder=example.PointEncoder(), out_dim=3, hidden_dim=3, p=0.1, scale_by_sqrt_dim=False)
    x = torch.randn(400, 2) * 3
    pre = example.pre_activations(objective, x)
    with torch.no_grad():
        assert torch.allclose(pre[:, 3:], objective.embed(x), atol=1e-6)
    ids = example.pattern_ids((pre > 0).numpy())
    # within one region the network is affine: the code layer's pre-activation is exact on finite differences
    first, _, second = objective.head.layers
    for region in set(ids.tolist()):
        members = x[torch.as_tensor(ids == region)]
        if len(members) < 3:
            continue
        on = (first(members[:1]) > 0).float()
        affine = second.weight @ (first.weight * on.T)
        with torch.no_grad():
            assert torch.allclose(objective.embed(members) - objective.embed(members[:1]),
                                  (members - members[:1]) @ affine.T, atol=1e-4)
