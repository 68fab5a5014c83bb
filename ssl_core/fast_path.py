"""Training speed options: channels-last memory format and ``torch.compile`` of the encoders.

Both change how the convolutions are computed, not what: the losses of the
first steps equal eager mode's to float rounding (a test checks 1e-4 over 20
steps; ``benchmarks/train_step.py`` measures the speed-up side by side).
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

COMPILE_AUTO_MIN_STEPS = 2000
"""``train.compile: auto`` compiles when a run plans at least this many steps.

At the CPU pipelines' sizes (ResNet-18 width 0.25, batch 128, 32x32 on 2
cores) a compiled step is only ~0.014 s faster than a channels-last one
(``benchmarks/train_step.py``: 0.300 vs 0.314 s), and the 300-step MoCo
pipeline ran slower compiled (1.52 vs 1.43 min): compiling its two encoders
cost ~10 s (the 5 s it lost plus the 4 s its steps saved), paid back after ~700 steps. ``auto`` waits for 2,000 so
that the gain is clear; tests, the quick start and the CPU quality pipelines
stay uncompiled, the papers' long runs compile.
"""


def should_compile(setting: bool | str, planned_steps: int) -> bool:
    """Whether ``train.compile`` (``true``, ``false`` or ``"auto"``) compiles a run of ``planned_steps`` steps."""
    if setting == "auto":
        return planned_steps >= COMPILE_AUTO_MIN_STEPS
    return bool(setting)


def encoder_copies(objective: nn.Module, encoder: nn.Module) -> list[nn.Module]:
    """Every submodule of ``objective`` of the encoder's class: the encoder, momentum and channel-split copies."""
    kind = type(encoder)
    return [m for m in objective.modules() if type(m) is kind] or [encoder]


def apply_fast_path(objective: nn.Module, encoder: nn.Module, channels_last: bool, compile_: bool) -> list[str]:
    """Convert the objective to channels-last and compile its encoders in place; what was done, for the log.

    ``nn.Module.compile`` compiles in place, so parameter names, state dicts
    and checkpoints are those of the eager module; it must run after the
    objective has made its momentum copies (a deep copy of a compiled module
    would call the original's forward).
    """
    done = []
    if channels_last:
        objective.to(memory_format=torch.channels_last)
        done.append("channels_last")
    if compile_:
        for module in encoder_copies(objective, encoder):
            module.compile()
        done.append("compile")
    if done:
        log.info("training fast path: %s", ", ".join(done))
    return done


def to_channels_last(views: list[Tensor]) -> list[Tensor]:
    """Image batches ``[B, C, H, W]`` in channels-last layout (other tensors unchanged)."""
    return [v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for v in views]
