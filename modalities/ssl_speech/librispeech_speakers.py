"""LibriSpeech speaker identification, the first transfer task of Table 6a.

Protocol of Tamkin et al. (2020, ``LibriSpeechTransfer``), which the CNCE
speech experiments reuse: the utterances of one subset (``dev-clean``, 40
speakers, 2,703 utterances) are split per speaker, 80% for training and 20%
for testing. Each speaker's utterances, in torchaudio's ``LIBRISPEECH`` order
(sorted file stems), are shuffled by one ``numpy.random.RandomState(seed)``
visited speaker by speaker in increasing id order, and the first
``int(train_fraction * n)`` go to training. With the defaults this reproduces
the reference split exactly. Labels are the speaker's index among the
subset's speakers, the same in both splits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from ssl_speech.librispeech import librispeech_files
from ssl_speech.log_mel import REFERENCE_NUM_SAMPLES
from ssl_speech.speech_dataset import SpeechDataset, resolve_root


def split_per_speaker(speakers: list[int], train_fraction: float, seed: int) -> dict[str, list[int]]:
    """Item indices of each split: per speaker, a seeded shuffle cut at ``int(train_fraction * n)``."""
    speakers = np.asarray(speakers)
    rs = np.random.RandomState(seed)
    out: dict[str, list[int]] = {"train": [], "test": []}
    for speaker in sorted(set(speakers.tolist())):
        indices = np.where(speakers == speaker)[0]
        rs.shuffle(indices)
        cut = int(train_fraction * len(indices))
        out["train"].extend(indices[:cut].tolist())
        out["test"].extend(indices[cut:].tolist())
    return out


class LibriSpeechSpeakers(SpeechDataset):
    """LibriSpeech speaker identification with a seeded 80/20 split of each speaker's utterances.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: folder holding ``LibriSpeech/<subset>``; default
            ``$SSL_CORE_DATA/librispeech`` or ``~/data/librispeech``.
        subset: the subset split into train and test (``dev-clean`` in the
            reference protocol).
        train_fraction: share of each speaker's utterances used for training.
        seed: seed of the per-speaker shuffles (42 in the reference).
        download: fetch a missing public subset from OpenSLR.
        sample_rate, num_samples, size, cache_dir, on_error: as for
            :class:`~ssl_speech.librispeech.LibriSpeech`.
    """

    default_folder = "librispeech"

    def __init__(
        self,
        split: str = "train",
        root: str | None = None,
        subset: str = "dev-clean",
        train_fraction: float = 0.8,
        seed: int = 42,
        download: bool = False,
        sample_rate: int = 16000,
        num_samples: int = REFERENCE_NUM_SAMPLES,
        size: int = 64,
        cache_dir: str | None = None,
        on_error: Literal["raise", "skip"] = "raise",
    ):
        self.configure(split, sample_rate, num_samples, size, cache_dir, on_error)
        if not 0.0 < train_fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
        self.root = resolve_root(root, self.default_folder)
        self.subset = subset
        self.train_fraction = float(train_fraction)
        self.seed = int(seed)
        self.download = download
        files, speakers = librispeech_files(self.root, subset, download)
        self.speakers = sorted(set(speakers))
        self.num_classes = len(self.speakers)
        index = {s: i for i, s in enumerate(self.speakers)}
        self._all = (files, [index[s] for s in speakers])
        self._indices = split_per_speaker(speakers, self.train_fraction, self.seed)
        self.load()

    def list_split(self, split: str) -> tuple[list[Path], list[int]]:
        files, labels = self._all
        chosen = sorted(self._indices[split])
        return [files[i] for i in chosen], [labels[i] for i in chosen]

    def cache_name(self, split: str) -> str:
        return f"librispeech-{self.subset}-speakers-{split}"
