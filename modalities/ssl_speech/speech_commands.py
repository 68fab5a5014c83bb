"""Google Speech Commands (Warden 2018, arXiv:1804.03209): one-second spoken words.

Official layout (the tensorflow.org archives, unpacked into a folder named
after the version)::

    <root>/speech_commands_v0.01/<word>/<speaker>_nohash_<n>.wav
    <root>/speech_commands_v0.01/validation_list.txt, testing_list.txt

Classes: all the words of the version, sorted (v0.01: 30, v0.02: 35);
``_background_noise_`` is not a class and is excluded. Split: the official
``testing_list.txt`` is the test split; the training split is every other
clip (so it includes ``validation_list.txt``, as in Tamkin et al. 2020, unless
``train_includes_validation`` is false). Only clips present on disk are used:
the lists name the full corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ssl_speech.download import download_and_extract
from ssl_speech.log_mel import REFERENCE_NUM_SAMPLES
from ssl_speech.speech_dataset import SpeechDataset, resolve_root

URL = "http://download.tensorflow.org/data/speech_commands_{version}.tar.gz"
SHA256 = {  # the same archives torchaudio's SPEECHCOMMANDS checks
    "v0.01": "743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d",
    "v0.02": "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
}
WORDS_V001: tuple[str, ...] = (
    "bed", "bird", "cat", "dog", "down", "eight", "five", "four", "go", "happy",
    "house", "left", "marvin", "nine", "no", "off", "on", "one", "right", "seven",
    "sheila", "six", "stop", "three", "tree", "two", "up", "wow", "yes", "zero",
)  # fmt: skip
WORDS: dict[str, tuple[str, ...]] = {
    "v0.01": WORDS_V001,
    "v0.02": tuple(sorted(WORDS_V001 + ("backward", "follow", "forward", "learn", "visual"))),
}


class SpeechCommands(SpeechDataset):
    """Google Speech Commands keyword classification with the official test list.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        version: ``"v0.01"`` (30 words, the reference) or ``"v0.02"`` (35 words).
        train_includes_validation: whether ``validation_list.txt`` clips are
            part of the training split.
        root: folder holding ``speech_commands_<version>/``; default
            ``$SSL_CORE_DATA/speech_commands`` or ``~/data/speech_commands``.
        download: fetch the version's archive from tensorflow.org when absent.
        sample_rate, num_samples, size, cache_dir, on_error: as for
            :class:`~ssl_speech.librispeech.LibriSpeech`.
    """

    default_folder = "speech_commands"

    def __init__(
        self,
        split: str = "train",
        version: Literal["v0.01", "v0.02"] = "v0.01",
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
        if version not in WORDS:
            raise ValueError(f"version must be 'v0.01' or 'v0.02', got {version!r}")
        self.root = resolve_root(root, self.default_folder)
        self.version = version
        self.train_includes_validation = train_includes_validation
        self.folder = self.root / f"speech_commands_{version}"
        url = URL.format(version=version)
        if not self.folder.is_dir() and download:
            download_and_extract(url, self.root, extract_to=self.folder, sha256=SHA256[version])
        if not self.folder.is_dir():
            raise FileNotFoundError(
                f"Speech Commands {version} not found: looked for {self.folder}. Pass download=True to fetch "
                f"{url} (v0.01: 1.4 GB), or unpack that archive into {self.folder}."
            )
        self.words = WORDS[version]
        self.num_classes = len(self.words)
        self._lists = {name: self._read_list(name) for name in ("testing_list.txt", "validation_list.txt")}
        self.load()

    def _read_list(self, name: str) -> set[str]:
        path = self.folder / name
        if not path.is_file():
            raise FileNotFoundError(f"Speech Commands split file not found: looked for {path} (it ships in the official archive)")
        return {line.strip() for line in path.read_text().splitlines() if line.strip()}

    def list_split(self, split: str) -> tuple[list[Path], list[int]]:
        test, validation = self._lists["testing_list.txt"], self._lists["validation_list.txt"]
        files, labels = [], []
        for label, word in enumerate(self.words):
            for path in sorted((self.folder / word).glob("*.wav")):
                relative = f"{word}/{path.name}"
                if split == "test":
                    keep = relative in test
                else:
                    keep = relative not in test and (self.train_includes_validation or relative not in validation)
                if keep:
                    files.append(path)
                    labels.append(label)
        return files, labels

    def cache_name(self, split: str) -> str:
        return f"speech_commands_{self.version}-{split}"
