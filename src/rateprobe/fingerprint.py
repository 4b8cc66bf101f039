"""Cheap content fingerprints of input files the user owns, so that content, not only the
modification time, decides what is stale.

A file replaced with its old modification time kept (`cp -p`, `rsync -a`, `touch -r`) looks
unchanged to Snakemake. Its fingerprint (size and a hash of the first and last 64 KiB) does
not. Hashing reads up to 128 KiB a file, so fingerprints are cached by the file's status (size,
modification and change time, inode): every write, chmod or `touch -r` moves the change time, so
an unchanged status means unchanged content, and planning costs one stat a file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from rateprobe.io import write_json

BLOCK_BYTES = 64 * 1024
# Project state beside Snakemake's own: removed with it, and rebuilt on the next plan.
DEFAULT_CACHE = Path(".snakemake") / "rateprobe" / "fingerprints.json"
CACHE_FORMAT = 1


def file_fingerprint(path: str, size: int) -> str:
    """Hash of the size and the first and last BLOCK_BYTES (the whole file when it is smaller);
    raises OSError when the file cannot be read."""
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as handle:
        digest.update(handle.read(BLOCK_BYTES))
        if size > 2 * BLOCK_BYTES:
            handle.seek(size - BLOCK_BYTES)
        digest.update(handle.read(BLOCK_BYTES))
    return digest.hexdigest()


class FingerprintCache:
    """File fingerprints keyed by the file's status, kept in a JSON file between plans (no file:
    kept in memory only)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, list[int | str]] = self._load()
        self.changed = False

    def _load(self) -> dict[str, list[int | str]]:
        # A missing, unreadable or older cache only costs one full fingerprinting pass.
        if self.path is None or not self.path.is_file():
            return {}
        try:
            stored = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(stored, dict) or stored.get("format") != CACHE_FORMAT:
            return {}
        return dict(stored.get("files", {}))

    def fingerprint(self, path: str) -> str:
        """The file's fingerprint, hashed again only when its status changed; raises OSError.

        Kept under the path as given: a cache lies in one working directory, and a file that a
        relative path names after a move has another inode and change time.
        """
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):  # opening a pipe would wait for a writer
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        key = [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]
        cached = self.entries.get(path)
        if cached is not None and cached[:-1] == key:
            return str(cached[-1])
        fingerprint = file_fingerprint(path, status.st_size)
        self.entries[path] = [*key, fingerprint]
        self.changed = True
        return fingerprint

    def save(self) -> None:
        """Write the cache when it changed; a cache that cannot be written is only slower."""
        if self.path is None or not self.changed:
            return
        try:
            write_json(self.path, {"format": CACHE_FORMAT, "files": self.entries})
        except OSError:
            return
        self.changed = False


def combined_digest(entries: Iterable[tuple[str, str]]) -> str:
    """One digest over (name, fingerprint-or-problem) pairs, independent of their order."""
    digest = hashlib.blake2b(digest_size=16)
    for name, state in sorted(entries):
        digest.update(f"{name}\0{state}\n".encode())
    return digest.hexdigest()


def path_digest(path: str | Path, cache: FingerprintCache) -> str:
    """A local checkpoint's content: one file's fingerprint, or the digest of every file in a
    folder by its name inside the folder (where the folder lies does not count); the cache is
    saved. Raises OSError naming a file that cannot be read."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = combined_digest(
        (str(f.relative_to(path)) if path.is_dir() else f.name, cache.fingerprint(str(f)))
        for f in files
    )
    cache.save()
    return digest
