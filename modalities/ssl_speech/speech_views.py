"""Views of an utterance: z-scored ``1 x size x size`` log-mel crops (views name ``log_mel``).

The speech protocol of the CNCE paper (Table 6a, after Tamkin et al. 2020):
a training view is a random crop of the utterance's log-mel frames with time
and frequency masking (optionally Gaussian noise); an evaluation view is the
centre crop, unaugmented. Both are z-scored with the training split's
statistics. Transfer training uses ``train`` views (masking on the training
side only); transfer testing uses ``eval`` views.

Inputs are the items of the ssl_speech datasets (:class:`LogMelFrames`); their
frames, crop size, ``top_db`` floor and statistics come from the dataset, so
these views only hold the augmentation parameters.

Masking "before the log" (the default, as the reference code, which masks the
power spectrogram through nlpaug) sets masked cells to zero power, i.e. to
``10 * log10(amin)`` dB before the ``top_db`` floor lifts them to the floor,
like silence; "after the log" sets the masked cells of the z-scored crop to 0,
the training mean (SpecAugment's convention on normalised features).
"""

from __future__ import annotations

import torch

from ssl_speech.log_mel_frames import LogMelFrames
from ssl_speech.masking import freq_mask, gaussian_noise, time_mask


class LogMelViews:
    """Random masked crops for training, centre crops for evaluation, z-scored, ``[1, size, size]``.

    Args:
        n_views: views per example in pretraining.
        freq_mask_width: largest width of a frequency mask, in mel bins
            (widths uniform in ``[0, max]``; the reference's nlpaug masks drew
            widths up to 39).
        time_mask_width: largest width of a time mask, in frames.
        num_masks: masks of each kind per view.
        mask_before_log: zero the power (``True``, the reference) or the
            z-scored value (``False``) of masked cells.
        noise_std: Gaussian noise added to training views, in units of the
            data's standard deviation (0: off; the reference used 0.25).
        random_crop: random crop offsets for training views (``False``: centre).
    """

    def __init__(
        self,
        n_views: int = 2,
        freq_mask_width: int = 40,
        time_mask_width: int = 40,
        num_masks: int = 1,
        mask_before_log: bool = True,
        noise_std: float = 0.0,
        random_crop: bool = True,
    ):
        if n_views < 1:
            raise ValueError(f"n_views must be >= 1, got {n_views}")
        if freq_mask_width < 0:
            raise ValueError(f"freq_mask_width must be >= 0, got {freq_mask_width}")
        if time_mask_width < 0:
            raise ValueError(f"time_mask_width must be >= 0, got {time_mask_width}")
        if num_masks < 0:
            raise ValueError(f"num_masks must be >= 0, got {num_masks}")
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.n_views = n_views
        self.freq_mask_width = freq_mask_width
        self.time_mask_width = time_mask_width
        self.num_masks = num_masks
        self.mask_before_log = mask_before_log
        self.noise_std = noise_std
        self.random_crop = random_crop

    @staticmethod
    def _check(x) -> LogMelFrames:
        if not isinstance(x, LogMelFrames):
            raise TypeError(
                f"log_mel views take the items of the ssl_speech datasets (LogMelFrames), got {type(x).__name__}; "
                "use an ssl_speech dataset (librispeech, fsdd, speech_commands ...) with these views"
            )
        return x

    def _mask(self, spec: torch.Tensor, value: float) -> torch.Tensor:
        """Frequency then time masks, in place (``spec`` is always a fresh tensor here)."""
        freq_mask(spec, self.freq_mask_width, self.num_masks, value, inplace=True)
        return time_mask(spec, self.time_mask_width, self.num_masks, value, inplace=True)

    def train(self, x: LogMelFrames) -> torch.Tensor:
        """One random view: crop, masks, ``top_db`` floor, z-score, noise."""
        x = self._check(x)
        db = x.crop("random" if self.random_crop else "center")
        if self.mask_before_log:
            db = self._mask(db.clone(), x.floor_db)
        z = x.normalize(x.clamp(db))
        if not self.mask_before_log:
            z = self._mask(z, 0.0)
        z = gaussian_noise(z, self.noise_std)
        return z.unsqueeze(0).float()

    def eval(self, x: LogMelFrames) -> torch.Tensor:
        """The deterministic view: centre crop, ``top_db`` floor, z-score."""
        x = self._check(x)
        return x.normalize(x.clamp(x.crop("center"))).unsqueeze(0).float()

    def __repr__(self) -> str:
        return (
            f"LogMelViews(n_views={self.n_views}, freq_mask_width={self.freq_mask_width}, "
            f"time_mask_width={self.time_mask_width}, num_masks={self.num_masks}, "
            f"mask_before_log={self.mask_before_log}, noise_std={self.noise_std}, random_crop={self.random_crop})"
        )
