"""Free Spoken Digit Dataset (FSDD, Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset).

Official layout: ``<root>/recordings/{digit}_{speaker}_{take}.wav``, mono
8 kHz (resampled to the pipeline's rate). Official split (the dataset's
README): takes 0-4 of every speaker and digit are the test set, takes 5-49
the training set. Tasks: ``digit`` (10 classes) or ``speaker`` (the speakers
found, sorted by name: 6 in v1.0.9).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

from ssl_speech.download import download_and_extract, move_contents
from ssl_speech.log_mel import REFERENCE_NUM_SAMPLES
from ssl_speech.speech_dataset import SpeechDataset, resolve_root

VERSION = "1.0.9"
URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v{VERSION}.tar.gz"
TEST_TAKES = range(0, 5)


class Recording(NamedTuple):
    path: Path
    digit: int
    speaker: str
    take: int


def parse_recordings(folder: Path) -> list[Recording]:
    """The ``{digit}_{speaker}_{take}.wav`` files of ``folder``, sorted by name (other files are ignored)."""
    out = []
    for path in sorted(folder.glob("*.wav")):
        parts = path.stem.split("_")
        if len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit():
            out.append(Recording(path, int(parts[0]), parts[1], int(parts[2])))
    return out


def split_recordings(recordings: list[Recording], split: str, task: str) -> tuple[list[Path], list[int]]:
    """Files and labels of ``split`` (takes 0-4: test) for ``task``; speakers are indexed in name order."""
    index = {s: i for i, s in enumerate(sorted({r.speaker for r in recordings}))}
    chosen = [r for r in recordings if (r.take in TEST_TAKES) == (split == "test")]
    return [r.path for r in chosen], [r.digit if task == "digit" else index[r.speaker] for r in chosen]


class FSDD(SpeechDataset):
    """Free Spoken Digit Dataset: digit or speaker classification, takes 0-4 held out for test.

    Args:
        split: ``"train"`` (takes 5-49) or ``"test"`` (takes 0-4) (context).
        task: ``"digit"`` or ``"speaker"``.
        root: folder holding ``recordings/``; default ``$SSL_CORE_DATA/fsdd``
            or ``~/data/fsdd``.
        download: fetch release v1.0.9 from GitHub when absent.
        sample_rate, num_samples, size, cache_dir, on_error: as for
            :class:`~ssl_speech.librispeech.LibriSpeech`.
    """

    default_folder = "fsdd"

    def __init__(
        self,
        split: str = "train",
        task: Literal["digit", "speaker"] = "digit",
        root: str | None = None,
        download: bool = False,
        sample_rate: int = 16000,
        num_samples: int = REFERENCE_NUM_SAMPLES,
        size: int = 64,
        cache_dir: str | None = None,
        on_error: Literal["raise", "skip"] = "raise",
    ):
        self.configure(split, sample_rate, num_samples, size, cache_dir, on_error)
        if task not in ("digit", "speaker"):
            raise ValueError(f"task must be 'digit' or 'speaker', got {task!r}")
        self.root = resolve_root(root, self.default_folder)
        self.task = task
        folder = self.root / "recordings"
        if not folder.is_dir() and download:
            download_and_extract(URL, self.root)
            move_contents(self.root / f"free-spoken-digit-dataset-{VERSION}" / "recordings", folder)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"FSDD not found: looked for {folder}. Pass download=True to fetch {URL} (about 10 MB), "
                f"or put the repository's recordings/ folder under root={self.root}."
            )
        self.recordings = parse_recordings(folder)
        self.speakers = sorted({r.speaker for r in self.recordings})
        self.num_classes = 10 if task == "digit" else len(self.speakers)
        self.load()

    def list_split(self, split: str) -> tuple[list[Path], list[int]]:
        return split_recordings(self.recordings, split, self.task)

    def cache_name(self, split: str) -> str:
        return f"fsdd-{split}"
