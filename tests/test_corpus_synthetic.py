"""The embedded synthetic corpus: sentences, speakers, rates, and espeak-ng synthesis."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rateprobe.corpus.librispeech import read_speaker_sex, scan_subsets
from rateprobe.corpus.sentences import make_sentence
from rateprobe.corpus.synthetic import (
    PlannedUtterance,
    design_speakers,
    plan_utterances,
    synthesize_corpus,
    synthesize_utterance,
)

DEFAULT_SPLITS = {"train": 24, "dev": 6, "test": 6}
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng absent")


def test_sentences_are_deterministic_and_within_length() -> None:
    first = [make_sentence(np.random.default_rng(7), 6, 12) for _ in range(3)]
    assert len(set(first)) == 1
    rng = np.random.default_rng(0)
    sentences = [make_sentence(rng, 6, 12) for _ in range(300)]
    lengths = [len(s.split()) for s in sentences]
    assert min(lengths) == 6 and max(lengths) == 12
    assert all(re.fullmatch(r"[A-Z]+( [A-Z]+)*", s) for s in sentences)
    assert len(set(sentences)) > 290


def test_default_speakers_are_distinct_disjoint_and_balanced_by_sex() -> None:
    speakers = design_speakers(DEFAULT_SPLITS, seed=0)
    assert len(speakers) == 36
    assert len({(s.accent, s.variant, s.pitch) for s in speakers}) == 36
    assert len({s.speaker_id for s in speakers}) == 36
    for split, count in DEFAULT_SPLITS.items():
        sexes = [s.sex for s in speakers if s.split == split]
        assert len(sexes) == count and sexes.count("F") == sexes.count("M")
    assert design_speakers(DEFAULT_SPLITS, seed=0) == speakers
    assert design_speakers(DEFAULT_SPLITS, seed=1) != speakers


def test_rates_and_pauses_vary_per_utterance() -> None:
    plans = plan_utterances(design_speakers(DEFAULT_SPLITS, 0), 9, 90, 320, seed=0)
    rates = np.array([p.wpm for p in plans])
    assert rates.min() >= 90 and rates.max() <= 320
    assert rates.min() < 110 and rates.max() > 300 and rates.std() > 50
    assert len({p.word_gap for p in plans}) > 5
    assert len({p.text for p in plans}) > 0.95 * len(plans)
    assert plan_utterances(design_speakers(DEFAULT_SPLITS, 0), 9, 90, 320, seed=0) == plans


@needs_espeak
def test_speaking_rate_shortens_the_audio(tmp_path: Path) -> None:
    speaker = design_speakers({"train": 1, "dev": 1, "test": 1}, 0)[0]
    text = "THE OLD FARMER CARRIED A HEAVY BASKET ACROSS THE NARROW BRIDGE"
    slow = PlannedUtterance("1001-10010-0000", speaker, text, wpm=100, word_gap=0)
    fast = dataclasses.replace(slow, utt_id="1001-10010-0001", wpm=300)
    slow_n, fast_n = synthesize_utterance(slow, tmp_path), synthesize_utterance(fast, tmp_path)
    assert slow_n > 2 * fast_n
    info = sf.info(tmp_path / slow.relative_path)
    assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")


def small_corpus(root: Path) -> dict:
    return {"kind": "synthetic", "root": str(root), "splits": {"train": 2, "dev": 2, "test": 2},
            "synthetic": {"utterances_per_speaker": 2, "min_wpm": 90, "max_wpm": 320}}  # fmt: skip


@needs_espeak
def test_synthetic_corpus_has_the_librispeech_layout_and_is_reproducible(tmp_path: Path) -> None:
    report = synthesize_corpus(small_corpus(tmp_path / "a"), 5, tmp_path / "a.json", workers=2)
    assert report["utterances"] == 12 and len(report["speakers"]) == 6
    sexes = read_speaker_sex(tmp_path / "a")
    assert sorted(sexes.values()) == ["F", "F", "F", "M", "M", "M"]
    seen: set[str] = set()
    for split in ("train", "dev", "test"):
        utterances, problems = scan_subsets(tmp_path / "a", [f"synthetic-{split}"])
        assert problems == [] and len(utterances) == 4
        speakers = {u.speaker_id for u in utterances}
        assert len(speakers) == 2 and not speakers & seen
        seen |= speakers
    synthesize_corpus(small_corpus(tmp_path / "b"), 5, tmp_path / "b.json", workers=1)
    audio_a = sorted((tmp_path / "a").rglob("*.flac"))
    audio_b = sorted((tmp_path / "b").rglob("*.flac"))
    assert [p.relative_to(tmp_path / "a") for p in audio_a] == [
        p.relative_to(tmp_path / "b") for p in audio_b
    ]
    for a, b in zip(audio_a, audio_b, strict=True):
        np.testing.assert_array_equal(sf.read(a)[0], sf.read(b)[0])


@needs_espeak
def test_synthesis_never_replaces_a_foreign_corpus(tmp_path: Path) -> None:
    (tmp_path / "LibriSpeech" / "dev-clean").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="not written by the synthetic generator"):
        synthesize_corpus(small_corpus(tmp_path), 0, tmp_path / "report.json")
    assert (tmp_path / "LibriSpeech" / "dev-clean").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["LibriSpeech"]


@needs_espeak
def test_the_corpus_is_readable_by_everyone_and_a_killed_run_leaves_nothing(
    tmp_path: Path,
) -> None:
    killed = tmp_path / ".LibriSpeech.partial-k1ll3d" / "synthetic-dev"  # what SIGKILL left
    killed.mkdir(parents=True)
    previous = os.umask(0o022)
    try:
        synthesize_corpus(small_corpus(tmp_path), 5, tmp_path / "report.json", workers=2)
    finally:
        os.umask(previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LibriSpeech", "report.json"]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert {oct(m) for p, m in modes.items() if p.is_dir()} == {"0o755"}
    assert {oct(m) for p, m in modes.items() if p.is_file()} == {"0o644"}
