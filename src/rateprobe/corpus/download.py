"""Fetching LibriSpeech subsets (openslr resource 12): resumable, verified, safely extracted.

A subset archive is downloaded to <root>/.rateprobe/downloads/<subset>.tar.gz.part, resuming a
partial file with an HTTP Range request; mirrors are tried in order. Nothing is extracted until
the whole file matches its published MD5. Extraction checks every member first (no absolute
paths, nothing escaping the target, no links pointing outside, no device files), unpacks into a
scratch folder and moves the subset into place, so a failure leaves no partial subset behind.
"""

from __future__ import annotations

import glob
import hashlib
import http.client
import logging
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from rateprobe.corpus.librispeech import corpus_dir
from rateprobe.io import remove_leftovers, write_json

# Published in https://www.openslr.org/resources/12/md5sum.txt
OFFICIAL_MD5 = {
    "dev-clean": "42e2234ba48799c1f50f24a7926300a1",
    "dev-other": "c8d0bcc9cca99d4f8b62fcc847357931",
    "test-clean": "32fa31d27d2e1cad72775fee3f4849a9",
    "test-other": "fb5a50374b501bb3bac4815ee91d3135",
    "train-clean-100": "2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360": "c0e676e450a7ff2f54aeade5171606fa",
    "train-other-500": "d1a0fd59409feb2c614ce4d30c387708",
}
CHUNK = 1 << 20
ATTEMPTS_PER_MIRROR = 3
TIMEOUT_S = 60

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """A subset could not be fetched, verified or extracted; the message says why."""


def state_dir(root: str | Path) -> Path:
    return Path(root) / ".rateprobe"


def completion_marker(root: str | Path, subset: str) -> Path:
    return state_dir(root) / f"{subset}.complete.json"


def corpus_root_of(marker: str | Path) -> Path:
    """The corpus root a completion marker belongs to (the inverse of completion_marker)."""
    return Path(marker).parent.parent


