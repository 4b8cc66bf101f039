"""Snakemake entry point: one side analysis of one model (rateprobe.analysis.run), the one the
rule's `analysis` param names; its other params, but for the code version, are that analysis's
settings."""

from rateprobe.analysis import run
from rateprobe.conventions import keyed_inputs
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    settings = dict(snakemake.params.items())
    settings.pop("code")  # the code version only reruns the job (rules/common.smk)
    analyse = getattr(run, f"run_{settings.pop('analysis')}")
    inputs = dict(snakemake.input.items())
    activation_paths = keyed_inputs(inputs, "activations")
    manifest_paths = keyed_inputs(inputs, "manifests")
    analyse(
        activation_paths=activation_paths,
        manifest_paths=manifest_paths,
        out_json=snakemake.output[0],
        **inputs,
        **settings,
    )
