# Configuration checks and the names every stage shares.
# The schema rejects unknown keys and wrong types before any work; resolve_config then checks
# what a schema cannot (per corpus kind) and fills defaults.

from snakemake.utils import validate

from rateprobe.config import resolve_config

validate(config, "../schemas/config.schema.yaml")
CFG = resolve_config(config)

SPLITS = ["train", "dev", "test"]
MODELS = [m["name"] for m in CFG["models"]]
ACTIVATIONS = expand("results/activations/{model}/{split}.npz", model=MODELS, split=SPLITS)


wildcard_constraints:
    split="train|dev|test",
    model="|".join(MODELS),
