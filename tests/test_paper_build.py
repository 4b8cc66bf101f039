"""Compiling the paper: page budget, numbers in the PDF, the Overleaf archive compiled in an
empty directory, and LaTeX failures reported with their log lines."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from paper_support import (
    PAPER_CFG,
    assert_pdf_shows_summary_numbers,
    body_pages,
    load_fixture,
    normalised_text,
    render_project,
)

from rateprobe.paper.build import PaperBuildError, build_pdf, compile_latex
from rateprobe.paper.overleaf import make_overleaf_zip

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("latexmk", "pdflatex", "pdftotext", "pdfinfo")),
    reason="needs latexmk, pdfLaTeX and poppler-utils",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    summary = load_fixture()
    paper_dir = render_project(summary, tmp_path_factory.mktemp("paper"))
    pdf = build_pdf(paper_dir, paper_dir / "main.pdf")
    return {"summary": summary, "paper_dir": paper_dir, "pdf": pdf}


def test_main_body_fits_two_to_four_pages(built: dict[str, Any]) -> None:
    assert 2 <= body_pages(built["pdf"]) <= 4


def test_pdf_numbers_are_the_summary_numbers(built: dict[str, Any]) -> None:
    assert_pdf_shows_summary_numbers(built["pdf"], built["summary"])


def test_pdf_says_which_corpus_and_models(built: dict[str, Any]) -> None:
    text = normalised_text(built["pdf"])
    assert "синтетическом" in text
    for name in built["summary"]["models"]:
        assert name in text


def test_abstract_is_at_most_300_words(built: dict[str, Any]) -> None:
    abstract = (built["paper_dir"] / "generated" / "abstract.tex").read_text(encoding="utf-8")
    words = re.sub(r"\\[A-Za-z]+|[{}$~]", " ", abstract).split()
    assert len(words) <= 300


def test_overleaf_zip_compiles_alone_in_an_empty_directory(
    built: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = make_overleaf_zip(built["paper_dir"], tmp_path / "overleaf.zip", PAPER_CFG)
    project = tmp_path / "unpacked"
    project.mkdir()
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        zipped.extractall(project)
    assert {
        "main.tex",
        "references.bib",
        "rateprobe-neurips.sty",
        "generated/abstract.tex",
        "figures/tsne.pdf",
    } <= names
    for variable in ("TEXINPUTS", "BIBINPUTS", "BSTINPUTS"):
        monkeypatch.delenv(variable, raising=False)
    pdf = compile_latex(project)
    assert pdf.stat().st_size > 0


def test_ieee_variant_compiles(tmp_path: Path) -> None:
    if subprocess.run(["kpsewhich", "IEEEtran.cls"], capture_output=True).returncode != 0:
        pytest.skip("IEEEtran.cls is not installed (Debian: texlive-publishers)")
    cfg = dict(PAPER_CFG, style="ieee")
    paper_dir = render_project(load_fixture(), tmp_path, cfg)
    assert r"\documentclass[conference]{IEEEtran}" in (paper_dir / "main.tex").read_text()
    assert compile_latex(paper_dir).is_file()


def test_undefined_citation_fails_the_build_with_its_log_line(tmp_path: Path) -> None:
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}See \\cite{no_such_key} and \\ref{nowhere}."
        "\\end{document}\n",
        encoding="utf-8",
    )
    with pytest.raises(PaperBuildError, match="no_such_key"):
        compile_latex(tmp_path)


def test_latex_error_fails_the_build_with_its_log_line(tmp_path: Path) -> None:
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n",
        encoding="utf-8",
    )
    with pytest.raises(PaperBuildError, match="Undefined control sequence"):
        compile_latex(tmp_path)
