# Stage: probes. See docs/interfaces.md for the files it reads and writes.
# Each model's taps are probed in one job: ridge, MLP and conditional regression of every
# target, fitted on train, selected on dev, reported on test with speaker-bootstrap intervals.
# One rule then gathers all models and their analyses into results/summary.json, the paper's
# single source of truth.


rule probe_model:
    input:
        activations=expand(files.ACTIVATIONS, split=SPLITS, allow_missing=True),
        manifests=expand(files.MANIFEST, split=SPLITS),
    output:
        table=report(
            files.PROBE_TABLE,
            caption="../report/probe_table.rst",
            category="Probes",
            subcategory="{model}",
        ),
        result=files.PROBE_RESULT,
        predictions=files.PREDICTIONS,
    log:
        "logs/probe_model/{model}.log",
    benchmark:
        "results/benchmarks/probe_model/{model}.tsv"
    conda:
        "../envs/rateprobe.yaml"
    threads: CFG["probes"]["threads"]
    params:
        # Only what changes the probes: adding a model, editing the paper or an analysis
        # setting re-probes nothing.
        code=code_version("../scripts/probe_model.py"),
        seed=CFG["seed"],
        probes=RESULT_SETTINGS["probes"],
    script:
        "../scripts/probe_model.py"


rule summary:
    input:
        manifests=expand(files.MANIFEST, split=SPLITS),
        bad_reports=expand(files.BAD_INPUT_REPORT, split=SPLITS),
        tables=expand(files.PROBE_TABLE, model=MODELS),
        results=expand(files.PROBE_RESULT, model=MODELS),
        predictions=expand(files.PREDICTIONS, model=MODELS),
        analyses=expand(files.ANALYSIS, model=MODELS, analysis=files.ANALYSES),
        interventions=INTERVENTION_RESULTS,
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
