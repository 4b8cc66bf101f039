"""Tempo variants of test utterances, their audio and labels (rateprobe.corpus.tempo_variants)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rateprobe.audio import TARGET_RATE, read_audio
from rateprobe.config import DEFAULTS
from rateprobe.corpus.splits import synthetic_report
from rateprobe.corpus.synthetic import synthesize_corpus, synthesize_utterance
from rateprobe.corpus.tempo_variants import (
    MANIFEST_COLUMNS,
    build_interventions,
    pad_silence,
    rate_variant,
    synthetic_test_plans,
)
from rateprobe.labels import VadSettings, build_manifest, count_chars, voiced_duration

REPO = Path(__file__).resolve().parents[1]
LIBRISPEECH_SAMPLE = REPO.parent / "shared" / "librispeech-sample" / "LibriSpeech"
VAD = {"aggressiveness": 2, "frame_ms": 30}
BOUNDS = DEFAULTS["labels"]
SETTINGS = {
    "enabled": True,
    "rate_factors": [0.8, 1.25],
    "pause_gaps": [10],
    "pad_seconds": 1.0,
    "utterances_per_speaker": 1,
}
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng absent")
needs_rubberband = pytest.mark.skipif(
    shutil.which("rubberband") is None, reason="rubberband absent (bin/setup installs it)"
)


# ------------------------------------------------------------------ audio and manifests


@pytest.fixture(scope="module")
def synthetic_test_split(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny espeak-ng corpus (3 speakers per split, 2 utterances each) and its test manifest."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent")
    root = tmp_path_factory.mktemp("synthetic")
    corpus = {
        "kind": "synthetic",
        "root": str(root / "corpus"),
        "splits": {"train": 2, "dev": 2, "test": 3},
        "synthetic": {"utterances_per_speaker": 2, "min_wpm": 120, "max_wpm": 300},
    }
    report = synthetic_report(corpus["root"])
    synthesize_corpus(corpus, seed=0, report_path=report, workers=2)
    manifest = root / "test.csv"
    bad = root / "test.bad.json"
    build_manifest(corpus, VAD, "fail", "test", manifest, bad, bounds=BOUNDS, workers=2)
    return {"root": root, "manifest": manifest, "report": report}


def _natural(manifest: Path) -> pd.DataFrame:
    return pd.read_csv(manifest, dtype={"utt_id": str, "speaker_id": str}).set_index("utt_id")


def _assert_well_formed(variants: pd.DataFrame, natural: pd.DataFrame, n_variants: int) -> None:
    assert list(variants.columns) == list(MANIFEST_COLUMNS)
    assert variants["utt_id"].is_unique and variants["utt_id"].is_monotonic_increasing
    assert len(variants) == n_variants
    source = natural.loc[variants["source_utt_id"]]
    assert (variants["speaker_id"].to_numpy() == source["speaker_id"].to_numpy()).all()
    assert (variants["text"].to_numpy() == source["text"].to_numpy()).all()
    assert (variants["n_chars"].to_numpy() == source["n_chars"].to_numpy()).all()
    assert (variants["n_chars"] == variants["text"].map(count_chars)).all()
    np.testing.assert_allclose(variants["cps"], variants["n_chars"] / variants["duration_s"])
    assert all(Path(p).is_file() for p in variants["path"])


@needs_espeak
def test_synthetic_interventions_change_the_rate_by_the_factor(
    synthetic_test_split: dict[str, Path], tmp_path: Path
) -> None:
    split = synthetic_test_split
    variants = build_interventions(
        split["manifest"], SETTINGS, "synthetic", VAD, 0, tmp_path / "m.csv", tmp_path / "audio",
        synthesis_report=split["report"], workers=2,
    )  # fmt: skip
    natural = _natural(split["manifest"])
    _assert_well_formed(variants, natural, n_variants=3 * 3)
    assert variants.equals(pd.read_csv(tmp_path / "m.csv", dtype={"utt_id": str, "speaker_id": str,
                                                                  "chapter_id": str}))  # fmt: skip
    ratio = variants["cps"].to_numpy() / natural.loc[variants["source_utt_id"], "cps"].to_numpy()
    rate = (variants["intervention"] == "rate").to_numpy()
    # espeak-ng's speed is not exactly proportional: measured 0.92-1.12 x the factor.
    np.testing.assert_allclose(ratio[rate] / variants["factor"][rate], 1.0, atol=0.15)
    assert (ratio[~rate] < 0.95).all()  # longer pauses, same words: slower
    assert set(variants["utt_id"]) >= {f"{u}~rate1.25" for u in variants["source_utt_id"]}


@needs_espeak
def test_resynthesis_keeps_the_voice_and_text(
    synthetic_test_split: dict[str, Path], tmp_path: Path
) -> None:
    plans = synthetic_test_plans(json.loads(synthetic_test_split["report"].read_text()))
    natural = _natural(synthetic_test_split["manifest"])
    assert sorted(plans) == sorted(natural.index)
    utt_id = natural.index[0]
    same_speed = rate_variant(plans[utt_id], 1.0)
    faster = rate_variant(plans[utt_id], 1.25)
    assert (same_speed.speaker, same_speed.text) == (faster.speaker, faster.text)
    assert faster.wpm == round(plans[utt_id].wpm * 1.25)
    synthesize_utterance(same_speed, tmp_path)
    again = read_audio(tmp_path / same_speed.relative_path).samples
    np.testing.assert_array_equal(again, read_audio(natural.loc[utt_id, "path"]).samples)


@needs_espeak
@needs_rubberband
def test_time_stretch_changes_duration_by_the_factor_and_keeps_the_text(
    synthetic_test_split: dict[str, Path], tmp_path: Path
) -> None:
    split = synthetic_test_split
    variants = build_interventions(
        split["manifest"], SETTINGS, "librispeech", VAD, 0, tmp_path / "m.csv",
        tmp_path / "audio", workers=2,
    )  # fmt: skip
    natural = _natural(split["manifest"])
    _assert_well_formed(variants, natural, n_variants=3 * 3)
    source = natural.loc[variants["source_utt_id"]]
    stretch = (variants["intervention"] == "stretch").to_numpy()
    expected = source["duration_s"].to_numpy()[stretch] / variants["factor"].to_numpy()[stretch]
    np.testing.assert_allclose(variants["duration_s"].to_numpy()[stretch], expected, atol=0.002)
    pad = ~stretch
    added = variants["duration_s"].to_numpy()[pad] - source["duration_s"].to_numpy()[pad]
    np.testing.assert_allclose(added, SETTINGS["pad_seconds"], atol=1 / TARGET_RATE)


@pytest.mark.skipif(not LIBRISPEECH_SAMPLE.is_dir(), reason="../shared/librispeech-sample absent")
def test_padding_leaves_the_articulation_rate_alone_on_real_speech() -> None:
    vad = VadSettings(**VAD)
    ratios = []
    for path in sorted(LIBRISPEECH_SAMPLE.rglob("*.flac"))[:12]:
        samples, _ = sf.read(path, dtype="float32")
        padded = pad_silence(samples, 1.0, np.random.default_rng(0))
        assert len(padded) == len(samples) + TARGET_RATE
        np.testing.assert_array_equal(padded[TARGET_RATE // 2 : -TARGET_RATE // 2], samples)
        ratios.append(voiced_duration(samples, vad) / voiced_duration(padded, vad))
    # VAD tolerance: a frame or two either way per utterance (measured 0.97-1.05 on 40).
    assert np.all(np.abs(np.array(ratios) - 1.0) < 0.06)
    assert abs(np.mean(ratios) - 1.0) < 0.02
