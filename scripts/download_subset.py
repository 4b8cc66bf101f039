"""Snakemake entry point: fetch, verify and extract one LibriSpeech subset."""

import logging

from rateprobe.corpus.download import download_subset

snakemake = globals()["snakemake"]
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
download_subset(
    snakemake.params.root,
    snakemake.wildcards.subset,
    snakemake.params.mirrors,
    snakemake.params.md5,
    snakemake.output[0],
)
