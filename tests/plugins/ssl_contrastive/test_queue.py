"""The FIFO key queue: fill, pointer, wrap-around, oversize batches, checkpoint state."""

from __future__ import annotations

import pytest
import torch

from ssl_contrastive.queue import KeyQueue


def rows(*values):
    return torch.tensor([[float(v)] * 2 for v in values])


def test_fills_then_wraps_around_overwriting_the_oldest():
    queue = KeyQueue(size=5, dim=2)
    assert queue.pool()[0].shape == (0, 2) and queue.pool()[1] is None
    queue.update(rows(1, 2, 3))
    assert int(queue.pointer) == 3 and int(queue.filled) == 3
    assert torch.equal(queue.pool()[0], rows(1, 2, 3))
    queue.update(rows(4, 5, 6))
    assert int(queue.pointer) == 1 and int(queue.filled) == 5
    assert torch.equal(queue.keys, rows(6, 2, 3, 4, 5))  # 6 overwrote the oldest, 1
    queue.update(rows(7, 8))
    assert int(queue.pointer) == 3
    assert torch.equal(queue.keys, rows(6, 7, 8, 4, 5))
    assert queue.pool()[0].shape == (5, 2)


def test_batch_larger_than_queue_keeps_the_newest_keys():
    queue = KeyQueue(size=3, dim=2)
    queue.update(rows(1, 2, 3, 4, 5))
    assert int(queue.filled) == 3 and int(queue.pointer) == 0
    assert torch.equal(queue.keys, rows(3, 4, 5))


def test_state_dict_restores_keys_pointer_and_fill():
    queue = KeyQueue(size=4, dim=2)
    queue.update(rows(1, 2, 3))
    resumed = KeyQueue(size=4, dim=2)
    resumed.load_state_dict(queue.state_dict())
    assert int(resumed.pointer) == 3 and int(resumed.filled) == 3
    resumed.update(rows(9, 9))
    assert torch.equal(resumed.keys, rows(9, 2, 3, 9))


def test_pool_is_detached():
    queue = KeyQueue(size=4, dim=2)
    queue.update(torch.randn(2, 2, requires_grad=True))
    assert not queue.pool()[0].requires_grad


def test_invalid_size():
    with pytest.raises(ValueError, match="^size must"):
        KeyQueue(size=0)
