"""The files of the paper project that a person owns: their text and their citations.

main.tex inputs `own/<section>-start.tex` right after each section's heading and
`own/<section>-end.tex` at the section's end, and BibTeX reads `own/references.bib` beside the
generated `references.bib`. The pipeline creates each of these files once, when it is absent
(empty but for comments that say what it is for, so that it changes nothing in the PDF), and
never writes one again; the Overleaf push carries them between paper/own/ and the Overleaf
project (rateprobe.paper.overleaf_sync). A citation key defined in both bibliographies stops
the build naming both files, rather than letting BibTeX keep one entry silently.
"""

from __future__ import annotations

import re
from pathlib import Path

from rateprobe.conventions import (
    PAPER_PERSON_BIBLIOGRAPHY,
    PAPER_PERSON_PLACES,
    person_text_file,
)
from rateprobe.io import write_text
from rateprobe.paper.render import SECTIONS

GENERATED_BIBLIOGRAPHY = "references.bib"
PLACE_WORDS = {
    "start": ("at the start of", "right after the section's heading, before the generated text"),
    "end": ("at the end of", "after the section's generated text"),
}
# An entry's type and key; @comment, @string and @preamble are no citable entries.
_ENTRY = re.compile(r"^\s*@\s*(\w+)\s*[{(]\s*([^,\s]+)\s*,", re.MULTILINE)
_NOT_ENTRIES = {"comment", "string", "preamble"}


class DuplicateCitationKey(RuntimeError):
    """A citation key is defined more than once; the message names each file and line."""


def person_files() -> list[str]:
    """Every person-owned file, relative to the paper directory."""
    texts = [person_text_file(s, place) for s in SECTIONS for place in PAPER_PERSON_PLACES]
    return [PAPER_PERSON_BIBLIOGRAPHY, *texts]


def initial_text(name: str) -> str:
    """What a person-owned file holds when the pipeline creates it: comments only."""
    if name == PAPER_PERSON_BIBLIOGRAPHY:
        # BibTeX ignores text outside entries (there must be no at sign in it)
        return (
            "Your own bibliography. BibTeX reads it beside the generated references.bib;\n"
            "a key defined in both stops the build (rename yours). rateprobe created this\n"
            "file once and never writes it again.\n"
        )
    section, place = Path(name).stem.rsplit("-", 1)
    where, when = PLACE_WORDS[place]
    return (
        f"% Your own text {where} the section '{section}': main.tex inputs this file\n"
        f"% {when}.\n"
        "% rateprobe created it once and never writes it again; each Overleaf push carries it\n"
        "% between Overleaf and paper/own/ (README.md, Overleaf workflow).\n"
        "% Left empty, it changes nothing in the PDF.\n"
        "% Cite live numbers with the macros of generated/numbers.tex; guard each claim your\n"
        "% text relies on with \\rpAssertClaim{<claim key>}.\n"
    )


def ensure_person_files(paper_dir: Path) -> list[Path]:
    """Create each absent person-owned file under paper_dir; return all of them."""
    paths = []
    for name in person_files():
        path = Path(paper_dir) / name
        if not path.exists():
            write_text(path, initial_text(name))
        paths.append(path)
    return paths


def citation_keys(bib_text: str) -> dict[str, list[int]]:
    """Citation key -> the lines that define it."""
    keys: dict[str, list[int]] = {}
    for entry in _ENTRY.finditer(bib_text):
        if entry.group(1).lower() not in _NOT_ENTRIES:
            line = bib_text.count("\n", 0, entry.start(2)) + 1
            keys.setdefault(entry.group(2), []).append(line)
    return keys


def check_citation_keys(paper_dir: Path) -> None:
    """Raise DuplicateCitationKey when a key is defined twice in the project's bibliographies
    (the generated one and the person's, where they exist; BibTeX compares keys ignoring case)."""
    where: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name in (GENERATED_BIBLIOGRAPHY, PAPER_PERSON_BIBLIOGRAPHY):
        path = Path(paper_dir) / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for key, lines in citation_keys(text).items():
                spelling.setdefault(key.casefold(), key)
                where.setdefault(key.casefold(), []).extend(f"{path} line {n}" for n in lines)
    repeated = {spelling[key]: places for key, places in where.items() if len(places) > 1}
    if repeated:
        listed = "\n".join(f"  {key}: {', '.join(at)}" for key, at in sorted(repeated.items()))
        raise DuplicateCitationKey(
            "citation keys defined more than once; rename the entry in "
            f"{PAPER_PERSON_BIBLIOGRAPHY} (or drop it when it is the same work):\n{listed}"
        )
