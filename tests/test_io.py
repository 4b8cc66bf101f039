"""The one atomic writer: normal permissions on every output, no temporaries left by a kill."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from librispeech_tree import speech_like, write_chapter
from paper_support import PAPER_CFG, load_fixture, render_project

from rateprobe.audio import write_flac
from rateprobe.corpus.download import completion_marker, download_subset
from rateprobe.figures.distributions import cps_histogram
from rateprobe.io import write_atomic, write_npz
from rateprobe.labels import build_manifest
from rateprobe.paper.overleaf import make_overleaf_zip

SRC = Path(__file__).resolve().parents[1] / "src"
BOUNDS = {"min_duration_s": 0.5, "max_duration_s": 60, "min_cps": 1, "max_cps": 40}


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_kind_of_output_is_readable_by_everyone(tmp_path: Path, umask_022: None) -> None:
    write_chapter(tmp_path / "corpus", "dev-clean", "84", "121123", {0: "GO, DO YOU HEAR"}, 1.5)
    corpus = {"kind": "librispeech", "root": str(tmp_path / "corpus"), "carve_by_speaker": None,
              "splits": {split: ["dev-clean"] for split in ("train", "dev", "test")}}  # fmt: skip
    results = tmp_path / "results"
    vad = {"aggressiveness": 2, "frame_ms": 30}
    manifest = build_manifest(
        corpus, vad, "fail", "dev", results / "dev.csv", results / "dev.bad.json", bounds=BOUNDS
    )
    cps_histogram({"dev": manifest}, results / "cps_histogram.pdf")
    write_npz(results / "activations.npz", {"tap/x": np.zeros((1, 2), np.float16)})
    write_flac(results / "variant.flac", speech_like(0.5))
    marker = completion_marker(tmp_path / "corpus", "dev-clean")
    download_subset(tmp_path / "corpus", "dev-clean", [], {}, marker)
    paper_dir = render_project(load_fixture(), tmp_path / "paper_build")
    xelatex = {**PAPER_CFG, "engine": "xelatex"}  # with a latexmkrc, written from memory
    archive = make_overleaf_zip(paper_dir, results / "overleaf.zip", xelatex)

    outputs = [*results.iterdir(), marker, *paper_dir.rglob("*.tex"), *paper_dir.glob("figures/*")]
    assert len(outputs) > 10 and any(p.suffix == ".tex" for p in outputs)
    assert {p.name: oct(mode(p)) for p in outputs} == {p.name: "0o644" for p in outputs}
    with zipfile.ZipFile(archive) as packed:
        members = {info.filename: info.external_attr >> 16 for info in packed.infolist()}
    assert "main.tex" in members and "latexmkrc" in members
    assert {name: oct(attr) for name, attr in members.items()} == {
        name: oct(stat.S_IFREG | 0o644) for name in members
    }


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old")

    def failing(handle) -> None:
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, failing)
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


WRITER = textwrap.dedent(
    """
    import sys, time
    from rateprobe.io import write_atomic
    from rateprobe.joblog import job_log

    def slow(handle):
        handle.write(b"half of it")
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)

    with job_log([]):
        write_atomic(sys.argv[1], slow)
    """
)


def start_writer(target: Path) -> subprocess.Popen[str]:
    """A job that is in the middle of writing `target` when this returns."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    job = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert job.stdout is not None and job.stdout.readline() == "writing\n"
    assert [p.name for p in target.parent.glob(f".{target.name}.*.tmp")]
    return job


def test_sigterm_removes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "dev.csv"
    job = start_writer(target)
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=30) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_the_next_write_removes_what_sigkill_left(tmp_path: Path) -> None:
    target = tmp_path / "dev.csv"
    job = start_writer(target)
    job.kill()
    assert job.wait(timeout=30) == -signal.SIGKILL
    assert len(list(tmp_path.glob(".dev.csv.*.tmp"))) == 1
    # A temporary of dev.csv.bak, whose name begins like dev.csv's, belongs to another output.
    other = tmp_path / ".dev.csv.bak.abcd1234.tmp"
    other.write_text("another output's")
    write_atomic(target, lambda handle: handle.write(b"utt_id\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["dev.csv", other.name])
    assert target.read_text() == "utt_id\n"
