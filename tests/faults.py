"""Faults injected where ssl-core writes files: a disk that fills up, or a process killed mid-write.

Every file ssl-core writes goes through :func:`ssl_core.atomic_write.open_for_writing`;
:func:`inject` replaces it so that the ``nth`` file whose temporary name
contains ``pattern`` gets ``budget`` bytes, then its write either raises
``OSError(ENOSPC)`` (``"full"``: what a full file system raises) or the
process SIGKILLs itself (``"kill"``: a kill that lands mid-write, exactly).
"""

from __future__ import annotations

import errno
import os
import signal

import ssl_core.atomic_write


class FaultyFile:
    """A real file that accepts ``budget`` bytes, then fails as ``action`` says."""

    def __init__(self, path, budget: int, action: str):
        self._file = open(path, "wb")
        self.left, self.action = budget, action

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if view.nbytes > self.left:
            self._file.write(view[: self.left])
            self._file.flush()
            self.left = 0
            if self.action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.left -= view.nbytes
        return self._file.write(view)

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def inject(pattern: str, action: str, budget: int = 0, nth: int = 1, monkeypatch=None) -> dict:
    """Make the ``nth`` write of a file named like ``pattern`` fail; returns the counts (``{"seen": n}``).

    ``action="full_open"`` is for files other libraries write (Lightning's CSV
    log): every ``open`` of such a file for writing raises ``ENOSPC``.
    """
    counts = {"seen": 0}
    if action == "full_open":
        import builtins

        real_open = builtins.open

        def open_full(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and pattern in os.path.basename(os.fspath(file)) \
                    and any(c in mode for c in "wax+"):
                counts["seen"] += 1
                if counts["seen"] >= nth:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(file))
            return real_open(file, mode, *args, **kwargs)

        if monkeypatch is not None:
            monkeypatch.setattr(builtins, "open", open_full)
        else:
            builtins.open = open_full
        return counts
    original = ssl_core.atomic_write.open_for_writing

    def open_for_writing(path):
        if pattern in os.path.basename(path):
            counts["seen"] += 1
            if counts["seen"] == nth:
                return FaultyFile(path, budget, action)
        return original(path)

    if monkeypatch is not None:
        monkeypatch.setattr(ssl_core.atomic_write, "open_for_writing", open_for_writing)
    else:
        ssl_core.atomic_write.open_for_writing = open_for_writing
    return counts


def toy_frames(path) -> "np.ndarray":
    """The frames of a toy 'audio' file holding an integer ``i``: ``5 + i`` rows of 4, all ``i``; ``bad`` fails."""
    import numpy as np

    text = open(path).read()
    if text == "bad":
        raise OSError(f"cannot decode {path}")
    i = int(text)
    return np.full((5 + i, 4), float(i), dtype=np.float32)


def build_toy_cache(cache_dir: str, files: list[str], log: str | None = None, delay: float = 0.0,
                    on_error: str = "raise") -> int:
    """Open (build or reuse) the feature cache of toy files, logging each computation with the process id."""
    import time

    from ssl_speech.feature_cache import FeatureCache

    def note(line: str) -> None:
        if log:
            with open(log, "a") as fh:
                fh.write(f"{line} {os.getpid()} {time.time():.6f}\n")

    def compute(path):
        note(f"compute {os.path.basename(path)}")
        time.sleep(delay)
        return toy_frames(path)

    note("start")
    cache = FeatureCache.open(cache_dir, "toy", {"hop": 1}, files, compute, lambda f: f, n_mels=4, on_error=on_error)
    note(f"done {len(cache)}")
    return 0
