"""Snakemake entry point: fetch, verify and extract one LibriSpeech subset."""

from rateprobe.corpus.download import download_subset
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    download_subset(
        snakemake.params.root,
        snakemake.wildcards.subset,
        snakemake.params.mirrors,
        snakemake.params.md5,
        snakemake.output[0],
    )
