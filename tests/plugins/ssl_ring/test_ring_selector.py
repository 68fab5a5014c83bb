"""The ring band: exact kept indices on hand-built similarities, masks, cuts, no full sort, resume."""

from __future__ import annotations

import math

import pytest

from ssl_core.errors import ConfigWarning
import torch

from ssl_core import make_registry
from ssl_core.errors import ParamError
from ssl_ring.ring_selector import RingSelector

# One row whose ranking (most similar first) is, by pool index: 0, 6, 4, 8, 2, 7, 3, 5, 1, 9.
ROW = torch.tensor([[0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0]])


def ring(l, u, **kw):
    return RingSelector(l=l, u=u, schedule="none", **kw)


def kept(mask: torch.Tensor) -> list[set[int]]:
    return [set(torch.nonzero(row).flatten().tolist()) for row in mask]


@pytest.mark.parametrize(
    ("l", "u", "expected"),
    [
        (10, 50, {6, 4, 8, 2}),  # ranks [1, 5)
        (0, 30, {0, 6, 4}),  # ranks [0, 3): the "ball"
        (1, 10, {0}),  # ranks [floor(0.1), ceil(1.0)) = [0, 1)
        (5, 12, {0, 6}),  # [0, ceil(1.2) = 2)
        (50, 55, {7}),  # [5, ceil(5.5) = 6)
        (20, 100, {4, 8, 2, 7, 3, 5, 1, 9}),  # [2, 10)
        (0.4, 0.5, {0}),  # an empty band widens to the entry at the upper cut
        (0, 100, set(range(10))),
    ],
)
def test_band_on_hand_built_row(l, u, expected):
    assert kept(ring(l, u).select(ROW)) == [expected]


def test_band_with_valid_mask_counts_only_valid_entries():
    valid = torch.ones(1, 10, dtype=torch.bool)
    valid[0, [6, 4]] = False  # ranking over the 8 valid entries: 0, 8, 2, 7, 3, 5, 1, 9
    assert kept(ring(25, 50).select(ROW, valid)) == [{2, 7}]  # ranks [2, 4)
    assert kept(ring(0, 100).select(ROW, valid)) == [set(range(10)) - {6, 4}]
    assert kept(ring(0, 10).select(ROW, valid)) == [{0}]  # [0, ceil(0.8) = 1)


def test_rows_with_different_numbers_of_valid_entries():
    sim = torch.cat([ROW, ROW, ROW])
    valid = torch.zeros(3, 10, dtype=torch.bool)
    valid[0] = True  # n = 10: ranks [2, 5) -> 4, 8, 2
    valid[1, [1, 3, 5, 7]] = True  # n = 4, ranking 7, 3, 5, 1: [floor(0.8), ceil(2)) = [0, 2) -> 7, 3
    valid[2, 9] = True  # n = 1: [0, 1) -> 9
    assert kept(ring(20, 50).select(sim, valid)) == [{4, 8, 2}, {7, 3}, {9}]


def test_row_without_valid_entries_keeps_nothing():
    valid = torch.zeros(2, 10, dtype=torch.bool)
    valid[0, :5] = True
    keep = ring(0, 40).select(torch.cat([ROW, ROW]), valid)
    assert kept(keep) == [{0, 4}, set()]  # row 0 ranking over 0..4: 0, 4, 2, 3, 1 -> [0, 2)


def test_inner_relative_to_outer_matches_reference_slicing():
    # reference: outer_idx = int(0.4 * 10) = 4, inner_idx = int(0.5 * 4) = 2 -> sorted[2:4]
    assert kept(ring(50, 40, inner_relative_to_outer=True).select(ROW)) == [{4, 8}]
    # absolute l = 50 > u = 40 is invalid
    with pytest.raises(ValueError, match="^l must be < u"):
        ring(50, 40)


def authors_ring(row, l, u, relative):
    """The authors' ring slice of one whole row: a full sort, ``int()`` (floor) cuts on fractions of the size."""
    n = row.shape[0]
    order = torch.argsort(row, descending=True).tolist()
    outer = int(u / 100 * n)
    inner = int(l / 100 * outer) if relative else int(l / 100 * n)
    return set(order[inner:outer])


@pytest.mark.parametrize(("n", "l", "u", "relative"),
                         [(65536, 10, 10, True), (65536, 1, 10, False), (37, 10, 30, True), (37, 5, 50, False),
                          (1003, 1, 10, False)])
def test_upper_rounding_floor_reproduces_the_authors_slice(n, l, u, relative):
    row = torch.randperm(n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)[None, :]
    theirs = authors_ring(row[0], l, u, relative)
    floor = kept(ring(l, u, inner_relative_to_outer=relative, upper_rounding="floor").select(row))[0]
    ceil = kept(ring(l, u, inner_relative_to_outer=relative).select(row))[0]
    assert floor == theirs
    # the default rounds the upper cut up: exactly one more negative, the next-ranked entry
    assert len(ceil) == len(theirs) + 1 and theirs < ceil
    if (n, l, u) == (65536, 10, 10):
        assert (len(theirs), len(ceil)) == (5898, 5899)


def test_upper_rounding_floor_on_hand_built_row_and_validation():
    # ROW ranking 0, 6, 4, 8, 2, 7, 3, 5, 1, 9; u = 35: ceil(3.5) = 4, floor(3.5) = 3
    assert kept(ring(10, 35, upper_rounding="floor").select(ROW)) == [{6, 4}]
    assert kept(ring(10, 35).select(ROW)) == [{6, 4, 8}]
    assert kept(ring(0, 5, upper_rounding="floor").select(ROW)) == [{0}]  # floor(0.5) = 0 widens to one entry
    with pytest.raises(ValueError, match="^upper_rounding must be"):
        ring(1, 10, upper_rounding="round")


