"""Log-mel spectrograms of a fixed-length waveform, as in Tamkin et al. (2020).

The CNCE speech experiments ("Conditional negative sampling for contrastive
learning of visual representations", "Generalization to other modalities",
Table 6a) follow Tamkin et al. (2020, "Viewmaker networks", arXiv:2010.07432):
each waveform is cropped or zero-padded to 150,526 samples at 16 kHz and
turned into a log-mel spectrogram with 64 mel bins and hop 2,360 (n_fft 2048,
Hann window, centred frames), giving a 64x64 matrix; power is converted to dB
with an 80 dB floor below the maximum.

Their code computes ``librosa.power_to_db(S ** 2)`` on a *power* spectrogram,
i.e. it squares the power again (40 log10 instead of 10 log10). That defect is
not reproduced: ``LogMel`` converts the power spectrogram to dB once.

Mel filters: librosa's defaults, which the reference code used, are the
Slaney mel scale with Slaney (area) normalisation; torchaudio's defaults are
HTK and no normalisation, so both are set explicitly here. Padding of centred
frames is ``reflect``, librosa's default when the reference was written
(librosa >= 0.10 pads with zeros by default).

Frame count and hop. A centred STFT of ``N`` samples with hop ``h`` has
``1 + N // h`` frames, so a ``size`` x ``size`` output needs
``N // h == size - 1``, i.e. ``N / size < h <= N / (size - 1)``.
:func:`derive_hop_length` returns the reference hops (672, 1,344, 2,360 and
4,800 for sizes 224, 112, 64 and 32) when ``N`` is the reference's 150,526;
they all lie in that interval. For any other ``N`` it returns the smallest
hop of the interval, ``N // size + 1`` (which reproduces the reference's 672
and 1,344 at 150,526 samples).
"""

from __future__ import annotations

import math

import torch
import torchaudio

REFERENCE_NUM_SAMPLES = 150_526
"""Crop length of Tamkin et al. (2020), in samples at 16 kHz (9.4 s)."""

REFERENCE_HOPS: dict[int, int] = {224: 672, 112: 1344, 64: 2360, 32: 4800}
"""Hop per output size in the reference code, for 150,526-sample crops."""


def derive_hop_length(num_samples: int, size: int) -> int:
    """The hop that gives exactly ``size`` centred frames over ``num_samples``.

    Args:
        num_samples: crop length in samples.
        size: the number of frames (and of mel bins) wanted.

    Returns:
        The reference hop for 150,526 samples and a reference size, else the
        smallest hop ``h`` with ``1 + num_samples // h == size``.

    Raises:
        ValueError: no hop gives ``size`` frames (``num_samples`` too small).
    """
    if size < 2:
        raise ValueError(f"size must be >= 2, got {size}")
    if num_samples == REFERENCE_NUM_SAMPLES and size in REFERENCE_HOPS:
        return REFERENCE_HOPS[size]
    hop = num_samples // size + 1
    if 1 + num_samples // hop != size:
        raise ValueError(
            f"num_samples {num_samples} is too short for {size} frames: "
            f"no hop length gives 1 + num_samples // hop == {size}"
        )
    return hop


class LogMel(torch.nn.Module):
    """Log-mel spectrogram in dB, ``size`` mel bins by ``size`` frames per crop.

    Args:
        sample_rate: sampling rate of the input waveforms, in Hz.
        num_samples: crop length the frame count is derived for (150,526).
        size: number of mel bins, and of frames of a ``num_samples`` crop.
        n_fft: FFT size (2048, librosa's default used by the reference).
        hop_length: hop in samples; ``None`` derives it (see
            :func:`derive_hop_length`).
        top_db: floor of the dB values below each spectrogram's maximum (80);
            ``None`` keeps every value.
        amin: power below which values are clamped before the log (1e-10),
            so zero power is ``10 * log10(amin)`` = -100 dB.
        pad_mode: padding of the centred frames at the signal's ends.

    Inputs are waveforms ``[..., L]``; :meth:`forward` returns ``[..., size,
    1 + L // hop]`` in dB, floored ``top_db`` below the maximum of *each*
    spectrogram (torchaudio's ``AmplitudeToDB`` takes one maximum over a whole
    3-D batch, so the floor is applied here per item).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        num_samples: int = REFERENCE_NUM_SAMPLES,
        size: int = 64,
        n_fft: int = 2048,
        hop_length: int | None = None,
        top_db: float | None = 80.0,
        amin: float = 1e-10,
        pad_mode: str = "reflect",
    ):
        super().__init__()
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        if size < 2:
            raise ValueError(f"size must be >= 2, got {size}")
        if n_fft < 2:
            raise ValueError(f"n_fft must be >= 2, got {n_fft}")
        if num_samples <= n_fft // 2:
            raise ValueError(f"num_samples must be > n_fft // 2 = {n_fft // 2}, got {num_samples}")
        if top_db is not None and top_db <= 0:
            raise ValueError(f"top_db must be > 0 or None, got {top_db}")
        if amin <= 0:
            raise ValueError(f"amin must be > 0, got {amin}")
        self.hop_length = derive_hop_length(num_samples, size) if hop_length is None else int(hop_length)
        if self.hop_length <= 0:
            raise ValueError(f"hop_length must be > 0, got {hop_length}")
        if 1 + num_samples // self.hop_length != size:
            raise ValueError(
                f"hop_length {self.hop_length} gives {1 + num_samples // self.hop_length} frames "
                f"over {num_samples} samples, not size {size}"
            )
        self.sample_rate = int(sample_rate)
        self.num_samples = int(num_samples)
        self.size = int(size)
        self.n_fft = int(n_fft)
        self.top_db = None if top_db is None else float(top_db)
        self.amin = float(amin)
        self.pad_mode = pad_mode
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.size,
            window_fn=torch.hann_window,
            power=2.0,
            center=True,
            pad_mode=pad_mode,
            mel_scale="slaney",
            norm="slaney",
        )
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)
        self.to_db.amin = self.amin

    @property
    def floor_db(self) -> float:
        """The dB value of zero power: ``10 * log10(amin)``."""
        return 10.0 * math.log10(self.amin)

    def num_frames(self, length: int) -> int:
        """Frames of a centred STFT over ``length`` samples."""
        return 1 + length // self.hop_length

    def power_db(self, wave: torch.Tensor) -> torch.Tensor:
        """``10 * log10(max(mel power, amin))``, without the ``top_db`` floor: ``[..., size, frames]``."""
        return self.to_db(self.mel(wave.float()))

    def clamp_top_db(self, db: torch.Tensor) -> torch.Tensor:
        """Floor each ``[size, frames]`` spectrogram of ``db`` at ``top_db`` below its own maximum."""
        if self.top_db is None:
            return db
        peak = db.amax(dim=(-2, -1), keepdim=True)
        return torch.maximum(db, peak - self.top_db)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Log-mel in dB of waveforms ``[..., L]`` (a ``num_samples`` crop gives ``size`` frames)."""
        return self.clamp_top_db(self.power_db(wave))

    def config(self) -> dict:
        """Everything the features depend on, for cache keys."""
        return {
            "sample_rate": self.sample_rate,
            "num_samples": self.num_samples,
            "n_mels": self.size,
            "frames": self.size,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "window": "hann",
            "center": True,
            "pad_mode": self.pad_mode,
            "power": 2.0,
            "mel_scale": "slaney",
            "norm": "slaney",
            "f_min": 0.0,
            "f_max": self.sample_rate / 2,
            "amin": self.amin,
            "top_db": self.top_db,
        }
