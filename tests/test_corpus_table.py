"""A corpus given as a table of recordings (corpus.kind: table): splits, labels, bad input."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from librispeech_tree import speech_like

from rateprobe.audio import RESAMPLER
from rateprobe.config import DEFAULTS
from rateprobe.corpus.splits import (
    ExtractionFiles,
    carve_speakers,
    check_corpus_present,
    manifest_corpus_settings,
    split_inputs,
    split_source,
)
from rateprobe.fingerprint import FingerprintCache
from rateprobe.labels import BadInputError, build_manifest

VAD = {"aggressiveness": 2, "frame_ms": 30}
CARVE = {"fractions": {"train": 0.6, "dev": 0.2, "test": 0.2}, "seed": 3}
RATE = 22050  # not 16 kHz: every file is resampled


def write_wav(path: Path, seconds: float, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mono = speech_like(seconds, rate=RATE)
    sf.write(path, np.stack([mono] * channels, axis=1) if channels > 1 else mono, RATE)
    return path


def write_table(path: Path, header: str, rows: list[str]) -> Path:
    separator = "\t" if path.suffix == ".tsv" else ","
    path.write_text("\n".join([header, *rows]).replace(",", separator) + "\n", encoding="utf-8")
    return path


def table_corpus(table: Path) -> dict:
    return {"kind": "table", "root": "unused", "table": str(table), "splits": None,
            "carve_by_speaker": CARVE}  # fmt: skip


def manifest(table: Path, split: str, policy: str = "fail") -> pd.DataFrame:
    out = table.parent / "out"
    return build_manifest(
        table_corpus(table), VAD, policy, split, out / f"{split}.csv", out / f"{split}.bad.json",
        bounds=DEFAULTS["labels"],
    )  # fmt: skip


def bad_report(table: Path, split: str) -> dict:
    return json.loads((table.parent / "out" / f"{split}.bad.json").read_text())


def test_a_tab_separated_table_with_splits_labels_cyrillic_speech_at_any_rate(
    tmp_path: Path,
) -> None:
    write_wav(tmp_path / "audio" / "anna" / "001.wav", 2.0, channels=2)
    write_wav(tmp_path / "audio" / "anna" / "002.wav", 1.5)
    write_wav(tmp_path / "elsewhere.wav", 3.0)
    table = write_table(
        tmp_path / "utterances.tsv",
        "path,text,speaker,sex,split",
        [
            "audio/anna/001.wav,Съешь же ещё этих мягких булок!,Анна К,F,test",
            "audio/anna/002.wav,Привет мир,Анна К,F,test",
            f"{tmp_path / 'elsewhere.wav'},Ёж 42,boris,M,train",
        ],
    )
    test = manifest(table, "test")
    assert list(test.utt_id) == ["Анна_К-001", "Анна_К-002"]
    assert list(test.speaker_id) == ["Анна К"] * 2 and list(test.sex) == ["F", "F"]
    assert list(test.chapter_id) == ["", ""]
    assert test.path[0] == str(tmp_path / "audio" / "anna" / "001.wav")
    assert list(test.n_chars) == [25, 9]  # Cyrillic letters count as Latin ones do
    assert test.duration_s.tolist() == pytest.approx([2.0, 1.5], abs=1e-3)
    assert test.cps.tolist() == pytest.approx([12.5, 6.0], rel=1e-3)
    converted = bad_report(table, "test")["converted"]
    assert {c["conversion"] for c in converted} == {
        "downmixed 2 channels to mono",
        f"resampled 22050 Hz to 16000 Hz ({RESAMPLER})",
    }
    train = manifest(table, "train")
    assert list(train.utt_id) == ["boris-elsewhere"] and train.n_chars[0] == 4


def test_without_a_split_column_the_speakers_are_carved_by_the_carving_code(
    tmp_path: Path,
) -> None:
    speakers = [f"reader {i}" for i in range(6)]
    rows = []
    for speaker in speakers:
        write_wav(tmp_path / speaker / "a.wav", 1.0)
        rows.append(f"{speaker}/a.wav,слово и дело,{speaker}")
    table = write_table(tmp_path / "utterances.csv", "path,text,speaker", rows)
    expected = carve_speakers(speakers, CARVE["fractions"], CARVE["seed"])
    for split in ("train", "dev", "test"):
        assert split_source(table_corpus(table), split).speakers == set(expected[split])
        assert sorted(manifest(table, split).speaker_id) == expected[split]


def write_bad_table(root: Path) -> Path:
    """One good row (line 2) and one row of each bad case, of speaker `s1` in test but for the
    last one, whose speaker id cannot name a folder."""
    write_wav(root / "good.wav", 1.5)
    write_wav(root / "no-text.wav", 1.5)
    (root / "noise.wav").write_bytes(b"this is not audio at all" * 20)
    return write_table(
        root / "utterances.csv",
        "path,text,speaker,sex,split",
        [
            "good.wav,хорошая строка,s1,,test",
            "absent.wav,нет файла,s1,,test",
            "no-text.wav,,s1,,test",
            "good.wav,не та выборка,s1,,tset",
            "noise.wav,шум вместо речи,s1,,test",
            "good.wav,пол не тот,s1,X,test",
            "good.wav,путь вместо диктора,../s2,,test",
        ],
    )


def test_bad_rows_stop_the_manifest_naming_the_table_row_and_problem(tmp_path: Path) -> None:
    table = write_bad_table(tmp_path)
    with pytest.raises(BadInputError) as caught:
        manifest(table, "test")
    message = str(caught.value)
    assert f"{table}:3: audio file not found: {tmp_path / 'absent.wav'} does not exist" in message
    assert f"{table}:4: empty transcript" in message
    assert f"{tmp_path / 'noise.wav'}: unreadable audio" in message
    assert f"listed at {table}:6" in message
    assert f"{table}:7: unknown sex: 'X', expected F, M or empty" in message
    # A row of no known split is reported by the train split alone, so it is counted once.
    assert "tset" not in message and "../s2" not in message
    with pytest.raises(BadInputError) as caught:
        manifest(table, "train")
    message = str(caught.value)
    assert f"{table}:5: unknown split: 'tset', expected one of train, dev, test" in message
    assert f"{table}:8: invalid speaker id: '../s2' cannot name a folder" in message


def test_bad_rows_are_skipped_and_counted_under_on_bad_input_skip(tmp_path: Path) -> None:
    table = write_bad_table(tmp_path)
    assert list(manifest(table, "test", "skip").utt_id) == ["s1-good"]
    assert bad_report(table, "test")["skipped"] == {
        "audio file not found": 1, "empty transcript": 1, "unknown sex": 1, "unreadable audio": 1
    }  # fmt: skip
    write_wav(tmp_path / "dev.wav", 1.0)
    write_wav(tmp_path / "train.wav", 1.0)
    with table.open("a", encoding="utf-8") as rows:
        rows.write("train.wav,обучение,s2,,train\ndev.wav,проверка,s3,,dev\n")
    manifest(table, "train", "skip")
    assert bad_report(table, "train")["skipped"] == {"invalid speaker id": 1, "unknown split": 1}
    manifest(table, "dev", "skip")
    assert bad_report(table, "dev")["skipped"] == {}


def test_an_utterance_id_given_twice_keeps_no_row_of_it(tmp_path: Path) -> None:
    write_wav(tmp_path / "day1" / "take.wav", 1.0)
    write_wav(tmp_path / "day2" / "take.wav", 1.0)
    write_wav(tmp_path / "other.wav", 1.0)
    table = write_table(
        tmp_path / "utterances.csv",
        "path,text,speaker,split",
        ["day1/take.wav,раз,s1,dev", "day2/take.wav,два,s1,dev", "other.wav,три,s1,dev"],
    )
    duplicate = rf"{re.escape(str(table))}:2: duplicate utterance id: 's1-take'"
    with pytest.raises(BadInputError, match=duplicate):
        manifest(table, "dev")
    assert list(manifest(table, "dev", "skip").utt_id) == ["s1-other"]


STRUCTURE_ERRORS = {
    "a required column missing": (
        "path,text,split", ["a.wav,да,test"], r"columns must be .*\(missing: speaker\)"
    ),
    "a column not known": (
        "path,text,speaker,gender", ["a.wav,да,s1,F"], r"\(not known: gender\)"
    ),
    "a speaker in two splits": (
        "path,text,speaker,split", ["a.wav,да,s1,test", "a.wav,нет,s1,dev"],
        r"speaker 's1' is in split 'test' at .*:2 and in 'dev' at .*:3",
    ),
    "a speaker of two sexes": (
        "path,text,speaker,sex,split", ["a.wav,да,s1,F,test", "a.wav,нет,s1,M,test"],
        r"speaker 's1' is given sex F at .*:2 and M at .*:3",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", STRUCTURE_ERRORS, ids=list(STRUCTURE_ERRORS))
def test_a_malformed_table_stops_under_either_policy_naming_it(tmp_path: Path, case: str) -> None:
    header, rows, problem = STRUCTURE_ERRORS[case]
    write_wav(tmp_path / "a.wav", 1.0)
    table = write_table(tmp_path / "utterances.csv", header, rows)
    with pytest.raises(ValueError, match=rf"{re.escape(str(table))}.*{problem}") as caught:
        manifest(table, "test", "skip")
    assert not isinstance(caught.value, BadInputError)


def test_the_manifest_tracks_the_table_and_its_audio_by_content(tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "a.wav", 1.0)
    table = write_table(
        tmp_path / "utterances.csv", "path,text,speaker", ["a.wav,да,s1", "gone.wav,нет,s2"]
    )
    corpus = table_corpus(table)

    def settings() -> dict:
        return manifest_corpus_settings(corpus, "dev", ExtractionFiles(FingerprintCache()))

    inputs = split_inputs(corpus, "dev", ExtractionFiles(FingerprintCache()))
    assert inputs == [str(table), str(audio)]  # the absent file is bad input, not an input
    before = settings()
    assert before["table"] == str(table) and before["kind"] == "table"
    stamp = audio.stat()
    write_wav(audio, 1.2)
    os.utime(audio, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert settings()["content"] != before["content"]


def test_a_missing_table_is_named_before_any_planning(tmp_path: Path) -> None:
    absent = tmp_path / "utterances.csv"
    with pytest.raises(FileNotFoundError, match=rf"'{re.escape(str(absent))}' is no file"):
        check_corpus_present(table_corpus(absent))
