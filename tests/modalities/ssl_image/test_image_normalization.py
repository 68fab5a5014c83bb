"""Per-dataset mean and std from a training split, the cache, and the views' stats_from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from ssl_image.image_views import ImageViews
from ssl_image.normalization import cached_mean_std, mean_std

TO_TENSOR = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def _flat(value: tuple[int, int, int], size: int = 4) -> Image.Image:
    return Image.new("RGB", (size, size), value)


def test_mean_std_of_known_pixels():
    data = [(_flat((0, 51, 255)), 0), (_flat((255, 51, 255)), 1)]
    mean, std = mean_std(data, TO_TENSOR)
    np.testing.assert_allclose(mean, [0.5, 0.2, 1.0], atol=1e-6)
    np.testing.assert_allclose(std, [0.5, 0.0, 0.0], atol=1e-6)


def test_mean_std_samples_at_most_max_items():
    data = [(_flat((10 * i, 0, 0)), 0) for i in range(20)]
    full, _ = mean_std(data, TO_TENSOR, max_items=None)
    some, _ = mean_std(data, TO_TENSOR, max_items=5, seed=1)
    assert full[0] == pytest.approx(95 / 255)
    assert some[0] != pytest.approx(full[0]) and some == mean_std(data, TO_TENSOR, max_items=5, seed=1)[0]


def test_cache_computes_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CORE_CACHE_DIR", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return (0.1, 0.2, 0.3), (1.0, 1.0, 1.0)

    assert cached_mean_std({"dataset": "x"}, compute) == ((0.1, 0.2, 0.3), (1.0, 1.0, 1.0))
    assert cached_mean_std({"dataset": "x"}, compute) == ((0.1, 0.2, 0.3), (1.0, 1.0, 1.0))
    cached_mean_std({"dataset": "y"}, compute)
    assert len(calls) == 2 and len(json.loads((tmp_path / "normalization.json").read_text())) == 2


def _tree(root: Path) -> None:
    for split in ("train", "test"):
        for c, value in (("a", (0, 0, 0)), ("b", (255, 255, 255))):
            (root / split / c).mkdir(parents=True)
            _flat(value, 8).save(root / split / c / "0.png")


def test_views_normalise_with_the_training_split_statistics(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CORE_CACHE_DIR", str(tmp_path / "cache"))
    from ssl_core.registry import registry

    if "image_folder" not in registry().names("dataset"):
        pytest.skip("image_folder not registered")
    _tree(tmp_path / "tree")
    views = ImageViews(size=8, stats_from="image_folder", stats_params={"root": str(tmp_path / "tree")})
    np.testing.assert_allclose(views.mean, [0.5] * 3, atol=1e-6)
    np.testing.assert_allclose(views.std, [0.5] * 3, atol=1e-6)
    torch.testing.assert_close(views.eval(_flat((255, 255, 255), 8))[:, 0, 0], torch.ones(3))
    assert (tmp_path / "cache" / "normalization.json").is_file()


def test_views_stats_from_an_absent_dataset_is_file_not_found(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CORE_CACHE_DIR", str(tmp_path / "cache"))
    from ssl_core.registry import registry

    if "mnist" not in registry().names("dataset"):
        pytest.skip("mnist not registered")
    with pytest.raises(FileNotFoundError, match="MNIST"):
        ImageViews(stats_from="mnist", stats_params={"root": str(tmp_path)})
