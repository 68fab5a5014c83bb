from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ssl_speech.speech_dataset as speech_dataset
from ssl_speech.feature_cache import FeatureCache
from ssl_speech.fsdd import FSDD
from ssl_speech.librispeech import LibriSpeech
from ssl_speech.speech_views import LogMelViews

N_MELS = 4


def frames_of(path: Path) -> np.ndarray:
    """Item ``i`` (file ``i.txt``) has ``5 + i`` frames, all equal to ``i``."""
    i = int(Path(path).stem)
    return np.full((5 + i, N_MELS), float(i), dtype=np.float32)


@pytest.fixture
def files(tmp_path) -> list[Path]:
    out = []
    for i in range(6):
        path = tmp_path / "audio" / f"{i}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(str(i))
        out.append(path)
    return out


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, path):
        self.calls += 1
        return frames_of(path)


def open_cache(cache_dir, files, compute, key=None, **kw) -> FeatureCache:
    return FeatureCache.open(cache_dir, "toy", key or {"hop": 1}, files, compute, lambda f: f, n_mels=N_MELS, **kw)


def check_content(cache: FeatureCache, files: list[Path]) -> None:
    assert len(cache) == len(files)
    for i, path in enumerate(files):
        np.testing.assert_array_equal(cache.frames(i), frames_of(path))


def test_built_once_then_reused(tmp_path, files):
    compute = Counting()
    first = open_cache(tmp_path / "cache", files, compute)
    assert compute.calls == 6
    check_content(first, files)
    again = open_cache(tmp_path / "cache", files, compute)
    assert compute.calls == 6  # read back, nothing recomputed
    check_content(again, files)
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".f32", ".json", ".lock"]


def test_sidecar_holds_key_offsets_and_statistics(tmp_path, files):
    cache = open_cache(tmp_path / "cache", files, frames_of)
    meta = json.loads(cache.meta_path.read_text())
    assert meta["complete"] is True and meta["key"]["features"] == {"hop": 1}
    assert meta["key"]["ssl_core"] and meta["key"]["torchaudio"]
    values = np.concatenate([frames_of(f).ravel() for f in files])
    assert cache.mean == pytest.approx(values.mean()) and cache.std == pytest.approx(values.std())
    assert meta["offsets"][-1] * N_MELS * 4 == cache.data_path.stat().st_size
    assert cache.data_path.name.startswith("toy-") and cache.meta_path.stem == cache.data_path.stem


def test_rebuilt_when_a_parameter_or_a_file_changes(tmp_path, files):
    compute = Counting()
    first = open_cache(tmp_path / "cache", files, compute, key={"hop": 1})
    second = open_cache(tmp_path / "cache", files, compute, key={"hop": 2})
    assert compute.calls == 12 and second.data_path != first.data_path
    files[2].write_text("changed, and longer")
    third = open_cache(tmp_path / "cache", files, compute, key={"hop": 2})
    assert compute.calls == 18 and third.data_path != second.data_path
    open_cache(tmp_path / "cache", files[:-1], compute, key={"hop": 2})  # another file list
    assert compute.calls == 23


def test_a_truncated_or_unfinished_cache_is_rebuilt(tmp_path, files):
    compute = Counting()
    cache = open_cache(tmp_path / "cache", files, compute)
    with open(cache.data_path, "r+b") as fh:  # data cut short under a complete sidecar
        fh.truncate(40)
    check_content(open_cache(tmp_path / "cache", files, compute), files)
    assert compute.calls == 12
    meta = json.loads(cache.meta_path.read_text())
    cache.meta_path.write_text(json.dumps({**meta, "complete": False}))
    check_content(open_cache(tmp_path / "cache", files, compute), files)
    cache.meta_path.write_text('{"complete": tr')  # a torn sidecar
    check_content(open_cache(tmp_path / "cache", files, compute), files)
    assert compute.calls == 24


