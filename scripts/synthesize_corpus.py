"""Snakemake entry point: synthesise the embedded corpus (rateprobe.corpus.synthetic)."""

from rateprobe.corpus.synthetic import synthesize_corpus

snakemake = globals()["snakemake"]
synthesize_corpus(
    snakemake.params.corpus, snakemake.params.seed, snakemake.output[0], workers=snakemake.threads
)
