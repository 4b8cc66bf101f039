"""generated/numbers.tex: every number the paper prints as a macro, and the claim assertion."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from paper_support import load_fixture, render_project, rendered_text, typed

from rateprobe.conventions import PAPER_NUMBERS
from rateprobe.paper import latex
from rateprobe.paper.numbers import PrintedNumbers, claim_decisions, macro_name, track
from rateprobe.results.model_entry import EmbeddingProbe

MACRO = re.compile(r"^\\newcommand\{\\(rp[A-Za-z]+)\}\{(.*)\}% (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def paper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_project(load_fixture(), tmp_path_factory.mktemp("numbers"))


def macros(paper_dir: Path) -> dict[str, tuple[str, str]]:
    """Macro name -> (printed text, summary key) of generated/numbers.tex."""
    text = (paper_dir / PAPER_NUMBERS).read_text(encoding="utf-8")
    return {name: (body, key) for name, body, key in MACRO.findall(text)}


def test_macro_names_hold_letters_only_and_spell_digits() -> None:
    path = ("models", "samresnet34_random", "embedding", "cps", "r2_ci")
    assert macro_name(path) == "rpModelsSamresnetThreeFourRandomEmbeddingCpsRTwoCi"
    assert macro_name(("layers", 10, "r2"), "pct") == "rpLayersOneZeroRTwoPct"


def test_every_macro_prints_a_summary_number_exactly_as_the_paper_does(paper_dir: Path) -> None:
    summary = load_fixture()
    found = macros(paper_dir)
    text = rendered_text(paper_dir)
    assert len(found) > 100
    assert [name for name, (body, _) in found.items() if body not in text] == []
    r2 = summary["models"]["resemblyzer"]["embedding"]["cps"]
    assert found["rpModelsResemblyzerEmbeddingCpsRTwo"] == (
        latex.number(r2["r2"]),
        "models.resemblyzer.embedding.cps.r2",
    )
    assert found["rpModelsResemblyzerEmbeddingCpsRTwoCi"][0] == latex.interval(r2["r2_ci"])
    test = summary["corpus"]["splits"]["test"]
    assert found["rpCorpusSplitsTestNUtterances"][0] == str(test["n_utterances"])
    taps = summary["models"]["resemblyzer"]["taps"]
    assert found["rpModelsResemblyzerTapsLength"] == (
        str(len(taps)),
        "models.resemblyzer.taps.length",
    )


def test_main_tex_inputs_the_numbers_before_the_document(paper_dir: Path) -> None:
    main = (paper_dir / "main.tex").read_text(encoding="utf-8")
    assert "\\input{generated/numbers}" in main
    assert main.index("\\input{generated/numbers}") < main.index("\\begin{document}")


def test_a_value_printed_in_two_forms_gets_a_macro_per_form() -> None:
    tracked = track({"models": {"m": {"eer": 0.0412}}})
    eer = tracked["models"]["m"]["eer"]
    printed = PrintedNumbers()
    with latex.recording(printed.record):
        latex.percent(eer)
        latex.number(eer)
        latex.number(eer * 100)  # arithmetic leaves the summary: not a macro
    assert {name: n.text for name, n in printed.macros().items()} == {
        "rpModelsMEerPercent": "4,1\\,\\%",
        "rpModelsMEerNumber": "0,04",
    }
    assert printed.untracked == 1


def test_colliding_macro_names_are_refused() -> None:
    tracked = track({"r2": 0.5, "r_2": 0.25})
    printed = PrintedNumbers()
    with latex.recording(printed.record):
        latex.number(tracked["r2"])
        latex.number(tracked["r_2"])
    with pytest.raises(ValueError, match=r"'r2'.*'r_2'.*rpRTwo"):
        printed.macros()


def test_a_typed_summary_is_tracked_record_by_record() -> None:
    summary = typed(load_fixture())
    probe = track(summary).models["resemblyzer"].embedding["cps"]
    assert isinstance(probe, EmbeddingProbe)
    assert probe.r2 == summary.models["resemblyzer"].embedding["cps"].r2
    assert probe.r2.summary_path == ("models", "resemblyzer", "embedding", "cps", "r2")
    low, _ = probe.r2_ci
    assert probe.r2_ci.summary_path[-1] == "r2_ci" and low.summary_path[-2:] == ("r2_ci", 0)


def test_claims_are_the_decision_records_of_the_summary() -> None:
    claims = claim_decisions(typed(load_fixture()))
    assert claims["models.resemblyzer.layers.cps.best_minus_deepest"] is None
    assert claims["models.resemblyzer.layers.cps.best.beyond_duration"] is True
    assert claims["models.resemblyzer.erasure.eer_change"] is None  # descriptive: no verdict


def compile_with(paper_dir: Path, workdir: Path, body: str) -> subprocess.CompletedProcess[str]:
    workdir.mkdir()
    shutil.copy(paper_dir / PAPER_NUMBERS, workdir / "numbers.tex")
    (workdir / "doc.tex").write_text(
        "\\documentclass{article}\n\\input{numbers}\n\\begin{document}\n"
        f"{body}\n\\end{{document}}\n",
        encoding="utf-8",
    )
    return subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=workdir,
        capture_output=True,
        text=True,
        errors="replace",
        env={**os.environ, "max_print_line": "1000"},  # TeX wraps messages at 79 columns
    )


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_a_claim_that_no_longer_holds_stops_the_build_naming_it(
    paper_dir: Path, tmp_path: Path
) -> None:
    holds = compile_with(
        paper_dir,
        tmp_path / "holds",
        "\\rpAssertClaim{models.resemblyzer.layers.cps.best.beyond_duration}"
        "\\rpAssertClaim[undecided]{models.resemblyzer.layers.cps.best_minus_deepest}"
        "R2 \\rpModelsResemblyzerEmbeddingCpsRTwo",
    )
    assert holds.returncode == 0, holds.stdout[-2000:]

    flipped = compile_with(
        paper_dir,
        tmp_path / "flipped",
        "\\rpAssertClaim[false]{models.resemblyzer.layers.cps.best.beyond_duration}",
    )
    assert flipped.returncode != 0
    log = " ".join(flipped.stdout.split())  # the message spans two source lines
    assert "Claim 'models.resemblyzer.layers.cps.best.beyond_duration' no longer holds" in log
    assert "now says true, the text expects false" in log

    unknown = compile_with(paper_dir, tmp_path / "unknown", "\\rpAssertClaim{no.such.claim}")
    assert unknown.returncode != 0 and "Unknown claim 'no.such.claim'" in unknown.stdout
