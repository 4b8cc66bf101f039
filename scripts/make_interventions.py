"""Snakemake entry point: the test utterances at other rates and their manifest
(rateprobe.corpus.tempo_variants)."""

from rateprobe.corpus.tempo_variants import build_interventions
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    build_interventions(
        snakemake.input.manifest,
        snakemake.params.settings,
        snakemake.params.kind,
        snakemake.params.vad,
        snakemake.params.seed,
        snakemake.output.manifest,
        snakemake.output.audio,
        synthesis_report=snakemake.input.report[0] if snakemake.input.report else None,
        workers=snakemake.threads,
    )
