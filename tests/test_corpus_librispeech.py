"""The LibriSpeech reader, speaker table and speaker-disjoint carving; input that does not
follow the LibriSpeech layout is named."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from librispeech_tree import write_chapter

from rateprobe.config import DEFAULTS
from rateprobe.corpus.librispeech import read_speaker_sex, scan_subsets, subset_speakers
from rateprobe.corpus.splits import (
    carve_speakers,
    manifest_corpus_settings,
    required_subsets,
    split_inputs,
    split_source,
    spread_per_speaker,
)
from rateprobe.labels import BadInputError, build_manifest

FRACTIONS = {"train": 0.6, "dev": 0.2, "test": 0.2}
VAD = DEFAULTS["vad"]
BOUNDS = DEFAULTS["labels"]


def test_scan_reads_several_subsets_in_utt_id_order(tmp_path: Path) -> None:
    write_chapter(tmp_path, "dev-clean", "84", "121123", {1: "SECOND", 0: "FIRST  LINE"}, 0.2)
    write_chapter(tmp_path, "test-clean", "61", "70968", {0: "OTHER SUBSET"}, 0.2)
    utterances, problems = scan_subsets(tmp_path, ["dev-clean", "test-clean"])
    assert problems == []
    assert [u.utt_id for u in utterances] == ["61-70968-0000", "84-121123-0000", "84-121123-0001"]
    assert utterances[1].text == "FIRST LINE"
    assert (utterances[1].speaker_id, utterances[1].chapter_id) == ("84", "121123")
    only, _ = scan_subsets(tmp_path, ["dev-clean", "test-clean"], speakers={"61"})
    assert [u.speaker_id for u in only] == ["61"]


def test_speakers_table_parsing(tmp_path: Path) -> None:
    (tmp_path / "LibriSpeech").mkdir()
    (tmp_path / "LibriSpeech" / "SPEAKERS.TXT").write_text(
        "; comment line\n;ID  |SEX| SUBSET |MINUTES| NAME\n"
        "14   | F | train-clean-360  | 25.03 | Kristin LeMoine\n"
        "60   | M | train-clean-100  | 20.18 | |CBW|Simon\n"
    )
    assert read_speaker_sex(tmp_path) == {"14": "F", "60": "M"}
    assert read_speaker_sex(tmp_path / "elsewhere") == {}
    (tmp_path / "LibriSpeech" / "SPEAKERS.TXT").write_text("14 | X | dev | 1 | Name\n")
    with pytest.raises(ValueError, match=r"SPEAKERS.TXT:1"):
        read_speaker_sex(tmp_path)


def test_missing_subset_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"'dev-other'.*corpus\.download: true to fetch it \(314 MB\)"
    ):
        subset_speakers(tmp_path, "dev-other")


def test_a_missing_corpus_root_is_named_without_suggesting_a_download(tmp_path: Path) -> None:
    # A clone without ../shared beside it, run with config/librispeech-sample.yaml.
    with pytest.raises(FileNotFoundError, match=r"corpus.root '.*shared' does not exist") as error:
        subset_speakers(tmp_path / "shared", "train-clean-100")
    assert "download: true" not in str(error.value)


def test_carving_is_seeded_disjoint_and_follows_fractions() -> None:
    speakers = [str(s) for s in range(100, 140)]
    carved = carve_speakers(speakers, FRACTIONS, seed=0)
    assert [len(carved[s]) for s in ("train", "dev", "test")] == [24, 8, 8]
    assert sorted(s for group in carved.values() for s in group) == sorted(speakers)
    assert carve_speakers(list(reversed(speakers)), FRACTIONS, seed=0) == carved
    assert carve_speakers(speakers, FRACTIONS, seed=1) != carved
    tiny = carve_speakers(["1", "2", "3"], {"train": 0.9, "dev": 0.05, "test": 0.05}, 0)
    assert all(len(group) == 1 for group in tiny.values())
    with pytest.raises(ValueError, match="at least 3 speakers"):
        carve_speakers(["1", "2"], FRACTIONS, 0)


def test_split_sources_and_tracked_inputs(tmp_path: Path) -> None:
    for speaker in ("1", "2", "3", "4", "5"):
        write_chapter(tmp_path, "dev-clean", speaker, "7", {0: "HELLO"}, 0.1)
    carve = {"subsets": ["dev-clean"], "fractions": FRACTIONS, "seed": 3}
    corpus = {"kind": "librispeech", "root": str(tmp_path), "splits": None,
              "carve_by_speaker": carve, "download": False}  # fmt: skip
    groups = [split_source(corpus, split).speakers for split in ("train", "dev", "test")]
    assert set().union(*groups) == {"1", "2", "3", "4", "5"}
    assert sum(len(g) for g in groups) == 5
    inputs = split_inputs(corpus, "dev")
    assert str(tmp_path / "LibriSpeech/dev-clean/3/7") in inputs
    assert str(tmp_path / "LibriSpeech/dev-clean/3/7/3-7.trans.txt") in inputs
    # Audio replaced in place leaves its folder's time stamp alone: the file itself is tracked.
    assert str(tmp_path / "LibriSpeech/dev-clean/3/7/3-7-0000.flac") in inputs
    listed = {**corpus, "carve_by_speaker": None, "splits": {"train": ["dev-clean"],
              "dev": ["dev-clean"], "test": ["test-clean"]}}  # fmt: skip
    assert split_source(listed, "test").subsets == ("test-clean",)
    with pytest.raises(FileNotFoundError, match="test-clean"):
        split_inputs(listed, "test")
    downloading = {**listed, "download": True}
    assert split_inputs(downloading, "test") == [
        str(tmp_path / ".rateprobe/test-clean.complete.json")
    ]


def test_carving_two_splits_leaves_the_third_to_its_listed_subsets(tmp_path: Path) -> None:
    speakers = [str(s) for s in range(100, 140)]
    carved = carve_speakers(speakers, {"train": 0.75, "dev": 0.25}, seed=0)
    assert [len(carved[s]) for s in ("train", "dev")] == [30, 10]
    assert "test" not in carved
    assert sorted(carved["train"] + carved["dev"]) == speakers
    # The three-split carve is the two-split rule with test taking the remainder.
    assert (
        carve_speakers(speakers, FRACTIONS, 0)["train"]
        == carve_speakers(speakers, {"train": 0.6, "dev": 0.4}, 0)["train"]
    )

    for speaker in ("1", "2", "3", "4"):
        write_chapter(tmp_path, "dev-clean", speaker, "7", {0: "HELLO"}, 0.1)
    write_chapter(tmp_path, "test-clean", "9", "8", {0: "HELLO"}, 0.1)
    corpus = {"kind": "librispeech", "root": str(tmp_path), "splits": {"test": ["test-clean"]},
              "carve_by_speaker": {"subsets": ["dev-clean"],
                                   "fractions": {"train": 0.75, "dev": 0.25}, "seed": 0},
              "download": False}  # fmt: skip
    train, dev, test = (split_source(corpus, split) for split in ("train", "dev", "test"))
    assert train.subsets == dev.subsets == ("dev-clean",)
    assert (len(train.speakers or ()), len(dev.speakers or ())) == (3, 1)
    assert (test.subsets, test.speakers) == (("test-clean",), None)
    assert required_subsets(corpus) == ["dev-clean", "test-clean"]
    assert all("test-clean" in path for path in split_inputs(corpus, "test"))
    assert not any("test-clean" in path for path in split_inputs(corpus, "train"))


def test_a_cap_per_speaker_spreads_over_its_chapters_and_reaches_the_manifest(
    tmp_path: Path,
) -> None:
    texts = {number: "WORDS SPOKEN HERE" for number in range(3)}
    write_chapter(tmp_path, "dev-clean", "61", "100", texts, 0.6)
    write_chapter(tmp_path, "dev-clean", "61", "200", texts, 0.6)
    write_chapter(tmp_path, "dev-clean", "84", "300", {0: "ONLY ONE HERE"}, 0.6)
    utterances, _ = scan_subsets(tmp_path, ["dev-clean"])
    kept = [u.utt_id for u in spread_per_speaker(utterances, 2)]
    # Every third of speaker 61's six utterances, so both chapters; speaker 84 has fewer.
    assert kept == ["61-100-0000", "61-200-0000", "84-300-0000"]
    assert spread_per_speaker(utterances, None) == utterances

    corpus = {**dev_clean_corpus(tmp_path), "max_utterances_per_speaker": 2}
    out = tmp_path / "results"
    manifest = build_manifest(
        corpus, VAD, "fail", "dev", out / "dev.csv", out / "dev.bad.json", bounds=BOUNDS
    )
    assert list(manifest.utt_id) == kept
    # A cap is a setting of the manifest; without one the settings are those of older builds.
    assert manifest_corpus_settings(corpus, "dev")["max_utterances_per_speaker"] == 2
    assert "max_utterances_per_speaker" not in manifest_corpus_settings(
        {**corpus, "max_utterances_per_speaker": None}, "dev"
    )


def dev_clean_corpus(root: Path) -> dict:
    """An existing extraction whose every split reads dev-clean."""
    return {"kind": "librispeech", "root": str(root), "carve_by_speaker": None,
            "splits": {split: ["dev-clean"] for split in ("train", "dev", "test")}}  # fmt: skip


def manifest_of(root: Path, policy: str) -> tuple[list[str], dict]:
    """The utterance ids a dev manifest keeps under `policy`, and its bad-input report."""
    out = root / "results"
    manifest = build_manifest(
        dev_clean_corpus(root),
        VAD,
        policy,
        "dev",
        out / "dev.csv",
        out / "dev.bad.json",
        bounds=BOUNDS,
    )
    return list(manifest.utt_id), json.loads((out / "dev.bad.json").read_text())


def test_a_transcript_that_is_not_utf8_is_named_and_obeys_the_policy(tmp_path: Path) -> None:
    write_chapter(tmp_path, "dev-clean", "84", "121123", {0: "A GOOD CHAPTER"}, 1.0)
    write_chapter(tmp_path, "dev-clean", "61", "70968", {0: "CAFE", 1: "NAIVE"}, 1.0)
    transcript = tmp_path / "LibriSpeech/dev-clean/61/70968/61-70968.trans.txt"
    transcript.write_bytes("61-70968-0000 CAFÉ\n61-70968-0001 NAÏVE\n".encode("latin-1"))
    utterances, problems = scan_subsets(tmp_path, ["dev-clean"])
    assert [u.utt_id for u in utterances] == ["84-121123-0000"]
    assert [(p.path, p.kind) for p in problems] == [(str(transcript), "transcript not UTF-8")]
    assert "2 audio files are not read" in problems[0].problem
    with pytest.raises(BadInputError, match=re.escape(f"{transcript}: transcript not UTF-8")):
        manifest_of(tmp_path, "fail")
    kept, report = manifest_of(tmp_path, "skip")
    assert kept == ["84-121123-0000"] and report["skipped"] == {"transcript not UTF-8": 1}


def test_a_speakers_table_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    table = tmp_path / "LibriSpeech" / "SPEAKERS.TXT"
    table.parent.mkdir()
    table.write_bytes("14 | F | dev-clean | 1.0 | Zoë\n".encode("latin-1"))
    with pytest.raises(ValueError, match=re.escape(f"{table}: not UTF-8")):
        read_speaker_sex(tmp_path)


def test_folders_that_are_not_librispeech_ids_are_reported(tmp_path: Path) -> None:
    for speaker in ("1", "2", "3"):
        write_chapter(tmp_path, "dev-clean", speaker, "10", {0: "HELLO THERE"}, 1.0)
    write_chapter(tmp_path, "dev-clean", "1_old", "10", {0: "A STRAY COPY"}, 1.0)
    (tmp_path / "LibriSpeech/dev-clean/2/.ipynb_checkpoints").mkdir()
    (tmp_path / "LibriSpeech/dev-clean/3/notes.txt").write_text("a file, not a folder")
    stray = {
        str(tmp_path / "LibriSpeech/dev-clean/1_old"): "not a LibriSpeech speaker folder",
        str(tmp_path / "LibriSpeech/dev-clean/2/.ipynb_checkpoints"): (
            "not a LibriSpeech chapter folder"
        ),
    }
    utterances, problems = scan_subsets(tmp_path, ["dev-clean"])
    assert {u.speaker_id for u in utterances} == {"1", "2", "3"}
    assert {p.path: p.kind for p in problems} == stray
    assert subset_speakers(tmp_path, "dev-clean") == ["1", "2", "3"]  # the carving pool
    with pytest.raises(BadInputError) as caught:
        manifest_of(tmp_path, "fail")
    assert all(f"{path}: {kind}" in str(caught.value) for path, kind in stray.items())
    kept, report = manifest_of(tmp_path, "skip")
    assert kept == ["1-10-0000", "2-10-0000", "3-10-0000"]
    assert report["skipped"] == {
        "not a LibriSpeech chapter folder": 1,
        "not a LibriSpeech speaker folder": 1,
    }


def test_an_utterance_id_given_twice_in_a_transcript_drops_every_row_of_it(
    tmp_path: Path,
) -> None:
    write_chapter(tmp_path, "dev-clean", "84", "121123", {0: "A GOOD CHAPTER"}, 1.0)
    write_chapter(tmp_path, "dev-clean", "61", "70968", {0: "FIRST LINE", 1: "SECOND LINE"}, 1.0)
    transcript = tmp_path / "LibriSpeech/dev-clean/61/70968/61-70968.trans.txt"
    with transcript.open("a") as lines:
        lines.write("61-70968-0000 A DIFFERENT TRANSCRIPT\n")
    named = (
        f"{transcript}:1: duplicate utterance id: '61-70968-0000' is given again at "
        f"{transcript}:3; none of its 2 lines is read"
    )
    with pytest.raises(BadInputError, match=re.escape(named)):
        manifest_of(tmp_path, "fail")
    kept, report = manifest_of(tmp_path, "skip")
    assert kept == ["61-70968-0001", "84-121123-0000"]
    assert report["skipped"] == {"duplicate utterance id": 1}
    assert report["files"] == [{"path": f"{transcript}:1", "problem": named.split(": ", 1)[1]}]


def test_an_utterance_id_in_two_subsets_of_a_split_is_bad_input(tmp_path: Path) -> None:
    write_chapter(tmp_path, "dev-clean", "84", "121123", {0: "A GOOD CHAPTER"}, 1.0)
    write_chapter(tmp_path, "dev-clean", "61", "70968", {0: "FIRST LINE"}, 1.0)
    write_chapter(tmp_path, "test-clean", "61", "70968", {0: "A STRAY COPY"}, 1.0)
    utterances, problems = scan_subsets(tmp_path, ["dev-clean", "test-clean"])
    assert [u.utt_id for u in utterances] == ["84-121123-0000"]
    copies = [
        tmp_path / f"LibriSpeech/{s}/61/70968/61-70968.trans.txt"
        for s in ("dev-clean", "test-clean")
    ]
    assert [(p.path, p.kind) for p in problems] == [(f"{copies[0]}:1", "duplicate utterance id")]
    assert f"given again at {copies[1]}:1" in problems[0].detail


def test_broken_links_and_link_loops_are_named_bad_input_and_not_tracked(tmp_path: Path) -> None:
    write_chapter(tmp_path, "dev-clean", "84", "121123", {0: "A GOOD CHAPTER"}, 1.0)
    write_chapter(tmp_path, "dev-clean", "61", "70968", {0: "FIRST", 1: "SECOND"}, 1.0)
    write_chapter(tmp_path, "dev-clean", "62", "5", {0: "ANOTHER CHAPTER"}, 1.0)
    chapter = tmp_path / "LibriSpeech/dev-clean/61/70968"
    loop, dangling = chapter / "61-70968-0000.flac", chapter / "61-70968-0001.flac"
    transcript = tmp_path / "LibriSpeech/dev-clean/62/5/62-5.trans.txt"
    for link, target in ((loop, loop.name), (dangling, "moved.flac"), (transcript, "/no/62-5")):
        link.unlink()
        link.symlink_to(target)
    named = {
        str(loop): "symbolic link loop: resolving it leads back to itself",
        str(dangling): "broken symbolic link: its target moved.flac does not exist",
        str(transcript): "broken symbolic link: its target /no/62-5 does not exist; "
        "the chapter's 1 audio files are not read",
    }
    utterances, problems = scan_subsets(tmp_path, ["dev-clean"])
    assert [u.utt_id for u in utterances] == ["84-121123-0000"]
    assert {p.path: p.problem for p in problems} == named
    # Snakemake would stop planning on them; the manifest job reports them instead.
    inputs = split_inputs(dev_clean_corpus(tmp_path), "dev")
    assert str(chapter) in inputs and not set(named) & set(inputs)
    with pytest.raises(BadInputError) as caught:
        manifest_of(tmp_path, "fail")
    assert all(f"{path}: {problem}" in str(caught.value) for path, problem in named.items())
    kept, report = manifest_of(tmp_path, "skip")
    assert kept == ["84-121123-0000"]
    assert report["skipped"] == {"broken symbolic link": 2, "symbolic link loop": 1}


def test_the_content_digest_follows_content_not_time_stamps_or_places(tmp_path: Path) -> None:
    write_chapter(tmp_path / "a", "dev-clean", "61", "70968", {0: "FIRST", 1: "SECOND"}, 1.0)
    corpus = dev_clean_corpus(tmp_path / "a")
    digest = manifest_corpus_settings(corpus, "dev")["content"]
    assert manifest_corpus_settings(corpus, "dev")["content"] == digest
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # a moved corpus: same content, new root
    assert manifest_corpus_settings(dev_clean_corpus(tmp_path / "b"), "dev")["content"] == digest
    audio = tmp_path / "a/LibriSpeech/dev-clean/61/70968/61-70968-0000.flac"
    times = audio.stat()
    write_chapter(tmp_path / "a", "dev-clean", "61", "70968", {0: "FIRST", 1: "SECOND"}, 2.0)
    os.utime(audio, ns=(times.st_atime_ns, times.st_mtime_ns))  # as cp -p would leave it
    assert manifest_corpus_settings(corpus, "dev")["content"] != digest
