"""Snakemake entry point: compile paper/main.tex into paper/main.pdf with latexmk."""

from pathlib import Path

from rateprobe.joblog import job_log
from rateprobe.paper.build import build_pdf

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    build_pdf(
        paper_dir=Path(snakemake.params.paper_dir),
        output_pdf=Path(snakemake.output.pdf),
        engine=snakemake.params.engine,
        paper=snakemake.params.paper,
    )
