"""python -m rateprobe.paper.diff: what changed between two builds' summary.json."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from paper_support import REPO, load_fixture, typed

from rateprobe.config import DEFAULTS
from rateprobe.paper.diff import compare, main

TEMPLATES = REPO / "paper" / "templates"
EMBEDDING = "models.resemblyzer.embedding.cps"
FLIPPED = "models.resemblyzer.layers.cps.beats_every_control"


def perturbed(summary: dict[str, Any]) -> dict[str, Any]:
    """A later build: one R² far outside its interval, one inside, a count and a claim."""
    later = copy.deepcopy(summary)
    embedding = later["models"]["resemblyzer"]["embedding"]["cps"]
    embedding["r2"] = embedding["r2_ci"][0] - 0.2
    embedding["r2_ci"] = [embedding["r2"] - 0.05, embedding["r2"] + 0.05]
    baseline = later["baselines"]["cps"]["duration_basis"]
    baseline["r2"] = baseline["r2"] + 0.01
    later["corpus"]["splits"]["test"]["n_utterances"] += 4
    layers = later["models"]["resemblyzer"]["layers"]["cps"]
    layers["beats_every_control"]["decided"] = True
    return later


def test_identical_builds_differ_in_nothing() -> None:
    summary = typed(load_fixture())
    diff = compare(summary, summary.model_copy(deep=True), TEMPLATES, DEFAULTS["paper"])
    assert not diff.notable and diff.within_interval == 0 and diff.sentences == []


def test_moved_numbers_flipped_claims_and_affected_sentences_are_listed() -> None:
    old = load_fixture()
    new = perturbed(old)
    diff = compare(typed(old), typed(new), TEMPLATES, DEFAULTS["paper"])

    moved = {change.key: change for change in diff.moved}
    assert set(moved) == {f"{EMBEDDING}.r2"}
    r2 = moved[f"{EMBEDDING}.r2"]
    assert r2.macro == "rpModelsResemblyzerEmbeddingCpsRTwo"
    assert (r2.old, r2.interval) == ("0,86", "[0,80; 0,92]")
    assert [change.key for change in diff.without_interval] == ["corpus.splits.test.n_utterances"]
    assert diff.within_interval >= 1  # the baseline's R² moved by 0.01
    assert [(flip.key, flip.old, flip.new) for flip in diff.flipped] == [
        (FLIPPED, "undecided", "true")
    ]
    changed = {sentence.key: sentence for sentence in diff.sentences}
    assert any(sentence.wording for sentence in changed.values())
    assert changed["targets.cps.controls"].wording  # the flipped claim rewords this sentence


def test_the_command_prints_the_report_and_check_fails_on_changes(tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(load_fixture()), encoding="utf-8")
    new.write_text(json.dumps(perturbed(load_fixture())), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "rateprobe.paper.diff", str(old), str(new), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert done.returncode == 1, done.stderr
    assert "Printed numbers that moved beyond their intervals: 1" in done.stdout
    assert f"{FLIPPED}: undecided -> true" in done.stdout
    assert main([str(old), str(old), "--templates", str(TEMPLATES), "--check"]) == 0