def brute_force(sim, valid, l, u):
    """Rank the valid entries by a full sort and keep ranks [floor(l n/100), ceil(u n/100)), >= 1 entry."""
    keep = torch.zeros_like(valid)
    for b in range(sim.shape[0]):
        idx = torch.nonzero(valid[b]).flatten()
        n = len(idx)
        if n == 0:
            continue
        order = idx[torch.argsort(sim[b, idx], descending=True)]
        hi = min(max(math.ceil(u * n / 100 - 1e-9), 1), n)
        lo = min(math.floor(l * n / 100 + 1e-9), hi - 1)
        keep[b, order[lo:hi]] = True
    return keep


@pytest.mark.parametrize(("l", "u"), [(1, 10), (0, 10), (5, 25), (0, 100), (10, 100), (33, 34), (1, 2)])
def test_matches_a_full_sort_on_random_pools(l, u):
    gen = torch.Generator().manual_seed(int(10 * l + u))
    sim = torch.rand(6, 257, generator=gen)
    valid = torch.rand(6, 257, generator=gen) > 0.3
    valid[0] = True
    valid[1, 10:] = False
    assert torch.equal(ring(l, u).select(sim, valid), brute_force(sim, valid, l, u))
    assert torch.equal(ring(l, u).select(sim), brute_force(sim, torch.ones_like(valid), l, u))


def test_pool_of_1000_keeps_ranks_10_to_99():
    gen = torch.Generator().manual_seed(0)
    sim = torch.rand(2, 1000, generator=gen)
    keep = ring(1, 10).select(sim)
    order = torch.argsort(sim, dim=1, descending=True)
    for b in range(2):
        assert kept(keep[b : b + 1]) == [set(order[b, 10:100].tolist())]


def test_uses_partial_selection_not_a_full_sort(monkeypatch):
    calls = []
    real_topk = torch.topk

    def spy_topk(input, k, *args, **kwargs):
        calls.append(k)
        return real_topk(input, k, *args, **kwargs)

    def no_sort(*args, **kwargs):
        raise AssertionError("the ring must not sort the whole pool")

    monkeypatch.setattr(torch, "topk", spy_topk)
    monkeypatch.setattr(torch, "sort", no_sort)
    monkeypatch.setattr(torch, "argsort", no_sort)
    monkeypatch.setattr(torch.Tensor, "sort", no_sort)
    sim = torch.rand(4, 1000)
    valid = torch.ones(4, 1000, dtype=torch.bool)
    valid[1, 500:] = False  # n = 500 -> hi = 50; the others n = 1000 -> hi = 100
    ring(1, 10).select(sim, valid)
    assert calls == [100]
    calls.clear()
    ring(0, 100).select(sim, valid)  # the whole valid set: no ranking at all
    assert calls == []


def test_keep_is_subset_of_valid_and_dtype_bool():
    sim = torch.randn(3, 50)
    valid = torch.rand(3, 50) > 0.5
    keep = ring(2, 30).select(sim, valid)
    assert keep.dtype == torch.bool and keep.shape == (3, 50)
    assert not (keep & ~valid).any()
    assert (keep.sum(1) >= 1).all()


def test_empty_pool():
    assert ring(1, 10).select(torch.zeros(3, 0)).shape == (3, 0)


def test_resume_mid_annealing_lands_on_same_band():
    first = RingSelector(l=1, u=10, anneal_epochs=100, steps_per_epoch=10)
    first.set_step(437)
    state = first.state_dict()
    assert int(state["step"]) == 437
    resumed = RingSelector(l=1, u=10, anneal_epochs=100, steps_per_epoch=10)
    assert resumed.band() == (1.0, 100.0)
    resumed.load_state_dict(state)
    assert resumed.band() == first.band() == (1.0, pytest.approx(100 - 90 * 0.437))
    sim = torch.rand(4, 300)
    assert torch.equal(resumed.select(sim), first.select(sim))
    assert resumed.select(sim).sum(1).tolist() == [int(math.ceil(300 * resumed.band()[1] / 100)) - 3] * 4


@pytest.mark.parametrize(
    ("params", "message"),
    [({"u": 0}, "u must"), ({"u": 101}, "u must"), ({"l": -1}, "l must"), ({"l": 10, "u": 10}, "l must be < u"),
     ({"u_start": 5}, "u_start must"), ({"anneal_epochs": -1}, "anneal_epochs must"), ({"step_size": 0}, "step_size must"),
     ({"decay": 0}, "decay must")],
)
def test_invalid_params_raise_value_error_naming_the_param(params, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        RingSelector(**params)


def test_registered_as_ring_with_context():
    registry = make_registry(autoload=False, warn=False)
    selector = registry.build("selector", "ring", {"u": 20, "anneal_epochs": 10}, steps_per_epoch=5, max_epochs=50)
    assert isinstance(selector, RingSelector)
    assert selector.anneal_steps == 50
    selector.set_step(25)
    assert selector.band() == (1.0, pytest.approx(60.0))
    with pytest.raises(ParamError):
        registry.build("selector", "ring", {"l": 20, "u": 10}, steps_per_epoch=5, max_epochs=50)


def test_warns_when_annealing_outlasts_training():
    with pytest.warns(ConfigWarning, match="will not anneal down to 10.0 before training ends; set it <= 10") as caught:
        RingSelector(anneal_epochs=100, max_epochs=10)
    assert caught[0].message.key == "anneal_epochs"
