"""The fault matrix: each phase of a run meets each fault a long run meets, and three things hold every time.

Phases: training (its CSV log included), checkpoint write, ``model.pt``
write, evaluation, results write (``results.json``, ``results.md``, the
plot), export. Faults: a kill (SIGKILL, which no program can handle), a
preemption (SIGTERM, SIGINT, SLURM's SIGUSR1), a full disk, a damaged file. Each case runs ``ssl-core run`` in a real process forked
from a zygote (:mod:`zygote`); a full disk and a kill mid-write are injected
exactly where ssl-core writes (:mod:`faults`: the write gets N bytes, then
``ENOSPC``, or the process SIGKILLs itself). Each case checks:

1. a clear message: one line, no traceback (a SIGKILL prints nothing: its
   message is the resumed run's);
2. nothing older lost: the newest checkpoint that loads is at least as new
   as the one written before the fault, no temporary file is left once the
   run is resumed, and a finished ``model.pt`` is never touched;
3. resuming (``ssl-core run --resume``, or ``ssl-core eval`` after training)
   reaches the uninterrupted run's result: the same weights bit for bit, the
   same losses at every step, the same evaluation metrics.

The feature cache's faults (kill mid-build, full disk, replaced file, two
builders) are in ``tests/modalities/ssl_speech/test_feature_cache_faults.py``;
two processes on one run folder in ``test_run_lock.py``; DDP faults in
``test_ddp_divergence.py`` and ``test_ddp_preemption.py``. The README's
fault matrix counts them all.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from ssl_core.checkpoint_io import resume_checkpoint, safe_torch_load
from ssl_core.plots import read_metrics

from pipeline_helpers import tiny_pipeline
from zygote import alive, poll_until, zygote  # noqa: F401  (zygote: a fixture)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses fork, signals and /proc (Linux)")

EVERY = 2  # 719 training digits, 11 steps of 64; checkpoints after steps 2, 4, 6, 8, 10 and 11 (the epoch's end)
EXTRA = "evaluate: [knn]\n"


@dataclass
class Case:
    """One cell of the matrix.

    Attributes:
        phase, fault: the matrix's row and column.
        inject: a write fault for the child (:func:`faults.inject` arguments).
        signum: a signal sent once the first checkpoint exists (or ``model.pt``, with ``after_model``).
        damage: a file of the run folder truncated after the faulted attempt.
        code: the faulted attempt's exit code (negative: killed by that signal).
        says: substrings of the faulted attempt's one-line message.
        kept: the least step the newest loadable checkpoint must have after the fault.
        resume: the command that continues (``run`` with --resume, or ``eval``).
        resumed_says: substrings of the resumed attempt's output.
        trained_again: whether the resumed attempt trains (a new log part).
    """

    phase: str
    fault: str
    inject: dict | None = None
    signum: int | None = None
    after_model: bool = False
    damage: str | None = None
    code: int = 0
    says: list[str] = field(default_factory=list)
    kept: int = EVERY
    resume: str = "run"
    resumed_says: list[str] = field(default_factory=list)
    trained_again: bool = True


def full(pattern: str, nth: int = 1) -> dict:
    return {"pattern": pattern, "action": "full", "budget": 200, "nth": nth}


def killed(pattern: str, nth: int = 1) -> dict:
    return {"pattern": pattern, "action": "kill", "budget": 200, "nth": nth}


INTACT = "the last good checkpoint"
CASES = [
    Case("training", "SIGKILL", signum=signal.SIGKILL, code=-signal.SIGKILL),
    Case("training", "SIGTERM", signum=signal.SIGTERM, code=128 + signal.SIGTERM,
         says=["SIGTERM received: saved the checkpoint of step", "--resume"]),
    Case("training", "SIGINT", signum=signal.SIGINT, code=128 + signal.SIGINT,
         says=["SIGINT received: saved the checkpoint of step", "--resume"]),
    Case("training", "full disk (log)", inject={"pattern": "metrics.csv", "action": "full_open", "nth": 3}, code=2,
         says=["metrics.csv: no space left", "(step 2), is intact", "--resume continues from it"]),
    Case("checkpoint write", "SIGKILL", inject=killed(".last.ckpt.tmp", nth=3), code=-signal.SIGKILL, kept=4),
    Case("checkpoint write", "full disk", inject=full(".last.ckpt.tmp", nth=3), code=2, kept=4,
         says=["last.ckpt: no space left", f"{INTACT}", "(step 4), is intact", "--resume continues from it"]),
    Case("checkpoint write", "damaged", signum=signal.SIGKILL, code=-signal.SIGKILL, damage="checkpoints/last.ckpt",
         kept=EVERY, resumed_says=["last.ckpt: truncated or not a checkpoint", "resuming from the older",
                                   "previous.ckpt"]),
    Case("model.pt write", "SIGKILL", inject=killed(".model.pt.tmp"), code=-signal.SIGKILL, kept=11),
    Case("model.pt write", "full disk", inject=full(".model.pt.tmp"), code=2, kept=11,
         says=["model.pt: no space left", "training finished", "(step 11), is intact",
               "--resume writes model.pt from it without training again"]),
    Case("evaluation", "SIGKILL", signum=signal.SIGKILL, after_model=True, code=-signal.SIGKILL, kept=11,
         resumed_says=["finished training (model.pt); not trained again"], trained_again=False),
    Case("evaluation", "damaged", damage="model.pt", kept=11, resume="run",
         resumed_says=["model.pt: truncated or not a checkpoint", "writing it again from the last checkpoint"]),
    Case("evaluation", "SIGTERM", signum=signal.SIGTERM, after_model=True, code=-signal.SIGTERM, kept=11,
         resumed_says=["not trained again"], trained_again=False),
    Case("results write", "SIGKILL", inject=killed(".results.md.tmp"), code=-signal.SIGKILL, kept=11,
         resumed_says=["not trained again"], trained_again=False),
    Case("results write", "full disk", inject=full(".results.json.tmp"), code=2, kept=11, resume="eval",
         says=["results.json: no space left", "model.pt is intact", "ssl-core eval"], trained_again=False),
    Case("results write", "full disk (plot)", inject=full(".training_curves.png.tmp"), code=2, kept=11, resume="eval",
         says=["training_curves.png: no space left", "model.pt is intact"], trained_again=False),
    Case("results write", "damaged", damage="results.json", kept=11, resume="eval", trained_again=False),
]


def tensors_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def metrics(run: Path) -> list:
    return [(r["evaluator"], r["encoder"], r["metrics"]) for r in json.loads((run / "results.json").read_text())["evaluations"]]


def temporary_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob(".*.tmp*"))


@pytest.fixture(scope="module")
def straight(tmp_path_factory, zygote):
    tmp_path = tmp_path_factory.mktemp("straight")
    path = tiny_pipeline(tmp_path, epochs=1, every=EVERY, output="straight", test_fraction=0.6, extra=EXTRA)
    pid = zygote.start("cli", tmp_path / "straight.log", argv=["run", str(path)])
    assert zygote.wait(pid) == 0, (tmp_path / "straight.log").read_text()[-3000:]
    return tmp_path / "straight"


def one_line(log: str, prefix: str) -> str:
    lines = [line for line in log.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, log[-3000:]
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.phase}-{c.fault}".replace(" ", "_") for c in CASES])
def test_fault_then_resume(tmp_path, zygote, straight, case):
    path = tiny_pipeline(tmp_path, epochs=1, every=EVERY, output="run", test_fraction=0.6, extra=EXTRA)
    run = tmp_path / "run"
    checkpoints = run / "checkpoints"
    log = tmp_path / "fault.log"
    pid = zygote.start("cli", log, argv=["run", str(path)], inject=case.inject)
    if case.signum is not None:
        target = run / "model.pt" if case.after_model else checkpoints / "previous.ckpt"
        assert poll_until(pid, target.exists), log.read_text()[-3000:]
        os.kill(pid, case.signum)
    code = zygote.wait(pid)
    text = log.read_text()
    assert code == case.code, text[-3000:]

    if case.after_model:
        assert not (run / "results.json").exists()  # the kill landed during the evaluation

    # 1. a clear message, in one line
    assert "Traceback" not in text, text[-3000:]
    if case.code == 2:
        line = one_line(text, "ssl-core: error: ")
        for part in case.says:
            assert part in line, line
    elif case.code > 128:
        line = one_line(text, f"[ssl-core] {signal.Signals(case.code - 128).name} received")
        for part in case.says:
            assert part in line, line
        step = int(re.search(r"checkpoint of step (\d+)", line).group(1))
        assert safe_torch_load(checkpoints / "last.ckpt")["global_step"] == step  # the step it says, saved

    # 2. nothing older lost
    _, kept_step, _ = resume_checkpoint(checkpoints)
    assert kept_step >= case.kept
    if case.code == 2:
        assert not temporary_files(run), temporary_files(run)  # a failed write removes its temporary file
    model_before = (run / "model.pt").read_bytes() if (run / "model.pt").exists() else None
    parts = len(list((run / "logs").glob("part*")))
    if case.damage:
        damaged = run / case.damage
        damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])

    # 3. resuming reaches the uninterrupted run's result
    argv = ["run", str(path), "--resume"] if case.resume == "run" else ["eval", str(run)]
    resumed_log = tmp_path / "resumed.log"
    resumed = zygote.wait(zygote.start("cli", resumed_log, argv=argv))
    resumed_text = resumed_log.read_text()
    assert resumed == 0, resumed_text[-3000:]
    for part in case.resumed_says:
        assert part in resumed_text, resumed_text[-3000:]
    tensors_equal(safe_torch_load(straight / "model.pt"), safe_torch_load(run / "model.pt"))
    if model_before is not None:
        assert (run / "model.pt").read_bytes() == model_before  # a finished model is never rewritten
    assert read_metrics(run)["loss"] == read_metrics(straight)["loss"]
    assert metrics(run) == metrics(straight)
    assert (run / "results.md").read_text().split("## Protocols")[0] == \
        (straight / "results.md").read_text().split("## Protocols")[0].replace("straight", "run")
    assert (run / "training_curves.png").exists()
    assert len(list((run / "logs").glob("part*"))) == parts + case.trained_again
    assert not temporary_files(run), temporary_files(run)


def fake_slurm(tmp_path) -> tuple[dict, Path]:
    """SLURM's environment for a job 4242, with a stand-in ``scontrol`` that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "scontrol.calls"
    (bin_dir / "scontrol").write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n")
    (bin_dir / "scontrol").chmod(0o755)
    return {"SLURM_JOB_ID": "4242", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, calls


def test_slurm_sigusr1_during_evaluation_requeues_and_the_evaluation_goes_on(tmp_path, zygote, straight):
    slurm, calls = fake_slurm(tmp_path)
    path = tiny_pipeline(tmp_path, epochs=1, every=EVERY, output="run", test_fraction=0.6, extra=EXTRA)
    run = tmp_path / "run"
    log = tmp_path / "job.log"
    pid = zygote.start("cli", log, argv=["run", str(path)], env=slurm)
    assert poll_until(pid, (run / "model.pt").exists), log.read_text()[-3000:]
    os.kill(pid, signal.SIGUSR1)
    assert zygote.wait(pid) == 0, log.read_text()[-3000:]  # the default action of SIGUSR1 would have ended it
    line = one_line(log.read_text(), "[ssl-core] SIGUSR1 received during the ")
    assert "SLURM job 4242 requeued" in line and calls.read_text().split() == ["requeue", "4242"], line
    assert metrics(run) == metrics(straight)


def test_slurm_sigusr1_saves_requeues_and_the_requeued_job_resumes(tmp_path, zygote, straight):
    """``#SBATCH --signal=USR1@90``: SIGUSR1 saves the step, calls ``scontrol requeue``; the same command resumes.

    ``scontrol`` is a stand-in on the PATH that records its arguments; the
    requeued job is the same command line with ``SLURM_RESTART_COUNT=1``, as
    SLURM starts it.
    """
    slurm, calls = fake_slurm(tmp_path)
    path = tiny_pipeline(tmp_path, epochs=1, every=EVERY, output="run", test_fraction=0.6, extra=EXTRA)
    run = tmp_path / "run"
    log = tmp_path / "job.log"
    pid = zygote.start("cli", log, argv=["run", str(path)], env=slurm)
    assert poll_until(pid, (run / "checkpoints" / "previous.ckpt").exists), log.read_text()[-3000:]
    os.kill(pid, signal.SIGUSR1)
    assert zygote.wait(pid) == 128 + signal.SIGUSR1, log.read_text()[-3000:]
    line = one_line(log.read_text(), "[ssl-core] SIGUSR1 received")
    step = int(re.search(r"checkpoint of step (\d+)", line).group(1))
    assert "SLURM job 4242 requeued: it resumes from there" in line, line
    assert calls.read_text().split() == ["requeue", "4242"]
    assert safe_torch_load(run / "checkpoints" / "last.ckpt")["global_step"] == step

    requeued_log = tmp_path / "requeued.log"
    again = zygote.start("cli", requeued_log, argv=["run", str(path)], env={**slurm, "SLURM_RESTART_COUNT": "1"})
    assert zygote.wait(again) == 0, requeued_log.read_text()[-3000:]
    assert "SLURM job 4242 was requeued (restart 1): resuming the run" in requeued_log.read_text()
    tensors_equal(safe_torch_load(straight / "model.pt"), safe_torch_load(run / "model.pt"))
    assert read_metrics(run)["loss"] == read_metrics(straight)["loss"]
    assert metrics(run) == metrics(straight)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 96 KB tmpfs (a real file system that fills up); skips where mounting is not allowed (not root)."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}); the patched-writer "
                    f"cases cover the full disk")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_real_full_disk(tmp_path, zygote, straight, small_tmpfs):
    """On a 96 KB tmpfs the second checkpoint does not fit: one line, no debris, and after growing it, resume."""
    import subprocess

    path = tiny_pipeline(tmp_path, epochs=1, every=EVERY, output="disk/run", test_fraction=0.6, extra=EXTRA)
    run = small_tmpfs / "run"
    log = tmp_path / "full.log"
    code = zygote.wait(zygote.start("cli", log, argv=["run", str(path)]))
    text = log.read_text()
    assert code == 2 and "Traceback" not in text, text[-3000:]
    line = one_line(text, "ssl-core: error: ")
    assert "no space left on its disk" in line and "needed" in line and "free" in line, line
    assert "is intact, and --resume continues from it" in line, line
    assert not temporary_files(run), temporary_files(run)
    _, kept, _ = resume_checkpoint(run / "checkpoints")
    assert kept >= EVERY
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_tmpfs)], check=True)  # space freed
    resumed_log = tmp_path / "resumed.log"
    assert zygote.wait(zygote.start("cli", resumed_log, argv=["run", str(path), "--resume"])) == 0, \
        resumed_log.read_text()[-3000:]
    tensors_equal(safe_torch_load(straight / "model.pt"), safe_torch_load(run / "model.pt"))
    assert read_metrics(run)["loss"] == read_metrics(straight)["loss"]
    assert metrics(run) == metrics(straight)


