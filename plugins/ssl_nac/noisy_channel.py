"""The binary symmetric channel of NAC: each code bit flipped with probability p."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ssl_core.rank_rand import rank_rand


def check_flip_probability(p: float) -> float:
    """Return ``p`` if it lies in the open interval (0, 0.5), else raise ``ValueError``.

    ``p = 0`` makes ``beta`` infinite (a noiseless channel, Eq. 7 degenerates);
    ``p = 0.5`` gives a channel of zero capacity (the received code is
    independent of the sent one, Section 4.5).
    """
    p = float(p)
    if not 0.0 < p < 0.5:
        raise ValueError(f"p must lie in (0, 0.5), got {p}")
    return p


def channel_beta(p: float) -> float:
    """The log-likelihood scale of the channel, ``beta = 0.5 * log((1 - p) / p)`` (Eq. 7).

    ``log P(c~ | c) = beta * (c~ . c) + (D / 2) * log(p (1 - p))``: the negatives
    of NAC are *multiplied* by ``beta`` (Eq. 19 and Eq. 20 alike).
    """
    p = check_flip_probability(p)
    return 0.5 * math.log((1.0 - p) / p)


def sample_flips(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str | None = None,
                 generator: torch.Generator | None = None, blocks: int = 1) -> Tensor:
    """Flip signs ``m`` in {-1, +1}, i.i.d. with ``P(m = -1) = p`` (Fig. 2).

    Without a ``generator`` the draw is :func:`ssl_core.rank_rand.rank_rand` over
    ``blocks`` blocks of rows (the views), so DDP flips what one process would.
    """
    if generator is not None:
        u = torch.rand(shape, device=device, generator=generator)
    else:
        u = rank_rand(shape, blocks=blocks, device=device)
    return torch.where(u < p, -1.0, 1.0)


class NoisyChannel(nn.Module):
    """Binary symmetric channel on relaxed codes: ``z~ = m * z`` (Section 3.2, Fig. 2).

    The flips are sampled afresh at every call, as the reference code does;
    Eq. 19's expectation over ``z~`` is thus estimated with one sample per step.

    Args:
        p: flip probability, in (0, 0.5).
    """

    def __init__(self, p: float = 0.1, blocks: int = 2):
        super().__init__()
        self.blocks = blocks  # the codes arrive as `blocks` stacked views
        self.p = check_flip_probability(p)
        self.beta = channel_beta(p)

    def sample(self, shape: torch.Size | tuple[int, ...], device: torch.device | str | None = None) -> Tensor:
        """One draw of the flip signs ``m`` (tests replace this method to fix the flips)."""
        return sample_flips(shape, self.p, device, blocks=self.blocks)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(z~, m)``: the received relaxed code and the flips applied."""
        m = self.sample(z.shape, z.device).to(z.dtype)
        return m * z, m

    def extra_repr(self) -> str:
        return f"p={self.p}, beta={self.beta:.4f}"
