"""Fetching a public archive, checking it and unpacking it (torchvision's helpers)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path



def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def download_and_extract(url: str, root: Path, extract_to: Path | None = None, sha256: str | None = None) -> Path:
    """Download ``url`` into ``root`` (kept if already there), verify it, unpack it.

    Args:
        url: a public tar.gz or zip archive.
        root: folder the archive is saved in.
        extract_to: folder it is unpacked into (``root`` when ``None``).
        sha256: expected checksum; a mismatch deletes the file and raises.

    Returns:
        The archive's path.
    """
    root.mkdir(parents=True, exist_ok=True)
    filename = url.rstrip("/").split("/")[-1]
    archive = root / filename
    if not archive.is_file():
        from torchvision.datasets.utils import download_url  # imported when used: the plugin loads fast

        download_url(url, str(root), filename)
    if sha256 is not None:
        actual = sha256_of(archive)
        if actual != sha256:
            archive.unlink()
            raise RuntimeError(f"{archive} from {url} is corrupt (sha256 {actual}, expected {sha256}); it was deleted, retry")
    from torchvision.datasets.utils import extract_archive

    extract_archive(str(archive), str(extract_to or root))
    return archive


def move_contents(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` (a folder unpacked under a versioned name), replacing nothing."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(target))
