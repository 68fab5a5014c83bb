"""Activation codes: sign of embed(), packed bits with a documented order, saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from faults import inject
from ssl_core.atomic_write import DiskFullError
from ssl_nac.activation_codes import code_bits, export_codes, load_codes, pack_codes, unpack_codes
from ssl_nac.nac import NAC


def test_bit_order_is_big_endian_first_unit_msb():
    bits = np.array([[1, 0, 0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]], dtype=bool)
    packed = pack_codes(bits)
    assert packed.tolist() == [[128, 192], [1, 0]]
    assert np.array_equal(unpack_codes(packed, 10), bits)


def test_zero_counts_as_minus_one():
    assert code_bits(torch.tensor([[0.0, 1e-9, -2.0]])).tolist() == [[False, True, False]]


def test_export_and_load_roundtrip(tmp_path, tiny_encoder):
    obj = NAC(encoder=tiny_encoder, out_dim=12)
    x = torch.randn(10, 4)
    labels = torch.arange(10) % 3
    loader = DataLoader(TensorDataset(x, labels), batch_size=4)
    obj.train()
    codes = export_codes(obj, loader, tmp_path / "codes" / "c.npz")
    assert obj.training  # mode restored
    loaded = load_codes(tmp_path / "codes" / "c.npz")
    with torch.no_grad():
        want = obj.embed(x) > 0
    assert loaded.num_bits == 12 and loaded.packed.shape == (10, 2)
    assert np.array_equal(loaded.bits(), want.numpy())
    assert np.array_equal(loaded.signs(), np.where(want.numpy(), 1, -1))
    assert loaded.indices.tolist() == list(range(10))
    assert loaded.labels.tolist() == labels.tolist()
    assert np.array_equal(codes.packed, loaded.packed)


def test_indices_from_the_loader_and_multi_hot_labels(tmp_path, tiny_encoder):
    obj = NAC(encoder=tiny_encoder, out_dim=8)
    x, y, idx = torch.randn(5, 4), torch.eye(5, 3, dtype=torch.long), torch.tensor([40, 41, 7, 8, 9])
    codes = export_codes(obj, DataLoader(TensorDataset(x, y, idx), batch_size=2), tmp_path / "m.npz")
    loaded = load_codes(tmp_path / "m.npz")
    assert loaded.indices.tolist() == [40, 41, 7, 8, 9]
    assert loaded.labels.shape == (5, 3)
    assert codes.num_bits == 8


def test_a_failed_write_keeps_the_previous_codes(tmp_path, tiny_encoder, monkeypatch):
    obj = NAC(encoder=tiny_encoder, out_dim=12)
    x = torch.randn(10, 4)
    loader = DataLoader(TensorDataset(x, torch.arange(10) % 3), batch_size=4)
    first = export_codes(obj, loader, tmp_path / "c.npz")
    before = (tmp_path / "c.npz").read_bytes()
    counts = inject("c.npz", "full", budget=50, monkeypatch=monkeypatch)
    with pytest.raises(DiskFullError, match="c.npz"):
        export_codes(obj, DataLoader(TensorDataset(-x, torch.arange(10) % 3), batch_size=4), tmp_path / "c.npz")
    assert counts["seen"] == 1
    assert (tmp_path / "c.npz").read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.npz"]
    assert np.array_equal(load_codes(tmp_path / "c.npz").packed, first.packed)
