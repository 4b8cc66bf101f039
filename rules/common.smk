# Configuration checks and the names every stage shares.
# The schema rejects unknown keys and wrong types before any work; resolve_config then checks
# what a schema cannot (per corpus kind) and fills defaults.

import hashlib
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from rateprobe import conventions as files
from rateprobe.config import (
    ConfigError,
    check_schema,
    coerce_command_line_strings,
    exact_alternatives,
    load_schema,
    resolve_config,
    result_settings,
)

SCHEMA_PATH = workflow.source_path("../schemas/config.schema.yaml")
# Values nested in --config 'section={...}' arrive as strings: give them the schema's types.
config.update(coerce_command_line_strings(config, load_schema(SCHEMA_PATH)))
try:
    check_schema(config, SCHEMA_PATH)
    validate(config, "../schemas/config.schema.yaml")
    CFG = resolve_config(config)
    # The settings that can change a result; batch size, device, threads and progress output
    # cannot, so they are left out of every rule's params and rerun nothing.
    RESULT_SETTINGS = result_settings(CFG)
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None

# The cores Snakemake was given with --cores; runs without it (--report, --lint, cluster
# executors, whose job sizes come from the profile) have no such number.
try:
    GIVEN_CORES = workflow.cores
except WorkflowError:
    GIVEN_CORES = 1

SPLITS = list(files.SPLITS)
MODELS = [m["name"] for m in CFG["models"]]
MODEL_BY_NAME = {m["name"]: m for m in CFG["models"]}
ACTIVATIONS = expand(files.ACTIVATIONS, model=MODELS, split=SPLITS)
# The causal rate interventions each model's summary entry reads; none when they are disabled.
INTERVENTION_RESULTS = (
    expand(files.INTERVENTION_RESULT, model=MODELS) if CFG["interventions"]["enabled"] else []
)


def code_version(*sources):
    """A digest of the library sources whose output a rule tracks, given relative to this
    file: a param, so an edit of them reruns the rule while a moved checkout (whose absolute
    paths differ) reruns nothing."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(Path(workflow.source_path(source)).read_bytes())
    return digest.hexdigest()[:16]


wildcard_constraints:
    split="train|dev|test",
    model=exact_alternatives(MODELS),
