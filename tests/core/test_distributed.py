"""A step on 2 CPU processes with batch 2x16 equals one process with batch 32 (loss, gradients, bank / queue).

Covers SimCLR, MoCo, IR, IRing and NAC; the random draws (bank negatives, bit flips) go through
ssl_core.rank_rand so that every process draws the global batch's numbers and keeps its rows.
"""

from __future__ import annotations

import torch
from ddp_objectives import CASES
from distributed_helpers import distributed_steps, one_step


def test_two_processes_equal_one_with_the_whole_batch(tmp_path):
    g = torch.Generator().manual_seed(0)
    views = [torch.randn(32, 12, generator=g), torch.randn(32, 12, generator=g)]
    index = torch.randperm(1000, generator=g)[:32]
    cases = {name: (make, views, index) for name, make in CASES.items()}
    distributed = distributed_steps(cases, str(tmp_path / "ddp.pt"))
    for name, case in cases.items():
        single = one_step(*case)
        assert torch.allclose(single["loss"], distributed[name]["loss"], atol=1e-6), name
        assert single["grads"].keys() == distributed[name]["grads"].keys()
        for key, grad in single["grads"].items():
            assert torch.allclose(grad, distributed[name]["grads"][key], atol=1e-6), (name, key)
        for key, buffer in single["buffers"].items():  # bank, queue and its pointer, ring step
            assert torch.allclose(buffer.double(), distributed[name]["buffers"][key].double(), atol=1e-6), (name, key)
