"""The corpus stage through Snakemake, in a scratch working directory."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
import yaml
from http_archive import ServedFiles, serve, tar_gz
from librispeech_tree import speech_like, without_read_override, write_chapter

pytestmark = pytest.mark.slow  # end-to-end Snakemake runs: 30-60 s each on 2 busy cores

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
MANIFESTS = [f"results/manifests/{split}.csv" for split in ("train", "dev", "test")]


def snakemake(
    workdir: Path, overrides: dict, *args: str, prefix: Sequence[str] = (), succeed: bool = True
) -> str:
    """Run Snakemake (after the command `prefix`) in workdir; return its log, asserting that it
    succeeded or, with succeed=False, that it failed."""
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    run = subprocess.run(
        [*prefix, str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--cores", "2", *args, "--configfile", str(REPO / "config.yaml"),
         str(workdir / "overrides.yaml")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert (run.returncode == 0) == succeed, output
    return output


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng absent")
def test_synthetic_manifests_and_reruns(tmp_path: Path) -> None:
    small = {"corpus": {"splits": {"train": 2, "dev": 2, "test": 2},
                        "synthetic": {"utterances_per_speaker": 2}}}  # fmt: skip
    snakemake(tmp_path, small, *MANIFESTS)
    manifests = [pd.read_csv(tmp_path / path, dtype={"speaker_id": str}) for path in MANIFESTS]
    assert [len(m) for m in manifests] == [4, 4, 4]
    assert all(set(m.sex) == {"F", "M"} for m in manifests)
    assert (tmp_path / "data/synthetic/LibriSpeech/synthetic-dev").is_dir()
    assert "Nothing to be done" in snakemake(tmp_path, small, *MANIFESTS)
    plan = snakemake(tmp_path, {**small, "seed": 4}, "-n", *MANIFESTS)
    assert "synthesize_corpus" in plan and "Params have changed" in plan


def test_librispeech_carving_and_reruns_when_audio_changes(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    for speaker in ("11", "12", "13", "14", "15"):
        write_chapter(root, "dev-clean", speaker, "100", {0: "SOME WORDS HERE"}, 0.6)
    (root / "LibriSpeech/SPEAKERS.TXT").write_text("11 | F | dev-clean | 1 | A\n")
    carve = {"subsets": ["dev-clean"], "fractions": {"train": 0.6, "dev": 0.2, "test": 0.2}}
    config = {"corpus": {"kind": "librispeech", "root": str(root), "carve_by_speaker": carve}}
    snakemake(tmp_path, config, *MANIFESTS)
    speakers = [set(pd.read_csv(tmp_path / p, dtype=str).speaker_id) for p in MANIFESTS]
    assert [len(s) for s in speakers] == [3, 1, 1] and len(set.union(*speakers)) == 5
    chapter = root / "LibriSpeech/dev-clean/12/100"
    # Replaced in place: the manifest's durations and rates would be stale.
    sf.write(chapter / "12-100-0000.flac", speech_like(1.5), 16000)
    plan = snakemake(tmp_path, config, "-n", *MANIFESTS)
    assert plan.count("checkpoint manifest:") == 3
    sf.write(chapter / "12-100-0001.flac", speech_like(0.5), 16000)
    with (chapter / "12-100.trans.txt").open("a") as transcript:
        transcript.write("12-100-0001 ONE MORE\n")
    plan = snakemake(tmp_path, config, "-n", *MANIFESTS)
    assert plan.count("checkpoint manifest:") == 3


def test_carved_and_listed_splits_with_a_cap_per_speaker(tmp_path: Path) -> None:
    # config/librispeech-laptop.yaml in small: train/dev carved, test listed, utterances capped.
    root = tmp_path / "corpus"
    texts = {0: "SOME WORDS HERE", 1: "MORE WORDS HERE", 2: "EVEN MORE WORDS"}
    for speaker in ("11", "12", "13", "14"):
        write_chapter(root, "dev-clean", speaker, "100", texts, 0.6)
    for speaker in ("21", "22"):
        write_chapter(root, "test-clean", speaker, "200", texts, 0.6)
    carve = {"subsets": ["dev-clean"], "fractions": {"train": 0.75, "dev": 0.25}}
    corpus = {"kind": "librispeech", "root": str(root), "carve_by_speaker": carve}
    config = {"corpus": {**corpus, "splits": {"test": ["test-clean"]}}}
    config["corpus"]["max_utterances_per_speaker"] = 2
    snakemake(tmp_path, config, *MANIFESTS)
    train, dev, test = (pd.read_csv(tmp_path / p, dtype=str) for p in MANIFESTS)
    assert (train.speaker_id.nunique(), dev.speaker_id.nunique()) == (3, 1)
    assert set(train.speaker_id) | set(dev.speaker_id) == {"11", "12", "13", "14"}
    assert set(test.speaker_id) == {"21", "22"}
    for manifest in (train, dev, test):
        assert set(manifest.groupby("speaker_id").size()) == {2}
    assert snakemake(tmp_path, config, "-n", *MANIFESTS).count("checkpoint manifest:") == 0
    # Another cap is another manifest.
    config["corpus"]["max_utterances_per_speaker"] = 3
    assert snakemake(tmp_path, config, "-n", *MANIFESTS).count("checkpoint manifest:") == 3


def test_download_rule_fetches_then_labels(tmp_path: Path) -> None:
    audio = io.BytesIO()
    sf.write(audio, speech_like(0.6), 16000, format="FLAC")
    members = {"LibriSpeech/SPEAKERS.TXT": b"21 | M | dev-clean | 1 | A\n"}
    for speaker in ("21", "22", "23"):
        folder = f"LibriSpeech/dev-clean/{speaker}/5"
        members[f"{folder}/{speaker}-5.trans.txt"] = f"{speaker}-5-0000 HELLO\n".encode()
        members[f"{folder}/{speaker}-5-0000.flac"] = audio.getvalue()
    data = tar_gz(members)
    served = ServedFiles(files={"/slr12/dev-clean.tar.gz": data})
    server, base = serve(served)
    try:
        config = {"corpus": {
            "kind": "librispeech", "root": "corpus", "download": True,
            "mirrors": [f"{base}/slr12"], "md5": {"dev-clean": hashlib.md5(data).hexdigest()},
            "carve_by_speaker": {"subsets": ["dev-clean"]},
        }}  # fmt: skip
        snakemake(tmp_path, config, *MANIFESTS)
        assert "Nothing to be done" in snakemake(tmp_path, config, *MANIFESTS)
    finally:
        server.shutdown()
        server.server_close()
    assert served.ranges == [None]
    rows = pd.concat(pd.read_csv(tmp_path / p, dtype=str) for p in MANIFESTS)
    assert sorted(rows.speaker_id) == ["21", "22", "23"]
    assert list(rows[rows.speaker_id == "21"].sex) == ["M"]


def replace_keeping_times(path: Path, data: bytes) -> None:
    """Overwrite a file and restore its modification time, as cp -p, rsync -a and touch -r do."""
    times = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


def test_a_file_replaced_with_its_old_time_stamp_reruns_the_manifest(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    for speaker in ("11", "12", "13"):
        write_chapter(root, "dev-clean", speaker, "100", {0: "SOME WORDS HERE"}, 0.6)
    splits = {split: ["dev-clean"] for split in ("train", "dev", "test")}
    config = {"corpus": {"kind": "librispeech", "root": str(root), "splits": splits}}
    target = "results/manifests/dev.csv"
    snakemake(tmp_path, config, target)
    assert "Nothing to be done" in snakemake(tmp_path, config, target)
    chapter = root / "LibriSpeech/dev-clean/12/100"
    longer = io.BytesIO()
    sf.write(longer, speech_like(1.5), 16000, format="FLAC")
    replace_keeping_times(chapter / "12-100-0000.flac", longer.getvalue())
    assert "checkpoint manifest:" in snakemake(tmp_path, config, "-n", target)
    snakemake(tmp_path, config, target)
    durations = (
        pd.read_csv(tmp_path / target, dtype={"speaker_id": str}).set_index("utt_id").duration_s
    )
    assert durations["12-100-0000"] == pytest.approx(1.5)
    replace_keeping_times(chapter / "12-100.trans.txt", b"12-100-0000 OTHER WORDS HERE\n")
    assert "checkpoint manifest:" in snakemake(tmp_path, config, "-n", target)


def test_file_system_errors_are_bad_input_named_or_skipped(tmp_path: Path) -> None:
    prefix = without_read_override()
    if prefix is None:
        pytest.skip("as root without setpriv, no file can be made unreadable")
    root = tmp_path / "corpus"
    for speaker in ("11", "12", "13", "14"):
        write_chapter(root, "dev-clean", speaker, "100", {0: "SOME WORDS", 1: "MORE WORDS"}, 0.6)
    folder = root / "LibriSpeech/dev-clean"
    loop, dangling = folder / "11/100/11-100-0000.flac", folder / "11/100/11-100-0001.flac"
    loop.unlink()
    loop.symlink_to(loop.name)
    dangling.unlink()
    dangling.symlink_to("moved-away.flac")
    unreadable = [folder / "12/100/12-100-0000.flac", folder / "13/100/13-100.trans.txt"]
    for path in unreadable:
        path.chmod(0)
    named = {
        loop: "symbolic link loop",
        dangling: "broken symbolic link: its target moved-away.flac does not exist",
        unreadable[0]: "unreadable file: no read permission for this user",
        unreadable[1]: "unreadable file: no read permission for this user; the chapter's 2",
    }
    splits = {split: ["dev-clean"] for split in ("train", "dev", "test")}
    config = {"corpus": {"kind": "librispeech", "root": str(root), "splits": splits}}
    target = "results/manifests/dev.csv"
    assert "checkpoint manifest:" in snakemake(tmp_path, config, "-n", target, prefix=prefix)
    failed = snakemake(tmp_path, config, target, prefix=prefix, succeed=False)
    assert all(f"{path}: {problem}" in failed for path, problem in named.items()), failed
    assert "metadata" not in failed and "deleted" not in failed
    skipping = {**config, "on_bad_input": "skip"}
    skipped = snakemake(tmp_path, skipping, target, prefix=prefix)
    assert "metadata" not in skipped
    report = json.loads((tmp_path / "results/manifests/dev.bad.json").read_text())
    kinds = {"broken symbolic link": 1, "symbolic link loop": 1, "unreadable file": 2}
    assert report["skipped"] == kinds
    assert list(pd.read_csv(tmp_path / target).utt_id) == [
        "12-100-0001",
        "14-100-0000",
        "14-100-0001",
    ]
    # Once readable, the files are labelled on the next run, with no --rerun-incomplete.
    for path in unreadable:
        path.chmod(0o644)
    snakemake(tmp_path, skipping, target, prefix=prefix)
    report = json.loads((tmp_path / "results/manifests/dev.bad.json").read_text())
    assert report["skipped"] == {"broken symbolic link": 1, "symbolic link loop": 1}