def expected_md5(subset: str, overrides: Mapping[str, str]) -> str:
    md5 = overrides.get(subset) or OFFICIAL_MD5.get(subset)
    if md5 is None:
        raise DownloadError(
            f"no published MD5 for subset '{subset}': set corpus.md5.{subset} in the config"
        )
    return md5


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _open(url: str, offset: int) -> http.client.HTTPResponse | None:
    """The response for the bytes from `offset` on; None when nothing is left to fetch."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # type: ignore[no-any-return]
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # range starts at the end: the file is already whole
            return None
        raise


def _append_response(url: str, response: http.client.HTTPResponse, offset: int, part: Path) -> None:
    """Write the body after `offset` bytes already in `part`; raise if it ends early."""
    if offset and response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        if not content_range.startswith(f"bytes {offset}-"):
            raise DownloadError(f"{url}: unexpected Content-Range {content_range!r}")
        log.info("resuming %s at byte %d", url, offset)
    else:
        offset = 0  # the server ignored the range: start over
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length is not None else None
    name = part.name.removesuffix(".part")
    with (
        part.open("ab" if offset else "wb") as sink,
        tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=name) as bar,
    ):
        while block := response.read(CHUNK):
            sink.write(block)
            bar.update(len(block))
    size = part.stat().st_size
    if total is not None and size < total:
        raise http.client.IncompleteRead(b"", total - size)


def fetch(url: str, part: Path) -> None:
    """Download `url` into `part`, continuing from its current size; retries on broken links."""
    part.parent.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for attempt in range(1, ATTEMPTS_PER_MIRROR + 1):
        offset = part.stat().st_size if part.exists() else 0
        try:
            response = _open(url, offset)
            if response is None:
                return
            with response:
                _append_response(url, response, offset, part)
            return
        except (OSError, http.client.HTTPException) as err:
            if isinstance(err, urllib.error.HTTPError) and err.code < 500:
                raise
            last_error = err
            log.warning("download of %s interrupted (attempt %d): %s", url, attempt, err)
    raise DownloadError(f"{url}: gave up after {ATTEMPTS_PER_MIRROR} attempts: {last_error}")


def _member_problem(member: tarfile.TarInfo, target: Path) -> str | None:
    name = PurePosixPath(member.name)
    if name.is_absolute():
        return "absolute path"
    inside = (target / name).resolve()
    if not inside.is_relative_to(target):
        return "path escapes the target folder"
    if member.isdev() or member.isfifo():
        return "device or fifo member"
    if member.issym() or member.islnk():
        link = PurePosixPath(member.linkname)
        if link.is_absolute():
            return f"link to absolute path {member.linkname}"
        base = inside.parent if member.issym() else target
        if not (base / link).resolve().is_relative_to(target):
            return f"link {member.linkname} points outside the target folder"
    return None


def safe_extract(archive: Path, target: Path) -> None:
    """Extract `archive` into `target` after checking every member; all or nothing."""
    target = target.resolve()
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            bad = [(m.name, p) for m in members if (p := _member_problem(m, target))]
            if bad:
                listing = "\n".join(f"  {name}: {problem}" for name, problem in bad)
                raise DownloadError(f"{archive}: refusing to extract unsafe members:\n{listing}")
            tar.extractall(target, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DownloadError(f"{archive}: not a readable .tar.gz archive ({err})") from err


def _install(archive: Path, root: Path, subset: str) -> None:
    """Extract into a scratch folder beside the corpus, then move the subset into place."""
    libri = corpus_dir(root)
    libri.mkdir(parents=True, exist_ok=True)
    prefix = f"extract-{subset}."
    remove_leftovers(state_dir(root), f"{glob.escape(prefix)}*")  # a killed extraction's
    scratch = Path(tempfile.mkdtemp(dir=state_dir(root), prefix=prefix))
    try:
        safe_extract(archive, scratch)
        extracted = scratch / "LibriSpeech"
        if not (extracted / subset).is_dir():
            raise DownloadError(f"{archive}: does not contain LibriSpeech/{subset}/")
        # Every subset archive carries the same SPEAKERS.TXT, CHAPTERS.TXT, ... at its top.
        for item in extracted.iterdir():
            if item.is_file() and not (libri / item.name).exists():
                item.rename(libri / item.name)
        (extracted / subset).rename(libri / subset)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def download_subset(
    root: str | Path,
    subset: str,
    mirrors: Sequence[str],
    md5_overrides: Mapping[str, str],
    marker: str | Path,
) -> None:
    """Make <root>/LibriSpeech/<subset> present, fetching it if missing; then write `marker`."""
    root = Path(root)
    marker = Path(marker)
    if (corpus_dir(root) / subset).is_dir():
        log.info("%s already present, not downloading", corpus_dir(root) / subset)
        write_json(marker, {"subset": subset, "source": "already present"})
        return
    md5 = expected_md5(subset, md5_overrides)
    downloads = state_dir(root) / "downloads"
    archive = downloads / f"{subset}.tar.gz"  # present only once verified
    if archive.exists() and file_md5(archive) != md5:
        # Verified against another MD5 (corpus.md5 was corrected since): fetch it again.
        log.warning("%s does not match MD5 %s; deleted, downloading again", archive, md5)
        archive.unlink()
    if not archive.exists():
        _download_verified(subset, mirrors, md5, archive)
    try:
        _install(archive, root, subset)
    except DownloadError as err:
        # A refused archive kept would be refused again on every run, whatever was fixed.
        archive.unlink()
        raise DownloadError(
            f"{err}\nThe archive was deleted: the next run downloads it again."
        ) from err
    archive.unlink()
    write_json(marker, {"subset": subset, "md5": md5})


def _download_verified(subset: str, mirrors: Sequence[str], md5: str, archive: Path) -> None:
    part = archive.with_name(f"{archive.name}.part")
    failures = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{subset}.tar.gz"
        try:
            fetch(url, part)
        except (DownloadError, OSError, http.client.HTTPException) as err:
            failures.append(f"  {url}: {err}")
            continue
        got = file_md5(part)
        if got == md5:
            break
        part.unlink()
        failures.append(f"  {url}: MD5 {got} does not match the published {md5}; file removed")
    else:
        raise DownloadError(
            f"could not fetch LibriSpeech subset '{subset}' from any mirror; nothing was "
            "extracted:\n" + "\n".join(failures)
        )
    log.info("fetched %s (MD5 verified)", url)
    part.rename(archive)
