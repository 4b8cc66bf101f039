"""Pack the rendered paper into a self-contained Overleaf project (a .zip).

The archive holds exactly what compiling needs: main.tex, the generated sections, the figures,
the bibliography, the style files, the person's own files (own/: their text and bibliography,
as they are in paper/own/), and a latexmkrc when the engine is not pdfLaTeX (Overleaf and
latexmk read it to pick the engine).
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path
from typing import IO

from rateprobe.io import write_atomic
from rateprobe.paper.person import person_files
from rateprobe.paper.render import PROJECT_STYLE

FONT_STYLE = "rateprobe-fonts.sty"
BIBLIOGRAPHY = "references.bib"
LATEXMKRC_PDF_MODE = {"xelatex": 5, "lualatex": 4}
MEMBER_MODE = 0o644


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
    """Every file of the Overleaf project the pipeline writes, relative to paper_dir (the
    person's own files aside); fails naming a missing one."""
    paper_dir = Path(paper_dir)
    names = [Path("main.tex"), Path(BIBLIOGRAPHY), *map(Path, style_files(paper_cfg))]
    names += sorted(p.relative_to(paper_dir) for p in (paper_dir / "generated").glob("*.tex"))
    names += sorted(p.relative_to(paper_dir) for p in (paper_dir / "figures").glob("*.pdf"))
    missing = [str(paper_dir / n) for n in names if not (paper_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"the Overleaf project lacks: {', '.join(missing)}")
    return names


def _readable(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A compressed regular-file member readable by everyone, whatever the mode of the file on
    disk (zipfile would copy that mode, or give 0600 to a member written from memory)."""
    info.external_attr = (stat.S_IFREG | MEMBER_MODE) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def make_overleaf_zip(paper_dir: Path, output_zip: Path, paper_cfg: dict) -> Path:
    """Write output_zip atomically; it compiles as it is in an empty directory."""
    paper_dir, output_zip = Path(paper_dir), Path(output_zip)
    members = []
    for name in [*project_files(paper_dir, paper_cfg), *map(Path, person_files())]:
        info = zipfile.ZipInfo.from_file(paper_dir / name, name.as_posix())
        members.append((_readable(info), (paper_dir / name).read_bytes()))
    rc = latexmkrc(paper_cfg["engine"])
    if rc is not None:
        members.append((_readable(zipfile.ZipInfo("latexmkrc")), rc.encode("utf-8")))

    def write_zip(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w") as archive:
            for info, data in members:
                archive.writestr(info, data)

    write_atomic(output_zip, write_zip)
    return output_zip
