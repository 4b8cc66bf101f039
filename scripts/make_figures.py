"""Snakemake entry point: draw the paper's figures (rateprobe.figures)."""

from rateprobe.conventions import keyed_inputs
from rateprobe.figures import make_figures
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    inputs = dict(snakemake.input.items())
    make_figures(
        summary_path=snakemake.input.summary,
        tsne_paths=keyed_inputs(inputs, "tsne"),
        prediction_paths=keyed_inputs(inputs, "predictions"),
        manifest_paths=keyed_inputs(inputs, "manifests"),
        out_dir=snakemake.params.out_dir,
        # none where the interventions are disabled
        intervention_paths=keyed_inputs(inputs, "interventions") or None,
    )
