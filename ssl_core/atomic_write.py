"""Files written atomically, and a full disk reported as one clear error.

Every file ssl-core writes (checkpoints, ``model.pt``, ``results.json``,
``results.md``, plots, exports, the speech feature cache) goes to a temporary
file beside its final name, is flushed and fsynced, and is then renamed over
the final name. A process killed, or a disk that fills up, at any point
leaves either the old file or the new one under the final name, never a
half-written one; a write that fails removes its temporary file.

A write that fails because the file system is full (``ENOSPC``, or a quota:
``EDQUOT``) raises :class:`DiskFullError`, which names the file, the space it
needs and the space free, instead of the ``OSError`` (or, from
``torch.save``, the ``RuntimeError: ... unexpected pos`` that hides it).
"""

from __future__ import annotations

import errno
import io
import os
import shutil
from pathlib import Path
from typing import Any, Callable, IO

from ssl_core.errors import SslCoreError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(SslCoreError):
    """A file could not be written: the file system is full (or a quota is reached).

    Attributes:
        path: the file that could not be written.
        needed: bytes the file needs (an estimate when it was not finished).
        free: bytes free on the file system when the write failed.
    """

    def __init__(self, path: Path, needed: int | None, free: int | None, context: str = "", partial: bool = False):
        self.path, self.needed, self.free, self.context = Path(path), needed, free, context
        self.partial = partial  # ``needed`` is what was written before the disk filled: a lower bound
        super().__init__(self._message())

    def _message(self) -> str:
        need = f"{'more than' if self.partial else 'about'} {_size(self.needed)} needed" if self.needed else "space needed"
        free = f", {_size(self.free)} free" if self.free is not None else ""
        text = f"cannot write {self.path}: no space left on its disk ({need}{free}); free some space"
        return f"{text}; {self.context}" if self.context else text

    def with_context(self, context: str) -> DiskFullError:
        """The same error, followed by what is intact and how to continue."""
        return DiskFullError(self.path, self.needed, self.free, context, self.partial)


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1 << 20:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1 << 20):.1f} MB"


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised from or while handling, is an ``ENOSPC``-like ``OSError``.

    ``torch.save`` reports a failed write as ``RuntimeError: [enforce fail at
    inline_container.cc] unexpected pos``, raised while handling the
    ``OSError`` of the write: the chain is followed.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def open_for_writing(path: Path) -> IO[bytes]:
    """The temporary file's handle (a seam: tests replace it with a writer that fills up)."""
    return open(path, "wb")


def temporary_name(path: Path) -> Path:
    """``.<name>.tmp<pid>`` beside ``path``: never loaded, removed by the next write or run."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any], needed: int | None = None,
                 before_replace: Callable[[], None] | None = None) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, rename it over ``path``, fsync the folder.

    Args:
        path: the final name.
        write: writes the content into the binary file it is given.
        needed: the content's size in bytes, when known, for the message of a full disk.
        before_replace: called once the temporary file is complete, just before the rename
            (e.g. to keep the file about to be replaced under another name).

    Raises:
        DiskFullError: the file system is full; the temporary file is removed and
            ``path`` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open_for_writing(tmp) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException as exc:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception) and is_disk_full(exc):
            partial = written >= (needed or 0)
            raise DiskFullError(path, max(needed or 0, written) or None, free_bytes(path.parent),
                                partial=partial) from None
        raise
    fsync_folder(path.parent)
    return path


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files (``.<name>.tmp<pid>``) a killed writer left in ``folder``; never loaded.

    Call it only while no other process writes in ``folder`` (the run folder's lock).
    """
    removed = []
    for stale in Path(folder).glob(".*.tmp*"):
        if stale.is_file() and stale.name.rsplit(".tmp", 1)[1].isdigit():
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data), needed=len(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode())


def tensor_bytes(obj: Any) -> int:
    """The bytes of every tensor in ``obj`` (nested dicts, lists, tuples): a checkpoint's size, roughly."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def atomic_torch_save(obj: Any, path: str | Path, before_replace: Callable[[], None] | None = None) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (see :func:`atomic_write`)."""
    import torch

    return atomic_write(path, lambda f: torch.save(obj, f), needed=tensor_bytes(obj), before_replace=before_replace)


def atomic_savefig(fig, path: str | Path, **kwargs) -> Path:
    """A matplotlib figure saved atomically (rendered in memory, then written as one file)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    return atomic_write_bytes(path, buffer.getvalue())
