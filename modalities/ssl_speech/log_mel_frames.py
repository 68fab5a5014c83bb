"""The item a speech dataset yields: the dB log-mel frames of a whole utterance.

Why whole utterances. A training view is a *random* crop, so the dataset
cannot store the crop's spectrogram; it stores the frames of the whole
utterance (zero-padded to at least ``num_samples``) and a view crops ``size``
consecutive frames. That equals the spectrogram of the waveform crop that
starts at sample ``offset * hop`` (see :mod:`ssl_speech.feature_cache` for the
exactness argument), keeps the cache small (64 floats per 2,360 samples
instead of 2,360 samples) and makes every epoch after the first decode-free.

The ``top_db`` floor depends on the crop's maximum, so the frames are stored
without it and :meth:`LogMelFrames.clamp` applies it per crop; masking "before
the log" (zero power) slots in between the crop and the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ssl_speech.crop import CropMode, crop_offset


@dataclass(frozen=True, eq=False)
class LogMelFrames:
    """Log-mel frames of one utterance and what a view needs to make a crop of it.

    Attributes:
        db: ``[n_mels, T]`` float32, ``10 * log10(max(mel power, amin))``,
            ``T >= size``; not floored, not normalised.
        size: frames per crop.
        top_db: floor below each crop's maximum, or ``None``.
        mean: mean of the training split's features (z-score).
        std: their standard deviation.
        floor_db: the dB value of zero power, ``10 * log10(amin)``.
    """

    db: torch.Tensor
    size: int
    top_db: float | None
    mean: float
    std: float
    floor_db: float = -100.0

    def crop(self, mode: CropMode = "center") -> torch.Tensor:
        """``size`` consecutive frames ``[n_mels, size]`` in dB (random offset from torch's RNG)."""
        start = crop_offset(self.db.shape[-1], self.size, mode)
        return self.db[:, start : start + self.size]

    def clamp(self, db: torch.Tensor) -> torch.Tensor:
        """Floor a crop at ``top_db`` below its maximum (``librosa.power_to_db(..., top_db)``)."""
        if self.top_db is None:
            return db
        return db.clamp(min=float(db.max()) - self.top_db)

    def normalize(self, db: torch.Tensor) -> torch.Tensor:
        """z-score with the training split's statistics (a new tensor)."""
        return torch.sub(db, self.mean).div_(self.std)
