"""An on-disk cache of log-mel frames: decode and transform each file once.

Decoding a flac file and computing its spectrogram costs milliseconds; reading
64 x T floats from a memory map costs microseconds. The cache computes the
frames of every utterance of a split once, the first time the dataset is
built, and every later epoch (and every later run) reads them from a numpy
memory map: no decoding, no STFT.

What is cached, and how exact it is. The frames of the *whole* utterance,
zero-padded at the end to at least ``num_samples``, in dB without the
``top_db`` floor (``[T, n_mels]`` float32 rows, utterances back to back). A
crop of ``size`` frames starting at frame ``k`` is the spectrogram of the
waveform crop starting at sample ``k * hop``: frame ``j`` of both is the
window centred on the same sample. The only difference is where a window
overhangs the waveform crop: computed on the crop, the overhang is filled by
reflect padding; cut from the whole utterance, it holds the real neighbouring
audio. With the reference settings (hop 2,360, n_fft 2,048, 150,526 samples)
only frame 0 of a crop at ``k > 0`` overhangs (by 1,024 samples, its left
half); the last frame ends at sample 149,704 < 150,526. A crop at ``k = 0``
of an utterance no longer than ``num_samples`` (all of FSDD, Speech Commands,
AudioMNIST, nearly all of Fluent) is identical to the direct computation up
to float rounding. Crop starts are multiples of the hop (0.15 s) rather than
of one sample. The ``top_db`` floor is applied per crop after cropping, and
dB is monotone, so the floor is exact.

Keys. The file name holds a hash of the key: dataset name, the feature
parameters, the ordered list of files with their sizes and modification
times, the cache format and the ssl-core, torch and torchaudio versions. Any
change gives another file, so a stale cache is never read; a json sidecar
holds the key (readable), the item offsets, the skipped files and the z-score
statistics of the cached items.

Crash safety. The frames are written to a temporary file, flushed, fsynced
and moved into place with ``os.replace``; the json sidecar, written the same
way *after* the data, is the completion marker (``"complete": true`` and the
data's byte count). A writer killed at any point leaves either no sidecar or
a sidecar of an older complete build, never a sidecar pointing at a partial
file; leftover temporary files are deleted by the next build. An exclusive
``flock`` on a lock file makes concurrent builders (DDP ranks, DataLoader
workers, two runs) wait for the first one and reuse its result. A full disk
stops the build with :class:`ssl_core.atomic_write.DiskFullError` (the
temporary file removed, nothing cached).

Skipped files. The sidecar records the sha256 of every file skipped as
unreadable (``on_error="skip"``); a skipped file whose content changed (it
was replaced by a good copy, even one with the same size and modification
time) makes the cache stale, so it is built again and the file read.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

import numpy as np

import ssl_core
from ssl_core import atomic_write
from ssl_core.atomic_write import DiskFullError, atomic_write_bytes, is_disk_full

try:  # POSIX; without it (Windows) concurrent builders are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bumped whenever the on-disk layout or what is cached changes."""

OnError = Literal["raise", "skip"]


def default_cache_dir() -> Path:
    """``~/.cache/ssl-core``."""
    return Path("~/.cache/ssl-core").expanduser()


def files_fingerprint(files: Sequence[str | os.PathLike]) -> str:
    """sha256 of the ordered file list with each file's size and modification time."""
    digest = hashlib.sha256()
    for path in files:
        try:
            st = os.stat(path)
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = -1, -1
        digest.update(f"{os.fspath(path)}\t{size}\t{mtime}\n".encode())
    return digest.hexdigest()