def test_leftover_temporary_files_are_ignored_and_removed(tmp_path, files):
    cache = open_cache(tmp_path / "cache", files, frames_of)
    stem = cache.data_path.stem
    cache.meta_path.unlink()
    (tmp_path / "cache" / f"{stem}.f32.tmp.99999").write_bytes(b"\x00" * 12)
    (tmp_path / "cache" / f"{stem}.json.tmp.99999").write_text("{")
    check_content(open_cache(tmp_path / "cache", files, frames_of), files)
    assert not list((tmp_path / "cache").glob("*.tmp.*"))


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from ssl_speech.feature_cache import FeatureCache

    def compute(path):
        i = int(Path(path).stem)
        if i == 3:
            print("writing", flush=True)
            time.sleep(120)
        return np.full((5 + i, 4), float(i), dtype=np.float32)

    FeatureCache.open(sys.argv[1], "toy", {"hop": 1}, sys.argv[2:], compute, lambda f: f, n_mels=4)
    """
)


def test_survives_a_writer_killed_mid_build(tmp_path, files):
    cache_dir = tmp_path / "cache"
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    writer = subprocess.Popen(
        [sys.executable, str(script), str(cache_dir), *map(str, files)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "writing"  # items 0-2 are in the temporary file
    finally:
        writer.kill()
        writer.wait(timeout=30)
    left = sorted(p.name for p in cache_dir.iterdir())
    assert any(".f32.tmp." in name for name in left)
    assert not any(name.endswith((".json", ".f32")) for name in left)
    compute = Counting()
    check_content(open_cache(cache_dir, files, compute), files)
    assert compute.calls == 6
    assert not list(cache_dir.glob("*.tmp.*"))


def test_unreadable_files_raise_or_are_skipped(tmp_path, files):
    def flaky(path):
        if Path(path).stem == "4":
            raise OSError(f"cannot read {path}")
        return frames_of(path)

    with pytest.raises(OSError, match="4.txt"):
        open_cache(tmp_path / "cache", files, flaky)
    assert not list((tmp_path / "cache").glob("*.f32*")) and not list((tmp_path / "cache").glob("*.json"))
    cache = open_cache(tmp_path / "cache", files, flaky, on_error="skip")
    assert cache.kept == [0, 1, 2, 3, 5]
    assert [s["path"] for s in cache.skipped] == [str(files[4])]
    np.testing.assert_array_equal(cache.frames(4), frames_of(files[5]))


def test_pickles_without_its_data(tmp_path, files):
    cache = open_cache(tmp_path / "cache", files, frames_of)
    cache.frames(0)  # opens the memory map
    clone = pickle.loads(pickle.dumps(cache))
    assert len(pickle.dumps(cache)) < 10_000
    check_content(clone, files)


def test_later_epochs_of_a_real_dataset_decode_nothing(shared_data, speech_cache, monkeypatch):
    root = str(shared_data / "librispeech-mini")
    LibriSpeech(root=root, cache_dir=str(speech_cache))  # built here, or by an earlier test

    def no_decoding(*args, **kwargs):
        raise AssertionError("a file was decoded")

    monkeypatch.setattr(speech_dataset, "load_audio", no_decoding)
    dataset = LibriSpeech(root=root, cache_dir=str(speech_cache))
    views = LogMelViews()
    for i in range(len(dataset)):
        x, _ = dataset[i]
        assert views.train(x).shape == (1, 64, 64)


def test_a_feature_parameter_change_rebuilds_a_real_dataset_cache(tmp_path, write_audio, monkeypatch):
    for name in ("3_alice_0.wav", "3_alice_7.wav", "5_bob_9.wav"):
        write_audio(tmp_path / "fsdd" / "recordings" / name, sample_rate=8000)
    decoded = []
    real_load = speech_dataset.load_audio
    monkeypatch.setattr(speech_dataset, "load_audio", lambda path, rate: decoded.append(path) or real_load(path, rate))
    kw = {"root": str(tmp_path / "fsdd"), "cache_dir": str(tmp_path / "cache")}
    FSDD(**kw)
    FSDD(**kw)
    assert len(decoded) == 2  # train files decoded once
    FSDD(size=32, **kw)
    assert len(decoded) == 4
    FSDD(size=32, **kw)
    FSDD(split="test", size=32, **kw)  # its own file (take 0) only; the train statistics are reused
    assert len(decoded) == 5
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3
    assert os.path.isdir(tmp_path / "cache")
