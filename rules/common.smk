# Configuration checks and the names every stage shares.
# The schema rejects unknown keys and wrong types before any work; resolve_config then checks
# what a schema cannot (per corpus kind) and fills defaults.

from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from rateprobe import conventions as files
from rateprobe import sharding
from rateprobe.config import ConfigError, exact_alternatives, resolve_config, result_settings
from rateprobe.config_schema import (
    check_config_file,
    check_schema,
    coerce_command_line_strings,
    load_schema,
)
from rateprobe.paper.overleaf_sync import configured_remote
from rateprobe.paper.person import ensure_person_files
from rateprobe.provenance import LibraryCode

SCHEMA_PATH = workflow.source_path("../schemas/config.schema.yaml")
# Values nested in --config 'section={...}' arrive as strings: give them the schema's types.
config.update(coerce_command_line_strings(config, load_schema(SCHEMA_PATH)))
try:
    for config_file in workflow.configfiles:
        check_config_file(config_file)
    check_schema(config, SCHEMA_PATH)
    validate(config, "../schemas/config.schema.yaml")
    CFG = resolve_config(config)
    # The settings that can change a result; batch size, device, threads and progress output
    # cannot, so they are left out of every rule's params and rerun nothing.
    RESULT_SETTINGS = result_settings(CFG)
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None

SPLITS = list(files.SPLITS)
MODELS = [m["name"] for m in CFG["models"]]
MODEL_BY_NAME = {m["name"]: m for m in CFG["models"]}
ACTIVATIONS = expand(files.ACTIVATIONS, model=MODELS, audio=SPLITS)
# The models whose causal rate interventions their summary entry reads; none when disabled.
INTERVENTION_MODELS = MODELS if CFG["interventions"]["enabled"] else []
INTERVENTION_RESULTS = expand(files.INTERVENTION_RESULT, model=INTERVENTION_MODELS)


# The library the jobs import: this checkout's src/rateprobe, read once per plan.
LIBRARY = LibraryCode(Path(workflow.basedir) / "src" / "rateprobe")


def code_version(*scripts):
    """A digest of the scripts (given as in a rule's `script:`) and of every rateprobe module
    they import, directly or not: a param, so an edit of any of them reruns the rule while a
    moved checkout (whose absolute paths differ) reruns nothing."""
    return LIBRARY.digest(Path(workflow.source_path(script)) for script in scripts)


def keyed(role, pattern, **values):
    """Named inputs, one per value of the first wildcard in `values`: files.input_name(role,
    value) -> its file, or its list of files where a further wildcard is given a list; wildcards
    not given stay. A script reads them by key (files.keyed_inputs), not by place in a list."""
    (wildcard, keys), *further = values.items()
    listed = any(not isinstance(value, str) for _, value in further)
    named = {}
    for key in keys:
        paths = expand(pattern, allow_missing=True, **{wildcard: key}, **dict(further))
        named[files.input_name(role, key)] = paths if listed else paths[0]
    return named


# Extraction shards and their job sizes (rules/activations.smk).

ACTIVATIONS_CFG = CFG["activations"]
# Only the settings that decide the numbers are params (RESULT_SETTINGS): a change to
# batch_seconds, device or the job sizes must not rerun a finished extraction (the jobs read
# those from the config). Not even the shard plan is a param, since Snakemake reruns a deleted
# temp() shard whose params changed; shards left over from another plan are caught by the
# gather instead.
SHARD_PLAN = {k: ACTIVATIONS_CFG[k] for k in ("batch_seconds", "shard_seconds")}
EXTRACTION_SPEEDS = sharding.read_speed_table(Path(workflow.basedir) / sharding.RTF_TABLE)
SIZING_DEVICE = sharding.sizing_device(ACTIVATIONS_CFG["device"])
SIZING_PRECISION = sharding.sizing_precision(ACTIVATIONS_CFG["precision"], SIZING_DEVICE)


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


def audio_manifest(wildcards):
    """The manifest of an audio set (files.AUDIO_SETS): a split's, or the rate variants'. Both
    rules are checkpoints, since a manifest decides how many shards its set is extracted in."""
    if wildcards.audio == files.INTERVENTION_AUDIO:
        return checkpoints.intervention_manifest.get().output.manifest
    return checkpoints.manifest.get(split=wildcards.audio).output.manifest


def activation_shards(wildcards):
    """The extraction shards of one activations file, once its manifest exists."""
    count = len(sharding.shard_audio_seconds(audio_manifest(wildcards), **SHARD_PLAN))
    return expand(files.ACTIVATION_SHARD, shard=[f"{i:04d}" for i in range(count)], **wildcards)


def model_checkpoint(wildcards):
    """The checkpoint files an extraction of the model reads (none for some sources)."""
    return files.checkpoint_inputs(MODEL_BY_NAME[wildcards.model])


def shard_request(wildcards, input):
    """Wall time and memory of one shard job, from its audio and its model's measured speed."""
    audio = sharding.shard_audio_seconds(input.manifest, **SHARD_PLAN)[int(wildcards.shard)]
    return sharding.job_request(
        extraction_speed(wildcards.model), audio, ACTIVATIONS_CFG["max_job_minutes"]
    )


def gather_mem_mb(wildcards, input):
    # The shards hold float32, the gathered file float16 or float32: both fit twice over.
    return max(2000, int(2 * input.size_mb) + 1000)


wildcard_constraints:
    split="|".join(SPLITS),
    audio="|".join(files.AUDIO_SETS),
    model=exact_alternatives(MODELS),


def paper_person_files(wildcards):
    """The person's own files, each created (empty but for a comment) when absent: a person
    who deleted one, or a checkout without them, still gets a paper that compiles."""
    return [str(path) for path in ensure_person_files(Path(files.PAPER_DIR))]


def overleaf_push_input(wildcards):
    """The paper project (PAPER_PROJECT, rules/paper.smk), the compiled PDF (a paper that does
    not compile is not pushed) and the summary it was rendered from. Asked while the job graph
    is planned, so a push without a configured remote stops at once, not after the whole study
    has been built for it."""
    configured_remote(CFG["overleaf"])
    return {
        **PAPER_PROJECT,
        "own": paper_person_files(wildcards),
        "pdf": files.PAPER_PDF,
        "summary": files.SUMMARY,
    }
