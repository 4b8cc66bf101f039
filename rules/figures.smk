# Stage: figures. See docs/interfaces.md for the files it reads and writes.
# Every figure is drawn from the summary and the per-model results; none computes a number.

import os

from rateprobe.conventions import figure_files

FIGURES = expand(
    "results/figures/{file}",
    file=figure_files(list(CFG["probes"]["targets"]), bool(INTERVENTION_RESULTS)).values(),
)


rule figures:
    input:
        summary="results/summary.json",
        analysis=expand("results/analysis/{model}.json", model=MODELS),
        predictions=expand("results/probes/{model}.predictions.npz", model=MODELS),
        manifests=expand("results/manifests/{split}.csv", split=SPLITS),
        interventions=INTERVENTION_RESULTS,
        # Redrawing is cheap: a change to the drawing code redraws every figure.
        code=workflow.source_path("../src/rateprobe/figures.py"),
    output:
        [
            report(figure, caption="../report/figure.rst", category="Figures")
            for figure in FIGURES
        ],
    params:
        models=MODELS,
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    log:
        "logs/figures.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/make_figures.py"
