"""Snakemake entry point: fetch one WeSpeaker checkpoint (rateprobe.encoders.checkpoints)."""

from pathlib import Path

from rateprobe.encoders.checkpoints import fetch_model
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    fetch_model(snakemake.params.url, Path(snakemake.output[0]).parent, snakemake.params.sha256)
