"""build_pipeline: seeding, the negatives rules of hookspecs, the steps per epoch, the trained backbone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ssl_core
from ssl_core import make_registry
from ssl_core.config import load_config_text
from ssl_core.errors import ConfigError
from ssl_core.pipeline import build_pipeline


class Wrapped(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.feature_dim = inner, inner.feature_dim

    def forward(self, x):
        return self.inner(x)


class Probe(nn.Module):
    """Records its context; its trained backbone (``encoder``) wraps the one given."""

    sources = ("queue", "in_batch")

    def __init__(self, out_dim: int = 12, encoder=None, source=None, selector=None, num_examples: int = 0):
        super().__init__()
        self.encoder = Wrapped(encoder)
        self.source, self.selector, self.num_examples = source, selector, num_examples
        self.head = nn.Linear(encoder.feature_dim, out_dim)

    def embed(self, x):
        return self.head(self.encoder(x))

    def step(self, views, index):
        return self.embed(views[0]).sum(), {}


class Plain(Probe):
    sources = ()


class ProbePlugin:
    @ssl_core.hookimpl
    def ssl_core_objectives(self):
        return {"probe": Probe, "plain": Plain}


PIPELINE = """\
name: p
seed: {seed}
data: {{dataset: digits, params: {{test_fraction: 0.8}}}}
views: digits
encoder: {{name: small_cnn, params: {{width: 4}}}}
objective:
  name: {objective}
  params: {params}
{negatives}
train: {{epochs: 3, batch_size: {batch}}}
"""


@pytest.fixture(scope="module")
def registry():
    return make_registry([ProbePlugin()], autoload=False, warn=False)


def build(registry, seed=0, objective="probe", params="{}", negatives="", batch=32, world_size=1):
    text = PIPELINE.format(seed=seed, objective=objective, params=params, negatives=negatives, batch=batch)
    return build_pipeline(load_config_text(text, "p.yaml", registry=registry), registry, world_size=world_size)


def test_the_seed_fixes_the_initial_weights(registry):
    a, b, c = build(registry, seed=1), build(registry, seed=1), build(registry, seed=2)
    wa, wb, wc = (p.objective.head.weight for p in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_the_default_source_is_the_first_accepted_sized_by_out_dim(registry):
    pipeline = build(registry)
    assert type(pipeline.objective.source).__name__ == "KeyQueue" and pipeline.objective.source.dim == 12
    assert build(registry, params="{out_dim: 6}").objective.source.dim == 6
    assert pipeline.objective.selector is None and pipeline.objective.num_examples == len(pipeline.train_data) == 359


def test_the_trained_backbone_is_the_objectives_encoder(registry):
    pipeline = build(registry)
    assert pipeline.encoder is pipeline.objective.encoder and isinstance(pipeline.encoder, Wrapped)


def test_negatives_for_an_objective_that_takes_none_are_refused_at_their_line(registry):
    with pytest.raises(ConfigError, match="p.yaml:9: objective 'plain' takes no negatives"):
        build(registry, objective="plain", negatives="  negatives: {source: queue}")


def test_steps_per_epoch_are_those_of_the_global_batch(registry):
    assert build(registry, batch=32).steps_per_epoch == 359 // 32
    assert build(registry, batch=32, world_size=2).steps_per_epoch == 359 // 64
    ring = build(registry, batch=32, world_size=2,
                 negatives="  negatives: {source: queue, select: {name: ring, params: {anneal_epochs: 3}}}")
    assert ring.objective.selector.steps_per_epoch == 359 // 64
    with pytest.raises(ConfigError, match="a global batch of 400 is larger than the 359 training examples"):
        build(registry, batch=200, world_size=2)
