"""Batched views: torchvision's parameters per image, its kernels per batch, the per-image views' pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

from ssl_core.seeded_rng import seeded
from ssl_image import batched_views
from ssl_image.image_views import CIFAR_STD, ImageViews

SIMCLR = dict(size=16, min_scale=0.2, jitter=(0.4, 0.4, 0.4, 0.4))


def images(n: int, seed: int = 0, sizes=((20, 24),)) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        # smooth images with some flat colour, so that grey, hue and contrast all matter
        base = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
        out.append(torch.from_numpy(np.kron(base, np.ones((4, 4, 1), dtype=np.uint8))[:h, :w]).permute(2, 0, 1))
    return out


def per_image(views: ImageViews, items: list[torch.Tensor], seeds: list[int]) -> list[torch.Tensor]:
    """The reference: ``views.train`` (torchvision's v2.Compose) on each uint8 image under its seed."""
    made = []
    for item, seed in zip(items, seeds):
        with seeded(seed):
            made.append([views.train(item) for _ in range(views.n_views)])
    return [torch.stack([m[v] for m in made]) for v in range(views.n_views)]


def levels(a: torch.Tensor, b: torch.Tensor, std=CIFAR_STD) -> torch.Tensor:
    """|a - b| of two normalised views in 8-bit intensity levels."""
    return (a - b).abs() * torch.tensor(std).view(3, 1, 1) * 255


@pytest.mark.parametrize("kind", ["brightness", "contrast", "saturation", "hue"])
def test_each_adjustment_equals_torchvision_per_image(kind):
    torch.manual_seed(0)
    x = torch.randint(0, 256, (96, 3, 12, 12), dtype=torch.uint8)
    low, high = (-0.4, 0.4) if kind == "hue" else (0.5, 1.5)
    factors = torch.empty(96).uniform_(low, high).double()  # float32 draws, as ColorJitter's
    out = getattr(batched_views, f"adjust_{kind}")(x, factors)
    reference = getattr(F, f"adjust_{kind}")
    expected = torch.stack([reference(x[i], float(factors[i])) for i in range(96)])
    diff = (out.int() - expected.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() < 1e-3  # a product rounding the other way, rarely
    assert not torch.equal(out, x)


@pytest.mark.parametrize("params", [SIMCLR, dict(SIMCLR, blur_prob=0.5), dict(SIMCLR, color_space="lab"),
                                    dict(size=16, augment="crop_flip", n_views=3)])
def test_batch_equals_the_per_image_views(params):
    views = ImageViews(**params)
    items, seeds = images(24, sizes=((20, 24), (16, 16), (33, 17))), list(range(100, 124))
    batch = views.train_batch(items, seeds)
    expected = per_image(views, items, seeds)
    assert len(batch) == views.n_views
    std = views.std
    for got, want in zip(batch, expected):
        assert got.shape == want.shape == (24, 3, 16, 16)
        if params.get("color_space") == "lab":
            torch.testing.assert_close(got, want, atol=0.1, rtol=0)  # Lab of pixels at most a level apart
            continue
        diff = levels(got, want, std)
        assert diff.max() <= 2.01 and (diff > 0.01).float().mean() < 5e-3


def test_a_view_depends_on_its_seed_only():
    views = ImageViews(**SIMCLR)
    items, seeds = images(8), list(range(8))
    before = torch.get_rng_state()
    batch = views.train_batch(items, seeds)
    assert torch.equal(torch.get_rng_state(), before)  # the global generator is left as it was
    order = [5, 2, 7, 0, 1, 3, 6, 4]
    shuffled = views.train_batch([items[i] for i in order], [seeds[i] for i in order])
    for v in range(2):
        torch.testing.assert_close(shuffled[v], batch[v][order], atol=0, rtol=0)
    assert not torch.equal(batch[0], batch[1])  # two views of one image differ
    other = views.train_batch(items, [s + 50 for s in seeds])
    assert not torch.equal(other[0], batch[0])


def test_every_augmentation_is_applied_at_its_probability():
    items = images(64, seed=3)
    seeds = list(range(64))
    grey = ImageViews(size=16, jitter_prob=0.0, grayscale_prob=1.0).train_batch(items, seeds)[0]
    unit = grey * torch.tensor(CIFAR_STD).view(3, 1, 1) + torch.tensor((0.4914, 0.4822, 0.4465)).view(3, 1, 1)
    torch.testing.assert_close(unit[:, 0], unit[:, 1], atol=1e-5, rtol=0)  # every view grey
    whole = dict(size=20, min_scale=1.0, jitter_prob=0.0, grayscale_prob=0.0)
    square = images(4, sizes=((20, 20),))
    for flip_prob, flipped in ((1.0, True), (0.0, False)):
        views = ImageViews(flip_prob=flip_prob, **whole)
        got = views.train_batch(square, list(range(4)))[0]
        want = torch.stack([views.eval(F.horizontal_flip(x) if flipped else x) for x in square])
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    jitter = ImageViews(size=16, jitter_prob=1.0, grayscale_prob=0.0, jitter=(0.4, 0.4, 0.4, 0.1)).train_batch(
        items, seeds)[0]
    plain = ImageViews(size=16, jitter_prob=0.0, grayscale_prob=0.0).train_batch(items, seeds)[0]
    assert (jitter - plain).abs().amax(dim=(1, 2, 3)).min() > 0  # every view jittered (same crops: same draws first)


def test_pil_items_become_uint8_tensors_and_none_is_not_batched():
    views = ImageViews(size=16)
    pil = Image.fromarray(np.zeros((20, 24), dtype=np.uint8))  # grey
    item = views.train_item(pil)
    assert item.dtype == torch.uint8 and item.shape == (3, 20, 24)
    assert views.batched and not ImageViews(size=16, batched=False).batched
    plain = ImageViews(size=16, augment="none")
    assert not plain.batched
    with pytest.raises(RuntimeError, match="batched: true"):
        plain.train_batch([item], [0])
    with pytest.raises(ValueError, match="2 images but 1 seeds"):
        views.train_batch([item, item], [0])


def test_batched_views_differ_from_the_pil_path_by_rounding_only():
    views = ImageViews(**SIMCLR)
    items, seeds = images(32, seed=5, sizes=((16, 16),)), list(range(32))
    pil = [Image.fromarray(x.permute(1, 2, 0).numpy()) for x in items]
    batch = views.train_batch(items, seeds)
    via_pil = per_image(views, pil, seeds)
    for got, want in zip(batch, via_pil):
        diff = levels(got, want)
        assert diff.mean() < 2.0 and torch.quantile(diff.flatten(), 0.5) <= 1.01  # seeds one apart: ~70


def test_a_run_with_batched_views_resumed_mid_epoch_equals_the_uninterrupted_one(tmp_path):
    """Exact resume holds with the views made per batch: each image's views come from its own seed."""
    from pipeline_helpers import Crash, tiny_pipeline
    from ssl_core import make_registry
    from ssl_core.checkpoint_io import safe_torch_load
    from ssl_core.config import load_config
    from ssl_core.plots import read_metrics
    from ssl_core.run import train

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in ("a", "b"):
            folder = tmp_path / "tree" / split / label
            folder.mkdir(parents=True)
            for i in range(24):
                Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    registry = make_registry(autoload=False, warn=False)
    runs = {}
    for name in ("straight", "crashed"):
        path = tiny_pipeline(tmp_path, epochs=2, every=2, output=name)
        path.write_text(path.read_text()
                        .replace("data: {dataset: digits, params: {test_fraction: 0.2}}",
                                 f"data: {{dataset: image_folder, params: {{root: {tmp_path / 'tree'}, "
                                 "cache_decoded: true}}")
                        .replace("views: digits", "views: {name: image, params: {size: 8}}")
                        .replace("batch_size: 64", "batch_size: 16"))
        config = load_config(path, registry=registry)
        assert config.values["views"]["params"].get("batched", True)
        if name == "crashed":
            with pytest.raises(RuntimeError, match="simulated crash"):
                train(config, registry, callbacks=[Crash(5)])  # mid-epoch 1 (3 steps per epoch), checkpoint at 4
            runs[name] = train(config, registry, resume=True)
        else:
            runs[name] = train(config, registry)
    expected, got = safe_torch_load(runs["straight"] / "model.pt"), safe_torch_load(runs["crashed"] / "model.pt")
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    assert dict(read_metrics(runs["crashed"])["loss"]) == dict(read_metrics(runs["straight"])["loss"])
