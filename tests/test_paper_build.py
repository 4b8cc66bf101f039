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
from paper_support import PAPER_CFG, load_fixture, render_project

from rateprobe.paper.build import PaperBuildError, build_pdf, compile_latex
from rateprobe.paper.overleaf import make_overleaf_zip

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("latexmk", "pdflatex", "pdftotext", "pdfinfo")),
    reason="needs latexmk, pdfLaTeX and poppler-utils",
)
REFERENCES_HEADING = "Список литературы"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    summary = load_fixture()
    paper_dir = render_project(summary, tmp_path_factory.mktemp("paper"))
    pdf = build_pdf(paper_dir, paper_dir / "main.pdf")
    return {"summary": summary, "paper_dir": paper_dir, "pdf": pdf}


def page_texts(pdf: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return [
        subprocess.run(
            ["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, pages + 1)
    ]


def body_pages(pdf: Path) -> int:
    """Pages up to the references; the references' page counts only if body text precedes them."""
    texts = page_texts(pdf)
    first = next(i for i, text in enumerate(texts) if REFERENCES_HEADING in text)
    before = texts[first].split(REFERENCES_HEADING)[0]
    has_body_text = re.search(r"[А-Яа-яA-Za-z]{3}", before) is not None
    return first + 1 if has_body_text else first


def normalised_text(pdf: Path) -> str:
    text = "\n".join(page_texts(pdf))
    return re.sub(r"\s+", " ", text.replace("\u2212", "-"))


def ru(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def test_main_body_fits_two_to_four_pages(built: dict[str, Any]) -> None:
    assert 2 <= body_pages(built["pdf"]) <= 4


def test_pdf_numbers_are_the_summary_numbers(built: dict[str, Any]) -> None:
    summary, text = built["summary"], normalised_text(built["pdf"])
    expected = []
    for split in summary["corpus"]["splits"].values():
        expected += [str(split["n_utterances"]), ru(split["hours"]), ru(split["cps_mean"], 1)]
    for model in summary["models"].values():
        expected.append(ru(100 * model["eer"], 1))
        for target in summary["run"]["targets"]:
            probe = model["embedding"][target]
            low, high = probe["r2_ci"]
            expected.append(f"{ru(probe['r2'])} [{ru(low)}; {ru(high)}]")
            best = model["layers"][target]["best"]
            expected.append(ru(best["r2"]))
    for target in summary["run"]["targets"]:
        expected.append(ru(summary["baselines"][target]["mean_predictor"]["r2"]))
    missing = [number for number in expected if number not in text]
    assert missing == [], f"numbers of summary.json absent from the PDF: {missing}"


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
