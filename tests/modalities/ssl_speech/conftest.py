"""Fixtures of the speech tests: one feature cache per session, and a writer of small audio files."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory) -> Path:
    """A feature-cache folder shared by the session, so each shared corpus is decoded once."""
    return tmp_path_factory.mktemp("speech-cache")


def _write_audio(path: Path, seconds: float = 0.25, sample_rate: int = 16000, seed: int = 0, channels: int = 1) -> Path:
    """A short tone plus noise, written with soundfile in the format its suffix names (wav, flac)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * (200 + 50 * (seed % 7)) * t)
    data = np.stack([tone + 0.05 * rng.standard_normal(t.size) for _ in range(channels)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), data.astype(np.float32), sample_rate)
    return path


@pytest.fixture
def write_audio() -> Callable[..., Path]:
    """``write_audio(path, seconds=0.25, sample_rate=16000, seed=0, channels=1) -> path``."""
    return _write_audio
