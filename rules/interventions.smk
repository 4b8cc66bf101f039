# Stage: causal rate interventions. See docs/interfaces.md for the files it reads and writes.
# Probing is correlational; here only the rate changes. Test utterances are made again at other
# rates (synthetic: espeak-ng re-synthesis at other speeds and with longer pauses; recordings:
# pitch-preserving time-stretch and silence padding), labelled like any split, and fed to every
# model; ridge probes trained on natural speech then read them (rateprobe.corpus.tempo_variants,
# rateprobe.analysis.intervention_effects).

from rateprobe.corpus.splits import synthetic_report

INTERVENTIONS = CFG["interventions"]


# A checkpoint, as the split manifests: the variants' manifest decides the extraction shards.
checkpoint intervention_manifest:
    input:
        manifest="results/manifests/test.csv",
        report=[synthetic_report(CORPUS["root"])] if CORPUS["kind"] == "synthetic" else [],
    output:
        manifest="results/interventions/manifest.csv",
        audio=directory("data/interventions"),
    log:
        "logs/intervention_manifest.log",
    conda:
        "../envs/rateprobe.yaml"
    threads: 2
    params:
        # The variants are what this code makes: a change to it makes them again.
        code=code_version("../scripts/make_interventions.py"),
        settings=INTERVENTIONS,
        kind=CORPUS["kind"],
        vad=CFG["vad"],
        seed=CFG["seed"],
    script:
        "../scripts/make_interventions.py"


rule extract_intervention_activations:
    input:
        manifest="results/interventions/manifest.csv",
        checkpoint=lambda wildcards: files.checkpoint_inputs(MODEL_BY_NAME[wildcards.model]),
    output:
        temp("results/interventions/activations/{model}.shards/{shard}.npz"),
    log:
        "logs/extract_intervention_activations/{model}/{shard}.log",
    wildcard_constraints:
        shard=r"\d{4}",
    conda:
        "../envs/rateprobe.yaml"
    # As extract_activations: activations.threads each, sized per shard.
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


rule gather_intervention_activations:
    input:
        manifest="results/interventions/manifest.csv",
        shards=shard_inputs(
            lambda wildcards: checkpoints.intervention_manifest.get().output.manifest,
            "results/interventions/activations/{model}.shards/{shard}.npz",
        ),
    output:
        "results/interventions/activations/{model}.npz",
    log:
        "logs/gather_intervention_activations/{model}.log",
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


rule intervention_analysis:
    input:
        manifest="results/interventions/manifest.csv",
        activations="results/interventions/activations/{model}.npz",
        natural_manifests=expand("results/manifests/{split}.csv", split=["train", "test"]),
        natural_activations=expand(
            "results/activations/{{model}}/{split}.npz", split=["train", "test"]
        ),
        probe_result=files.PROBE_RESULT,
    output:
        "results/interventions/{model}.json",
    log:
        "logs/intervention_analysis/{model}.log",
    conda:
        "../envs/rateprobe.yaml"
    threads: 1
    params:
        code=code_version("../scripts/intervention_analysis.py"),
        bootstrap=CFG["probes"]["bootstrap"],
    script:
        "../scripts/intervention_analysis.py"
