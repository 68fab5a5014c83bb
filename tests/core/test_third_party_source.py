"""A negative source from a third-party plugin (tests/fifo_keys_plugin.py) plugs into IR and NAC with no core edit."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import fifo_keys_plugin
from ssl_core import make_registry
from ssl_core.config import load_config_text
from ssl_core.errors import ConfigError
from ssl_core.pipeline import build_pipeline

B = 4

PIPELINE = """\
name: fifo
data: {{dataset: digits, params: {{test_fraction: 0.9}}}}
views: {{name: digits, params: {{n_views: 2}}}}
encoder: {{name: small_cnn, params: {{width: 4}}}}
objective:
  name: {objective}
  params: {params}
  negatives: {{source: {{name: {source}, params: {source_params}}}}}
train: {{epochs: 1, batch_size: 8}}
"""


@pytest.fixture(scope="module")
def registry():
    return make_registry([fifo_keys_plugin], autoload=False, warn=False)


def build(registry, objective, params, source="fifo_keys", source_params="{size: 6}"):
    text = PIPELINE.format(objective=objective, params=params, source=source, source_params=source_params)
    return build_pipeline(load_config_text(text, "fifo.yaml", registry=registry), registry)


def batch(pipeline, index):
    items = [pipeline.train_data[i][0] for i in index]
    views = [torch.stack([pipeline.views.eval(x) for x in items]) + 0.1 * k for k in range(2)]
    return views, torch.tensor(index)


def ir_reference(z, pool, owners, positives, index, t):
    """IR's loss by a loop: every pool entry of another example is a negative (no k draws)."""
    total = 0.0
    for b in range(len(index)):
        pos = float(z[b] @ positives[b]) / t
        terms = [pos] + [float(z[b] @ pool[j]) / t for j in range(len(owners)) if int(owners[j]) != int(index[b])]
        total += math.log(sum(math.exp(v) for v in terms)) - pos
    return total / len(index)


def test_ir_takes_the_fifo_through_the_protocol_and_the_loss_is_a_loop_over_its_pool(registry):
    pipeline = build(registry, "ir", "{out_dim: 8, temperature: 0.5}")
    objective = pipeline.objective
    assert type(objective.source).__name__ == "FifoKeys"
    for index in ([0, 1, 2, 3], [2, 5, 6, 7]):  # the second batch repeats example 2
        views, index_t = batch(pipeline, index)
        with torch.no_grad():
            z = F.normalize(objective.embed(views[0]), dim=1)
        positives = objective.source.latest[index_t].clone()
        filled = objective.source.owners >= 0
        pool = torch.cat([z, objective.source.keys[filled]])
        owners = torch.cat([index_t, objective.source.owners[filled]])
        loss, metrics = objective.step(views, index_t)
        assert loss.item() == pytest.approx(ir_reference(z, pool, owners, positives, index, 0.5), rel=1e-5)
        loss.backward()
        assert objective.head.weight.grad.abs().sum() > 0
    # size 6: the first batch filled slots 0-3, the second wrote slots 4, 5, 0, 1; latest holds the last keys
    assert objective.source.owners.tolist() == [6, 7, 2, 3, 2, 5] and int(objective.source.pointer) == 2
    assert torch.allclose(objective.source.latest[index_t], z, atol=1e-6)
    assert {"source.keys", "source.owners", "source.pointer", "source.latest"} <= set(objective.state_dict())


def test_nac_sums_over_the_fifo_pool(registry):
    pipeline = build(registry, "nac", "{out_dim: 8, hidden_dim: 8}")
    objective = pipeline.objective
    counts = []
    for index in ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]):
        views, index_t = batch(pipeline, index)
        loss, metrics = objective.step(views, index_t)
        assert torch.isfinite(loss)
        loss.backward()
        counts.append(metrics["negatives_count"])
    # NAC sums over the whole pool: the batch's 2B codes, then also the FIFO's 6 (after 8, then 8 more keys)
    assert counts == [2 * B, 2 * B + 6, 2 * B + 6]


def test_a_source_lacking_what_the_objective_requires_is_refused_naming_it(registry):
    with pytest.raises(ConfigError, match="objective 'ir' cannot take negatives from 'in_batch': the sampler lacks positives"):
        build(registry, "ir", "{out_dim: 8}", source="in_batch", source_params="{}")
