"""Speech-rate labels, manifests and the bad-input policy."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from librispeech_tree import (
    RATE,
    speech_like,
    write_chapter,
    write_speakers_table,
    write_zero_sample_flac,
)

from rateprobe.audio import AudioError, read_audio
from rateprobe.config import DEFAULTS
from rateprobe.labels import COLUMNS, BadInputError, VadSettings, build_manifest, count_chars
from rateprobe.labels import voiced_duration as vad_seconds

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLE = SHARED / "librispeech-sample"
VAD = {"aggressiveness": 2, "frame_ms": 30}
BOUNDS = DEFAULTS["labels"]


def corpus_config(root: Path, subsets: list[str]) -> dict:
    splits = {split: subsets for split in ("train", "dev", "test")}
    return {"kind": "librispeech", "root": str(root), "splits": splits, "carve_by_speaker": None}


def run_manifest(
    root: Path, policy: str, out: Path, subsets: list[str] | None = None, bounds=BOUNDS
):
    return build_manifest(
        corpus_config(root, subsets or ["dev-clean"]), VAD, policy, "dev",
        out / "dev.csv", out / "dev.bad.json", bounds=bounds,
    )  # fmt: skip


def test_count_chars_keeps_letters_and_digits_only() -> None:
    assert count_chars("MISTER BINGLEY'S 2 DOGS") == 19
    assert count_chars("  ") == 0


def test_count_chars_counts_the_letters_of_any_script() -> None:
    assert count_chars("Съешь же ещё этих мягких булок, да выпей чаю!") == 35
    assert count_chars("Ёлка — 2 м.") == 6
    assert count_chars("Straße, café") == 10


def test_voiced_duration_separates_speech_from_silence() -> None:
    settings = VadSettings(aggressiveness=2, frame_ms=30)
    speech = speech_like(2.0)
    with_pause = np.concatenate([speech, np.zeros(RATE, np.float32)])
    assert vad_seconds(np.zeros(2 * RATE, np.float32), settings) == 0
    assert 1.0 < vad_seconds(speech, settings) <= 2.0
    assert vad_seconds(with_pause, settings) == pytest.approx(
        vad_seconds(speech, settings), abs=0.1
    )


def test_manifest_columns_values_and_sex(tmp_path: Path) -> None:
    write_chapter(
        tmp_path, "dev-clean", "84", "121123", {0: "GO, DO YOU HEAR", 1: "BUT IN LESS"}, 2.0
    )
    write_chapter(tmp_path, "dev-clean", "174", "50561", {0: "FORGOTTEN TOO"}, 1.5)
    write_speakers_table(tmp_path, {"84": "F", "174": "M"})
    manifest = run_manifest(tmp_path, "fail", tmp_path / "out")
    on_disk = pd.read_csv(
        tmp_path / "out" / "dev.csv", dtype={"speaker_id": str, "chapter_id": str}
    )
    assert tuple(on_disk.columns) == COLUMNS
    assert list(on_disk.utt_id) == ["174-50561-0000", "84-121123-0000", "84-121123-0001"]
    first = on_disk.iloc[1]
    assert (first.speaker_id, first.chapter_id, first.sex) == ("84", "121123", "F")
    assert first.n_chars == 11 and first.duration_s == pytest.approx(2.0)
    assert first.cps == pytest.approx(5.5)
    assert 0 < first.voiced_duration_s <= first.duration_s
    assert first.articulation_rate == pytest.approx(11 / first.voiced_duration_s)
    assert on_disk.iloc[0].sex == "M" and len(manifest) == 3
    report = json.loads((tmp_path / "out" / "dev.bad.json").read_text())
    assert report == {"split": "dev", "policy": "fail", "skipped": {}, "files": [], "converted": []}


def make_bad_corpus(root: Path) -> dict[str, str]:
    """One good utterance plus one of each bad case; returns path suffix -> expected problem."""
    write_chapter(root, "dev-clean", "1", "10", {0: "A GOOD ONE"})
    folder = root / "LibriSpeech" / "dev-clean" / "2" / "20"
    paths = write_chapter(root, "dev-clean", "2", "20", {i: f"WORDS {i}" for i in range(5)})
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[: len(data) // 2])  # truncated
    paths[1].write_bytes(b"this is not audio at all" * 20)  # unreadable
    write_zero_sample_flac(paths[2])  # zero-length
    paths[3].unlink()  # transcript line whose audio is missing
    sf.write(folder / "2-20-0009.flac", speech_like(1.0), RATE)  # audio without transcript
    sf.write(folder / "2-20-0005.flac", speech_like(1.0), RATE)
    sf.write(folder / "2-20-0006.flac", np.zeros(RATE, np.float32), RATE)  # silence
    with (folder / "2-20.trans.txt").open("a") as transcript:
        transcript.write("2-20-0005   \n2-20-0006 ONLY SILENCE\n")  # empty transcript
    return {
        "2-20-0000.flac": "truncated audio",
        "2-20-0001.flac": "unreadable audio",
        "2-20-0002.flac": "zero-length audio",
        "2-20-0003.flac": "transcript line without audio",
        "2-20-0009.flac": "audio without transcript",
        "2-20-0005.flac": "empty transcript",
        "2-20-0006.flac": "no speech detected",
    }


def test_fail_policy_names_every_bad_file(tmp_path: Path) -> None:
    expected = make_bad_corpus(tmp_path)
    with pytest.raises(BadInputError) as caught:
        run_manifest(tmp_path, "fail", tmp_path / "out")
    message = str(caught.value)
    for name, problem in expected.items():
        line = next((li for li in message.splitlines() if name in li), "")
        assert problem in line, f"{name} not reported as {problem!r} in:\n{message}"
    assert "A GOOD ONE" not in message and "1-10-0000" not in message
    assert not (tmp_path / "out" / "dev.csv").exists()


def test_skip_policy_drops_logs_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = make_bad_corpus(tmp_path)
    with caplog.at_level(logging.WARNING):
        manifest = run_manifest(tmp_path, "skip", tmp_path / "out")
    assert list(manifest.utt_id) == ["1-10-0000", "2-20-0004"]
    report = json.loads((tmp_path / "out" / "dev.bad.json").read_text())
    assert report["policy"] == "skip"
    assert report["skipped"] == {problem: 1 for problem in expected.values()}
    assert sorted(Path(f["path"]).name for f in report["files"]) == sorted(expected)
    for name in expected:
        assert name in caplog.text


def test_stereo_and_other_rates_are_converted_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = write_chapter(tmp_path, "dev-clean", "3", "30", {0: "STEREO", 1: "FAST RATE"}, 1.0)
    mono = speech_like(1.0)
    sf.write(paths[0], np.stack([mono, 0.5 * mono], axis=1), RATE, format="FLAC")
    sf.write(paths[1], speech_like(1.0, rate=44100), 44100, format="FLAC")
    with caplog.at_level(logging.WARNING):
        stereo, resampled = read_audio(paths[0]), read_audio(paths[1])
        manifest = run_manifest(tmp_path, "fail", tmp_path / "out")
    np.testing.assert_allclose(stereo.samples, 0.75 * mono, atol=1e-4)
    assert len(resampled.samples) == RATE and resampled.source_rate == 44100
    assert manifest.duration_s.tolist() == pytest.approx([1.0, 1.0], abs=1e-4)
    assert "downmixed 2 channels" in caplog.text and "resampled 44100 Hz" in caplog.text
    report = json.loads((tmp_path / "out" / "dev.bad.json").read_text())
    assert len(report["converted"]) == 2 and report["files"] == []


def test_read_audio_rejects_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "x.flac"
    sf.write(path, speech_like(3.0), RATE, format="FLAC")
    path.write_bytes(path.read_bytes()[:-2000])
    with pytest.raises(AudioError, match="truncated audio"):
        read_audio(path)


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared/librispeech-sample is absent")
def test_cps_matches_the_independent_reference(tmp_path: Path) -> None:
    manifest = run_manifest(SAMPLE, "fail", tmp_path, ["train-clean-100"])
    reference = pd.read_csv(SAMPLE / "reference_cps.csv")
    joined = manifest.merge(reference, on="utt_id", validate="one_to_one")
    assert len(joined) == len(reference) == 40
    assert (joined.n_chars == joined.n_letters).all()
    relative = (joined.cps - joined.cps_reference).abs() / joined.cps_reference
    assert relative.max() < 1e-4
    assert 9 < manifest.cps.mean() < 15  # read speech: about 12 characters per second
    assert (manifest.articulation_rate >= manifest.cps).all()


def make_implausible_corpus(root: Path) -> dict[str, str]:
    """One plausible utterance and three that are not; returns file name -> expected problem."""
    write_chapter(root, "dev-clean", "5", "50", {0: "A PLAUSIBLE SENTENCE"}, 1.5)
    clip = write_chapter(root, "dev-clean", "6", "60", {0: "TEN LETTERS"}, 0.05)  # CPS 200
    fast = write_chapter(root, "dev-clean", "7", "70", {0: "A" * 50}, 1.0)  # 50 CPS
    slow = write_chapter(root, "dev-clean", "8", "80", {0: "NO"}, 4.0)  # 0.5 CPS
    return {
        clip[0].name: "implausible duration: 0.05 s (CPS 200)",
        fast[0].name: "implausible speech rate: CPS 50",
        slow[0].name: "implausible speech rate: CPS 0.5",
    }


def test_implausible_utterances_are_named_under_fail(tmp_path: Path) -> None:
    expected = make_implausible_corpus(tmp_path)
    with pytest.raises(BadInputError) as caught:
        run_manifest(tmp_path, "fail", tmp_path / "out")
    lines = str(caught.value).splitlines()
    for name, problem in expected.items():
        assert any(name in line and problem in line for line in lines), (name, lines)
    assert "labels.min_duration_s" in str(caught.value) and "5-50-0000" not in str(caught.value)


def test_implausible_utterances_are_counted_under_skip(tmp_path: Path) -> None:
    expected = make_implausible_corpus(tmp_path)
    manifest = run_manifest(tmp_path, "skip", tmp_path / "out")
    assert list(manifest.utt_id) == ["5-50-0000"]
    report = json.loads((tmp_path / "out" / "dev.bad.json").read_text())
    assert report["skipped"] == {"implausible duration": 1, "implausible speech rate": 2}
    assert sorted(Path(f["path"]).name for f in report["files"]) == sorted(expected)


def test_label_bounds_come_from_the_configuration(tmp_path: Path) -> None:
    make_implausible_corpus(tmp_path)
    lenient = {"min_duration_s": 0.01, "max_duration_s": 60, "min_cps": 0.1, "max_cps": 300}
    manifest = run_manifest(tmp_path, "fail", tmp_path / "out", bounds=lenient)
    assert len(manifest) == 4
    strict = {**lenient, "max_duration_s": 1.2}
    skipped = run_manifest(tmp_path, "skip", tmp_path / "out", bounds=strict)
    assert "5-50-0000" not in set(skipped.utt_id)
