"""Reading audio files: soundfile decoding, mono mixdown, resampling.

``torchaudio.load`` needs torchcodec, which ssl-core does not depend on, so
files are decoded with soundfile (libsndfile: wav, flac, ogg ...) and resampled
with ``torchaudio.functional.resample`` (windowed-sinc, Hann window) when the
file's rate differs from the pipeline's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional as AF

from ssl_core.errors import SslCoreError


class AudioReadError(SslCoreError, RuntimeError):
    """An audio file that could not be decoded; the message names the file."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        super().__init__(f"cannot read audio file {self.path}: {reason}")


def load_audio(path: str | os.PathLike, sample_rate: int) -> torch.Tensor:
    """Decode ``path`` to a mono float32 waveform at ``sample_rate``.

    Channels are averaged (mono mixdown); a file recorded at another rate is
    resampled with ``torchaudio.functional.resample``.

    Args:
        path: a wav, flac or any other format libsndfile reads.
        sample_rate: the rate, in Hz, the pipeline works at.

    Returns:
        A 1-D float32 tensor of samples in [-1, 1].

    Raises:
        AudioReadError: the file is missing, unreadable, corrupt, empty or
            holds NaN or infinite samples (the message names the path). A
            WAV file cut short is read up to where it ends (libsndfile).
    """
    path = Path(path)
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises LibsndfileError, RuntimeError or OSError
        raise AudioReadError(path, f"{type(exc).__name__}: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioReadError(path, "the file holds no samples")
    if not np.isfinite(data).all():  # float files can hold them; they would poison every feature and the loss
        raise AudioReadError(path, f"the file holds {int((~np.isfinite(data)).sum())} NaN or infinite samples")
    wave = torch.from_numpy(data).mean(dim=1)
    if file_rate != sample_rate:
        wave = AF.resample(wave, int(file_rate), int(sample_rate))
    return wave.contiguous()
