"""Snakemake entry point: pooled per-layer activations of one model on one split."""

from rateprobe.activations import extract_activations
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    extract_activations(
        snakemake.input.manifest,
        snakemake.params.model,
        snakemake.output[0],
        snakemake.params.settings,
        checkpoint=snakemake.input.checkpoint or None,
        threads=snakemake.threads,
    )
