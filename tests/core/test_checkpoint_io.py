"""ssl_core.checkpoint_io: loading without code, the newest checkpoint that loads, and last/previous rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from ssl_core.checkpoint_io import (LAST_CHECKPOINT, PREVIOUS_CHECKPOINT, AtomicCheckpointIO, CheckpointError,
                                    checkpoint_files, keep_as, resume_checkpoint, safe_torch_load)


class Opens:
    """Unpickled, it would open (create) ``marker``: code run by a checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def checkpoint(path: Path, step: int, **extra) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"global_step": step, "state_dict": {"w": torch.full((2,), float(step))}, **extra}, path)
    return path


def truncated(path: Path, step: int = 1) -> Path:
    checkpoint(path, step)
    path.write_bytes(path.read_bytes()[:40])
    return path


def test_safe_torch_load_reads_tensors_and_plain_containers(tmp_path):
    state = {"w": torch.arange(3.0), "meta": {"step": 2, "names": ["a", "b"], "pair": (1, 2.5)}}
    torch.save(state, tmp_path / "m.pt")
    loaded = safe_torch_load(tmp_path / "m.pt")
    assert torch.equal(loaded["w"], state["w"]) and loaded["meta"] == state["meta"]
    assert loaded["w"].device.type == "cpu"


def test_safe_torch_load_refuses_objects_and_runs_no_code(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"w": torch.zeros(1), "payload": Opens(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError) as info:
        safe_torch_load(tmp_path / "evil.pt")
    message = str(info.value)
    assert message.startswith(f"refusing to load {tmp_path / 'evil.pt'}: it holds objects other than tensors")
    assert "GLOBAL" in message and "weights_only=True" in message
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_a_damaged_file_is_named(tmp_path, content):
    path = tmp_path / "m.pt"
    if content is None:
        truncated(path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"^cannot load {path}: truncated or not a checkpoint \(\w+: .+\)$"):
        safe_torch_load(path)


def test_a_missing_file_or_a_folder_is_not_a_damaged_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError):
        safe_torch_load(tmp_path / "absent.pt")
    with pytest.raises(IsADirectoryError):
        safe_torch_load(tmp_path)


def test_checkpoint_files_newest_first_those_that_exist(tmp_path):
    assert checkpoint_files(tmp_path) == [] and checkpoint_files(tmp_path / "absent") == []
    checkpoint(tmp_path / PREVIOUS_CHECKPOINT, 1)
    assert checkpoint_files(tmp_path) == [tmp_path / PREVIOUS_CHECKPOINT]
    checkpoint(tmp_path / LAST_CHECKPOINT, 2)
    assert checkpoint_files(str(tmp_path)) == [tmp_path / LAST_CHECKPOINT, tmp_path / PREVIOUS_CHECKPOINT]


def test_resume_takes_last_when_it_loads(tmp_path):
    checkpoint(tmp_path / LAST_CHECKPOINT, 8)
    checkpoint(tmp_path / PREVIOUS_CHECKPOINT, 4)
    assert resume_checkpoint(tmp_path) == (tmp_path / LAST_CHECKPOINT, 8, "")


def test_resume_passes_over_a_damaged_last_for_previous(tmp_path):
    truncated(tmp_path / LAST_CHECKPOINT)
    checkpoint(tmp_path / PREVIOUS_CHECKPOINT, 4)
    path, step, passed_over = resume_checkpoint(tmp_path)
    assert (path, step) == (tmp_path / PREVIOUS_CHECKPOINT, 4)
    assert passed_over.startswith(f"cannot load {tmp_path / LAST_CHECKPOINT}: truncated or not a checkpoint")


def test_resume_passes_over_a_file_that_is_not_a_training_checkpoint(tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / LAST_CHECKPOINT)
    checkpoint(tmp_path / PREVIOUS_CHECKPOINT, 2)
    assert resume_checkpoint(tmp_path) == (
        tmp_path / PREVIOUS_CHECKPOINT, 2,
        f"cannot load {tmp_path / LAST_CHECKPOINT}: not a training checkpoint (no global_step)")


def test_resume_never_passes_over_a_refused_file(tmp_path):
    torch.save({"global_step": 9, "x": Opens(tmp_path / "ran")}, tmp_path / LAST_CHECKPOINT)
    checkpoint(tmp_path / PREVIOUS_CHECKPOINT, 4)
    with pytest.raises(CheckpointError, match="^refusing to load"):
        resume_checkpoint(tmp_path)
    assert not (tmp_path / "ran").exists()