@pytest.mark.parametrize("fmt", ["torchvision", "detectron2"])
def test_export_on_a_full_disk(tmp_path, straight, monkeypatch, capsys, fmt):
    """An export that does not fit: one line, exit 2, no file or temporary left; with space, the export works."""
    from faults import inject
    from ssl_core.cli import main

    # both formats hold a torchvision ResNet only: the format's own refusal would come first on small_cnn
    monkeypatch.setattr("ssl_encoders.export_formats.torchvision_resnet", lambda encoder, fmt: "resnet18")
    out = tmp_path / "exports" / f"backbone.{fmt}"
    model = (straight / "model.pt").read_bytes()
    inject(f".{out.name}.tmp", "full", budget=100, monkeypatch=monkeypatch)
    assert main(["export", str(straight), "--format", fmt, "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err, "ssl-core: error: ")
    assert f"cannot write {out}: no space left" in line, line
    assert not list(out.parent.iterdir())
    monkeypatch.setattr("ssl_core.atomic_write.open_for_writing", lambda p: open(p, "wb"))  # space freed
    assert main(["export", str(straight), "--format", fmt, "--out", str(out)]) == 0
    assert out.exists() and (straight / "model.pt").read_bytes() == model


def test_resumed_from_previous_then_a_full_disk_names_previous_as_intact(tmp_path, zygote, straight):
    """last.ckpt damaged, the run resumed from previous.ckpt, the next checkpoint does not fit: previous is named."""
    path = tiny_pipeline(tmp_path, epochs=1, every=EVERY, output="run", test_fraction=0.6, extra=EXTRA)
    checkpoints = tmp_path / "run" / "checkpoints"
    pid = zygote.start("cli", tmp_path / "killed.log", argv=["run", str(path)])
    assert poll_until(pid, (checkpoints / "previous.ckpt").exists)
    os.kill(pid, signal.SIGKILL)
    assert zygote.wait(pid) == -signal.SIGKILL
    last = checkpoints / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    step = safe_torch_load(checkpoints / "previous.ckpt")["global_step"]
    log = tmp_path / "full.log"
    assert zygote.wait(zygote.start("cli", log, argv=["run", str(path), "--resume"], inject=full(".last.ckpt.tmp"))) == 2
    line = one_line(log.read_text(), "ssl-core: error: ")
    assert f"{checkpoints / 'previous.ckpt'} (step {step}), is intact, and --resume continues from it" in line, line
    assert safe_torch_load(checkpoints / "previous.ckpt")["global_step"] == step
    resumed = tmp_path / "resumed.log"
    assert zygote.wait(zygote.start("cli", resumed, argv=["run", str(path), "--resume"])) == 0, resumed.read_text()[-3000:]
    tensors_equal(safe_torch_load(straight / "model.pt"), safe_torch_load(tmp_path / "run" / "model.pt"))
    assert read_metrics(tmp_path / "run")["loss"] == read_metrics(straight)["loss"]


@pytest.mark.parametrize("error", ["full", "permission"])
def test_an_unforeseen_write_failure_is_one_line(monkeypatch, capsys, error):
    """Full disk or permission denied where no ssl-core writer saw it (a third-party file): one line, exit 2."""
    import errno as errnos

    import ssl_core.cli

    code = errnos.ENOSPC if error == "full" else errnos.EACCES
    exc = (OSError if error == "full" else PermissionError)(code, os.strerror(code), "/somewhere/events.out")

    def failing(args):
        raise exc

    monkeypatch.setattr(ssl_core.cli, "_cmd_plugins", failing)
    assert ssl_core.cli.main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ssl-core: error: ") and "/somewhere/events.out" in err, err
