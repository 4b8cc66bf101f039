"""Single-pass activations: batching equals per-utterance runs, the file format, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from encoder_support import randomise_batchnorm, speech_like_waveform

from rateprobe.activations import (
    extract_activations,
    extract_taps,
    plan_batches,
    read_activations,
)
from rateprobe.config import DEFAULTS
from rateprobe.encoders import compute_features, random_encoder

torch.set_num_threads(2)

RESEMBLYZER = {
    "name": "resemblyzer",
    "source": "resemblyzer",
    "source_kind": "resemblyzer",
    "arch": "resemblyzer",
}


def max_relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize(
    ("arch", "inner"), [("samresnet34", ("relu1", "simam")), ("resemblyzer", ())]
)
def test_batched_extraction_equals_per_utterance(arch: str, inner: tuple[str, ...]) -> None:
    durations = [0.5, 9.0, 3.0]
    waveforms = [speech_like_waveform(d, seed=i) for i, d in enumerate(durations)]
    encoder = random_encoder(arch, seed=0)
    randomise_batchnorm(encoder, seed=1)
    taps = encoder.tap_names(inner)
    assert plan_batches(durations, batch_seconds=30) == [[1, 2, 0]]

    def run(batch_seconds: float) -> dict[str, np.ndarray]:
        return extract_taps(
            encoder,
            waveforms.__getitem__,
            durations,
            taps,
            ("mean", "std"),
            batch_seconds,
            torch.device("cpu"),
        )

    batched, alone = run(batch_seconds=30), run(batch_seconds=0.1)
    for name in taps:
        assert batched[name].dtype == np.float32
        assert max_relative_difference(batched[name], alone[name]) <= 1e-4, name


def test_masking_matters_for_the_batching_test() -> None:
    """Zero-padding without masks changes the short utterance: the test above can fail."""
    encoder = random_encoder("samresnet34", seed=0).eval()
    randomise_batchnorm(encoder, seed=1)
    features = torch.randn(1, 60, 80)
    padded = torch.cat([features, torch.zeros(1, 240, 80)], dim=1)
    with torch.inference_mode():
        alone = encoder(features, torch.tensor([60]))
        masked = encoder(padded, torch.tensor([60]))
        unmasked = encoder(padded, torch.tensor([300]))
    assert float((masked - alone).abs().max() / alone.abs().max()) <= 1e-4
    assert float((unmasked - alone).abs().max() / alone.abs().max()) > 1e-2


def test_plan_batches_bounds_padded_audio_and_covers_everything() -> None:
    rng = np.random.default_rng(0)
    durations = list(rng.uniform(0.5, 20.0, size=200))
    batches = plan_batches(durations, batch_seconds=64)
    assert sorted(i for b in batches for i in b) == list(range(200))
    for batch in batches:
        longest = max(durations[i] for i in batch)
        assert len(batch) == 1 or len(batch) * longest <= 64
    assert plan_batches([100.0, 1.0], batch_seconds=64) == [[0], [1]]


def write_manifest(folder: Path, durations: list[float]) -> Path:
    rows = []
    for index, duration in enumerate(durations):
        utt_id = f"100-200-{index:04d}"
        path = folder / f"{utt_id}.wav"
        sf.write(path, speech_like_waveform(duration, seed=10 + index), 16000, subtype="PCM_16")
        rows.append(
            {"utt_id": utt_id, "speaker_id": "100", "path": str(path), "duration_s": duration}
        )
    manifest = folder / "test.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def settings(**overrides: object) -> dict:
    return {**DEFAULTS["activations"], **overrides}


def test_file_format_and_float16_error(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [1.2, 0.6, 2.5, 0.9])
    half, single = tmp_path / "half.npz", tmp_path / "single.npz"
    extract_activations(manifest, RESEMBLYZER, half, settings(dtype="float16"))
    extract_activations(manifest, RESEMBLYZER, single, settings(dtype="float32"))

    with np.load(half) as archive:
        assert set(archive.files) == {
            "utt_id",
            "layer_names",
            "meta_json",
            "tap/lstm1",
            "tap/lstm2",
            "tap/lstm3",
            "tap/embedding",
        }
        assert list(archive["utt_id"]) == list(pd.read_csv(manifest, dtype=str)["utt_id"])
        assert archive["tap/lstm2"].shape == (4, 512) and archive["tap/lstm2"].dtype == np.float16
        assert archive["tap/embedding"].shape == (4, 256)
        meta = json.loads(str(archive["meta_json"]))
    assert {
        "model",
        "arch",
        "source",
        "pooling",
        "n_params",
        "frontend",
        "embedding_method",
        "dtype",
    } <= set(meta)
    assert meta["dtype"] == "float16" and meta["n_params"] == 1423616
    assert meta["embedding_method"]["kind"] == "windowed_mean"
    assert meta["embedding_method"]["window_s"] == 1.6
    assert "embed_utterance" in meta["embedding_method"]["description"]

    activations, exact = read_activations(half), read_activations(single)
    assert activations.layer_names == ["lstm1", "lstm2", "lstm3", "embedding"]
    for name in activations.layer_names:
        stored, reference = activations.tap(name), exact.tap(name)
        assert np.all(np.abs(stored - reference) <= 2.0**-11 * np.abs(reference) + 3e-8), name


def test_interrupted_extraction_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_manifest(tmp_path, [1.0, 1.0])
    output = tmp_path / "out" / "test.npz"
    calls = 0

    def interrupted_features(encoder, waveform):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return compute_features(encoder, waveform)

    monkeypatch.setattr("rateprobe.activations.compute_features", interrupted_features)
    with pytest.raises(KeyboardInterrupt):
        extract_activations(manifest, RESEMBLYZER, output, settings(batch_seconds=1.0))
    assert not output.exists()
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


def test_manifest_problems_name_the_file(tmp_path: Path) -> None:
    manifest = tmp_path / "test.csv"
    pd.DataFrame({"utt_id": ["1-2-3"], "path": ["x.wav"]}).to_csv(manifest, index=False)
    with pytest.raises(ValueError, match=r"test\.csv.*duration_s"):
        extract_activations(manifest, RESEMBLYZER, tmp_path / "o.npz", settings())
