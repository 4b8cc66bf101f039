"""Snakemake entry point: pack the rendered paper into paper/overleaf.zip."""

from pathlib import Path

from rateprobe.joblog import job_log
from rateprobe.paper.overleaf import make_overleaf_zip

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    make_overleaf_zip(
        paper_dir=Path(snakemake.params.paper_dir),
        output_zip=Path(snakemake.output.zip),
        paper_cfg=snakemake.params.paper,
    )
