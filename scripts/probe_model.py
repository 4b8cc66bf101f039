"""Snakemake entry point: probe and analyse every tap of one model (rateprobe.probing.run)."""

from rateprobe.conventions import SPLITS
from rateprobe.joblog import job_log
from rateprobe.probing.run import probe_model

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    probe_model(
        model=snakemake.wildcards.model,
        activation_paths=dict(zip(SPLITS, snakemake.input.activations, strict=True)),
        manifest_paths=dict(zip(SPLITS, snakemake.input.manifests, strict=True)),
        cfg=snakemake.params.cfg,
        out_csv=snakemake.output.csv,
        out_json=snakemake.output.analysis,
        out_predictions=snakemake.output.predictions,
        threads=snakemake.threads,
    )
