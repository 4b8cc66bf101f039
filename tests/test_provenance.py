"""The build stamp: the commit, a dirty-tree mark, the configuration hash and the date."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from rateprobe.provenance import build_stamp, config_hash

DAY = dt.date(2025, 11, 22)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_config_hash_follows_values_not_key_order() -> None:
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    assert len(config_hash({})) == 8


def test_outside_git_commit_and_dirty_are_null(tmp_path: Path) -> None:
    # a directory with no repository above it (the test's tmp dir may sit inside one)
    stamp = build_stamp({"seed": 0}, tmp_path, today=DAY)
    if stamp["commit"] is None:
        assert stamp["dirty"] is None
    assert stamp["config_hash"] == config_hash({"seed": 0}) and stamp["date"] == "2025-11-22"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_commit_and_dirty_mark_of_a_checkout(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "Snakefile").write_text("rule all:\n")
    git(tmp_path, "add", "Snakefile")
    git(tmp_path, "commit", "-qm", "first")
    head = git(tmp_path, "rev-parse", "--short=10", "HEAD")

    clean = build_stamp({}, tmp_path, today=DAY)
    assert clean["commit"] == head and clean["dirty"] is False
    (tmp_path / "results.csv").write_text("untracked outputs do not make the tree dirty\n")
    assert build_stamp({}, tmp_path, today=DAY)["dirty"] is False
    (tmp_path / "Snakefile").write_text("rule all:\n    input: []\n")
    assert build_stamp({}, tmp_path, today=DAY)["dirty"] is True
