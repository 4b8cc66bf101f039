# Stage: activations. See docs/interfaces.md for the files it reads and writes.
# Every utterance of an audio set (a split, or the rate variants of rules/interventions.smk) goes
# once through the encoder, and every tapped layer is pooled over time to one vector per utterance
# (docs/activations.md). A set is extracted in shards of about activations.shard_seconds of audio,
# one job each, sized from the measured speed of its architecture (rateprobe.sharding,
# bench/extraction_rtf.csv); a gather job joins them. A killed job loses one shard; the gathered
# file is the same whatever the shard size.


rule extract_activations:
    input:
        manifest=audio_manifest,
        checkpoint=model_checkpoint,
    output:
        temp(files.ACTIVATION_SHARD),
    log:
        "logs/extract_activations/{model}/{audio}/{shard}.log",
    wildcard_constraints:
        shard=r"\d{4}",
    conda:
        "../envs/rateprobe.yaml"
    # activations.threads each (default 1: two 1-thread jobs beat one 2-thread job about 3x on a
    # shared 2-core machine, docs/activations.md), so --cores N runs N / threads of them side by
    # side. --cores above the machine's cores oversubscribes them:
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
        manifest=audio_manifest,
        shards=activation_shards,
    output:
        files.ACTIVATIONS,
    log:
        "logs/gather_activations/{model}/{audio}.log",
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
