"""Annealing schedules of the ring's upper percentile ``u`` (Wu et al., 2021, Sec. 4, "Annealing Policy").

The paper anneals the upper threshold from the whole pool towards the target
as training goes ("Early in training we choose w_u to be large. Over many
epochs, we slowly decrease w_u closer to w_l"); linear is its default, and
step, exponential and no annealing are its ablations (Table 2 and the
appendix on annealing). The formulas follow the authors' ``policy.py``
(``LinearThresholdPolicy``, ``StepThresholdPolicy``,
``ExponentialDecayThresholdPolicy``, ``ConstantThresholdPolicy``), expressed in
percent and as closed forms of the global step instead of precomputed arrays.

With ``s`` the global step, ``S`` the number of annealing steps
(``anneal_epochs * steps_per_epoch``), ``u0`` the start value (100) and
``u1`` the target:

- ``linear``: ``u(s) = u0 + (u1 - u0) * min(s / S, 1)``.
- ``step``: ``n = ceil((u0 - u1) / step_size) + 1`` levels ``u0, u0 - step_size,
  ...`` (the last one clamped to ``u1``), each held for ``S / n`` steps:
  ``u(s) = max(u1, u0 - step_size * min(floor(s * n / S), n - 1))``, and
  ``u1`` from ``s >= S`` on.
- ``exponential``: ``u(s) = u1 + (u0 - u1) * exp(-decay * s)`` for ``s < S``,
  then ``u1``. ``decay`` is per optimisation step, as in the reference code
  (its default 0.1 reaches within 1% of the gap after 46 steps, so this
  ablation is close to no annealing; lower ``decay`` for a slower fall).
- ``none``: ``u(s) = u1``.

``S = 0`` means no annealing for every schedule.
"""

from __future__ import annotations

import math
from typing import Literal

Schedule = Literal["linear", "step", "exponential", "none"]
SCHEDULES: tuple[str, ...] = ("linear", "step", "exponential", "none")


def annealed_upper(
    schedule: str,
    step: int,
    anneal_steps: int,
    start: float,
    end: float,
    step_size: float = 10.0,
    decay: float = 0.1,
) -> float:
    """The upper percentile ``u`` at global step ``step`` (formulas in the module docstring).

    Args:
        schedule: ``"linear"``, ``"step"``, ``"exponential"`` or ``"none"``.
        step: the global optimisation step ``s`` (>= 0).
        anneal_steps: ``S``, steps over which ``u`` falls from ``start`` to ``end``.
        start: ``u0``, the value at step 0 (100 = the whole pool).
        end: ``u1``, the target reached at step ``S`` and kept afterwards.
        step_size: percentage points between two levels of the ``step`` schedule.
        decay: per-step rate of the ``exponential`` schedule.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    step = max(int(step), 0)
    if schedule == "none" or anneal_steps <= 0 or step >= anneal_steps:
        return float(end)
    if schedule == "linear":
        return start + (end - start) * (step / anneal_steps)
    if schedule == "step":
        levels = math.ceil((start - end) / step_size - 1e-9) + 1
        level = min(step * levels // anneal_steps, levels - 1)
        return max(float(end), start - step_size * level)
    return end + (start - end) * math.exp(-decay * step)
