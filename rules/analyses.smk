# Stage: side analyses. See docs/interfaces.md for the files it reads and writes.
# Around the probes, each model gets four analyses, one job each with only its own settings
# as params (rateprobe.analysis.run): changing the t-SNE perplexity redraws the map and
# re-probes nothing.

ANALYSIS_INPUTS = {
    **keyed("activations", files.ACTIVATIONS, audio=SPLITS),
    **keyed("manifests", files.MANIFEST, split=SPLITS),
}


rule verification:
    input:
        **ANALYSIS_INPUTS,
    output:
        expand(files.ANALYSIS, analysis="verification", allow_missing=True),
    log:
        "logs/verification/{model}.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        code=code_version("../scripts/analyse_model.py"),
        analysis="verification",
        bootstrap=CFG["probes"]["bootstrap"],
    script:
        "../scripts/analyse_model.py"


rule tsne:
    input:
        **ANALYSIS_INPUTS,
    output:
        expand(files.ANALYSIS, analysis="tsne", allow_missing=True),
    log:
        "logs/tsne/{model}.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        code=code_version("../scripts/analyse_model.py"),
        analysis="tsne",
        settings=CFG["analysis"]["tsne"],
    script:
        "../scripts/analyse_model.py"


rule classification:
    input:
        **ANALYSIS_INPUTS,
        # Classifiers also read the dev-chosen best CPS tap.
        probe_result=files.PROBE_RESULT,
    output:
        expand(files.ANALYSIS, analysis="classification", allow_missing=True),
    log:
        "logs/classification/{model}.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        code=code_version("../scripts/analyse_model.py"),
        analysis="classification",
        settings=CFG["analysis"]["classification"],
        bootstrap=CFG["probes"]["bootstrap"],
        seed=CFG["seed"],
    script:
        "../scripts/analyse_model.py"


rule cca:
    input:
        **ANALYSIS_INPUTS,
    output:
        expand(files.ANALYSIS, analysis="cca", allow_missing=True),
    log:
        "logs/cca/{model}.log",
    conda:
        "../envs/rateprobe.yaml"
    params:
        code=code_version("../scripts/analyse_model.py"),
        analysis="cca",
        targets=CFG["probes"]["targets"],
        settings=CFG["analysis"]["cca"],
    script:
        "../scripts/analyse_model.py"
