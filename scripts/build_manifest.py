"""Snakemake entry point: label one split and write its manifest (rateprobe.labels)."""

from rateprobe.joblog import job_log
from rateprobe.labels import build_manifest

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    build_manifest(
        snakemake.params.corpus,
        snakemake.params.vad,
        snakemake.params.on_bad_input,
        snakemake.wildcards.split,
        snakemake.output.manifest,
        snakemake.output.bad,
        bounds=snakemake.params.label_bounds,
        workers=snakemake.threads,
    )
