"""Compiling the paper: page budget, numbers in the PDF, a clean LaTeX log, provenance in the
PDF, the Overleaf archive compiled in an empty directory, the person's own text and citations,
and LaTeX failures reported with their log lines and their own log file."""

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
    page_texts,
    render_project,
    rendered_text,
)

from rateprobe.conventions import PAPER_PERSON_BIBLIOGRAPHY, person_text_file
from rateprobe.paper import build
from rateprobe.paper.build import PaperBuildError, build_pdf, compile_latex, log_defects
from rateprobe.paper.overleaf import make_overleaf_zip
from rateprobe.paper.render import SECTIONS

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
        PAPER_PERSON_BIBLIOGRAPHY,
        person_text_file("conclusion", "end"),
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


def test_the_paper_log_is_clean(built: dict[str, Any]) -> None:
    log = (built["paper_dir"] / "build" / "main.log").read_text(errors="replace")
    assert log_defects(log) == []
    assert "multiply defined" not in log and "Overfull" not in log


def test_pdf_metadata_and_build_stamp(built: dict[str, Any]) -> None:
    info = subprocess.run(
        ["pdfinfo", str(built["pdf"])], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    stamp = built["summary"]["build"]
    assert fields["Title"].strip() == PAPER_CFG["title"]
    assert fields["Author"].strip() == PAPER_CFG["author"]["name"]
    assert "темп речи" in fields["Keywords"]
    assert stamp["commit"] in fields["Creator"] and stamp["config_hash"] in fields["Creator"]
    first_page = re.sub(r"\s+", " ", page_texts(built["pdf"])[0])
    assert f"коммит {stamp['commit']}" in first_page
    assert f"конфигурация {stamp['config_hash']}" in first_page


def test_every_figure_caption_names_its_script_and_rule(built: dict[str, Any]) -> None:
    tex = rendered_text(built["paper_dir"])
    figures = len(re.findall(r"\\includegraphics", tex))
    assert figures >= 1
    # Reading order, not layout: the appendix sets two captions side by side.
    raw = subprocess.run(
        ["pdftotext", "-raw", str(built["pdf"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = re.sub(r"\s+", " ", raw).replace("scripts/ make", "scripts/make")
    assert text.count("scripts/make_figures.py, правило figures)") == figures


def test_table_references_are_followed_by_a_space(built: dict[str, Any]) -> None:
    assert re.search(r"Табл\. \d+(, \d+)+ приводят", normalised_text(built["pdf"]))


def test_a_multiply_defined_label_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}\\section{A}\\label{twice}"
        "\\section{B}\\label{twice} See \\ref{twice}.\\end{document}\n",
        encoding="utf-8",
    )
    with pytest.raises(PaperBuildError, match=r"multiply-defined label(.|\n)*twice"):
        compile_latex(tmp_path)


def test_an_overfull_box_fails_the_build_quoting_the_text(tmp_path: Path) -> None:
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}\\hbox to 1pt{Sticking out}\\end{document}\n",
        encoding="utf-8",
    )
    with pytest.raises(PaperBuildError, match=r"overfull box(.|\n)*Overfull \\hbox"):
        compile_latex(tmp_path)


def test_a_missing_engine_is_named_before_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        build.shutil, "which", lambda tool: None if tool == "xelatex" else real_which(tool)
    )
    monkeypatch.setattr(build.subprocess, "run", lambda *a, **k: pytest.fail("compiled"))
    with pytest.raises(PaperBuildError, match=r"xelatex not found on PATH.*texlive-xetex"):
        compile_latex(tmp_path, engine="xelatex")


def test_a_failed_compile_names_its_own_log_not_a_stale_one(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "main.log").write_text("! Stale error of an earlier run.\n")
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n",
        encoding="utf-8",
    )
    with pytest.raises(PaperBuildError) as failure:
        compile_latex(tmp_path)
    message = str(failure.value)
    assert f"see {(tmp_path / 'build' / 'main.log').resolve()}" in message
    assert "Undefined control sequence" in message and "Stale" not in message


