"""rank_rand without a process group is torch.rand (the DDP case is in tests/core/test_distributed.py)."""

from __future__ import annotations

import torch

from ssl_core.rank_rand import rank_rand


def test_single_process_draws_are_torch_rand():
    torch.manual_seed(4)
    expected = torch.rand((6, 3), dtype=torch.float64)
    torch.manual_seed(4)
    assert torch.equal(rank_rand((6, 3), blocks=2, dtype=torch.float64), expected)
