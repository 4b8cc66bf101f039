"""Single-pass activations: batching equals per-utterance runs, sharded extraction equals one
job, the file format, atomic writes, compute precision."""

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
    autocast,
    cpu_computes_bfloat16,
    extract_shard,
    extract_taps,
    gather_shards,
    read_activations,
    resolve_precision,
)
from rateprobe.config import DEFAULTS, RUNTIME_ONLY, result_settings, runtime_settings
from rateprobe.encoders import compute_features, random_encoder
from rateprobe.sharding import manifest_durations, plan_batches, plan_shards

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
    """The result-deciding activation settings, defaults overridden."""
    return {
        key: value
        for key, value in (DEFAULTS["activations"] | overrides).items()
        if key not in RUNTIME_ONLY["activations"]
    }


def runtime(**overrides: object) -> dict:
    return runtime_settings({"activations": overrides}, "activations")


def extract_activations(
    manifest: Path, model: dict, output: Path, result: dict, run: dict | None = None
) -> list[Path]:
    """What the workflow does: every shard by itself, then the gather; returns the shards."""
    run = run or runtime()
    durations = manifest_durations(manifest)
    count = len(plan_shards(durations, run["batch_seconds"], run["shard_seconds"]))
    shards = [output.parent / f"{output.stem}.shards" / f"{i:04d}.npz" for i in range(count)]
    for index, shard in enumerate(shards):
        extract_shard(manifest, model, index, shard, result, run)
    gather_shards(manifest, shards, output, result["dtype"])
    return shards


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
        extract_shard(manifest, RESEMBLYZER, 0, output, settings(), runtime(batch_seconds=1.0))
    assert not output.exists()
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


def test_manifest_problems_name_the_file(tmp_path: Path) -> None:
    manifest = tmp_path / "test.csv"
    pd.DataFrame({"utt_id": ["1-2-3"], "path": ["x.wav"]}).to_csv(manifest, index=False)
    with pytest.raises(ValueError, match=r"test\.csv.*duration_s"):
        extract_shard(manifest, RESEMBLYZER, 0, tmp_path / "o.npz", settings(), runtime())


SAMRESNET34 = {
    "name": "samresnet34_random",
    "source": "random",
    "source_kind": "random",
    "arch": "samresnet34",
    "seed": 0,
}


def test_plan_shards_deals_whole_batches_and_counts_from_the_audio() -> None:
    rng = np.random.default_rng(1)
    durations = list(rng.uniform(1.0, 20.0, size=300))
    batches = plan_batches(durations, batch_seconds=32)
    for shard_seconds in (200.0, 700.0, 5000.0):
        shards = plan_shards(durations, 32, shard_seconds)
        assert len(shards) == int(np.ceil(sum(durations) / shard_seconds))
        assert [i for shard in shards for i in shard] == [i for b in batches for i in b]
        for shard in shards:
            audio = sum(durations[i] for i in shard)
            assert audio <= shard_seconds + 32
            # Planned again inside the shard, its batches are the same batches.
            local = plan_batches([durations[i] for i in shard], 32)
            assert all([shard[j] for j in batch] in batches for batch in local)
    # batch_seconds moves shard boundaries, never the number of shards (the jobs' inputs).
    counts = {len(plan_shards(durations, b, 700.0)) for b in (4, 8, 32, 64)}
    assert counts == {int(np.ceil(sum(durations) / 700.0))}
    with pytest.raises(ValueError, match="shard_seconds"):
        plan_shards([30.0, 30.0, 1.0], batch_seconds=8, shard_seconds=20)


