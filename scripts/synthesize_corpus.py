"""Snakemake entry point: synthesise the embedded corpus (rateprobe.corpus.synthetic)."""

from rateprobe.corpus.synthetic import synthesize_corpus
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    synthesize_corpus(
        snakemake.params.corpus,
        snakemake.params.seed,
        snakemake.output[0],
        workers=snakemake.threads,
    )
