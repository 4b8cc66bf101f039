"""Snakemake entry point: slopes, drift and cross-rate verification of one model on the rate
interventions (rateprobe.analysis.intervention_effects)."""

from rateprobe.analysis.intervention_effects import intervention_analysis
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
splits = ("train", "test")
with job_log(snakemake.log):
    intervention_analysis(
        snakemake.wildcards.model,
        snakemake.input.manifest,
        snakemake.input.activations,
        dict(zip(splits, snakemake.input.natural_manifests, strict=True)),
        dict(zip(splits, snakemake.input.natural_activations, strict=True)),
        snakemake.input.probe_result,
        snakemake.params.bootstrap,
        snakemake.output[0],
    )
