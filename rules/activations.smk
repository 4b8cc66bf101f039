# Stage: activations. See docs/interfaces.md for the files it reads and writes.
# Every utterance of a split goes once through the encoder, and every tapped layer is pooled over
# time to one vector per utterance (docs/activations.md). A split is extracted in shards of about
# activations.shard_seconds of audio, one job each, sized from the measured speed of its
# architecture (rateprobe.sharding, bench/extraction_rtf.csv); a gather job joins them. A killed
# job loses one shard; the gathered file is the same whatever the shard size.


rule extract_activations:
    input:
        manifest="results/manifests/{split}.csv",
        checkpoint=lambda wildcards: files.checkpoint_inputs(MODEL_BY_NAME[wildcards.model]),
    output:
        temp("results/activations/{model}/{split}.shards/{shard}.npz"),
    log:
        "logs/extract_activations/{model}/{split}/{shard}.log",
    wildcard_constraints:
        shard=r"\d{4}",
    conda:
        "../envs/rateprobe.yaml"
    # activations.threads each (2, as bench/extraction_rtf.csv was measured), so --cores N runs
    # N / threads of them side by side. --cores above the machine's cores oversubscribes them:
    # torch jobs sharing cores slowed each other down more than tenfold (--cores 8 on 2 cores:
    # 8 s per utterance instead of 0.6 s). On a cluster this is each job's --cpus-per-task.
    threads: ACTIVATIONS_CFG["threads"]
    resources:
        runtime=lambda wildcards, input: shard_request(wildcards, input).runtime_minutes,
        mem_mb=lambda wildcards, input: shard_request(wildcards, input).mem_mb,
    params:
        code=code_version("../scripts/extract_activations.py"),
        model=lambda wildcards: MODEL_BY_NAME[wildcards.model],
        settings=RESULT_SETTINGS["activations"],
    script:
        "../scripts/extract_activations.py"


rule gather_activations:
    input:
        manifest="results/manifests/{split}.csv",
        shards=shard_inputs(
            lambda wildcards: checkpoints.manifest.get(split=wildcards.split).output.manifest,
            "results/activations/{model}/{split}.shards/{shard}.npz",
        ),
    output:
        "results/activations/{model}/{split}.npz",
    log:
        "logs/gather_activations/{model}/{split}.log",
    conda:
        "../envs/rateprobe.yaml"
    threads: 1
    resources:
        mem_mb=gather_mem_mb,
    # The shards are temporary: the code and the settings that decide the numbers are watched
    # here.
    params:
        code=code_version("../scripts/gather_activations.py", "../scripts/extract_activations.py"),
        model=lambda wildcards: MODEL_BY_NAME[wildcards.model],
        settings=RESULT_SETTINGS["activations"],
    script:
        "../scripts/gather_activations.py"
