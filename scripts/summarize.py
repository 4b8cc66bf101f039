"""Snakemake entry point: gather every model's results into summary.json
(rateprobe.results.summarize)."""

from rateprobe.conventions import ANALYSES, SPLITS
from rateprobe.joblog import job_log
from rateprobe.results.summarize import write_summary

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    inputs, models = snakemake.input, snakemake.params.models
    analyses = [
        inputs.analyses[i : i + len(ANALYSES)]
        for i in range(0, len(inputs.analyses), len(ANALYSES))
    ]
    interventions = inputs.interventions or [None] * len(models)
    write_summary(
        cfg=snakemake.params.cfg,
        manifest_paths=dict(zip(SPLITS, inputs.manifests, strict=True)),
        bad_report_paths=dict(zip(SPLITS, inputs.bad_reports, strict=True)),
        model_paths={
            name: {
                "table": table,
                "result": result,
                "predictions": predictions,
                "analyses": model_analyses,
                "interventions": intervention,
            }
            for name, table, result, predictions, model_analyses, intervention in zip(
                models,
                inputs.tables,
                inputs.results,
                inputs.predictions,
                analyses,
                interventions,
                strict=True,
            )
        },
        out_path=snakemake.output[0],
    )
