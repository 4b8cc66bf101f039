"""Helpers of the paper tests: a contrived summary with figures, and rendering it."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from rateprobe.conventions import figure_width_in
from rateprobe.paper.person import ensure_person_files
from rateprobe.paper.prose.estimates import primary_target
from rateprobe.paper.render import SECTIONS, render_paper
from rateprobe.results.contract import Summary

REPO = Path(__file__).resolve().parents[1]
FIXTURE_SUMMARY = REPO / "tests" / "fixtures" / "summary.json"
PAPER_SOURCES = ("rateprobe-neurips.sty", "rateprobe-fonts.sty", "references.bib")
PAPER_CFG: dict[str, Any] = {
    "title": "Что кодировщики дикторов знают о темпе речи: послойный анализ",
    "author": {"name": "Студент курса", "affiliation": "МТУСИ", "email": "student@example.org"},
    "style": "neurips",
    "neurips_sty": None,
    "engine": "pdflatex",
}


def load_fixture() -> dict[str, Any]:
    """The fixture summary as JSON data, for a test to change before `typed` checks it."""
    return json.loads(FIXTURE_SUMMARY.read_text(encoding="utf-8"))


def typed(summary: dict[str, Any]) -> Summary:
    """A summary's JSON data as the paper reads it: checked against the contract."""
    return Summary.model_validate(summary)


def draw_figures(summary: dict[str, Any], figures_dir: Path) -> None:
    """A stand-in PDF for every figure the summary names, at the width the paper prints it."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    for key, relative in summary["figures"].items():
        fig, ax = plt.subplots(figsize=(figure_width_in(key), 1.9), layout="constrained")
        ax.plot([0, 1, 2], [1, 3, 2])
        ax.set_title(key)
        fig.savefig(figures_dir / Path(relative).name)
        plt.close(fig)


def render_project(
    summary: dict[str, Any], workdir: Path, paper_cfg: dict[str, Any] | None = None
) -> Path:
    """Render summary into workdir/paper (templates, style and bibliography from the repo),
    beside the person's own files as the pipeline creates them (empty)."""
    paper_dir = workdir / "paper"
    paper_dir.mkdir(parents=True, exist_ok=True)
    for name in PAPER_SOURCES:
        shutil.copy(REPO / "paper" / name, paper_dir / name)
    summary_path = workdir / "summary.json"
    summary_path.write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    draw_figures(summary, workdir / "figures")
    render_paper(
        summary_path,
        workdir / "figures",
        REPO / "paper" / "templates",
        paper_dir,
        copy.deepcopy(paper_cfg or PAPER_CFG),
        today=dt.date(2025, 11, 22),
    )
    ensure_person_files(paper_dir)
    return paper_dir


def rendered_text(paper_dir: Path) -> str:
    """The rendered templates (the number macros of generated/numbers.tex are no prose)."""
    return "\n".join(
        (paper_dir / name).read_text(encoding="utf-8")
        for name in ["main.tex", *(f"generated/{section}.tex" for section in SECTIONS)]
    )


REFERENCES_HEADING = "Список литературы"


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
    """Russian decimal comma; a value that rounds to zero prints without a sign."""
    text = f"{value:.{digits}f}".replace(".", ",")
    return text[1:] if text.startswith("-") and not text.strip("-0,") else text


def assert_pdf_shows_summary_numbers(pdf: Path, summary_data: dict[str, Any]) -> None:
    """The headline numbers of summary.json appear in the PDF's text, Russian-formatted."""
    summary = typed(summary_data)
    text = normalised_text(pdf)
    expected = []
    for split in (
        summary.corpus.splits.train,
        summary.corpus.splits.dev,
        summary.corpus.splits.test,
    ):
        assert split.cps_mean is not None
        expected += [str(split.n_utterances), ru(split.hours), ru(split.cps_mean, 1)]
    for model in summary.models.values():
        assert model.eer is not None
        expected.append(ru(100 * model.eer, 1))
        for target in summary.run.targets:
            probe = model.embedding[target]
            assert probe.r2 is not None and probe.r2_ci is not None
            low, high = probe.r2_ci
            expected.append(f"{ru(probe.r2)} [{ru(low)}; {ru(high)}]")
            best = model.layers[target].best
            assert best is not None and best.r2 is not None
            expected.append(ru(best.r2))
    # The baselines are tabulated for the headline target only (experiments.tex.j2).
    mean_r2 = summary.baselines[primary_target(summary.run)]["mean"].r2
    assert mean_r2 is not None
    expected.append(ru(mean_r2))
    missing = [number for number in expected if number not in text]
    assert missing == [], f"numbers of summary.json absent from the PDF: {missing}"
