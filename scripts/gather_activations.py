"""Snakemake entry point: one activations file from the shards of its manifest."""

from rateprobe.activations import gather_shards
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
# Snakemake hands a named input of one file over as that file's path, not a list of one.
shards = snakemake.input.shards
with job_log(snakemake.log):
    gather_shards(
        snakemake.input.manifest,
        [shards] if isinstance(shards, str) else list(shards),
        snakemake.output[0],
        snakemake.params.settings["dtype"],
    )
