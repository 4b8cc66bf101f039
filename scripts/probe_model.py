"""Snakemake entry point: the regression probes of every tap of a model (rateprobe.probing.run)."""

from rateprobe.config import runtime_settings
from rateprobe.conventions import keyed_inputs
from rateprobe.joblog import job_log
from rateprobe.probing.run import probe_model

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    inputs = dict(snakemake.input.items())
    probe_model(
        model=snakemake.wildcards.model,
        activation_paths=keyed_inputs(inputs, "activations"),
        manifest_paths=keyed_inputs(inputs, "manifests"),
        cfg={
            "seed": snakemake.params.seed,
            "probes": snakemake.params.probes | runtime_settings(snakemake.config, "probes"),
        },
        out_table=snakemake.output.table,
        out_result=snakemake.output.result,
        out_predictions=snakemake.output.predictions,
        threads=snakemake.threads,
    )
