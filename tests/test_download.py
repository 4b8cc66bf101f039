"""Downloading LibriSpeech subsets, offline: a local HTTP server serves archives built here."""

from __future__ import annotations

import hashlib
import random
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_archive import ServedFiles, serve, tar_gz

from rateprobe.corpus.download import (
    DownloadError,
    completion_marker,
    download_subset,
    safe_extract,
)
from rateprobe.corpus.librispeech import scan_subsets


@pytest.fixture
def archive() -> Iterator[tuple[ServedFiles, str]]:
    served = ServedFiles()
    server, base = serve(served)
    yield served, base
    server.shutdown()
    server.server_close()


def subset_archive(subset: str = "dev-clean") -> bytes:
    # Big enough (incompressible padding) that "half-way" is a real break in the stream.
    padding = random.Random(0).randbytes(256_000)
    return tar_gz({
        "LibriSpeech/SPEAKERS.TXT": b"1 | F | dev-clean | 1.0 | A Reader\n",
        f"LibriSpeech/{subset}/1/10/1-10.trans.txt": b"1-10-0000 HELLO WORLD\n",
        f"LibriSpeech/{subset}/1/10/1-10-0000.flac": padding,
    })  # fmt: skip


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def fetch(root: Path, mirrors: list[str], md5s: dict[str, str], subset: str = "dev-clean") -> None:
    download_subset(root, subset, mirrors, md5s, completion_marker(root, subset))


def test_good_archive_is_verified_extracted_and_marked(archive, tmp_path: Path) -> None:
    served, base = archive
    data = subset_archive()
    served.files["/good/dev-clean.tar.gz"] = data
    fetch(tmp_path, [f"{base}/missing", f"{base}/good"], {"dev-clean": md5(data)})
    utterances, _ = scan_subsets(tmp_path, ["dev-clean"])
    assert [u.utt_id for u in utterances] == ["1-10-0000"]
    assert (tmp_path / "LibriSpeech" / "SPEAKERS.TXT").is_file()
    assert completion_marker(tmp_path, "dev-clean").is_file()
    assert list((tmp_path / ".rateprobe" / "downloads").iterdir()) == []
    assert served.ranges == [None, None]  # the first mirror 404s, the second serves


def test_corrupted_archive_is_rejected_and_nothing_extracted(archive, tmp_path: Path) -> None:
    served, base = archive
    data = bytearray(subset_archive())
    published = md5(bytes(data))
    data[len(data) // 2] ^= 0xFF
    served.files["/dev-clean.tar.gz"] = bytes(data)
    with pytest.raises(DownloadError, match=f"does not match the published {published}"):
        fetch(tmp_path, [base], {"dev-clean": published})
    assert not (tmp_path / "LibriSpeech").exists()
    assert not completion_marker(tmp_path, "dev-clean").exists()
    assert list((tmp_path / ".rateprobe" / "downloads").iterdir()) == []


def test_broken_connection_is_resumed_with_a_range_request(archive, tmp_path: Path) -> None:
    served, base = archive
    data = subset_archive()
    served.files["/dev-clean.tar.gz"] = data
    served.drop_first_response = True
    fetch(tmp_path, [base], {"dev-clean": md5(data)})
    assert served.ranges == [None, f"bytes={len(data) // 2}-"]
    assert (tmp_path / "LibriSpeech" / "dev-clean" / "1" / "10" / "1-10.trans.txt").is_file()


def test_partial_file_from_an_earlier_run_is_resumed(archive, tmp_path: Path) -> None:
    served, base = archive
    data = subset_archive()
    served.files["/dev-clean.tar.gz"] = data
    part = tmp_path / ".rateprobe" / "downloads" / "dev-clean.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    fetch(tmp_path, [base], {"dev-clean": md5(data)})
    assert len(data) > 100_000 and served.ranges == ["bytes=1000-"]
    assert scan_subsets(tmp_path, ["dev-clean"])[0]


def test_path_traversal_member_is_rejected(archive, tmp_path: Path) -> None:
    served, base = archive
    data = tar_gz({"LibriSpeech/dev-clean/1/10/1-10.trans.txt": b"x\n", "../escaped.txt": b"!"})
    served.files["/dev-clean.tar.gz"] = data
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match=r"\.\./escaped.txt: path escapes the target"):
        fetch(root, [base], {"dev-clean": md5(data)})
    assert not (tmp_path / "escaped.txt").exists()
    assert not (root / "LibriSpeech" / "dev-clean").exists()


