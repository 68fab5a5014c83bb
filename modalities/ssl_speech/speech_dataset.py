"""The common part of every speech dataset: files and labels in, cached log-mel frames out.

A dataset lists its split's ``(audio file, label)`` pairs in the corpus's own
layout and split; this base class decodes each file once into a
:class:`~ssl_speech.feature_cache.FeatureCache` and yields ``(LogMelFrames,
label)``. Views (``log_mel``) crop, mask and z-score the frames. The z-score
statistics are those of the *training* split (evaluation crops, after the
``top_db`` floor), so the test split builds or reuses the training split's
cache too.

Roots. ``root=None`` means ``$SSL_CORE_DATA/<folder>``, or ``~/data/<folder>``
when ``SSL_CORE_DATA`` is unset; ``<folder>`` is the dataset's
``default_folder``.

Unreadable files. ``on_error="raise"`` (the default) stops at the first file
that cannot be decoded, naming it; ``"skip"`` leaves it out and warns with the
count and the paths. Every file is decoded while the cache is built, when the
dataset is constructed, so a corrupt file never surfaces later inside a
DataLoader worker.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from ssl_speech.audio_io import AudioReadError, load_audio
from ssl_speech.crop import crop_or_pad
from ssl_speech.feature_cache import FeatureCache, OnError, default_cache_dir
from ssl_speech.log_mel import LogMel
from ssl_speech.log_mel_frames import LogMelFrames

SPLITS = ("train", "test")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads inside the block.

    The cache build transforms one utterance at a time; intra-op threads only
    add overhead on such small tensors (up to 10x on a busy 2-core machine),
    and DataLoader workers run single-threaded too.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_root(root: str | None, folder: str) -> Path:
    """``root``, or ``$SSL_CORE_DATA/<folder>``, or ``~/data/<folder>``."""
    if root is not None:
        return Path(root).expanduser()
    base = os.environ.get("SSL_CORE_DATA")
    return (Path(base) if base else Path("~/data")).expanduser() / folder


class SpeechDataset(Dataset):
    """Base of the speech datasets; subclasses implement :meth:`list_split`.

    Subclass ``__init__``: call :meth:`configure` first, set ``self.root``
    and its own attributes, then call :meth:`load`. Attributes after that:
    ``split``, ``files`` (kept files, in item order), ``labels``,
    ``num_classes``, ``features`` (the :class:`~ssl_speech.log_mel.LogMel`),
    ``mean``/``std`` (training statistics) and ``cache``.
    """

    default_folder: ClassVar[str] = ""
    num_classes: int

    def list_split(self, split: str) -> tuple[list[Path], list[int]]:
        """The split's audio files and integer labels, in a fixed order.

        Raises:
            FileNotFoundError: the corpus (or a split file) is absent, naming
                where it looked and how to get it.
        """
        raise NotImplementedError

    def cache_name(self, split: str) -> str:
        """Readable prefix of the cache files (the key's hash tells configurations apart)."""
        return f"{self.default_folder}-{split}"

    def configure(
        self,
        split: str,
        sample_rate: int,
        num_samples: int,
        size: int,
        cache_dir: str | None,
        on_error: OnError,
    ) -> None:
        """Validate the common parameters (first thing in ``__init__``, before any file is looked at)."""
        if split not in SPLITS:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.split = split
        self.on_error = on_error
        self.features = LogMel(sample_rate=sample_rate, num_samples=num_samples, size=size)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()

    def load(self) -> None:
        """List the split, build or reuse its cache, and take the training statistics (last in ``__init__``)."""
        files, labels = self._listed(self.split)
        self.cache = self._open_cache(self.split, files)
        self.files = [files[i] for i in self.cache.kept]
        self.labels = [int(labels[i]) for i in self.cache.kept]
        stats = self.cache if self.split == "train" else self._open_cache("train", self._listed("train")[0])
        self.mean, self.std = stats.mean, stats.std

    def _listed(self, split: str) -> tuple[list[Path], list[int]]:
        files, labels = self.list_split(split)
        if not files:
            raise FileNotFoundError(f"{type(self).__name__}: no audio files in the '{split}' split under {self.root}")
        return files, labels

    def _open_cache(self, split: str, files: list[Path]) -> FeatureCache:
        with torch_threads(1):
            cache = FeatureCache.open(
                self.cache_dir,
                self.cache_name(split),
                self.features.config(),
                files,
                compute=self.compute_frames,
                summarize=self._eval_values,
                n_mels=self.features.size,
                on_error=self.on_error,
                skippable=(AudioReadError,),
            )
        if cache.skipped:
            paths = [s["path"] for s in cache.skipped]
            if self.on_error == "raise":
                first = cache.skipped[0]
                raise AudioReadError(first["path"], f"{first['error']} ({len(paths)} unreadable file(s) in all: {paths})")
            warnings.warn(
                f"{type(self).__name__} ({split}): skipped {len(paths)} unreadable audio file(s): {paths}",
                stacklevel=4,
            )
        return cache

    def compute_frames(self, path: Path) -> np.ndarray:
        """Decode ``path`` and return its ``[T, n_mels]`` dB frames (zero-padded to ``num_samples``)."""
        wave = load_audio(path, self.features.sample_rate)
        if wave.shape[-1] < self.features.num_samples:
            wave = crop_or_pad(wave, self.features.num_samples)
        with torch.no_grad():
            db = self.features.power_db(wave)
        return db.T.contiguous().numpy()

    def _eval_values(self, frames: np.ndarray) -> np.ndarray:
        """The evaluation crop of ``frames`` after the ``top_db`` floor: what the statistics describe."""
        item = LogMelFrames(torch.from_numpy(frames.T), self.features.size, self.features.top_db, 0.0, 1.0)
        return item.clamp(item.crop("center")).numpy()

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, index: int) -> tuple[LogMelFrames, int]:
        db = torch.from_numpy(self.cache.frames(index)).T.contiguous()
        item = LogMelFrames(
            db=db,
            size=self.features.size,
            top_db=self.features.top_db,
            mean=self.mean,
            std=self.std,
            floor_db=self.features.floor_db,
        )
        return item, self.labels[index]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={self.split!r}, items={len(self)}, classes={self.num_classes}, root={str(self.root)!r})"
