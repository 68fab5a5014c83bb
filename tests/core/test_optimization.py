"""Learning-rate schedules as functions of the step (hand-computed values) and the optimizers by name."""

from __future__ import annotations

import math

import pytest
import torch
from lightly.utils.lars import LARS

from ssl_core.optimization import build_optimizer, lr_factor

COSINE = {"name": "warmup_cosine", "warmup_epochs": 0.5, "end_lr_fraction": 0.1}


@pytest.mark.parametrize("step, expected", [
    (0, 1 / 5), (4, 1.0),  # warmup: 5 steps, (step + 1) / 5
    (5, 1.0),  # cosine start
    (10, 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 3))),  # (10 - 5) / (20 - 5) of the way
    (20, 0.1), (30, 0.1),  # the end value, then held
])
def test_warmup_cosine(step, expected):
    assert lr_factor(step, 10, 2, COSINE) == pytest.approx(expected)


def test_step_and_constant_schedules():
    cfg = {"name": "step", "milestones": [1, 2], "gamma": 0.1}
    assert [lr_factor(s, 10, 3, cfg) for s in (9, 10, 19, 20)] == pytest.approx([1.0, 0.1, 0.1, 0.01])
    assert lr_factor(123, 10, 3, {"name": "constant"}) == 1.0
    with pytest.raises(ValueError, match="unknown schedule 'poly'"):
        lr_factor(0, 10, 3, {"name": "poly"})


def test_optimizers_by_name():
    params = [torch.nn.Parameter(torch.zeros(2))]
    cfg = {"lr": 0.5, "weight_decay": 0.01, "momentum": 0.8, "nesterov": True, "betas": [0.8, 0.9]}
    sgd = build_optimizer(params, cfg | {"name": "sgd"})
    assert type(sgd) is torch.optim.SGD and sgd.defaults["momentum"] == 0.8 and sgd.defaults["nesterov"]
    assert type(build_optimizer(params, cfg | {"name": "lars"})) is LARS
    adam = build_optimizer(params, cfg | {"name": "adam"})
    assert adam.defaults["betas"] == (0.8, 0.9) and adam.defaults["weight_decay"] == 0.01
    with pytest.raises(ValueError, match="valid choices: sgd, lars, adam"):
        build_optimizer(params, cfg | {"name": "rmsprop"})
