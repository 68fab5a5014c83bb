"""DecodedCache: each file decoded once, the same pixels as the loader, copies a caller cannot spoil."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ssl_image.decoded_cache import DecodedCache
from ssl_image.image_dataset import CorruptImageError
from ssl_image.image_folder import image_folder, load_rgb


def test_each_file_is_decoded_once_and_the_pixels_are_the_loaders(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "a.png"
    Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(path)
    calls = []

    def counting(p):
        calls.append(p)
        return load_rgb(p)

    cache = DecodedCache(counting)
    first, second = cache(str(path)), cache(str(path))
    assert calls == [str(path)] and len(cache) == 1
    assert np.array_equal(np.asarray(first), np.asarray(load_rgb(str(path)))) and first.mode == "RGB"
    first.paste((0, 0, 0), (0, 0, 5, 6))  # a caller changing its image leaves the cache alone
    assert np.array_equal(np.asarray(second), np.asarray(cache(str(path))))
    assert np.asarray(cache(str(path))).any()


def test_a_corrupt_file_is_named_on_its_first_read(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(CorruptImageError, match="bad.jpg"):
        DecodedCache(load_rgb)(str(bad))


def test_image_folder_items_are_the_same_with_the_cache(tmp_path):
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for label in ("cat", "dog"):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for k in range(3):
                Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{k}.png")
    plain = image_folder("train", root=str(tmp_path))
    cached = image_folder("train", root=str(tmp_path), cache_decoded=True)
    for _ in range(2):
        for i in range(len(plain)):
            (a, la), (b, lb) = plain[i], cached[i]
            assert la == lb and np.array_equal(np.asarray(a), np.asarray(b))
