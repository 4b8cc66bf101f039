"""Fetching a WeSpeaker checkpoint by URL, offline: a local HTTP server serves a zip we write."""

from __future__ import annotations

import functools
import hashlib
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
import yaml

from rateprobe.encoders import load_encoder, random_encoder
from rateprobe.encoders.checkpoints import CheckpointError, fetch_model


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves) of an HTTP server on 127.0.0.1."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


def write_official_zip(path: Path, seed: int) -> dict[str, torch.Tensor]:
    """A checkpoint zip laid out as WeSpeaker publishes them; returns its full state dict."""
    state = dict(random_encoder("samresnet34", seed).state_dict())
    state["projection.weight"] = torch.randn(20, 256)
    config = {
        "model": "SimAM_ResNet34_ASP",
        "model_args": {"in_planes": 64, "embed_dim": 256, "acoustic_dim": 80},
    }
    weights = path.parent / "avg_model.pt"
    torch.save(state, weights)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{path.stem}/config.yaml", yaml.safe_dump(config))
        archive.write(weights, f"{path.stem}/avg_model.pt")
    weights.unlink()
    return state


def test_fetch_verifies_checksum_and_loads(served: tuple[str, Path], tmp_path: Path) -> None:
    base, folder = served
    state = write_official_zip(folder / "voxblink2_samresnet34.zip", seed=3)
    checksum = hashlib.sha256((folder / "voxblink2_samresnet34.zip").read_bytes()).hexdigest()
    destination = tmp_path / "data" / "models" / "vb2"

    fetch_model(f"{base}/voxblink2_samresnet34.zip", destination, sha256=checksum)

    assert sorted(p.name for p in destination.iterdir()) == ["avg_model.pt", "config.yaml"]
    model = {"name": "vb2", "source": f"{base}/x.zip", "source_kind": "url"}
    loaded = load_encoder(model, checkpoint=destination).state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in loaded)


def test_fetch_without_checksum(served: tuple[str, Path], tmp_path: Path) -> None:
    base, folder = served
    write_official_zip(folder / "m.zip", seed=4)
    destination = fetch_model(f"{base}/m.zip", tmp_path / "m")
    assert (destination / "avg_model.pt").is_file()


def test_wrong_checksum_keeps_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    base, folder = served
    write_official_zip(folder / "m.zip", seed=5)
    destination = tmp_path / "m"
    with pytest.raises(CheckpointError, match="SHA-256 mismatch"):
        fetch_model(f"{base}/m.zip", destination, sha256="0" * 64)
    assert list(destination.iterdir()) == []


def test_missing_url_and_non_checkpoint_are_named(served: tuple[str, Path], tmp_path: Path) -> None:
    base, folder = served
    with pytest.raises(CheckpointError, match=r"absent\.zip: download failed"):
        fetch_model(f"{base}/absent.zip", tmp_path / "a")
    (folder / "page.html").write_text("<html>not a model</html>")
    with pytest.raises(
        CheckpointError, match=r"page\.html: downloaded file is unusable: .*neither a WeSpeaker"
    ):
        fetch_model(f"{base}/page.html", tmp_path / "b")
    assert list((tmp_path / "b").iterdir()) == []
