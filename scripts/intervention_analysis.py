"""Snakemake entry point: slopes, drift and cross-rate verification of one model on the rate
interventions (rateprobe.analysis.intervention_effects)."""

from rateprobe.analysis.intervention_effects import intervention_analysis
from rateprobe.conventions import keyed_inputs
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    inputs = dict(snakemake.input.items())
    intervention_analysis(
        snakemake.wildcards.model,
        snakemake.input.manifest,
        snakemake.input.activations,
        keyed_inputs(inputs, "natural_manifests"),
        keyed_inputs(inputs, "natural_activations"),
        snakemake.input.probe_result,
        snakemake.params.bootstrap,
        snakemake.output[0],
    )
