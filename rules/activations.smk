# Stage: activations. See docs/interfaces.md for the files it reads and writes.
# One job per (model, split): every utterance of the split goes once through the encoder, and
# every tapped layer is pooled over time to one vector per utterance (docs/activations.md).


rule extract_activations:
    input:
        manifest="results/manifests/{split}.csv",
        checkpoint=lambda wildcards: files.checkpoint_inputs(MODEL_BY_NAME[wildcards.model]),
    output:
        "results/activations/{model}/{split}.npz",
    log:
        "logs/extract_activations/{model}/{split}.log",
    conda:
        "../envs/rateprobe.yaml"
    # Extraction takes every core Snakemake was given, so these jobs run one at a time: torch
    # jobs side by side on the same cores slowed each other down more than tenfold (--cores 8 on
    # 2 cores: 8 s per utterance instead of 0.6 s). On a cluster, the profile sets the threads.
    threads: GIVEN_CORES
    resources:
        mem_mb=8000,
    params:
        model=lambda wildcards: MODEL_BY_NAME[wildcards.model],
        settings=CFG["activations"],
    script:
        "../scripts/extract_activations.py"
