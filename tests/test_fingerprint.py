"""Content fingerprints of user-owned input files, cached by file status between plans."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rateprobe import fingerprint
from rateprobe.fingerprint import BLOCK_BYTES, FingerprintCache, path_digest


def test_a_replaced_file_is_seen_though_its_modification_time_is_restored(tmp_path: Path) -> None:
    path = tmp_path / "audio.flac"
    path.write_bytes(b"a" * (3 * BLOCK_BYTES))
    before = FingerprintCache().fingerprint(str(path))
    times = path.stat()
    path.write_bytes(b"a" * (3 * BLOCK_BYTES - 1) + b"b")  # same size, last byte differs
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert FingerprintCache().fingerprint(str(path)) != before


def test_the_cache_file_spares_rehashing_until_the_status_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audio.flac"
    path.write_bytes(b"some audio")
    store = tmp_path / "state" / "fingerprints.json"
    first = FingerprintCache(store)
    value = first.fingerprint(str(path))
    first.save()
    hashed: list[str] = []
    original = fingerprint.file_fingerprint
    monkeypatch.setattr(
        fingerprint, "file_fingerprint", lambda p, size: hashed.append(p) or original(p, size)
    )
    assert FingerprintCache(store).fingerprint(str(path)) == value
    assert hashed == []
    # Replaced as rsync -a does: a new file of the same size and time stamps, renamed over it.
    replacement = tmp_path / "replacement"
    replacement.write_bytes(b"some other")
    times = path.stat()
    os.utime(replacement, ns=(times.st_atime_ns, times.st_mtime_ns))
    replacement.replace(path)
    assert FingerprintCache(store).fingerprint(str(path)) != value
    assert hashed == [str(path)]


def test_a_local_checkpoint_digest_follows_content_not_time_stamps_or_place(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "voxceleb_CAM++"
    folder.mkdir()
    (folder / "config.yaml").write_text("model: CAMPPlus\n")
    weights = folder / "avg_model.pt"
    weights.write_bytes(b"weights, version 1" * 1000)
    cache = FingerprintCache(tmp_path / "cache.json")
    before = path_digest(folder, cache)
    moved = shutil.copytree(folder, tmp_path / "elsewhere" / "voxceleb_CAM++")
    assert path_digest(moved, cache) == before
    # Replaced as cp -p or rsync -a replace it: same size, the old time stamps kept.
    stamps = weights.stat()
    weights.write_bytes(b"weights, version 2" * 1000)
    os.utime(weights, ns=(stamps.st_atime_ns, stamps.st_mtime_ns))
    assert path_digest(folder, cache) != before
    assert path_digest(weights, cache) != path_digest(moved / "avg_model.pt", cache)
