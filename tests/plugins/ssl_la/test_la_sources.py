"""LA takes its negative source through the written protocol only: a third-party bank works, a FIFO is refused when built."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import fifo_keys_plugin
from ssl_core import make_registry
from ssl_core.config import load_config_text
from ssl_core.errors import ConfigError
from ssl_core.pipeline import build_pipeline
from ssl_encoders.small_cnn import SmallCNN
from ssl_la.la_loss import la_loss
from ssl_la.local_aggregation import LocalAggregation

N, BATCH, DIM = 24, 8, 8

PIPELINE = """\
name: la_source
data: {{dataset: digits, params: {{test_fraction: 0.9}}}}
views: digits
encoder: {{name: small_cnn, params: {{width: 4}}}}
objective:
  name: la
  params: {{out_dim: 8, num_clusters: 4, kmeans_backend: torch}}
  negatives: {{source: {{name: {source}, params: {source_params}}}}}
train: {{epochs: 1, batch_size: 8}}
"""


class ProtocolBank(nn.Module):
    """A third-party bank with only the protocol's members, ``positives`` and ``momentum``: no ``k``, no ``len``."""

    def __init__(self, momentum: float = 0.5, num_negatives: int | None = None):
        super().__init__()
        self.momentum = momentum
        if num_negatives is not None:
            self.num_negatives = num_negatives
        self.register_buffer("entries", F.normalize(torch.randn(N, DIM, generator=torch.Generator().manual_seed(2)), dim=1))
        self.steps: list[tuple[int, int]] = []

    def pool(self, keys: Tensor | None, index: Tensor | None) -> tuple[Tensor, Tensor | None]:
        valid = None if index is None else torch.arange(N)[None, :] != index[:, None]
        return self.entries, valid

    def positives(self, index: Tensor) -> Tensor:
        return self.entries[index]

    @torch.no_grad()
    def update(self, keys: Tensor, index: Tensor) -> None:
        self.entries[index] = F.normalize(self.momentum * self.entries[index] + (1 - self.momentum) * keys, dim=1)

    def on_step(self, global_step: int, epoch: int) -> None:
        self.steps.append((global_step, epoch))

    def metrics(self) -> dict[str, float]:
        return {"bank/steps": len(self.steps)}


class FifoWithMomentum(fifo_keys_plugin.FifoKeys):
    """The test FIFO of keys, declaring a momentum: it has every member LA names, but no entry per example."""

    momentum = 0.5


@pytest.fixture(scope="module")
def registry():
    return make_registry([fifo_keys_plugin], autoload=False, warn=False)


def build(registry, source, source_params="{}"):
    text = PIPELINE.format(source=source, source_params=source_params)
    return build_pipeline(load_config_text(text, "la_source.yaml", registry=registry), registry)


def make_la(source, **params) -> LocalAggregation:
    torch.manual_seed(0)
    params = {"num_clusters": 4, "kmeans_runs": 2, "kmeans_iters": 5, "kmeans_backend": "torch", **params}
    return LocalAggregation(out_dim=DIM, encoder=SmallCNN(width=2, in_channels=1), source=source, **params)


def batch():
    g = torch.Generator().manual_seed(1)
    return [torch.randn(BATCH, 1, 8, 8, generator=g)], torch.randperm(N, generator=g)[:BATCH]


def test_the_pipeline_refuses_the_third_party_fifo_naming_it_and_what_it_lacks(registry):
    with pytest.raises(ConfigError, match="objective 'la' cannot take negatives from 'fifo_keys': the sampler lacks momentum"):
        build(registry, "fifo_keys", "{size: 6}")


def test_the_pipeline_refuses_in_batch_negatives_naming_both_missing_members(registry):
    with pytest.raises(ConfigError, match="cannot take negatives from 'in_batch': the sampler lacks positives, momentum"):
        build(registry, "in_batch")


def test_built_directly_the_fifo_is_refused_by_name_not_at_step_time():
    with pytest.raises(ValueError, match="source FifoKeys lacks momentum, which the objective 'la' needs"):
        make_la(fifo_keys_plugin.FifoKeys(size=6, dim=DIM, num_examples=N))


def test_a_fifo_with_every_member_is_refused_for_not_holding_one_entry_per_example():
    fifo = FifoWithMomentum(size=6, dim=DIM, num_examples=N)
    with pytest.raises(ValueError, match="one entry per training example.*source FifoWithMomentum's pool has 0 entries$"):
        make_la(fifo)
    with pytest.raises(ValueError, match="source FifoWithMomentum's pool has 0 entries for 24 training examples"):
        make_la(fifo, num_examples=N)


def test_a_bank_of_another_size_than_the_training_set_is_refused():
    with pytest.raises(ValueError, match="source ProtocolBank's pool has 24 entries for 30 training examples"):
        make_la(ProtocolBank(), num_examples=30)


@pytest.mark.parametrize("num_negatives", [None, 5])
def test_a_third_party_bank_with_only_the_protocol_trains_la(num_negatives):
    bank = ProtocolBank(num_negatives=num_negatives)
    la = make_la(bank, num_examples=N)
    la.on_step(0, 0)
    assert bank.steps == [(0, 0)], "on_step reaches the source"
    views, index = batch()
    before = bank.entries.clone()
    loss, metrics = la.step(views, index)
    z = F.normalize(la.embed(views[0]), dim=1)
    k = N if num_negatives is None else num_negatives  # without num_negatives B_i is the whole pool
    expected, _ = la_loss(z, before, index, la.cluster_labels, k, 0.07)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert metrics["bank/steps"] == 1.0
    assert torch.allclose(bank.entries[index], F.normalize(0.5 * before[index] + 0.5 * z.detach(), dim=1), atol=1e-6)


def test_the_ir_warm_up_runs_on_the_third_party_bank():
    la = make_la(ProtocolBank(), ir_warmup_epochs=1)
    la.on_step(0, 0)
    loss, metrics = la.step(*batch())
    assert torch.isfinite(loss) and "positive_similarity" in metrics and int(la.clusters_epoch) == -1


def test_a_num_negatives_above_the_bank_size_is_refused_naming_the_source():
    with pytest.raises(ValueError, match="source ProtocolBank's num_negatives .* exceeds its 24 entries"):
        make_la(ProtocolBank(num_negatives=N + 1))


def test_another_momentum_is_warned_about_on_a_third_party_bank():
    with pytest.warns(UserWarning, match="this bank has 0.9"):
        make_la(ProtocolBank(momentum=0.9))
