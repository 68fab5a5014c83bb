"""LibriSpeech (Panayotov et al. 2015, ICASSP), the speech pretraining corpus.

Official layout (OpenSLR resource 12), for any subset::

    <root>/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac

Items are ordered as torchaudio's ``LIBRISPEECH`` orders them (sorted file
stems), labelled by the speaker's index among the subset's speakers (sorted
numerically). Transcripts are not read.

Splits: as in Tamkin et al.'s LibriSpeech-100h pretraining configs, the test
split is the same subset as the training one (their ``test_url`` is
``train-clean-100``) unless ``test_subset`` names another one (e.g.
``dev-clean``; its speakers differ from the training ones, so its labels do
not match the training labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ssl_speech.download import download_and_extract
from ssl_speech.log_mel import REFERENCE_NUM_SAMPLES
from ssl_speech.speech_dataset import SpeechDataset, resolve_root

URL = "https://www.openslr.org/resources/12/{subset}.tar.gz"
SHA256 = {  # the same archives torchaudio's LIBRISPEECH checks
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}


def librispeech_files(root: Path, subset: str, download: bool) -> tuple[list[Path], list[int]]:
    """The subset's flac files (sorted by stem) and their integer speaker ids.

    Raises:
        FileNotFoundError: ``<root>/LibriSpeech/<subset>`` is absent (after
            the download, when ``download`` is set and the subset is public).
    """
    folder = root / "LibriSpeech" / subset
    if not folder.is_dir() and download:
        if subset not in SHA256:
            raise FileNotFoundError(f"LibriSpeech subset '{subset}' is not one of the public ones {sorted(SHA256)}; cannot download it")
        download_and_extract(URL.format(subset=subset), root, sha256=SHA256[subset])
    if not folder.is_dir():
        raise FileNotFoundError(
            f"LibriSpeech subset '{subset}' not found: looked for {folder}. Pass download=True to fetch "
            f"{URL.format(subset=subset)} (train-clean-100: 6.3 GB) into root={root}, or unpack it there "
            f"yourself (https://www.openslr.org/12)."
        )
    files = sorted(folder.glob("*/*/*.flac"), key=lambda p: p.stem)
    speakers = [int(p.stem.split("-")[0]) for p in files]
    return files, speakers


class LibriSpeech(SpeechDataset):
    """LibriSpeech utterances labelled by speaker: the pretraining corpus of the speech experiments.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: folder holding ``LibriSpeech/<subset>``; default
            ``$SSL_CORE_DATA/librispeech`` or ``~/data/librispeech``.
        subset: the training split's subset folder (any name).
        test_subset: the test split's subset; ``None``: the same as ``subset``
            (the reference pretraining configs).
        download: fetch a missing public subset from OpenSLR.
        sample_rate: rate the audio is resampled to, Hz.
        num_samples: crop length in samples (150,526 at 16 kHz).
        size: mel bins and frames per crop (64, or 32, 112, 224).
        cache_dir: feature cache folder; default ``~/.cache/ssl-core``.
        on_error: ``"raise"`` or ``"skip"`` unreadable files.
    """

    default_folder = "librispeech"

    def __init__(
        self,
        split: str = "train",
        root: str | None = None,
        subset: str = "train-clean-100",
        test_subset: str | None = None,
        download: bool = False,
        sample_rate: int = 16000,
        num_samples: int = REFERENCE_NUM_SAMPLES,
        size: int = 64,
        cache_dir: str | None = None,
        on_error: Literal["raise", "skip"] = "raise",
    ):
        self.configure(split, sample_rate, num_samples, size, cache_dir, on_error)
        self.root = resolve_root(root, self.default_folder)
        self.subsets = {"train": subset, "test": test_subset or subset}
        self.download = download
        self._speakers: dict[str, list[int]] = {}
        self.load()
        self.speakers = self._speakers[split]
        self.num_classes = len(self.speakers)

    def list_split(self, split: str) -> tuple[list[Path], list[int]]:
        files, speakers = librispeech_files(self.root, self.subsets[split], self.download)
        self._speakers[split] = sorted(set(speakers))
        index = {s: i for i, s in enumerate(self._speakers[split])}
        return files, [index[s] for s in speakers]

    def cache_name(self, split: str) -> str:
        return f"librispeech-{self.subsets[split]}"
