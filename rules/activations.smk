# Stage: activations. See docs/interfaces.md for the files it reads and writes.
# Every utterance of a split goes once through the encoder, and every tapped layer is pooled over
# time to one vector per utterance (docs/activations.md). A split is extracted in shards of about
# activations.shard_seconds of audio, one job each, sized from the measured speed of its
# architecture (rateprobe.sharding, bench/extraction_rtf.csv); a gather job joins them. A killed
# job loses one shard; the gathered file is the same whatever the shard size.

from pathlib import Path

from rateprobe.config import result_activation_settings
from rateprobe.encoders.checkpoints import checkpoint_inputs
from rateprobe import sharding

ACTIVATIONS_CFG = CFG["activations"]
# Only the settings that decide the numbers are params: a change to batch_seconds, device or
# the job sizes must not rerun a finished extraction (the jobs read those from the config).
# Not even the shard plan is a param, since Snakemake reruns a deleted temp() shard whose params
# changed; shards left over from another plan are caught by the gather instead.
RESULT_SETTINGS = result_activation_settings(CFG)
SHARD_PLAN = {k: ACTIVATIONS_CFG[k] for k in ("batch_seconds", "shard_seconds")}
EXTRACTION_SPEEDS = sharding.read_speed_table(
    Path(workflow.basedir) / sharding.RTF_TABLE
)
SIZING_DEVICE = sharding.sizing_device(ACTIVATIONS_CFG["device"])
SIZING_PRECISION = sharding.sizing_precision(
    ACTIVATIONS_CFG["precision"], SIZING_DEVICE
)


def extraction_speed(model):
    return sharding.extraction_speed(
        EXTRACTION_SPEEDS,
        sharding.model_arch(MODEL_BY_NAME[model]),
        SIZING_DEVICE,
        SIZING_PRECISION,
    )


# A shard of full size must fit in the longest job allowed, for every configured model.
try:
    for _model in MODELS:
        sharding.job_request(
            extraction_speed(_model),
            ACTIVATIONS_CFG["shard_seconds"],
            ACTIVATIONS_CFG["max_job_minutes"],
        )
except (ValueError, LookupError) as error:
    raise WorkflowError(f"Invalid configuration: model {_model}: {error}") from None


def shard_inputs(manifest_of, shard_pattern):
    """Input function: the shard files of the manifest that manifest_of(wildcards) names,
    once that manifest exists (its rule is a checkpoint)."""

    def inputs(wildcards):
        durations = sharding.manifest_durations(manifest_of(wildcards))
        count = len(sharding.plan_shards(durations, **SHARD_PLAN))
        return expand(
            shard_pattern, shard=[f"{i:04d}" for i in range(count)], **wildcards
        )

    return inputs


def shard_request(wildcards, input):
    """Wall time and memory of one shard job, from its audio and its model's measured speed."""
    audio = sharding.shard_audio_seconds(input.manifest, **SHARD_PLAN)[
        int(wildcards.shard)
    ]
    return sharding.job_request(
        extraction_speed(wildcards.model), audio, ACTIVATIONS_CFG["max_job_minutes"]
    )


def gather_mem_mb(wildcards, input):
    # The shards hold float32, the gathered file float16 or float32: both fit twice over.
    return max(2000, int(2 * input.size_mb) + 1000)


rule extract_activations:
    input:
        manifest="results/manifests/{split}.csv",
        checkpoint=lambda wildcards: checkpoint_inputs(MODEL_BY_NAME[wildcards.model]),
    output:
        temp("results/activations/{model}/{split}.shards/{shard}.npz"),
    params:
        model=lambda wildcards: MODEL_BY_NAME[wildcards.model],
        settings=RESULT_SETTINGS,
    wildcard_constraints:
        shard=r"\d{4}",
    # Extraction takes every core Snakemake was given, so these jobs run one at a time: torch
    # jobs side by side on the same cores slowed each other down more than tenfold (--cores 8 on
    # 2 cores: 8 s per utterance instead of 0.6 s). On a cluster, the profile sets the threads.
    threads: GIVEN_CORES
    resources:
        runtime=lambda wildcards, input: shard_request(wildcards, input).runtime_minutes,
        mem_mb=lambda wildcards, input: shard_request(wildcards, input).mem_mb,
    log:
        "logs/extract_activations/{model}/{split}/{shard}.log",
    conda:
        "../envs/rateprobe.yaml"
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
    # The shards are temporary: the settings that decide the numbers are watched here.
    params:
        model=lambda wildcards: MODEL_BY_NAME[wildcards.model],
        settings=RESULT_SETTINGS,
    threads: 1
    resources:
        mem_mb=gather_mem_mb,
    log:
        "logs/gather_activations/{model}/{split}.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/gather_activations.py"
