"""Compile paper/main.tex into paper/main.pdf with latexmk.

The build fails on LaTeX errors and also on what LaTeX only warns about but a finished paper
must not have: undefined references and undefined citations. The error quotes the relevant
lines of the log so the cause is visible without opening it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

LATEXMK_ENGINE_FLAGS = {"pdflatex": "-pdf", "xelatex": "-pdfxe", "lualatex": "-pdflua"}
_ERROR_LINE = re.compile(r"^(!|\S*:\d+: )")
_UNDEFINED = re.compile(
    r"LaTeX Warning: (Reference|Citation) `[^']*' .*undefined"
    r"|Package natbib Warning: Citation `[^']*' .*undefined"
    r"|LaTeX Warning: There were undefined (references|citations)"
)
MAX_QUOTED_LINES = 30


class PaperBuildError(RuntimeError):
    """LaTeX failed, or left undefined references or citations; the message quotes the log."""


def problem_lines(log_text: str) -> list[str]:
    """The log lines that explain a failed build: errors first, else undefined names."""
    lines = log_text.splitlines()
    errors: list[str] = []
    for i, line in enumerate(lines):
        if _ERROR_LINE.match(line):
            # a TeX error shows where it happened on the following lines ("l.42 ...")
            errors.extend(c for c in lines[i : i + 4] if c.strip())
    found = errors or [line for line in lines if _UNDEFINED.search(line)]
    return list(dict.fromkeys(found))[:MAX_QUOTED_LINES]


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


def compile_latex(project_dir: Path, engine: str = "pdflatex", out_dir: str = "build") -> Path:
    """Run latexmk on project_dir/main.tex; return the PDF or raise PaperBuildError."""
    project_dir = Path(project_dir)
    if shutil.which("latexmk") is None:
        raise PaperBuildError("latexmk is not installed (Debian: apt-get install latexmk)")
    command = latexmk_command(engine, out_dir)
    result = subprocess.run(
        command, cwd=project_dir, capture_output=True, text=True, errors="replace", check=False
    )
    log_path = project_dir / out_dir / "main.log"
    log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
    undefined = [line for line in log_text.splitlines() if _UNDEFINED.search(line)]
    if result.returncode != 0 or undefined or not (project_dir / out_dir / "main.pdf").exists():
        quoted = problem_lines(log_text) or result.stdout.splitlines()[-MAX_QUOTED_LINES:]
        raise PaperBuildError(
            f"{' '.join(command)} in {project_dir} "
            + (f"exited with {result.returncode}" if result.returncode else "left undefined names")
            + f"; see {log_path}:\n  "
            + "\n  ".join(quoted)
        )
    return project_dir / out_dir / "main.pdf"


def build_pdf(paper_dir: Path, output_pdf: Path, engine: str = "pdflatex") -> Path:
    """Compile paper/main.tex in paper/build/ and place the PDF at output_pdf atomically."""
    pdf = compile_latex(Path(paper_dir), engine)
    output_pdf = Path(output_pdf)
    tmp = output_pdf.with_name(f".{output_pdf.name}.tmp")
    shutil.copyfile(pdf, tmp)
    os.replace(tmp, output_pdf)
    return output_pdf
