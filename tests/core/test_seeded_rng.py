"""Per-item seeding of views and the capture / restore of the global RNG states."""

from __future__ import annotations

import random

import numpy as np
import torch

from ssl_core.seeded_rng import capture, item_seed, restore, seeded


def draws():
    return torch.rand(2).tolist(), float(np.random.rand()), random.random()


def test_item_seed_is_a_31_bit_function_of_its_parts():
    assert item_seed(3, 1, 7) == item_seed(3, 1, 7) != item_seed(3, 7, 1)
    assert 0 <= item_seed(2**40, -1, 5) < 2**31


def test_seeded_draws_depend_on_the_seed_only_and_leave_the_outer_streams_alone():
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    expected_outer = draws()
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    with seeded(11):
        inner = draws()
    assert draws() == expected_outer
    with seeded(11):
        assert draws() == inner


def test_capture_then_restore_replays_every_stream():
    state = capture()
    first = draws()
    restore(state)
    assert draws() == first