class FeatureCache:
    """Per-item ``[T, n_mels]`` float32 frames in one memory-mapped file.

    Build or reuse one with :meth:`open`. Attributes: ``kept`` (indices, into
    the file list given to :meth:`open`, of the items cached), ``skipped``
    (``{"path", "error"}`` of the files that could not be read, with
    ``on_error="skip"``), ``mean`` and ``std`` (statistics of the values the
    ``summarize`` callback returned over the kept items), ``meta_path`` and
    ``data_path``.
    """

    def __init__(self, data_path: Path, meta_path: Path, meta: dict):
        self.data_path = data_path
        self.meta_path = meta_path
        self.meta = meta
        self.n_mels = int(meta["n_mels"])
        self.offsets = np.asarray(meta["offsets"], dtype=np.int64)
        self.kept: list[int] = list(meta["kept"])
        self.skipped: list[dict] = list(meta["skipped"])
        self.mean = float(meta["stats"]["mean"])
        self.std = float(meta["stats"]["std"])
        self._array: np.ndarray | None = None

    # -- reading ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.kept)

    def frames(self, i: int) -> np.ndarray:
        """The ``[T, n_mels]`` frames of cached item ``i`` (a copy, writable)."""
        data = self._data()
        return np.array(data[self.offsets[i] : self.offsets[i + 1]])

    def _data(self) -> np.ndarray:
        if self._array is None:
            total = int(self.offsets[-1])
            if total == 0:
                self._array = np.zeros((0, self.n_mels), dtype=np.float32)
            else:
                self._array = np.memmap(self.data_path, dtype=np.float32, mode="r", shape=(total, self.n_mels))
        return self._array

    def __getstate__(self) -> dict:  # a worker process reopens the map instead of pickling its content
        state = dict(self.__dict__)
        state["_array"] = None
        return state

    # -- building --------------------------------------------------------------

    @classmethod
    def open(
        cls,
        cache_dir: str | os.PathLike,
        name: str,
        key: dict,
        files: Sequence[str | os.PathLike],
        compute: Callable[[Path], np.ndarray],
        summarize: Callable[[np.ndarray], np.ndarray],
        n_mels: int,
        on_error: OnError = "raise",
        skippable: tuple[type[BaseException], ...] = (OSError,),
    ) -> FeatureCache:
        """The cache of ``files`` under ``key``: reused when complete, else built.

        Args:
            cache_dir: folder of the cache files (created if needed).
            name: readable prefix of the file names (dataset and split).
            key: JSON-serialisable parameters the frames depend on (feature
                parameters); the file list, format and library versions are
                added here.
            files: the audio files, in item order.
            compute: ``path -> [T, n_mels]`` float32 frames.
            summarize: ``frames -> values`` that enter the mean and standard
                deviation (e.g. the evaluation crop after the ``top_db`` floor).
            n_mels: the row width.
            on_error: ``"raise"``: the first file whose ``compute`` raises one
                of ``skippable`` stops the build; ``"skip"``: it is left out and
                listed in ``skipped``.
            skippable: exception types that mean "this file is unreadable".
        """
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        cache_dir = Path(cache_dir).expanduser()
        files = [Path(f) for f in files]
        full_key = {
            "format": FORMAT_VERSION,
            "ssl_core": ssl_core.__version__,
            "torch": _version("torch"),
            "torchaudio": _version("torchaudio"),
            "name": name,
            "features": key,
            "n_mels": int(n_mels),
            "num_files": len(files),
            "files": files_fingerprint(files),
        }
        full_key = json.loads(json.dumps(full_key, sort_keys=True))  # normalised, as read back from json
        digest = hashlib.sha256(json.dumps(full_key, sort_keys=True).encode()).hexdigest()[:16]
        stem = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}-{digest}"
        data_path = cache_dir / f"{stem}.f32"
        meta_path = cache_dir / f"{stem}.json"

        cache = cls._load(data_path, meta_path, full_key)
        if cache is not None:
            return cache
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _locked(cache_dir / f"{stem}.lock"):
            cache = cls._load(data_path, meta_path, full_key)  # built by another process meanwhile
            if cache is not None:
                return cache
            for stale in [*cache_dir.glob(f"{stem}.*.tmp.*"), *cache_dir.glob(f".{stem}.*.tmp*")]:
                log.info("removing %s, left by an interrupted cache build", stale)
                stale.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            started = time.perf_counter()
            try:
                meta = _build(data_path, files, compute, summarize, int(n_mels), on_error, skippable)
                meta.update(key=full_key, n_mels=int(n_mels), build_seconds=round(time.perf_counter() - started, 3))
                atomic_write_bytes(meta_path, json.dumps(meta, indent=1).encode())
            except DiskFullError as exc:
                raise exc.with_context(f"nothing of the feature cache of {name} was kept; it is built on the next "
                                       f"run (or give the dataset a cache_dir on a disk with space)") from None
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                raise DiskFullError(data_path, None, _free(cache_dir), f"nothing of the feature cache of {name} "
                                    f"was kept; it is built on the next run (or give the dataset a cache_dir on a "
                                    f"disk with space)") from None
            log.info("cached %d items of %s in %s (%.1f s)", len(meta["kept"]), name, data_path, meta["build_seconds"])
        cache = cls._load(data_path, meta_path, full_key)
        if cache is None:  # pragma: no cover - only if the files vanish right after the build
            raise RuntimeError(f"the feature cache {data_path} could not be read back after building it")
        return cache

    @classmethod
    def _load(cls, data_path: Path, meta_path: Path, key: dict) -> FeatureCache | None:
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("complete") is not True or meta.get("key") != key:
            return None
        try:
            if data_path.stat().st_size != meta["nbytes"]:
                return None
        except OSError:
            return None
        for skipped in meta["skipped"]:  # a file skipped as unreadable and since replaced is read again
            if skipped.get("sha256") != _content_hash(Path(skipped["path"])):
                log.info("%s changed since it was skipped as unreadable: building the cache again", skipped["path"])
                return None
        return cls(data_path, meta_path, meta)


