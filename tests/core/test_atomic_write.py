"""ssl_core.atomic_write: a file is either its old or its new content, never half; a full disk is one clear error."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

import ssl_core.atomic_write as aw
from ssl_core.atomic_write import (DiskFullError, atomic_torch_save, atomic_write, atomic_write_bytes,
                                   atomic_write_text, free_bytes, is_disk_full, remove_stale_temporaries,
                                   temporary_name, tensor_bytes)


def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_temporary_name_is_hidden_beside_the_file_with_the_pid(tmp_path):
    assert temporary_name(tmp_path / "model.pt") == tmp_path / f".model.pt.tmp{os.getpid()}"


def test_atomic_write_creates_folders_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a" / "b" / "out.bin"
    assert atomic_write(path, lambda f: f.write(b"new")) == path
    assert path.read_bytes() == b"new"
    assert leftovers(path.parent) == []


def test_before_replace_runs_with_the_new_content_complete_and_the_old_one_in_place(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    seen = []

    def before():
        seen.append((path.read_text(), temporary_name(path).read_text()))

    atomic_write(path, lambda f: f.write(b"new"), before_replace=before)
    assert seen == [("old", "new")] and path.read_text() == "new"


def test_a_failing_write_keeps_the_old_file_and_raises_its_error(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def write(f):
        f.write(b"half")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="^boom$"):
        atomic_write(path, write)
    assert path.read_text() == "old" and leftovers(tmp_path) == []


def test_an_interrupt_is_not_turned_into_another_error(tmp_path):
    path = tmp_path / "out.txt"

    def write(f):
        f.write(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, write)
    assert not path.exists() and leftovers(tmp_path) == []


def test_a_full_disk_is_a_disk_full_error_naming_the_file_and_sizes(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    monkeypatch.setattr(aw, "free_bytes", lambda folder: 512)

    def write(f):
        f.write(b"x" * 10)
        f.flush()
        raise enospc()

    with pytest.raises(DiskFullError) as info:
        atomic_write(path, write, needed=3 << 20)
    err = info.value
    assert (err.path, err.needed, err.free, err.partial) == (path, 3 << 20, 512, False)
    assert str(err) == (f"cannot write {path}: no space left on its disk (about 3.0 MB needed, 0.5 KB free); "
                        f"free some space")
    assert err.__cause__ is None and err.__suppress_context__  # the OSError is not shown below it
    assert path.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_a_full_disk_of_unknown_size_reports_what_was_written_as_a_lower_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(aw, "free_bytes", lambda folder: None)

    def write(f):
        f.write(b"x" * 2048)
        f.flush()
        raise OSError(errno.EDQUOT, "quota")  # a quota counts as full

    with pytest.raises(DiskFullError) as info:
        atomic_write(tmp_path / "out.bin", write)
    assert (info.value.needed, info.value.partial) == (2048, True)
    assert "(more than 2.0 KB needed); free some space" in str(info.value)


def test_torch_save_s_runtime_error_over_enospc_is_a_full_disk(tmp_path):
    def write(f):
        try:
            raise enospc()
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos 64")

    with pytest.raises(DiskFullError):
        atomic_write(tmp_path / "m.pt", write)

    def denied(f):
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError, match="Permission denied"):  # any other OSError stays what it is
        atomic_write(tmp_path / "m.pt", denied)
    assert leftovers(tmp_path) == []


def test_is_disk_full_follows_cause_and_context():
    assert is_disk_full(enospc()) and is_disk_full(OSError(errno.EDQUOT, "quota"))
    assert not is_disk_full(OSError(errno.EACCES, "denied")) and not is_disk_full(None)
    assert not is_disk_full(RuntimeError("unexpected pos"))
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = ValueError("middle")
    wrapped.__cause__.__context__ = enospc()
    assert is_disk_full(wrapped)
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__context__, b.__context__ = b, a  # a cycle ends
    assert not is_disk_full(a)


def test_disk_full_messages():
    err = DiskFullError(Path("/r/model.pt"), None, None)
    assert str(err) == "cannot write /r/model.pt: no space left on its disk (space needed); free some space"
    more = DiskFullError(Path("/r/x"), 1000, 5 << 20, partial=True).with_context("the checkpoint of step 4 is intact")
    assert str(more) == ("cannot write /r/x: no space left on its disk (more than 1.0 KB needed, 5.0 MB free); "
                         "free some space; the checkpoint of step 4 is intact")
    assert (more.path, more.needed, more.free, more.partial, more.context) == (
        Path("/r/x"), 1000, 5 << 20, True, "the checkpoint of step 4 is intact")
    assert isinstance(more, aw.SslCoreError)


def test_free_bytes(tmp_path):
    assert free_bytes(tmp_path) > 0
    assert free_bytes(tmp_path / "absent") is None


def test_remove_stale_temporaries_removes_only_temporaries_of_a_pid(tmp_path):
    for name in (".model.pt.tmp123", ".results.json.tmp7", ".model.pt.tmpx", "model.pt", ".hidden", "a.tmp99"):
        (tmp_path / name).write_text("x")
    (tmp_path / ".folder.tmp5").mkdir()
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == [".model.pt.tmp123", ".results.json.tmp7"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".folder.tmp5", ".hidden", ".model.pt.tmpx", "a.tmp99",
                                                          "model.pt"]


def test_text_is_written_as_utf8_and_bytes_as_given(tmp_path):
    atomic_write_text(tmp_path / "t.md", "é ∑")
    assert (tmp_path / "t.md").read_bytes() == "é ∑".encode("utf-8")
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"


def test_bytes_written_on_a_full_disk_name_their_size(tmp_path, monkeypatch):
    class Full:
        def __init__(self, path):
            self.f = open(path, "wb")

        def write(self, data):
            raise enospc()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(aw, "open_for_writing", Full)
    with pytest.raises(DiskFullError) as info:
        atomic_write_bytes(tmp_path / "b.bin", b"x" * 300)
    assert info.value.needed == 300 and not info.value.partial and leftovers(tmp_path) == []


def test_tensor_bytes_counts_nested_tensors():
    state = {"a": torch.zeros(3), "b": [torch.zeros(2, dtype=torch.float64), (torch.zeros(4, dtype=torch.uint8),)],
             "step": 5, "name": "x"}
    assert tensor_bytes(state) == 3 * 4 + 2 * 8 + 4 * 1
    assert tensor_bytes(7) == 0


def test_atomic_torch_save_round_trips_and_sizes_a_full_disk(tmp_path, monkeypatch):
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 3}
    path = atomic_torch_save(state, tmp_path / "ck" / "m.pt")
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["w"], state["w"]) and loaded["step"] == 3

    def full(p):
        raise enospc()

    monkeypatch.setattr(aw, "open_for_writing", full)
    with pytest.raises(DiskFullError) as info:
        atomic_torch_save(state, path)
    assert info.value.needed == 24 and torch.equal(torch.load(path, weights_only=True)["w"], state["w"])


def test_atomic_savefig_renders_in_the_suffix_s_format(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    try:
        aw.atomic_savefig(fig, tmp_path / "p.png")
        aw.atomic_savefig(fig, tmp_path / "p.svg")
    finally:
        plt.close(fig)
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "p.svg").read_bytes()[:500]
    assert leftovers(tmp_path) == []
