"""Snakemake entry point: push the rendered paper into the configured Overleaf project."""

import os
from pathlib import Path

from rateprobe.joblog import job_log
from rateprobe.paper.overleaf_sync import push_configured

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    push_configured(
        paper_dir=Path(snakemake.params.paper_dir),
        paper_cfg=snakemake.params.paper,
        overleaf_cfg=snakemake.params.overleaf,
        environ=os.environ,
        summary=Path(snakemake.input.summary),
        pushed_summary=Path(snakemake.params.pushed_summary),
    )