def test_a_refused_archive_is_deleted_so_a_corrected_mirror_is_fetched(
    archive, tmp_path: Path
) -> None:
    served, base = archive
    bad = tar_gz({"LibriSpeech/dev-clean/1/10/1-10.trans.txt": b"x\n", "../escaped.txt": b"!"})
    served.files["/bad/dev-clean.tar.gz"] = bad
    with pytest.raises(DownloadError, match=r"escapes the target.*\n.*archive was deleted"):
        fetch(tmp_path, [f"{base}/bad"], {"dev-clean": md5(bad)})
    assert list((tmp_path / ".rateprobe" / "downloads").iterdir()) == []
    good = subset_archive()
    served.files["/good/dev-clean.tar.gz"] = good
    fetch(tmp_path, [f"{base}/good"], {"dev-clean": md5(good)})  # mirror and MD5 corrected
    assert scan_subsets(tmp_path, ["dev-clean"])[0]


def test_a_kept_archive_of_another_md5_is_fetched_again(archive, tmp_path: Path) -> None:
    served, base = archive
    good = subset_archive()
    served.files["/dev-clean.tar.gz"] = good
    kept = tmp_path / ".rateprobe" / "downloads" / "dev-clean.tar.gz"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"verified against a wrong corpus.md5 in an earlier run")
    fetch(tmp_path, [base], {"dev-clean": md5(good)})
    assert served.ranges == [None]  # downloaded again, from the start
    assert scan_subsets(tmp_path, ["dev-clean"])[0]


def test_links_outside_devices_and_absolute_paths_are_rejected(tmp_path: Path) -> None:
    outside = tarfile.TarInfo("LibriSpeech/link")
    outside.type, outside.linkname = tarfile.SYMTYPE, "../../etc/passwd"
    inside = tarfile.TarInfo("LibriSpeech/ok-link")
    inside.type, inside.linkname = tarfile.SYMTYPE, "SPEAKERS.TXT"
    device = tarfile.TarInfo("LibriSpeech/dev")
    device.type = tarfile.CHRTYPE
    absolute = tarfile.TarInfo("/tmp/absolute.txt")
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(
        tar_gz({"LibriSpeech/SPEAKERS.TXT": b""}, [outside, inside, device, absolute])
    )
    with pytest.raises(DownloadError) as caught:
        safe_extract(archive, tmp_path / "out")
    message = str(caught.value)
    assert "LibriSpeech/link: link ../../etc/passwd points outside" in message
    assert "LibriSpeech/dev: device" in message and "/tmp/absolute.txt: absolute path" in message
    assert "ok-link" not in message
    assert not (tmp_path / "out").exists()


def test_unknown_subset_needs_an_md5_before_any_request(archive, tmp_path: Path) -> None:
    served, base = archive
    with pytest.raises(DownloadError, match=r"corpus\.md5\.my-subset"):
        fetch(tmp_path, [base], {}, subset="my-subset")
    assert served.ranges == []


def test_present_subset_is_not_downloaded(archive, tmp_path: Path) -> None:
    served, base = archive
    (tmp_path / "LibriSpeech" / "dev-clean").mkdir(parents=True)
    fetch(tmp_path, [base], {})
    assert served.ranges == [] and completion_marker(tmp_path, "dev-clean").is_file()