def _build(
    data_path: Path,
    files: list[Path],
    compute: Callable[[Path], np.ndarray],
    summarize: Callable[[np.ndarray], np.ndarray],
    n_mels: int,
    on_error: OnError,
    skippable: tuple[type[BaseException], ...],
) -> dict:
    """Write every item's frames to a temporary file, then move it into place."""
    tmp = data_path.with_name(f"{data_path.name}.tmp.{os.getpid()}")
    offsets, kept, skipped = [0], [], []
    total, total_sq, count = 0.0, 0.0, 0
    try:
        with atomic_write.open_for_writing(tmp) as fh:
            for i, path in enumerate(files):
                try:
                    frames = compute(path)
                except skippable as exc:
                    if on_error == "raise":
                        raise
                    skipped.append({"path": str(path), "error": str(exc), "sha256": _content_hash(path)})
                    continue
                frames = np.ascontiguousarray(frames, dtype=np.float32)
                if frames.ndim != 2 or frames.shape[1] != n_mels:
                    raise ValueError(f"compute({path}) returned shape {frames.shape}, expected [T, {n_mels}]")
                fh.write(frames.tobytes())
                offsets.append(offsets[-1] + frames.shape[0])
                kept.append(i)
                values = np.asarray(summarize(frames), dtype=np.float64)
                total += float(values.sum())
                total_sq += float(np.square(values).sum())
                count += values.size
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, data_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    mean = total / count if count else 0.0
    var = max(total_sq / count - mean * mean, 0.0) if count else 1.0
    std = float(np.sqrt(var)) or 1.0
    return {
        "complete": True,
        "nbytes": offsets[-1] * n_mels * 4,
        "offsets": offsets,
        "kept": kept,
        "skipped": skipped,
        "stats": {"mean": mean, "std": std, "count": count},
    }


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _content_hash(path: Path) -> str | None:
    """sha256 of a file's bytes; ``None`` when it cannot be read (missing, no permission)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _free(folder: Path) -> int | None:
    try:
        st = os.statvfs(folder)
    except OSError:  # pragma: no cover
        return None
    return st.f_bavail * st.f_frsize


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
