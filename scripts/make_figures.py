"""Snakemake entry point: draw the paper's figures (rateprobe.figures)."""

from rateprobe.conventions import SPLITS
from rateprobe.figures import make_figures
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    models = snakemake.params.models
    make_figures(
        summary_path=snakemake.input.summary,
        tsne_paths=dict(zip(models, snakemake.input.tsne, strict=True)),
        prediction_paths=dict(zip(models, snakemake.input.predictions, strict=True)),
        manifest_paths=dict(zip(SPLITS, snakemake.input.manifests, strict=True)),
        out_dir=snakemake.params.out_dir,
        intervention_paths=dict(zip(models, snakemake.input.interventions, strict=True))
        if snakemake.input.interventions
        else None,
    )