def test_resume_with_nothing_to_resume_from(tmp_path):
    with pytest.raises(CheckpointError, match=f"^no checkpoint in {tmp_path}$"):
        resume_checkpoint(tmp_path)
    truncated(tmp_path / LAST_CHECKPOINT)
    with pytest.raises(CheckpointError, match=r"truncated or not a checkpoint .*; no older checkpoint to resume from$"):
        resume_checkpoint(tmp_path)
    truncated(tmp_path / PREVIOUS_CHECKPOINT)
    with pytest.raises(CheckpointError) as info:
        resume_checkpoint(tmp_path)
    message = str(info.value)
    assert f"cannot load {tmp_path / LAST_CHECKPOINT}" in message and f"cannot load {tmp_path / PREVIOUS_CHECKPOINT}" in message
    assert "no older checkpoint" not in message  # both were tried


def steps(folder: Path) -> tuple:
    return tuple(torch.load(folder / name, weights_only=True)["global_step"] if (folder / name).exists() else None
                 for name in (LAST_CHECKPOINT, PREVIOUS_CHECKPOINT))


def test_a_new_step_keeps_the_known_good_last_as_previous(tmp_path):
    io = AtomicCheckpointIO()
    last = tmp_path / LAST_CHECKPOINT
    io.save_checkpoint({"global_step": 1}, last)
    assert steps(tmp_path) == (1, None) and io.good_last_step == 1
    io.save_checkpoint({"global_step": 2}, last)
    assert steps(tmp_path) == (2, 1)
    io.save_checkpoint({"global_step": 2}, last)  # the same step again (end of an epoch after a periodic one)
    assert steps(tmp_path) == (2, 1)
    io.save_checkpoint({"global_step": 3}, last)
    assert steps(tmp_path) == (3, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LAST_CHECKPOINT, PREVIOUS_CHECKPOINT]


def test_a_last_not_known_good_never_becomes_previous(tmp_path):
    truncated(tmp_path / LAST_CHECKPOINT)
    checkpoint(tmp_path / PREVIOUS_CHECKPOINT, 4)
    io = AtomicCheckpointIO()  # a process resumed from previous.ckpt: last.ckpt is the damaged one
    io.load_checkpoint(tmp_path / PREVIOUS_CHECKPOINT)
    assert io.good_last_step is None
    io.save_checkpoint({"global_step": 5}, tmp_path / LAST_CHECKPOINT)
    assert steps(tmp_path) == (5, 4)
    io.save_checkpoint({"global_step": 6}, tmp_path / LAST_CHECKPOINT)
    assert steps(tmp_path) == (6, 5)


def test_loading_last_makes_it_known_good(tmp_path):
    checkpoint(tmp_path / LAST_CHECKPOINT, 7)
    io = AtomicCheckpointIO()
    state = io.load_checkpoint(tmp_path / LAST_CHECKPOINT)
    assert state["global_step"] == 7 and io.good_last_step == 7 and state["state_dict"]["w"].device.type == "cpu"
    io.save_checkpoint({"global_step": 8}, tmp_path / LAST_CHECKPOINT)
    assert steps(tmp_path) == (8, 7)


def test_other_checkpoint_names_do_not_rotate(tmp_path):
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1}, tmp_path / "epoch=0.ckpt")
    io.save_checkpoint({"global_step": 2}, tmp_path / "epoch=0.ckpt")
    assert io.good_last_step is None and sorted(p.name for p in tmp_path.iterdir()) == ["epoch=0.ckpt"]
    assert torch.load(tmp_path / "epoch=0.ckpt", weights_only=True)["global_step"] == 2


def test_keep_as_is_a_hard_link(tmp_path):
    source = tmp_path / "last.ckpt"
    source.write_bytes(b"step 3")
    keep_as(source, tmp_path / "previous.ckpt")
    assert (tmp_path / "previous.ckpt").read_bytes() == b"step 3"
    assert os.path.samefile(source, tmp_path / "previous.ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "previous.ckpt"]


def test_keep_as_copies_where_links_fail(tmp_path, monkeypatch):
    source = tmp_path / "last.ckpt"
    source.write_bytes(b"step 3")
    (tmp_path / "previous.ckpt").write_bytes(b"older")

    def no_links(*args):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    keep_as(source, tmp_path / "previous.ckpt")
    assert (tmp_path / "previous.ckpt").read_bytes() == b"step 3"
    assert not os.path.samefile(source, tmp_path / "previous.ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "previous.ckpt"]
