# Stage: paper. See docs/interfaces.md for the files it reads and writes.
# The LaTeX is rendered from results/summary.json and the figures alone; the templates, the
# bibliography and the style files are inputs too, so editing only a template re-renders and
# recompiles the paper without touching probes or activations.

import os
from pathlib import Path

import rateprobe.paper
from rateprobe.paper.overleaf import style_files
from rateprobe.paper.render import SECTIONS

PAPER_SOURCES = {
    "templates": sorted(str(p) for p in Path("paper/templates").glob("*.tex.j2")),
    "bib": "paper/references.bib",
    "styles": [f"paper/{name}" for name in style_files(CFG["paper"])],
}
PAPER_MODULES = sorted(p.name for p in Path(rateprobe.paper.__file__).parent.glob("*.py"))
PAPER_TEX = ["paper/main.tex", *expand("paper/generated/{section}.tex", section=SECTIONS)]


# Compute nodes rarely have TeX: the paper is rendered and compiled where Snakemake runs.
localrules:
    paper_render,
    paper_pdf,
    paper_overleaf,


rule paper_render:
    input:
        summary="results/summary.json",
        figures=FIGURES,
        templates=PAPER_SOURCES["templates"],
    output:
        tex=PAPER_TEX,
        figures=directory("paper/figures"),
    log:
        "logs/paper_render.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        # The rendering code is part of the text: an edit of it renders again.
        code=code_version(*(f"../src/rateprobe/paper/{name}" for name in PAPER_MODULES)),
        paper=CFG["paper"],
        paper_dir=lambda wildcards, output: os.path.dirname(output.tex[0]),
        templates_dir=lambda wildcards, input: os.path.dirname(input.templates[0]),
        figures_dir=lambda wildcards, input: os.path.dirname(input.figures[0]),
    script:
        "../scripts/render_paper.py"


rule paper_pdf:
    input:
        tex=PAPER_TEX,
        figures="paper/figures",
        bib=PAPER_SOURCES["bib"],
        styles=PAPER_SOURCES["styles"],
    output:
        pdf=report("paper/main.pdf", category="Paper"),
    log:
        "logs/paper_pdf.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        paper_dir=lambda wildcards, output: os.path.dirname(output.pdf),
        engine=CFG["paper"]["engine"],
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
    log:
        "logs/paper_overleaf.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        paper=CFG["paper"],
        paper_dir=lambda wildcards, input: os.path.dirname(input.tex[0]),
    script:
        "../scripts/overleaf_zip.py"
