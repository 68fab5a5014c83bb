"""The memory bank: initial entries, momentum update, pool mask, draws, checkpoint state."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ssl_contrastive.memory_bank import MemoryBank


def test_initial_entries_are_unit_vectors_of_the_right_shape():
    bank = MemoryBank(k=5, dim=8, num_examples=20)
    assert len(bank) == 20 and bank.bank.shape == (20, 8)
    assert torch.allclose(bank.bank.norm(dim=1), torch.ones(20), atol=1e-5)


def test_momentum_zero_replaces_entries():
    bank = MemoryBank(momentum=0.0, dim=4, num_examples=6)
    before = bank.bank.clone()
    keys = F.normalize(torch.randn(2, 4), dim=1)
    bank.update(keys, torch.tensor([1, 4]))
    assert torch.allclose(bank.bank[[1, 4]], keys)
    untouched = [0, 2, 3, 5]
    assert torch.equal(bank.bank[untouched], before[untouched])


def test_momentum_update_formula():
    bank = MemoryBank(momentum=0.5, dim=4, num_examples=6)
    old = bank.bank[[0, 3]].clone()
    keys = F.normalize(torch.randn(2, 4), dim=1)
    bank.update(keys, torch.tensor([0, 3]))
    assert torch.allclose(bank.bank[[0, 3]], F.normalize(0.5 * old + 0.5 * keys, dim=1), atol=1e-6)


def test_pool_excludes_each_anchors_own_entry_and_positives():
    bank = MemoryBank(dim=4, num_examples=5)
    pool, valid = bank.pool(index=torch.tensor([2, 0]))
    assert torch.equal(pool, bank.bank)
    assert valid.tolist() == [[True, True, False, True, True], [False, True, True, True, True]]
    assert bank.pool()[1] is None
    assert torch.equal(bank.positives(torch.tensor([3, 1])), bank.bank[[3, 1]])


def test_draw_shape_and_range():
    bank = MemoryBank(k=7, dim=4, num_examples=5)
    drawn = bank.draw(3)
    assert drawn.shape == (3, 7) and drawn.min() >= 0 and drawn.max() < 5


def test_float16_bank_returns_float32():
    bank = MemoryBank(dim=4, num_examples=5, dtype="float16")
    assert bank.bank.dtype == torch.float16
    assert bank.pool()[0].dtype == torch.float32 and bank.positives(torch.tensor([0])).dtype == torch.float32
    bank.update(torch.randn(1, 4), torch.tensor([0]))
    assert bank.bank.dtype == torch.float16


def test_state_dict_round_trip():
    bank = MemoryBank(dim=4, num_examples=5)
    bank.update(torch.randn(2, 4), torch.tensor([0, 1]))
    other = MemoryBank(dim=4, num_examples=5)
    other.load_state_dict(bank.state_dict())
    assert torch.equal(other.bank, bank.bank)


@pytest.mark.parametrize(("params", "message"), [({"momentum": 1.0}, "momentum"), ({"momentum": -0.1}, "momentum"), ({"k": 0}, "k must")])
def test_invalid_params(params, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        MemoryBank(**params)
