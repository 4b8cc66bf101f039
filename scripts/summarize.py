"""Snakemake entry point: gather every model's results into summary.json (rateprobe.summary)."""

from rateprobe.conventions import SPLITS
from rateprobe.joblog import job_log
from rateprobe.summary import write_summary

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    models = snakemake.params.models
    write_summary(
        cfg=snakemake.params.cfg,
        manifest_paths=dict(zip(SPLITS, snakemake.input.manifests, strict=True)),
        bad_report_paths=dict(zip(SPLITS, snakemake.input.bad_reports, strict=True)),
        model_paths={
            name: {
                "csv": csv,
                "analysis": analysis,
                "predictions": predictions,
                "interventions": interventions or None,
            }
            for name, csv, analysis, predictions, interventions in zip(
                models,
                snakemake.input.csv,
                snakemake.input.analysis,
                snakemake.input.predictions,
                snakemake.input.interventions or [""] * len(models),
                strict=True,
            )
        },
        out_path=snakemake.output[0],
    )
