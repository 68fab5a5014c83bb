"""Channels-last and torch.compile give eager mode's losses; a compiled run resumes exactly."""

from __future__ import annotations

import pytest
import torch

from ssl_core import make_registry
from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.config import load_config
from ssl_core.fast_path import COMPILE_AUTO_MIN_STEPS, apply_fast_path, encoder_copies, should_compile, to_channels_last
from ssl_core.plots import read_metrics
from ssl_core.run import train

from pipeline_helpers import Crash, tiny_pipeline


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


RESNET = ("resnet18", {"stem": "cifar", "width": 0.125})
SMALL_CNN = ("small_cnn", {"width": 4})  # compiles in a few seconds


def nac_losses(registry, channels_last: bool, compile_: bool, steps: int, spec=RESNET) -> list[float]:
    torch.manual_seed(0)
    encoder = registry.build("encoder", *spec, in_channels=3)
    objective = registry.build("objective", "nac", {"p": 0.4, "out_dim": 16}, encoder=encoder, source=None,
                               selector=None, num_examples=64)
    apply_fast_path(objective, encoder, channels_last, compile_)
    optimizer = torch.optim.Adam(objective.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)
    batches = [[torch.rand(16, 3, 16, 16, generator=generator) for _ in range(2)] for _ in range(3)]
    losses = []
    for k in range(steps):
        torch.manual_seed(100 + k)  # the same bit flips in every mode
        views = batches[k % 3]
        if channels_last:
            views = to_channels_last(views)
        optimizer.zero_grad()
        loss, _ = objective.step(views, torch.arange(16))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_channels_last_gives_eager_losses_over_20_steps(registry):
    eager = nac_losses(registry, False, False, 20)
    fast = nac_losses(registry, True, False, 20)
    assert max(abs(a - b) for a, b in zip(eager, fast)) < 1e-4
    assert len(set(eager)) > 10  # the losses move: the comparison is not between constants


def test_compile_gives_eager_losses(registry):
    eager = nac_losses(registry, False, False, 6, SMALL_CNN)
    compiled = nac_losses(registry, True, True, 6, SMALL_CNN)
    assert max(abs(a - b) for a, b in zip(eager, compiled)) < 1e-4


def test_compile_in_place_keeps_parameter_names_and_reaches_momentum_copies(registry):
    torch.manual_seed(0)
    encoder = registry.build("encoder", "small_cnn", {"width": 4}, in_channels=1)
    source = registry.build("sampler", "queue", {"size": 32}, dim=16, num_examples=64)
    objective = registry.build("objective", "moco", {"out_dim": 16}, encoder=encoder, source=source, selector=None,
                               num_examples=64)
    keys = list(objective.state_dict())
    copies = encoder_copies(objective, encoder)
    assert copies[0] is encoder and len(copies) == 2  # the encoder and MoCo's momentum copy
    apply_fast_path(objective, encoder, True, True)
    assert list(objective.state_dict()) == keys
    assert all(m._compiled_call_impl is not None for m in copies)
    assert objective.encoder.features[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_compile_auto_follows_the_planned_steps():
    assert should_compile("auto", COMPILE_AUTO_MIN_STEPS) and not should_compile("auto", COMPILE_AUTO_MIN_STEPS - 1)
    assert should_compile(True, 1) and not should_compile(False, 10**6)


def test_to_channels_last_changes_layout_not_values():
    x = torch.rand(2, 3, 5, 5)
    y, spectra = to_channels_last([x, torch.rand(2, 7)])
    assert y.is_contiguous(memory_format=torch.channels_last) and torch.equal(x, y) and spectra.dim() == 2


def test_compiled_run_resumes_exactly(tmp_path, registry):
    """A compiled, channels-last run stopped mid-epoch and resumed ends with the uninterrupted run's weights."""
    fast = "train.compile=true"
    straight_cfg = load_config(tiny_pipeline(tmp_path, epochs=1, every=2, output="straight", test_fraction=0.8),
                               [fast], registry=registry)
    straight = train(straight_cfg, registry)
    config = load_config(tiny_pipeline(tmp_path, epochs=1, every=2, output="crashed", test_fraction=0.8), [fast],
                         registry=registry)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, registry, callbacks=[Crash(3)])
    resumed = train(config, registry, resume=True)
    expected, got = safe_torch_load(straight / "model.pt"), safe_torch_load(resumed / "model.pt")
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert dict(read_metrics(resumed)["loss"]) == dict(read_metrics(straight)["loss"])
