"""The negative-source protocol check and the objective mixin that forwards the step and gathers metrics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ssl_core import make_registry
from ssl_core.negatives import NegativeSelector, NegativeSource, NegativesHooks, check_source, missing_members


class Scheduled(nn.Module):
    def __init__(self, name):
        super().__init__()
        self.name, self.calls = name, []

    def on_step(self, global_step, epoch):
        self.calls.append((global_step, epoch))

    def metrics(self):
        return {f"{self.name}/last": self.calls[-1][0]}


class Objective(NegativesHooks, nn.Module):
    def __init__(self, source, selector):
        super().__init__()
        self.source, self.selector = source, selector


def test_hooks_forward_on_step_to_source_and_selector_and_gather_their_metrics():
    objective = Objective(Scheduled("src"), Scheduled("sel"))
    objective.on_step(7, 2)
    assert objective.source.calls == objective.selector.calls == [(7, 2)]
    assert objective.negatives_metrics() == {"src/last": 7.0, "sel/last": 7.0}
    bare = Objective(nn.Identity(), None)  # no hooks, no metrics: nothing to do
    bare.on_step(1, 0)
    assert bare.negatives_metrics() == {}


def test_missing_members_and_the_error_naming_them():
    assert missing_members(nn.Identity(), ("positives",)) == ["pool", "update", "positives"]
    with pytest.raises(ValueError, match="source Identity lacks pool, update, positives, which the objective 'ir'"):
        check_source(nn.Identity(), ("positives",), "ir")


def test_every_built_in_sampler_and_selector_follows_the_protocols():
    registry = make_registry(autoload=False, warn=False)
    for name in registry.names("sampler"):
        assert isinstance(registry.build("sampler", name, {}, dim=4, num_examples=8), NegativeSource), name
    for name in registry.names("selector"):
        assert isinstance(registry.build("selector", name, {}, steps_per_epoch=2, max_epochs=200), NegativeSelector)
    bank = registry.build("sampler", "memory_bank", {"k": 5}, dim=4, num_examples=8)
    assert bank.num_negatives == 5 and bank.dim == 4 and bank.positives(torch.tensor([1])).shape == (1, 4)
