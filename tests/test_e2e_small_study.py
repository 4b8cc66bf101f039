"""The workflow end to end: a small synthetic study built by Snakemake from nothing to the PDF.

The build itself is the session fixture `small_study` (tests/conftest.py); here we check what a
reader of the paper relies on: the stable summary keys and that the PDF prints its numbers.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from paper_support import assert_pdf_shows_summary_numbers, body_pages

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("pdftotext", "pdfinfo")),
        reason="needs poppler-utils",
    ),
]


def test_summary_has_the_stable_keys_for_every_model(small_study: Path) -> None:
    summary = json.loads((small_study / "results" / "summary.json").read_text())
    assert set(summary["models"]) == {"resemblyzer", "resemblyzer_random"}
    for model in summary["models"].values():
        eer = model["eer"]
        assert eer is None or 0.0 <= eer <= 1.0
        assert isinstance(model["embedding"]["cps"]["r2"], float)


def test_the_built_pdf_prints_the_numbers_of_its_own_summary(small_study: Path) -> None:
    summary = json.loads((small_study / "results" / "summary.json").read_text())
    pdf = small_study / "paper" / "main.pdf"
    assert_pdf_shows_summary_numbers(pdf, summary)
    assert 2 <= body_pages(pdf) <= 4


def test_the_overleaf_bundle_holds_the_paper_sources(small_study: Path) -> None:
    with zipfile.ZipFile(small_study / "paper" / "overleaf.zip") as bundle:
        names = set(bundle.namelist())
    assert "main.tex" in names and "references.bib" in names
    assert any(name.startswith("figures/") and name.endswith(".pdf") for name in names)
