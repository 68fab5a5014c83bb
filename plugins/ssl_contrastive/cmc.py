"""Contrastive multiview coding, CMC (Tian et al., 2019), on L and ab; CMCRing with a ring selector."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.negatives import NegativeSource, NegativesHooks

from ssl_contrastive.ir import IR, check_bank, memory_bank_nce


def with_in_channels(encoder: nn.Module, in_channels: int) -> nn.Module:
    """A deep copy of ``encoder`` whose first ``nn.Conv2d`` takes ``in_channels`` inputs.

    The first convolution (in ``named_modules`` order, i.e. the stem for the
    library's ResNet / VGG / small CNN encoders) is replaced by a freshly
    initialised ``nn.Conv2d`` with the same output channels, kernel, stride,
    padding, dilation, bias and padding mode; every other weight is copied.

    Raises:
        ValueError: if the encoder has no ``nn.Conv2d`` or its first one is grouped.
    """
    adapted = copy.deepcopy(encoder)
    for name, conv in adapted.named_modules():
        if isinstance(conv, nn.Conv2d):
            if conv.groups != 1:
                raise ValueError(f"encoder's first convolution '{name}' is grouped ({conv.groups}); CMC cannot adapt it")
            new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                            conv.dilation, bias=conv.bias is not None, padding_mode=conv.padding_mode)
            parent_name, _, attr = name.rpartition(".")
            setattr(adapted.get_submodule(parent_name), attr, new.to(conv.weight.device, conv.weight.dtype))
            if hasattr(adapted, "in_channels"):
                adapted.in_channels = in_channels
            return adapted
    raise ValueError(f"encoder {type(encoder).__name__} has no nn.Conv2d; CMC needs a convolutional image encoder")


class LabSplitEncoder(nn.Module):
    """The two CMC backbones as one encoder of 3-channel Lab images: L (channel 0) and ab (channels 1-2).

    It has the encoder contract, so evaluators can use it as the trained
    backbone: ``forward(x) = cat(f_L(x_L), f_ab(x_ab))`` (``feature_dim`` is the
    sum of both), ``forward_features`` concatenates the two pre-pool maps
    along channels, ``pool`` splits them back in halves.
    """

    def __init__(self, encoder_l: nn.Module, encoder_ab: nn.Module):
        super().__init__()
        self.encoder_l = encoder_l
        self.encoder_ab = encoder_ab
        self.feature_dim = encoder_l.feature_dim + encoder_ab.feature_dim

    @staticmethod
    def split(x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"CMC needs 3-channel Lab images [B, 3, H, W] (L, a, b), got shape {tuple(x.shape)}")
        return x[:, :1], x[:, 1:]

    def forward_features(self, x: Tensor) -> Tensor:
        x_l, x_ab = self.split(x)
        return torch.cat([self.encoder_l.forward_features(x_l), self.encoder_ab.forward_features(x_ab)], dim=1)

    def pool(self, fmap: Tensor) -> Tensor:
        map_l, map_ab = fmap.chunk(2, dim=1)
        return torch.cat([self.encoder_l.pool(map_l), self.encoder_ab.pool(map_ab)], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        x_l, x_ab = self.split(x)
        return torch.cat([self.encoder_l(x_l), self.encoder_ab(x_ab)], dim=1)


class CMC(NegativesHooks, nn.Module):
    """CMC on the L and ab channels of Lab images with two swapped memory banks (CNCE paper, Sec. 2 and 4).

    The given encoder (built for 3 input channels) is copied twice by
    :func:`with_in_channels`: a 1-channel L encoder and a 2-channel ab
    encoder (their first convolutions are new, the rest starts from the same
    weights); they are held, with the Lab split, in ``self.encoder``
    (:class:`LabSplitEncoder`), which is the backbone to evaluate. Each has a
    linear head to ``out_dim`` and l2 normalisation, giving ``z_L`` and
    ``z_ab``. "CMC sums two IR losses where the memory banks for each modality
    are swapped": ``z_L`` is contrasted against the ab bank (positive: its own
    example's ab entry) and ``z_ab`` against the L bank, each with ``k``
    negatives drawn uniformly or, with a selector, from its ring (CMCRing),
    by :func:`memory_bank_nce`; the two losses are summed. Afterwards the L
    bank moves to ``z_L`` and the ab bank to ``z_ab``.

    The banks are the given source (L) and a deep copy of it (ab); their
    momentum is the source's own parameter: CMC uses 0.5 (set
    ``sampler.params.momentum: 0.5``; a bank built here when ``source`` is
    ``None`` uses 0.5).

    Args:
        out_dim: embedding size (the banks' ``dim``).
        temperature: ``t`` (0.07).
        encoder: the backbone built for 3 input channels (context).
        source: the memory bank (context), copied for the second view.
        selector: optional negative selector, e.g. the ring (context); one
            selector serves both directions.
        num_examples: training-set size (context).
    """

    sources = ("memory_bank",)
    source_requires = IR.source_requires

    def __init__(
        self,
        out_dim: int = 128,
        temperature: float = 0.07,
        encoder: nn.Module | None = None,
        source: NegativeSource | None = None,
        selector: nn.Module | None = None,
        num_examples: int = 0,
    ):
        super().__init__()
        if out_dim < 1:
            raise ValueError(f"out_dim must be >= 1, got {out_dim}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if encoder is None:
            raise ValueError("encoder is required (context parameter)")
        self.temperature = temperature
        self.encoder = LabSplitEncoder(with_in_channels(encoder, 1), with_in_channels(encoder, 2))
        self.head_l = nn.Linear(encoder.feature_dim, out_dim)
        self.head_ab = nn.Linear(encoder.feature_dim, out_dim)
        self.bank_l = check_bank(source, out_dim, num_examples, momentum=0.5, objective="cmc")
        self.bank_ab = copy.deepcopy(self.bank_l)
        self.selector = selector

    def negatives_parts(self) -> tuple:
        return self.bank_l, self.bank_ab, self.selector

    def embed_views(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z_L, z_ab)``, each l2-normalised."""
        x_l, x_ab = LabSplitEncoder.split(x)
        z_l = F.normalize(self.head_l(self.encoder.encoder_l(x_l)), dim=1)
        z_ab = F.normalize(self.head_ab(self.encoder.encoder_ab(x_ab)), dim=1)
        return z_l, z_ab

    def embed(self, x: Tensor) -> Tensor:
        """``cat(z_L, z_ab)``: the two l2-normalised embeddings (their signs are the projections' signs)."""
        return torch.cat(self.embed_views(x), dim=1)

    def step(self, views: list[Tensor], index: Tensor) -> tuple[Tensor, dict[str, float]]:
        z_l, z_ab = self.embed_views(views[0])
        loss_l, m_l = memory_bank_nce(z_l, self.bank_ab, index, self.temperature, self.selector)
        loss_ab, m_ab = memory_bank_nce(z_ab, self.bank_l, index, self.temperature, self.selector)
        self.bank_l.update(z_l.detach(), index)
        self.bank_ab.update(z_ab.detach(), index)
        metrics = {f"{key}_l": value for key, value in m_l.items()}
        metrics.update({f"{key}_ab": value for key, value in m_ab.items()})
        metrics.update({"loss_l": loss_l.item(), "loss_ab": loss_ab.item()})
        return loss_l + loss_ab, metrics | self.negatives_metrics()
