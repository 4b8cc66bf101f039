# Stage: paper. See docs/interfaces.md for the files it reads and writes.
# The LaTeX is rendered from results/summary.json and the figures alone; the templates, the
# bibliography and the style files are inputs too, so editing only a template re-renders and
# recompiles the paper without touching probes or activations. The person's own files
# (paper/own/: text at the start and end of each section, a bibliography) are inputs of the
# compile, never outputs: no rule writes them, so no rerun can replace what a person wrote.

import os
from pathlib import Path

from rateprobe.paper.overleaf import BIBLIOGRAPHY, style_files
from rateprobe.paper.render import SECTIONS

PAPER_SOURCES = {
    "templates": sorted(str(p) for p in Path(files.PAPER_TEMPLATES_DIR).glob("*.tex.j2")),
    "bib": files.paper_file(BIBLIOGRAPHY),
    "styles": [files.paper_file(name) for name in style_files(CFG["paper"])],
}
PAPER_TEX = [
    files.paper_file(files.PAPER_MAIN),
    *expand(files.paper_file(files.PAPER_SECTION), section=SECTIONS),
    files.paper_file(files.PAPER_NUMBERS),
]
PAPER_FIGURES = files.paper_file(files.PAPER_FIGURES_DIR)
# Everything compiling the paper needs: the PDF, the zip and the Overleaf push read the same.
PAPER_PROJECT = {
    "tex": PAPER_TEX,
    "figures": PAPER_FIGURES,
    "bib": PAPER_SOURCES["bib"],
    "styles": PAPER_SOURCES["styles"],
    "own": paper_person_files,
}


# Compute nodes rarely have TeX (nor a route to Overleaf): the paper is rendered, compiled and
# pushed where Snakemake runs.
localrules:
    paper_render,
    paper_pdf,
    paper_overleaf,
    overleaf_push,


rule paper_render:
    input:
        summary=files.SUMMARY,
        figures=FIGURES,
        templates=PAPER_SOURCES["templates"],
    output:
        tex=PAPER_TEX,
        figures=directory(PAPER_FIGURES),
    log:
        "logs/paper_render.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        # The rendering code is part of the text: an edit of it renders again.
        code=code_version("../scripts/render_paper.py"),
        paper=CFG["paper"],
        paper_dir=lambda wildcards, output: os.path.dirname(output.tex[0]),
        templates_dir=lambda wildcards, input: os.path.dirname(input.templates[0]),
        figures_dir=lambda wildcards, input: os.path.dirname(input.figures[0]),
    script:
        "../scripts/render_paper.py"


rule paper_pdf:
    input:
        **PAPER_PROJECT,
    output:
        pdf=report(files.PAPER_PDF, caption="../report/paper.rst", category="Paper"),
    log:
        "logs/paper_pdf.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        code=code_version("../scripts/build_paper.py"),
        paper_dir=lambda wildcards, output: os.path.dirname(output.pdf),
        engine=CFG["paper"]["engine"],
        # read only when the build fails: which setting's text sticks out of the page
        paper=CFG["paper"],
    script:
        "../scripts/build_paper.py"


rule paper_overleaf:
    input:
        **PAPER_PROJECT,
    output:
        zip=files.PAPER_ZIP,
    log:
        "logs/paper_overleaf.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        code=code_version("../scripts/overleaf_zip.py"),
        paper=CFG["paper"],
        paper_dir=lambda wildcards, input: os.path.dirname(input.tex[0]),
    script:
        "../scripts/overleaf_zip.py"


# Pushes the same files as the zip into the Overleaf project of config `overleaf` and pulls the
# person's own files edited there into paper/own/ (always runs when asked for; credentials:
# README.md, Overleaf workflow). RATEPROBE_OVERLEAF_FORCE=1 in the environment overwrites
# pipeline-owned files that were edited on Overleaf. The summary of the pushed paper is kept
# for the change report of the next push (python -m rateprobe.paper.diff).
rule overleaf_push:
    input:
        unpack(overleaf_push_input),
    log:
        "logs/overleaf_push.log",
    conda:
        "../envs/rateprobe.yaml"
    # No code version: the push has no output to go stale, and runs whenever asked for.
    params:
        paper=CFG["paper"],
        overleaf=CFG["overleaf"],
        paper_dir=lambda wildcards, input: os.path.dirname(input.tex[0]),
        pushed_summary=files.OVERLEAF_PUSHED_SUMMARY,
    script:
        "../scripts/overleaf_push.py"
