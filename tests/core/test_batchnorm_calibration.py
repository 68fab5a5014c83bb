"""BatchNorm statistics of the random-init baseline: re-estimated on data, weights untouched."""

from __future__ import annotations

import torch
from torch import nn

from pipeline_helpers import tiny_pipeline
from ssl_core.batchnorm_calibration import recalibrate_batchnorm
from ssl_core.config import load_config
from ssl_core.harness import CALIBRATION_ITEMS, random_init_pipeline
from ssl_core.pipeline import build_pipeline
from ssl_core.registry import make_registry


def test_running_statistics_are_the_average_of_the_batch_statistics():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3)
    model = nn.Sequential(conv, nn.BatchNorm2d(4, momentum=0.3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    batches = [torch.randn(8, 3, 6, 6) * 3 + 2 for _ in range(3)]
    model(batches[0])  # materialise the lazy layer
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    assert recalibrate_batchnorm(model, batches) == 1
    with torch.no_grad():
        pre = [conv(b) for b in batches]  # what the BatchNorm layer saw
    mean = torch.stack([p.mean(dim=(0, 2, 3)) for p in pre]).mean(0)
    var = torch.stack([p.var(dim=(0, 2, 3), unbiased=True) for p in pre]).mean(0)
    bn = model[1]
    torch.testing.assert_close(bn.running_mean, mean)
    torch.testing.assert_close(bn.running_var, var)
    assert bn.momentum == 0.3 and not model.training
    for key, value in weights.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_a_model_without_batchnorm_is_not_run():
    calls = []
    model = nn.Linear(2, 2)
    assert recalibrate_batchnorm(model, [torch.zeros(1, 2)], forward=lambda x: calls.append(x)) == 0
    assert calls == []


def test_random_init_baseline_keeps_the_seeded_weights_and_takes_data_statistics(tmp_path):
    registry = make_registry(autoload=False, warn=False)
    config = load_config(tiny_pipeline(tmp_path), registry=registry)
    fresh = build_pipeline(config, registry)
    baseline, protocol = random_init_pipeline(config, registry)
    for (name, a), (_, b) in zip(fresh.objective.named_parameters(), baseline.objective.named_parameters()):
        assert torch.equal(a, b), name
    bn = next(m for m in baseline.encoder.modules() if isinstance(m, nn.BatchNorm2d))
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    items = min(len(fresh.train_data), CALIBRATION_ITEMS)
    assert f"on {items} training items" in protocol["batchnorm"]
