# Stage: probes. See docs/interfaces.md for the files it reads and writes.
# Each model's taps are probed in one job: ridge and MLP regression of every target, fitted on
# train, selected on dev, reported on test with speaker-bootstrap intervals; CCA, t-SNE,
# speaker verification and classification probes on the side. One rule then gathers all models
# into results/summary.json, the paper's single source of truth.

PROBE_OUTPUTS = {
    "csv": "results/probes/{model}.csv",
    "analysis": "results/analysis/{model}.json",
    "predictions": "results/probes/{model}.predictions.npz",
}


rule probe_model:
    input:
        activations=expand("results/activations/{{model}}/{split}.npz", split=SPLITS),
        manifests=expand("results/manifests/{split}.csv", split=SPLITS),
    output:
        **PROBE_OUTPUTS
        | {"csv": report(PROBE_OUTPUTS["csv"], category="Probes", subcategory="{model}")},
    params:
        # Only what probing reads: adding a model or editing the paper must not re-probe.
        cfg={key: CFG[key] for key in ("seed", "probes", "analysis")},
    threads: CFG["probes"]["threads"]
    benchmark:
        "results/benchmarks/probe_model/{model}.tsv"
    log:
        "logs/probe_model/{model}.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/probe_model.py"


rule summary:
    input:
        manifests=expand("results/manifests/{split}.csv", split=SPLITS),
        bad_reports=expand("results/manifests/{split}.bad.json", split=SPLITS),
        **{key: expand(path, model=MODELS) for key, path in PROBE_OUTPUTS.items()},
        interventions=INTERVENTION_RESULTS,
    output:
        report("results/summary.json", category="Summary"),
    params:
        # How and where activations are computed (batch size, device, job sizes) changes no
        # number of the summary: leave those settings out, or changing them rebuilds the paper.
        cfg=CFG | {"activations": RESULT_SETTINGS},
        models=MODELS,
    log:
        "logs/summary.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/summarize.py"
