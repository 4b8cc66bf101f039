"""Snakemake entry point: gather every model's results into summary.json
(rateprobe.results.summarize)."""

from rateprobe.conventions import keyed_inputs
from rateprobe.joblog import job_log
from rateprobe.results.summarize import write_summary

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    inputs = dict(snakemake.input.items())
    # Each model's files by the names rateprobe.results.loading.ModelResults takes;
    # interventions only where they are enabled.
    by_role = {
        role: keyed_inputs(inputs, role)
        for role in ("table", "result", "predictions", "analyses", "interventions")
    }
    write_summary(
        cfg=snakemake.params.cfg,
        manifest_paths=keyed_inputs(inputs, "manifests"),
        bad_report_paths=keyed_inputs(inputs, "bad_reports"),
        model_paths={
            name: {role: paths[name] for role, paths in by_role.items() if name in paths}
            for name in snakemake.params.models
        },
        out_path=snakemake.output[0],
    )
