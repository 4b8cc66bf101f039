# Stage: paper. See docs/interfaces.md for the files it reads and writes.
# The LaTeX is rendered from results/summary.json and the figures alone; the templates, the
# bibliography and the style files are inputs too, so editing only a template re-renders and
# recompiles the paper without touching probes or activations.

import os
from pathlib import Path

from rateprobe.paper.overleaf import style_files
from rateprobe.paper.render import SECTIONS

PAPER_SOURCES = {
    "templates": sorted(str(p) for p in Path("paper/templates").glob("*.tex.j2")),
    "code": sorted(str(p) for p in Path("src/rateprobe/paper").glob("*.py")),
    "bib": "paper/references.bib",
    "styles": [f"paper/{name}" for name in style_files(CFG["paper"])],
}
PAPER_TEX = ["paper/main.tex", *expand("paper/generated/{section}.tex", section=SECTIONS)]


rule paper_render:
    input:
        summary="results/summary.json",
        figures=FIGURES,
        templates=PAPER_SOURCES["templates"],
        code=PAPER_SOURCES["code"],
    output:
        tex=PAPER_TEX,
        figures=directory("paper/figures"),
    params:
        paper=CFG["paper"],
        paper_dir=lambda wildcards, output: os.path.dirname(output.tex[0]),
        templates_dir=lambda wildcards, input: os.path.dirname(input.templates[0]),
        figures_dir=lambda wildcards, input: os.path.dirname(input.figures[0]),
    log:
        "logs/paper_render.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/render_paper.py"


rule paper_pdf:
    input:
        tex=PAPER_TEX,
        figures="paper/figures",
        bib=PAPER_SOURCES["bib"],
        styles=PAPER_SOURCES["styles"],
    output:
        pdf=report("paper/main.pdf", caption="../report/paper.rst", category="Paper"),
    params:
        paper_dir=lambda wildcards, output: os.path.dirname(output.pdf),
        engine=CFG["paper"]["engine"],
    log:
        "logs/paper_pdf.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/build_paper.py"


rule paper_overleaf:
    input:
        tex=PAPER_TEX,
        figures="paper/figures",
        bib=PAPER_SOURCES["bib"],
        styles=PAPER_SOURCES["styles"],
    output:
        zip="paper/overleaf.zip",
    params:
        paper=CFG["paper"],
        paper_dir=lambda wildcards, input: os.path.dirname(input.tex[0]),
    log:
        "logs/paper_overleaf.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/overleaf_zip.py"
