"""Pack the rendered paper into a self-contained Overleaf project (a .zip).

The archive holds exactly what compiling needs: main.tex, the generated sections, the figures,
the bibliography, the style files, and a latexmkrc when the engine is not pdfLaTeX (Overleaf
and latexmk read it to pick the engine).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from rateprobe.paper.render import PROJECT_STYLE

FONT_STYLE = "rateprobe-fonts.sty"
BIBLIOGRAPHY = "references.bib"
LATEXMKRC_PDF_MODE = {"xelatex": 5, "lualatex": 4}


def style_files(paper_cfg: dict) -> list[str]:
    """The style files main.tex loads from paper/ for this configuration."""
    if paper_cfg["style"] == "ieee":
        return [FONT_STYLE]  # IEEEtran.cls itself is part of TeX Live and Overleaf
    official = paper_cfg.get("neurips_sty")
    return [official, FONT_STYLE] if official else [PROJECT_STYLE, FONT_STYLE]


def latexmkrc(engine: str) -> str | None:
    if engine == "pdflatex":
        return None
    mode = LATEXMKRC_PDF_MODE[engine]
    return f"# written by rateprobe: compile with {engine}\n$pdf_mode = {mode};\n"


def project_files(paper_dir: Path, paper_cfg: dict) -> list[Path]:
    """Every file of the Overleaf project, relative to paper_dir; fails naming a missing one."""
    paper_dir = Path(paper_dir)
    names = [Path("main.tex"), Path(BIBLIOGRAPHY), *map(Path, style_files(paper_cfg))]
    names += sorted(p.relative_to(paper_dir) for p in (paper_dir / "generated").glob("*.tex"))
    names += sorted(p.relative_to(paper_dir) for p in (paper_dir / "figures").glob("*.pdf"))
    missing = [str(paper_dir / n) for n in names if not (paper_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"the Overleaf project lacks: {', '.join(missing)}")
    return names


def make_overleaf_zip(paper_dir: Path, output_zip: Path, paper_cfg: dict) -> Path:
    """Write output_zip atomically; it compiles as it is in an empty directory."""
    paper_dir, output_zip = Path(paper_dir), Path(output_zip)
    tmp = output_zip.with_name(f".{output_zip.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in project_files(paper_dir, paper_cfg):
            archive.write(paper_dir / name, name.as_posix())
        rc = latexmkrc(paper_cfg["engine"])
        if rc is not None:
            archive.writestr("latexmkrc", rc)
    os.replace(tmp, output_zip)
    return output_zip
