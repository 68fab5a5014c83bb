"""The feature cache under faults: a skipped file replaced, a full disk, a builder killed, two builders at once."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from faults import build_toy_cache, inject, toy_frames
from ssl_core.atomic_write import DiskFullError
from ssl_speech.feature_cache import FeatureCache, files_fingerprint
from zygote import zygote  # noqa: F401  (a fixture)


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
        self.calls = []

    def __call__(self, path):
        self.calls.append(Path(path).name)
        return toy_frames(path)


def open_cache(cache_dir, files, compute, **kw) -> FeatureCache:
    return FeatureCache.open(cache_dir, "toy", {"hop": 1}, files, compute, lambda f: f, n_mels=4, **kw)


def check_content(cache: FeatureCache, files: list[Path]) -> None:
    assert len(cache) == len(files)
    for i, path in enumerate(files):
        np.testing.assert_array_equal(cache.frames(i), toy_frames(path))


def test_a_skipped_file_replaced_by_a_good_one_is_read_again(tmp_path, files):
    """Even when the good copy has the bad one's size and modification time (``cp -p``, ``rsync -t``)."""
    files[3].write_text("bad")  # fails to decode; its good copy below, "003", has the same 3 bytes
    stat = files[3].stat()
    compute = Counting()
    cache = open_cache(tmp_path / "cache", files, compute, on_error="skip")
    assert cache.kept == [0, 1, 2, 4, 5] and cache.skipped[0]["path"] == str(files[3])
    before = files_fingerprint(files)
    files[3].write_text("003")  # decodes to 3; same size as "bad"
    os.utime(files[3], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert files_fingerprint(files) == before  # the key alone cannot see the replacement
    compute.calls.clear()
    cache = open_cache(tmp_path / "cache", files, compute, on_error="skip")
    assert cache.kept == list(range(6)) and not cache.skipped
    assert "3.txt" in compute.calls
    check_content(cache, files)
    compute.calls.clear()
    check_content(open_cache(tmp_path / "cache", files, compute, on_error="skip"), files)
    assert compute.calls == []  # and then reused


def test_a_skipped_file_still_bad_keeps_the_cache(tmp_path, files):
    files[3].write_text("bad")
    compute = Counting()
    open_cache(tmp_path / "cache", files, compute, on_error="skip")
    compute.calls.clear()
    assert open_cache(tmp_path / "cache", files, compute, on_error="skip").kept == [0, 1, 2, 4, 5]
    assert compute.calls == []


def test_a_full_disk_stops_the_build_with_one_clear_error_and_leaves_nothing(tmp_path, files, monkeypatch):
    cache_dir = tmp_path / "cache"
    inject(".f32.tmp", "full", budget=100, monkeypatch=monkeypatch)
    with pytest.raises(DiskFullError) as err:
        open_cache(cache_dir, files, Counting())
    message = str(err.value)
    assert "no space left" in message and ".f32" in message and "nothing of the feature cache of toy was kept" in message
    assert sorted(p.suffix for p in cache_dir.iterdir()) == [".lock"]  # no data, no sidecar, no temporary file
    monkeypatch.undo()  # space freed
    check_content(open_cache(cache_dir, files, Counting()), files)


def test_a_full_disk_while_writing_the_sidecar_leaves_no_cache(tmp_path, files, monkeypatch):
    cache_dir = tmp_path / "cache"
    inject(".json.tmp", "full", budget=10, monkeypatch=monkeypatch)
    with pytest.raises(DiskFullError, match="json"):
        open_cache(cache_dir, files, Counting())
    assert not list(cache_dir.glob("*.json")) and not list(cache_dir.glob("*tmp*"))
    monkeypatch.undo()
    compute = Counting()
    check_content(open_cache(cache_dir, files, compute), files)
    assert len(compute.calls) == 6  # the data file without its sidecar was not trusted


@pytest.mark.skipif(sys.platform != "linux", reason="fork and SIGKILL")
def test_a_builder_killed_mid_write_leaves_nothing_used(tmp_path, files, zygote):
    cache_dir = tmp_path / "cache"
    pid = zygote.start("call", tmp_path / "killed.log", function="faults.build_toy_cache",
                       kwargs={"cache_dir": str(cache_dir), "files": list(map(str, files))},
                       inject={"pattern": ".f32.tmp", "action": "kill", "budget": 150})
    assert zygote.wait(pid) == -signal.SIGKILL
    assert list(cache_dir.glob("*.f32.tmp.*")) and not list(cache_dir.glob("*.json"))  # killed mid-write
    compute = Counting()
    check_content(open_cache(cache_dir, files, compute), files)
    assert len(compute.calls) == 6 and not list(cache_dir.glob("*tmp*"))


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_two_processes_building_the_same_cache_at_once_build_it_once(tmp_path, files, zygote):
    cache_dir, log = tmp_path / "cache", tmp_path / "builds.log"
    kwargs = {"cache_dir": str(cache_dir), "files": list(map(str, files)), "log": str(log), "delay": 0.2}
    pids = [zygote.start("call", tmp_path / f"builder{i}.log", function="faults.build_toy_cache", kwargs=kwargs)
            for i in range(2)]
    assert [zygote.wait(pid) for pid in pids] == [0, 0], [(tmp_path / f"builder{i}.log").read_text() for i in range(2)]
    events = [line.split() for line in log.read_text().splitlines()]
    computed = [e for e in events if e[0] == "compute"]
    assert len(computed) == 6 and len({e[2] for e in computed}) == 1  # one process computed every item, once
    builder = computed[0][2]
    other = next(e for e in events if e[0] == "start" and e[1] != builder)
    assert float(other[2]) < float(computed[-1][3])  # the other started while the build was under way, and waited
    assert [e[1:3] for e in events if e[0] == "done"] and all(e[1] == "6" for e in events if e[0] == "done")
    check_content(open_cache(cache_dir, files, Counting()), files)
