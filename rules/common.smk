# Configuration checks and the names every stage shares.
# The schema rejects unknown keys and wrong types before any work; resolve_config then checks
# what a schema cannot (per corpus kind) and fills defaults.

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from rateprobe import conventions
from rateprobe.config import (
    ConfigError,
    check_schema,
    coerce_command_line_strings,
    load_schema,
    resolve_config,
)

SCHEMA_PATH = workflow.source_path("../schemas/config.schema.yaml")
# Values nested in --config 'section={...}' arrive as strings: give them the schema's types.
config.update(coerce_command_line_strings(config, load_schema(SCHEMA_PATH)))
try:
    check_schema(config, SCHEMA_PATH)
    validate(config, "../schemas/config.schema.yaml")
    CFG = resolve_config(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None

# The cores Snakemake was given with --cores; runs without it (--report, --lint, cluster
# executors, whose job sizes come from the profile) have no such number.
try:
    GIVEN_CORES = workflow.cores
except WorkflowError:
    GIVEN_CORES = 1

SPLITS = list(conventions.SPLITS)
MODELS = [m["name"] for m in CFG["models"]]
MODEL_BY_NAME = {m["name"]: m for m in CFG["models"]}
ACTIVATIONS = expand("results/activations/{model}/{split}.npz", model=MODELS, split=SPLITS)
# The causal rate interventions each model's summary entry reads; none when they are disabled.
INTERVENTION_RESULTS = (
    expand("results/interventions/{model}.json", model=MODELS)
    if CFG["interventions"]["enabled"]
    else []
)


wildcard_constraints:
    split="train|dev|test",
    model="|".join(MODELS),
