"""The annealing schedules of the ring's upper percentile, at chosen steps."""

from __future__ import annotations

import math

import pytest

from ssl_ring.anneal_schedule import annealed_upper
from ssl_ring.ring_selector import RingSelector

S = 1000  # anneal steps: 100 epochs x 10 steps


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 100.0), (1, 99.91), (250, 77.5), (500, 55.0), (999, 10.09), (1000, 10.0), (5000, 10.0)],
)
def test_linear(step, expected):
    assert annealed_upper("linear", step, S, 100.0, 10.0) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 100.0), (99, 100.0), (100, 90.0), (199, 90.0), (200, 80.0), (899, 20.0), (900, 10.0), (999, 10.0), (1000, 10.0)],
)
def test_step_ten_levels_of_ten_points(step, expected):
    assert annealed_upper("step", step, S, 100.0, 10.0, step_size=10.0) == pytest.approx(expected)


def test_step_last_level_clamped_to_target():
    # (100 - 15) / 10 -> 10 levels 100, 90, ..., 20, then 15 (not 10), 100 steps each
    assert annealed_upper("step", 850, S, 100.0, 15.0, step_size=10.0) == pytest.approx(20.0)
    assert annealed_upper("step", 950, S, 100.0, 15.0, step_size=10.0) == pytest.approx(15.0)
    # 20-point steps: 100, 80, 60, 40, 20, 10 -> 6 levels of 1000/6 steps
    assert annealed_upper("step", 166, S, 100.0, 10.0, step_size=20.0) == pytest.approx(100.0)
    assert annealed_upper("step", 167, S, 100.0, 10.0, step_size=20.0) == pytest.approx(80.0)
    assert annealed_upper("step", 834, S, 100.0, 10.0, step_size=20.0) == pytest.approx(10.0)


@pytest.mark.parametrize("step", [0, 1, 10, 46, 200])
def test_exponential_per_step_decay(step):
    expected = 10.0 + 90.0 * math.exp(-0.1 * step)
    assert annealed_upper("exponential", step, S, 100.0, 10.0, decay=0.1) == pytest.approx(expected)


def test_exponential_ends_at_target_after_window():
    assert annealed_upper("exponential", S, S, 100.0, 10.0, decay=0.001) == 10.0
    assert annealed_upper("exponential", S - 1, S, 100.0, 10.0, decay=0.001) == pytest.approx(10 + 90 * math.exp(-0.999))


@pytest.mark.parametrize("step", [0, 1, 500, 10_000])
def test_none_is_constant(step):
    assert annealed_upper("none", step, S, 100.0, 10.0) == 10.0


def test_zero_anneal_steps_means_target():
    for schedule in ("linear", "step", "exponential"):
        assert annealed_upper(schedule, 0, 0, 100.0, 10.0) == 10.0


def test_unknown_schedule():
    with pytest.raises(ValueError, match="schedule must be one of"):
        annealed_upper("cosine", 0, S, 100.0, 10.0)


@pytest.mark.parametrize(
    ("schedule", "step", "expected_u"),
    [("linear", 0, 100.0), ("linear", 500, 55.0), ("linear", 1200, 10.0), ("step", 450, 60.0), ("none", 0, 10.0),
     ("exponential", 20, 10.0 + 90.0 * math.exp(-2.0))],
)
def test_selector_band_follows_global_step(schedule, step, expected_u):
    selector = RingSelector(l=1.0, u=10.0, schedule=schedule, anneal_epochs=100, steps_per_epoch=10)
    selector.set_step(step)
    l, u = selector.band()
    assert l == 1.0  # l is never annealed
    assert u == pytest.approx(expected_u)


def test_u_start_below_100():
    selector = RingSelector(l=0.0, u=10.0, u_start=50.0, anneal_epochs=1, steps_per_epoch=100)
    selector.set_step(50)
    assert selector.band() == (0.0, pytest.approx(30.0))
