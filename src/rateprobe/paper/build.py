"""Compile paper/main.tex into paper/main.pdf with latexmk.

The build fails on LaTeX errors and also on what LaTeX only warns about but a finished paper
must not have: undefined references and citations, multiply-defined labels and overfull boxes;
and, before compiling, on a citation key defined twice in the bibliographies (the generated
one and the person's), which BibTeX would report only in its own log, keeping the first entry.
The error quotes the relevant lines of the log and names that log, so the cause is visible
without opening it, and names the config key whose text sticks out of an overfull box (an
unbreakable word in `paper.title`). The tools are checked before compiling: a missing latexmk or
engine is named, not left to a "command not found" deep in latexmk's output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rateprobe.paper.person import DuplicateCitationKey, check_citation_keys
from rateprobe.system_tools import DEBIAN_PACKAGE

LATEXMK_ENGINE_FLAGS = {"pdflatex": "-pdf", "xelatex": "-pdfxe", "lualatex": "-pdflua"}
# The Debian package that brings each engine, for the error that names a missing one (latexmk's
# is in system_tools; bin/setup installs only pdflatex's, the default engine's).
ENGINE_PACKAGES = {
    "pdflatex": "texlive-latex-base",
    "xelatex": "texlive-xetex",
    "lualatex": "texlive-luatex",
}
_ERROR_LINE = re.compile(r"^(!|\S*:\d+: )")
# Warnings a finished paper must not have, each with the name the error gives it.
LOG_PROBLEMS = {
    "undefined reference or citation": re.compile(
        r"LaTeX Warning: (Reference|Citation) `[^']*' .*undefined"
        r"|Package natbib Warning: Citation `[^']*' .*undefined"
        r"|LaTeX Warning: There were undefined (references|citations)"
    ),
    "multiply-defined label": re.compile(
        r"LaTeX Warning: Label `[^']*' multiply defined|There were multiply-defined labels"
    ),
    "overfull box": re.compile(r"^Overfull \\[hv]box"),
}
MAX_QUOTED_LINES = 30
# A font switch in the text a log quotes for a box, such as \OT1/cmr/m/n/17.28.
_FONT_SWITCH = re.compile(r"\\[A-Z0-9]+/\S+")
# Shorter words of an overfull box ("the", a number) would also be found in unrelated settings.
MIN_TELLING_WORD = 6


class PaperBuildError(RuntimeError):
    """LaTeX failed, a tool is missing, or the log shows a defect; the message quotes it."""

    def __init__(self, message: str, log_text: str = "") -> None:
        super().__init__(message)
        self.log_text = log_text


def problem_lines(log_text: str) -> list[str]:
    """The log lines that explain a failed build: errors first, else the defects of
    LOG_PROBLEMS (an overfull box with the line after it, which shows the text that sticks out)."""
    lines = log_text.splitlines()
    errors: list[str] = []
    for i, line in enumerate(lines):
        if _ERROR_LINE.match(line):
            # a TeX error shows where it happened on the following lines ("l.42 ...")
            errors.extend(c for c in lines[i : i + 4] if c.strip())
    if errors:
        return list(dict.fromkeys(errors))[:MAX_QUOTED_LINES]
    found: list[str] = []
    for i, line in enumerate(lines):
        if LOG_PROBLEMS["overfull box"].search(line):
            found.extend(c for c in lines[i : i + 2] if c.strip())
        elif any(pattern.search(line) for pattern in LOG_PROBLEMS.values()):
            found.append(line)
    return list(dict.fromkeys(found))[:MAX_QUOTED_LINES]


def log_defects(log_text: str) -> list[str]:
    """The names of the LOG_PROBLEMS kinds the log shows, in LOG_PROBLEMS order."""
    return [
        name
        for name, pattern in LOG_PROBLEMS.items()
        if any(pattern.search(line) for line in log_text.splitlines())
    ]


def latexmk_command(engine: str, out_dir: str = "build") -> list[str]:
    if engine not in LATEXMK_ENGINE_FLAGS:
        raise ValueError(
            f"unknown LaTeX engine {engine!r}; use one of {sorted(LATEXMK_ENGINE_FLAGS)}"
        )
    return [
        "latexmk",
        LATEXMK_ENGINE_FLAGS[engine],
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        f"-outdir={out_dir}",
        "main.tex",
    ]


def check_tools(engine: str) -> None:
    """Fail naming latexmk or the engine when either is not on PATH."""
    missing = [tool for tool in ("latexmk", engine) if shutil.which(tool) is None]
    if missing:
        packages = " ".join({**DEBIAN_PACKAGE, **ENGINE_PACKAGES}[tool] for tool in missing)
        raise PaperBuildError(
            f"{' and '.join(missing)} not found on PATH (config paper.engine is {engine!r}); "
            f"install it (Debian: apt-get install {packages}) or choose another paper.engine"
        )


def compile_latex(project_dir: Path, engine: str = "pdflatex", out_dir: str = "build") -> Path:
    """Run latexmk on project_dir/main.tex; return the PDF or raise PaperBuildError."""
    project_dir = Path(project_dir)
    command = latexmk_command(engine, out_dir)
    check_tools(engine)
    try:
        check_citation_keys(project_dir)
    except DuplicateCitationKey as error:
        raise PaperBuildError(str(error)) from None
    log_path = (project_dir / out_dir / "main.log").resolve()
    # A log left by an earlier compile must not be quoted as this one's.
    log_path.unlink(missing_ok=True)
    result = subprocess.run(
        command, cwd=project_dir, capture_output=True, text=True, errors="replace", check=False
    )
    log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
    defects = log_defects(log_text)
    if result.returncode == 0 and not defects and (project_dir / out_dir / "main.pdf").exists():
        return project_dir / out_dir / "main.pdf"
    if result.returncode != 0:
        what = f"exited with {result.returncode}"
    else:
        what = "left " + ", ".join(defects) if defects else "wrote no PDF"
    if log_text:
        where = f"see {log_path}"
        quoted = problem_lines(log_text) or log_text.splitlines()[-MAX_QUOTED_LINES:]
    else:
        where = f"it wrote no log {log_path}; latexmk's output"
        quoted = (result.stdout + result.stderr).splitlines()[-MAX_QUOTED_LINES:]
    raise PaperBuildError(
        f"{' '.join(command)} in {project_dir} {what}; {where}:\n  " + "\n  ".join(quoted),
        log_text,
    )


def overfull_words(log_text: str) -> set[str]:
    """The longer words of the text each overfull box quotes (the log breaks its lines at 79
    characters, mid-word, so they are joined back first)."""
    lines = log_text.splitlines()
    words: set[str] = set()
    for i, line in enumerate(lines):
        if LOG_PROBLEMS["overfull box"].search(line):
            quoted = []
            for following in lines[i + 1 :]:
                if not following.strip():
                    break
                quoted.append(following)
            text = _FONT_SWITCH.sub(" ", "".join(quoted)).replace("[]", " ")
            words.update(word for word in text.split() if len(word) >= MIN_TELLING_WORD)
    return words


def text_settings(section: Mapping[str, Any], prefix: str = "paper") -> dict[str, str]:
    """Each text of a config section, nested ones included, by its dotted key."""
    texts: dict[str, str] = {}
    for key, value in section.items():
        if isinstance(value, Mapping):
            texts.update(text_settings(value, f"{prefix}.{key}"))
        elif isinstance(value, str):
            texts[f"{prefix}.{key}"] = value
    return texts


def overfull_settings(log_text: str, paper: Mapping[str, Any]) -> list[str]:
    """The config keys of `paper` whose text holds a word that sticks out of an overfull box."""
    words = overfull_words(log_text)
    return [key for key, text in text_settings(paper).items() if any(w in text for w in words)]


def last_good_pdf(output_pdf: Path) -> Path:
    """Where the PDF of the last successful build is kept: Snakemake removes the output of a
    job before running it, so a failed build would otherwise leave no PDF at all."""
    return output_pdf.with_name(f"{output_pdf.stem}.last-good.pdf")


def _place_atomically(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def build_pdf(
    paper_dir: Path,
    output_pdf: Path,
    engine: str = "pdflatex",
    paper: Mapping[str, Any] | None = None,
) -> Path:
    """Compile paper/main.tex in paper/build/ and place the PDF at output_pdf atomically, and a
    copy at last_good_pdf(output_pdf). A failure names the keys of config `paper` (the section
    as given) that stick out of an overfull box, and where the last good PDF is."""
    output_pdf = Path(output_pdf)
    try:
        pdf = compile_latex(Path(paper_dir), engine)
    except PaperBuildError as error:
        keys = overfull_settings(error.log_text, paper or {})
        cause = (
            f"\nThe text that sticks out comes from config key(s) {', '.join(keys)}: shorten it "
            "or give it spaces where a line may break."
            if keys
            else ""
        )
        kept = last_good_pdf(output_pdf)
        where = (
            f"The PDF of the last successful build is kept at {kept}."
            if kept.exists()
            else "No earlier build left a PDF to keep."
        )
        raise PaperBuildError(f"{error}{cause}\n{where}") from None
    _place_atomically(pdf, output_pdf)
    _place_atomically(pdf, last_good_pdf(output_pdf))
    return output_pdf
