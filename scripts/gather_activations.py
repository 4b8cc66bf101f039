"""Snakemake entry point: one activations file from the shards of its manifest."""

from rateprobe.activations import gather_shards
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    gather_shards(
        snakemake.input.manifest,
        snakemake.input.shards,
        snakemake.output[0],
        snakemake.params.settings["dtype"],
    )
