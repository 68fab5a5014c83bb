"""AudioMNIST (Becker et al. 2018, arXiv:1807.03418): spoken digits of 60 speakers.

Official layout (github.com/soerenab/AudioMNIST)::

    <root>/data/<speaker NN>/<digit>_<speaker NN>_<take>.wav    (48 kHz, resampled)

Split: the dataset's own speaker splits for the digit task
(``audiomnist/train/splits.py``): the 60 speakers form five groups of 12;
fold ``k`` trains on groups ``k, k+1, k+2``, validates on ``k+3`` and tests on
``k+4`` (mod 5). As in Tamkin et al. (2020), which the CNCE transfer table
follows, fold 0 is used and the validation speakers join the training split:
48 training speakers, 12 test speakers (26, 52, 60, 18, 32, 42, 5, 13, 22,
33, 45, 51), 10 digit classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ssl_speech.download import download_and_extract, move_contents
from ssl_speech.log_mel import REFERENCE_NUM_SAMPLES
from ssl_speech.speech_dataset import SpeechDataset, resolve_root

URL = "https://github.com/soerenab/AudioMNIST/archive/refs/heads/master.zip"

SPEAKER_GROUPS: tuple[tuple[int, ...], ...] = (
    (28, 56, 7, 19, 35, 1, 6, 16, 23, 34, 46, 53),
    (36, 57, 9, 24, 37, 2, 8, 17, 29, 39, 48, 54),
    (43, 58, 14, 25, 38, 3, 10, 20, 30, 40, 49, 55),
    (12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50),
    (26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51),
)
"""AudioMNIST's five groups of 12 speakers, in the order its digit folds rotate them."""


def fold_speakers(fold: int) -> dict[str, set[int]]:
    """Training (train + validation) and test speakers of digit fold ``fold`` (0-4)."""
    groups = [set(SPEAKER_GROUPS[(fold + i) % 5]) for i in range(5)]
    return {"train": groups[0] | groups[1] | groups[2] | groups[3], "test": groups[4]}


class AudioMNIST(SpeechDataset):
    """AudioMNIST digit classification with the dataset's speaker split (fold 0, as Tamkin et al.).

    Args:
        split: ``"train"`` (48 speakers) or ``"test"`` (12 speakers) (context).
        fold: which of AudioMNIST's five digit folds (0 in the reference).
        root: folder holding ``data/<NN>/``; default
            ``$SSL_CORE_DATA/audiomnist`` or ``~/data/audiomnist``.
        download: fetch the GitHub repository archive (about 1 GB) when absent.
        sample_rate, num_samples, size, cache_dir, on_error: as for
            :class:`~ssl_speech.librispeech.LibriSpeech`.
    """

    default_folder = "audiomnist"

    def __init__(
        self,
        split: str = "train",
        fold: int = 0,
        root: str | None = None,
        download: bool = False,
        sample_rate: int = 16000,
        num_samples: int = REFERENCE_NUM_SAMPLES,
        size: int = 64,
        cache_dir: str | None = None,
        on_error: Literal["raise", "skip"] = "raise",
    ):
        self.configure(split, sample_rate, num_samples, size, cache_dir, on_error)
        if not 0 <= fold <= 4:
            raise ValueError(f"fold must be in 0..4, got {fold}")
        self.root = resolve_root(root, self.default_folder)
        self.fold = fold
        folder = self.root / "data"
        if not folder.is_dir() and download:
            download_and_extract(URL, self.root)
            move_contents(self.root / "AudioMNIST-master" / "data", folder)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"AudioMNIST not found: looked for {folder}. Pass download=True to fetch {URL} (about 1 GB), "
                f"or clone https://github.com/soerenab/AudioMNIST into root={self.root}."
            )
        self.folder = folder
        self.num_classes = 10
        self.load()

    def list_split(self, split: str) -> tuple[list[Path], list[int]]:
        speakers = fold_speakers(self.fold)[split]
        files, labels = [], []
        for speaker in sorted(speakers):
            for path in sorted((self.folder / f"{speaker:02d}").glob("*.wav")):
                digit = path.stem.split("_")[0]
                if digit.isdigit():
                    files.append(path)
                    labels.append(int(digit))
        return files, labels

    def cache_name(self, split: str) -> str:
        return f"audiomnist-fold{self.fold}-{split}"
