"""Snakemake entry point: pooled per-layer activations of one model on one shard of a manifest."""

from rateprobe.activations import extract_shard
from rateprobe.config import runtime_settings
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    extract_shard(
        snakemake.input.manifest,
        snakemake.params.model,
        int(snakemake.wildcards.shard),
        snakemake.output[0],
        snakemake.params.settings,
        # Not params: these settings change how the numbers are computed, not the numbers, so
        # changing one must not rerun a finished extraction (Snakemake reruns on params).
        runtime_settings(snakemake.config, "activations"),
        checkpoint=snakemake.input.checkpoint or None,
        threads=snakemake.threads,
    )
