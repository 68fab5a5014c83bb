"""Optimizers (SGD, LARS, Adam) and learning-rate schedules as pure functions of the step."""

from __future__ import annotations

import math

import torch
from lightly.utils.lars import LARS


def build_optimizer(params, cfg: dict) -> torch.optim.Optimizer:
    """The optimizer named by ``train.optimizer`` (``sgd``, ``lars`` from lightly, or ``adam``)."""
    name, lr, wd = cfg["name"], cfg["lr"], cfg["weight_decay"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg["momentum"], nesterov=cfg["nesterov"], weight_decay=wd)
    if name == "lars":
        return LARS(params, lr=lr, momentum=cfg["momentum"], nesterov=cfg["nesterov"], weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(cfg["betas"]), weight_decay=wd)
    raise ValueError(f"unknown optimizer '{name}'; valid choices: sgd, lars, adam")


def lr_factor(step: int, steps_per_epoch: int, epochs: int, cfg: dict) -> float:
    """The learning-rate multiplier at global ``step`` for ``train.schedule``.

    - ``constant``: 1.
    - ``warmup_cosine``: linear from 0 to 1 over ``warmup_epochs``, then a
      half cosine down to ``end_lr_fraction`` at the last step.
    - ``step``: ``gamma ** (number of milestones (epochs) passed)``.

    Being a function of the step alone (no scheduler state), a resumed run
    gets exactly the learning rate the uninterrupted one had.
    """
    total = max(1, steps_per_epoch * epochs)
    name = cfg["name"]
    if name == "constant":
        return 1.0
    if name == "warmup_cosine":
        warmup = int(round(cfg["warmup_epochs"] * steps_per_epoch))
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        end = cfg["end_lr_fraction"]
        return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if name == "step":
        epoch = step / steps_per_epoch
        return cfg["gamma"] ** sum(epoch >= m for m in cfg["milestones"])
    raise ValueError(f"unknown schedule '{name}'; valid choices: constant, warmup_cosine, step")
