# Stage: figures. See docs/interfaces.md for the files it reads and writes.
# Every figure is drawn from the summary and the per-model results; none computes a number.

import os

FIGURES = expand(
    f"{files.FIGURES_DIR}/{{file}}",
    file=files.figure_files(list(CFG["probes"]["targets"]), bool(INTERVENTION_RESULTS)).values(),
)


rule figures:
    input:
        **keyed("tsne", files.ANALYSIS, model=MODELS, analysis="tsne"),
        **keyed("predictions", files.PREDICTIONS, model=MODELS),
        **keyed("manifests", files.MANIFEST, split=SPLITS),
        **keyed("interventions", files.INTERVENTION_RESULT, model=INTERVENTION_MODELS),
        summary=files.SUMMARY,
    output:
        [report(figure, caption="../report/figure.rst", category="Figures") for figure in FIGURES],
    log:
        "logs/figures.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        # Redrawing is cheap: a change to the drawing code redraws every figure.
        code=code_version("../scripts/make_figures.py"),
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    script:
        "../scripts/make_figures.py"
