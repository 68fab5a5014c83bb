"""Fluent Speech Commands (Lugosch et al. 2019, arXiv:1904.03670): spoken-language intents.

Official layout (the fluent.ai release, the same one torchaudio's
``FluentSpeechCommands`` reads)::

    <root>/fluent_speech_commands_dataset/data/{train,valid,test}_data.csv
    <root>/fluent_speech_commands_dataset/wavs/speakers/<speakerId>/<uuid>.wav

Each csv row has ``path`` (relative to ``fluent_speech_commands_dataset``),
``speakerId``, ``transcription``, ``action``, ``object`` and ``location``.
Tasks (Table 6a: "Fluent Actions / Objects / Locations"): classify the
action (6), the object (14) or the location (4). Split: ``test_data.csv`` is
the test split; the training split is ``train_data.csv`` plus
``valid_data.csv``, as in Tamkin et al. (2020), unless
``train_includes_validation`` is false.

The dataset is distributed after a request form (fluent.ai), not from a
public link, so ``download=True`` cannot fetch it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

from ssl_speech.log_mel import REFERENCE_NUM_SAMPLES
from ssl_speech.speech_dataset import SpeechDataset, resolve_root

INFO_URL = "https://fluent.ai/fluent-speech-commands-a-dataset-for-spoken-language-understanding-research/"

CLASSES: dict[str, tuple[str, ...]] = {
    "action": ("change language", "activate", "deactivate", "increase", "decrease", "bring"),
    "object": (
        "none", "music", "lights", "volume", "heat", "lamp", "newspaper",
        "juice", "socks", "shoes", "Chinese", "Korean", "English", "German",
    ),
    "location": ("none", "kitchen", "bedroom", "washroom"),
}  # fmt: skip
"""Class names per task, in the reference code's label order."""


class FluentSpeechCommands(SpeechDataset):
    """Fluent Speech Commands intent slots (action, object or location) with the official split.

    Args:
        split: ``"train"`` (train + valid csv) or ``"test"`` (test csv) (context).
        task: ``"action"``, ``"object"`` or ``"location"``.
        train_includes_validation: whether ``valid_data.csv`` joins training.
        root: folder holding ``fluent_speech_commands_dataset/``; default
            ``$SSL_CORE_DATA/fluent_speech_commands`` or
            ``~/data/fluent_speech_commands``.
        download: not possible (no public link); set, it explains where to
            request the data.
        sample_rate, num_samples, size, cache_dir, on_error: as for
            :class:`~ssl_speech.librispeech.LibriSpeech`.
    """

    default_folder = "fluent_speech_commands"

    def __init__(
        self,
        split: str = "train",
        task: Literal["action", "object", "location"] = "action",
        train_includes_validation: bool = True,
        root: str | None = None,
        download: bool = False,
        sample_rate: int = 16000,
        num_samples: int = REFERENCE_NUM_SAMPLES,
        size: int = 64,
        cache_dir: str | None = None,
        on_error: Literal["raise", "skip"] = "raise",
    ):
        self.configure(split, sample_rate, num_samples, size, cache_dir, on_error)
        if task not in CLASSES:
            raise ValueError(f"task must be 'action', 'object' or 'location', got {task!r}")
        self.root = resolve_root(root, self.default_folder)
        self.task = task
        self.train_includes_validation = train_includes_validation
        self.folder = self.root / "fluent_speech_commands_dataset"
        if not (self.folder / "data").is_dir():
            how = "it has no public download link, so download=True cannot fetch it; " if download else ""
            raise FileNotFoundError(
                f"Fluent Speech Commands not found: looked for {self.folder / 'data'}. {how}"
                f"Request the dataset at {INFO_URL} and unpack fluent_speech_commands_dataset/ under root={self.root}."
            )
        self.classes = CLASSES[task]
        self.num_classes = len(self.classes)
        self.load()

    def _read_csv(self, name: str) -> list[tuple[str, str]]:
        path = self.folder / "data" / f"{name}_data.csv"
        if not path.is_file():
            raise FileNotFoundError(f"Fluent Speech Commands split file not found: looked for {path}")
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"path", self.task} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path} lacks the column(s) {sorted(missing)}")
            return [(row["path"], row[self.task]) for row in reader]

    def list_split(self, split: str) -> tuple[list[Path], list[int]]:
        if split == "test":
            names = ["test"]
        else:
            names = ["train", "valid"] if self.train_includes_validation else ["train"]
        index = {c: i for i, c in enumerate(self.classes)}
        files, labels = [], []
        for name in names:
            for row, (relative, value) in enumerate(self._read_csv(name), start=2):
                if value not in index:
                    raise ValueError(
                        f"{self.folder / 'data' / f'{name}_data.csv'} line {row}: unknown {self.task} '{value}'; "
                        f"known: {list(self.classes)}"
                    )
                files.append(self.folder / relative)
                labels.append(index[value])
        return files, labels

    def cache_name(self, split: str) -> str:
        return f"fluent_speech_commands-{split}"
