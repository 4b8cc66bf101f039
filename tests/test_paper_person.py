"""The files a person owns in the paper project: where main.tex inputs them, that the pipeline
creates them once and never writes them again, and a citation key defined twice."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path

import pytest
from paper_support import PAPER_CFG, REPO, load_fixture, render_project

from rateprobe.conventions import PAPER_PERSON_BIBLIOGRAPHY, person_text_file
from rateprobe.paper.person import (
    DuplicateCitationKey,
    check_citation_keys,
    ensure_person_files,
    initial_text,
    person_files,
)
from rateprobe.paper.render import SECTIONS, render_paper


@pytest.fixture
def paper_dir(tmp_path: Path) -> Path:
    return render_project(load_fixture(), tmp_path)


def test_every_section_inputs_the_persons_text_after_its_heading_and_at_its_end(
    paper_dir: Path,
) -> None:
    for section in SECTIONS:
        text = (paper_dir / "generated" / f"{section}.tex").read_text(encoding="utf-8")
        start = f"\\input{{{person_text_file(section, 'start')}}}"
        end = f"\\input{{{person_text_file(section, 'end')}}}"
        assert text.count(start) == 1 and text.count(end) == 1, section
        if section != "abstract":  # the abstract has no heading: main.tex sets it
            heading = re.search(r"\\section\{[^}]*\}(\n\\label\{[^}]*\})?\n", text)
            assert heading is not None and text.index(start) == heading.end(), section
        # nothing but blank lines (and a line end eaten by %) after the end's input
        assert text[text.index(end) + len(end) :].strip("%\n") == "", section
    main = (paper_dir / "main.tex").read_text(encoding="utf-8")
    assert "\\bibliography{references,own/references}" in main


def test_the_persons_files_are_created_once_and_survive_a_rebuild(
    paper_dir: Path, tmp_path: Path
) -> None:
    for name in person_files():
        assert (paper_dir / name).read_text(encoding="utf-8") == initial_text(name)
    mine = paper_dir / person_text_file("introduction", "end")
    mine.write_text("Мой абзац о работе.\n", encoding="utf-8")
    (paper_dir / PAPER_PERSON_BIBLIOGRAPHY).unlink()

    summary_path = tmp_path / "summary.json"  # render_project left it there
    render_paper(
        summary_path,
        tmp_path / "figures",
        REPO / "paper" / "templates",
        paper_dir,
        copy.deepcopy(PAPER_CFG),
        today=dt.date(2025, 11, 22),
    )
    ensure_person_files(paper_dir)

    assert mine.read_text(encoding="utf-8") == "Мой абзац о работе.\n"
    bib = paper_dir / PAPER_PERSON_BIBLIOGRAPHY
    assert bib.read_text(encoding="utf-8") == initial_text(PAPER_PERSON_BIBLIOGRAPHY)
    assert "@" not in bib.read_text(encoding="utf-8")  # BibTeX would read an entry there


def test_a_citation_key_defined_in_both_bibliographies_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "references.bib").write_text(
        "@article{ge2e,\n  title={GE2E}\n}\n@misc{other, title={x}}\n", encoding="utf-8"
    )
    own = tmp_path / PAPER_PERSON_BIBLIOGRAPHY
    own.parent.mkdir()
    own.write_text(
        initial_text(PAPER_PERSON_BIBLIOGRAPHY) + "\n@comment{ge2e, not an entry}\n"
        "@inproceedings{ GE2E ,\n  title={Mine}\n}\n@misc{mine, title={y}}\n",
        encoding="utf-8",
    )

    with pytest.raises(DuplicateCitationKey) as caught:
        check_citation_keys(tmp_path)

    message = str(caught.value)
    assert f"ge2e: {tmp_path / 'references.bib'} line 1, {own} line 6" in message
    assert "other" not in message and "mine" not in message
    own.write_text(initial_text(PAPER_PERSON_BIBLIOGRAPHY) + "@misc{mine, title={y}}\n")
    check_citation_keys(tmp_path)


def test_the_repository_bibliography_has_no_key_twice() -> None:
    check_citation_keys(REPO / "paper")
