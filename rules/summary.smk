# Stage: summary. See docs/interfaces.md for the files it reads and writes.
# One rule gathers every model's probes, analyses and interventions, and the splits' manifests,
# into results/summary.json, the paper's single source of truth. Each file is named by its split
# or model (rules/common.smk, keyed), so the summary reads them by name.


rule summary:
    input:
        **keyed("manifests", files.MANIFEST, split=SPLITS),
        **keyed("bad_reports", files.BAD_INPUT_REPORT, split=SPLITS),
        # Per model, named as rateprobe.results.loading.ModelResults takes them.
        **keyed("table", files.PROBE_TABLE, model=MODELS),
        **keyed("result", files.PROBE_RESULT, model=MODELS),
        **keyed("predictions", files.PREDICTIONS, model=MODELS),
        **keyed("analyses", files.ANALYSIS, model=MODELS, analysis=files.ANALYSES),
        **keyed("interventions", files.INTERVENTION_RESULT, model=INTERVENTION_MODELS),
    output:
        report(files.SUMMARY, caption="../report/summary.rst", category="Summary"),
    log:
        "logs/summary.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        code=code_version("../scripts/summarize.py"),
        # What the summary reads and prints; the paper's own settings rerun only the paper.
        cfg={
            key: RESULT_SETTINGS[key]
            for key in ("seed", "corpus", "activations", "probes", "analysis", "models")
        },
        models=MODELS,
    script:
        "../scripts/summarize.py"
