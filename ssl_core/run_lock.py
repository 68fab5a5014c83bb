"""One process at a time in a run folder: an exclusive lock on ``<run folder>/.lock``.

Training (``ssl-core run``, each value of ``ssl-core sweep``) and evaluation
(``ssl-core eval``) hold the lock of their run folder; a second process that
asks for it is refused at once with :class:`RunFolderBusy`, naming the process
that holds it. The lock is an ``fcntl.flock`` on the file, which the kernel
releases when its holder ends, however it ends (exit, exception, SIGKILL): a
lock file left behind by a dead process is stale by construction and is
simply taken over. The file records the holder's pid, host, command and start
time, for the message only.

Under DDP only the launching process (global rank 0) locks: the other ranks
work in the same folder on its behalf. Within one process the lock is
re-entrant (``ssl-core run`` holds it across training and evaluation, which
each take it too).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ssl_core.errors import SslCoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None

LOCK_FILE = ".lock"
_held: dict[Path, list] = {}  # resolved run folder -> [open lock file, depth]
command: str | None = None
"""This process's command line as the lock file records it (set by ``ssl_core.cli.main``)."""


class RunFolderBusy(SslCoreError):
    """Another process is training or evaluating in the run folder."""


def launch_rank() -> int:
    """This process's global rank as the launcher set it (torchrun, SLURM, Lightning's DDP children), else 0."""
    for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK"):
        value = os.environ.get(name, "0")
        if value.isdigit() and int(value) != 0:
            if name == "SLURM_PROCID" and int(os.environ.get("SLURM_NTASKS", "1")) <= 1:
                continue
            return int(value)
    return 0


def holder(run_dir: Path) -> dict:
    """What the lock file says about its (last) holder; ``{}`` when unreadable."""
    try:
        return json.loads((Path(run_dir) / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return {}


@contextmanager
def hold_run_folder(run_dir: str | Path, purpose: str = "training", create: bool = True) -> Iterator[None]:
    """Hold the lock of ``run_dir`` for the ``with`` block.

    Args:
        run_dir: the run folder, created if needed when ``create``; without it a
            missing folder is not locked (nothing is in it to protect, and the
            caller reports it missing).
        purpose: what the holder does, for the message of a refused process.

    Raises:
        RunFolderBusy: another process holds it; the message names it and what to do.
    """
    run_dir = Path(run_dir)
    if fcntl is None or launch_rank() != 0 or (not create and not run_dir.is_dir()):
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_dir.resolve()
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    handle = open(run_dir / LOCK_FILE, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        who = holder(run_dir)
        by = (f"process {who.get('pid', '?')} on {who.get('host', '?')} ({who.get('purpose', 'a run')}, "
              f"`{who.get('command', '?')}`, since {who.get('started', '?')})") if who else "another process"
        raise RunFolderBusy(f"the run folder {run_dir} is in use by {by}; wait for it to end, or choose another "
                            f"folder with output=runs/<new name>") from None
    except OSError as exc:  # a file system without flock (some network mounts): run unlocked, say so
        print(f"[ssl-core] warning: cannot lock {run_dir / LOCK_FILE} ({exc.strerror}); nothing stops a second "
              f"process from using this run folder", file=sys.stderr)
        handle.close()
        yield
        return
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
                             "command": command or " ".join(sys.argv) or "?",
                             "started": time.strftime("%Y-%m-%d %H:%M:%S")}))
    handle.flush()
    _held[key] = [handle, 1]
    try:
        yield
    finally:
        _held.pop(key, None)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
