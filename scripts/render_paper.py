"""Snakemake entry point: render paper/main.tex and paper/generated/*.tex from summary.json."""

from pathlib import Path

from rateprobe.joblog import job_log
from rateprobe.paper.render import render_paper

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    render_paper(
        summary_path=Path(snakemake.input.summary),
        figures_dir=Path(snakemake.params.figures_dir),
        templates_dir=Path(snakemake.params.templates_dir),
        paper_dir=Path(snakemake.params.paper_dir),
        paper_cfg=snakemake.params.paper,
    )