def test_sharded_extraction_gives_the_bytes_of_one_job(tmp_path: Path) -> None:
    durations = [0.5, 1.6, 0.7, 1.3, 0.6, 1.0, 1.5, 0.9]
    manifest = write_manifest(tmp_path, durations)
    run = runtime(batch_seconds=3.2, shard_seconds=2.8)
    sharded = extract_activations(manifest, SAMRESNET34, tmp_path / "sharded.npz", settings(), run)
    one_job = extract_activations(
        manifest, SAMRESNET34, tmp_path / "one.npz", settings(), runtime(batch_seconds=3.2)
    )
    assert len(sharded) == 3 and len(one_job) == 1
    assert (tmp_path / "sharded.npz").read_bytes() == (tmp_path / "one.npz").read_bytes()
    with np.load(sharded[1]) as shard, np.load(tmp_path / "one.npz") as whole:
        # A shard holds whole batches: not a manifest-order slice, so the gather reorders.
        rows = shard["row"]
        assert not np.array_equal(np.sort(rows), np.arange(rows.min(), rows.max() + 1))
        assert np.array_equal(whole["utt_id"][rows], shard["utt_id"])
        assert np.array_equal(whole["tap/layer2.0"][rows], shard["tap/layer2.0"].astype(np.float16))


def test_gather_refuses_shards_of_another_plan(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [0.6, 1.0, 0.8])
    shards = extract_activations(
        manifest,
        RESEMBLYZER,
        tmp_path / "a.npz",
        settings(),
        runtime(batch_seconds=0.5, shard_seconds=1),
    )
    assert len(shards) == 3
    with pytest.raises(ValueError, match=r"a\.npz.*each utterance of the manifest once"):
        gather_shards(manifest, [shards[0], shards[0], shards[2]], tmp_path / "a.npz", "float16")


def test_only_result_settings_are_params() -> None:
    cfg = {"activations": {**DEFAULTS["activations"], "batch_seconds": 64, "device": "cpu"}}
    assert set(result_settings(cfg)["activations"]) == {
        "pooling", "max_seconds", "simam_taps", "dtype", "precision",
    }  # fmt: skip
    run = runtime_settings(cfg, "activations")
    assert run["batch_seconds"] == 64 and run["device"] == "cpu"
    assert set(run) == set(RUNTIME_ONLY["activations"])
    assert (
        runtime_settings({}, "activations")["shard_seconds"]
        == (DEFAULTS["activations"]["shard_seconds"])
    )


def test_precision_auto_follows_the_hardware(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx2 avx512f avx512_bf16\n")
    assert cpu_computes_bfloat16(cpuinfo)
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx2\n")
    assert not cpu_computes_bfloat16(cpuinfo)
    native = "bfloat16" if cpu_computes_bfloat16() else "float32"
    assert resolve_precision("auto", torch.device("cpu")) == native
    assert resolve_precision("auto", torch.device("cuda")) == "float16"
    assert resolve_precision("bfloat16", torch.device("cpu")) == "bfloat16"


def test_bfloat16_autocast_keeps_the_embedding_and_pools_in_float32() -> None:
    encoder = random_encoder("samresnet34", seed=0).eval()
    features = torch.from_numpy(compute_features(encoder, speech_like_waveform(2.0, seed=3)))[None]
    lengths = torch.tensor([features.shape[1]])
    with torch.inference_mode():
        exact = encoder(features, lengths)
        with autocast("bfloat16", torch.device("cpu")):
            low = encoder(features, lengths)
    assert low.dtype == torch.bfloat16  # the autocast did reach the network
    cosine = torch.nn.functional.cosine_similarity(exact, low.float()).item()
    assert cosine >= 0.999
    pooled = extract_taps(
        encoder, [speech_like_waveform(2.0, seed=3)].__getitem__, [2.0], ["layer1.0"],
        ("mean", "std"), 8, torch.device("cpu"), "bfloat16",
    )  # fmt: skip
    assert pooled["layer1.0"].dtype == np.float32


def test_resemblyzer_stays_in_float32(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [0.8])
    output = tmp_path / "bf16.npz"
    extract_activations(manifest, RESEMBLYZER, output, settings(precision="bfloat16"))
    assert read_activations(output).meta["precision"] == "float32"