def test_an_unbreakable_title_names_its_key_and_the_last_good_pdf_is_kept(tmp_path: Path) -> None:
    def write_main(title: str) -> None:
        (tmp_path / "main.tex").write_text(
            f"\\documentclass{{article}}\\title{{{title}}}\\author{{A. Person}}"
            "\\begin{document}\\maketitle Body.\\end{document}\n",
            encoding="utf-8",
        )

    output = tmp_path / "main.pdf"
    write_main("A short title")
    build_pdf(tmp_path, output, paper={"title": "A short title"})
    good = output.read_bytes()
    assert (tmp_path / "main.last-good.pdf").read_bytes() == good
    overlong = "Words then " + "Unbreakable" * 12
    write_main(overlong)
    output.unlink()  # as Snakemake does before it runs the job again
    paper = {"title": overlong, "author": {"name": "A. Person", "email": "a@example.org"}}
    with pytest.raises(PaperBuildError) as failure:
        build_pdf(tmp_path, output, paper=paper)
    message = str(failure.value)
    assert "left overfull box" in message
    assert "comes from config key(s) paper.title:" in message and "paper.author" not in message
    assert f"last successful build is kept at {tmp_path / 'main.last-good.pdf'}" in message
    assert (tmp_path / "main.last-good.pdf").read_bytes() == good


def copy_paper(built: dict[str, Any], where: Path) -> Path:
    """The built paper's sources, without its build folder and PDF."""
    ignored = shutil.ignore_patterns("build", "main.pdf", "main.last-good.pdf")
    return Path(shutil.copytree(built["paper_dir"], where, ignore=ignored))


def test_the_persons_empty_files_change_nothing_in_the_pdf(
    built: dict[str, Any], tmp_path: Path
) -> None:
    paper_dir = copy_paper(built, tmp_path / "paper")
    for tex in [paper_dir / "main.tex", *(paper_dir / "generated").glob("*.tex")]:
        text = tex.read_text(encoding="utf-8")
        text = re.sub(r"\\input\{own/[^}]*\}%?", "", text).replace(",own/references}", "}")
        tex.write_text(text, encoding="utf-8")
    shutil.rmtree(paper_dir / "own")

    without = build_pdf(paper_dir, paper_dir / "main.pdf")

    assert page_texts(without) == page_texts(built["pdf"])


def test_the_persons_text_and_citations_appear_where_they_are_input(
    built: dict[str, Any], tmp_path: Path
) -> None:
    paper_dir = copy_paper(built, tmp_path / "paper")
    for section in SECTIONS:
        for place in ("start", "end"):
            with (paper_dir / person_text_file(section, place)).open("a", encoding="utf-8") as f:
                f.write(f"Вставка{section.capitalize()}{place.capitalize()}~\\cite{{mine2025}}.\n")
    with (paper_dir / PAPER_PERSON_BIBLIOGRAPHY).open("a", encoding="utf-8") as bib:
        bib.write("@misc{mine2025, author={Person}, title={Моя заметка}, year={2025}}\n")

    text = normalised_text(build_pdf(paper_dir, paper_dir / "main.pdf"))

    inserts = [
        text.index(f"Вставка{section.capitalize()}{place.capitalize()}")
        for section in SECTIONS
        for place in ("start", "end")
    ]
    assert inserts == sorted(inserts)  # each in its place, in the order of the sections
    assert "Моя заметка" in text and text.count("Вставка") == 2 * len(SECTIONS)
    headings = {
        "introduction": "Введение",
        "methodology": "Методология",
        "experiments": "Эксперименты и результаты",
        "conclusion": "Заключение",
    }
    for section, heading in headings.items():
        start = text.index(f"Вставка{section.capitalize()}Start")
        assert text[:start].rstrip().endswith(heading), section  # right after the heading


def test_a_citation_key_in_both_bibliographies_stops_the_build(
    built: dict[str, Any], tmp_path: Path
) -> None:
    paper_dir = copy_paper(built, tmp_path / "paper")
    with (paper_dir / PAPER_PERSON_BIBLIOGRAPHY).open("a", encoding="utf-8") as bib:
        bib.write("@misc{ge2e, title={Моя версия}}\n")

    with pytest.raises(PaperBuildError) as failure:
        build_pdf(paper_dir, paper_dir / "main.pdf")

    message = str(failure.value)
    assert f"ge2e: {paper_dir / 'references.bib'} line" in message
    assert f"{paper_dir / PAPER_PERSON_BIBLIOGRAPHY} line" in message
