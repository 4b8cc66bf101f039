"""Configuration checks that a JSON schema cannot express, and defaults.

The schema (schemas/config.schema.yaml) rejects unknown keys and wrong types. This module
checks what depends on the corpus kind, resolves how the three splits are formed, and fills
defaults, so that every later stage reads one complete, consistent dictionary.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from rateprobe.conventions import SPLITS

ARCHITECTURES = ("samresnet34", "samresnet100", "resemblyzer")

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "on_bad_input": "fail",
    "corpus": {
        "download": False,
        "mirrors": ["https://www.openslr.org/resources/12"],
        "md5": {},
        "synthetic": {"utterances_per_speaker": 9, "min_wpm": 90, "max_wpm": 320},
    },
    "vad": {"aggressiveness": 2, "frame_ms": 30},
    "activations": {
        "pooling": ["mean", "std"],
        "max_seconds": None,
        "batch_seconds": 8,
        "simam_taps": False,
        "device": "auto",
        "dtype": "float16",
        "precision": "float32",
        "shard_seconds": 7200,
        "max_job_minutes": 720,
    },
    "probes": {
        "targets": ["cps", "articulation_rate", "duration_s"],
        "threads": 1,
        "ridge_alphas": [0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7],
        "min_test_speakers": 20,
        "mlp": {
            "hidden": 128,
            "seeds": [0, 1, 2],
            "lr": 1e-3,
            "weight_decay": 1e-4,
            "batch_size": 64,
            "max_epochs": 300,
            "patience": 20,
        },
        "bootstrap": {"n": 1000, "seed": 0},
    },
    "analysis": {
        "cca": {"pca_components": 16},
        "tsne": {"perplexity": 30, "seed": 0},
        "classification": {"targets": ["sex", "cps_tercile"]},
    },
    "interventions": {
        "enabled": True,
        "rate_factors": [0.8, 0.9, 1.1, 1.25],
        "pause_gaps": [10, 20],
        "pad_seconds": 1.0,
        "utterances_per_speaker": 1,
    },
    "paper": {
        "title": "Что кодировщики дикторов знают о темпе речи: послойный анализ",
        "author": {"name": "", "affiliation": "", "email": ""},
        "style": "neurips",
        "neurips_sty": None,
        "engine": "pdflatex",
        "date": None,
    },
}

DEFAULT_CARVE_FRACTIONS = {"train": 0.6, "dev": 0.2, "test": 0.2}

# The activation settings that decide the stored numbers: the extraction rules take them as
# params, so changing one reruns extraction. The others (batch_seconds, device, shard_seconds,
# max_job_minutes) decide only how, where and in how many jobs the same numbers are computed,
# and reach the jobs through `runtime_activation_settings`, which Snakemake does not watch.
RESULT_ACTIVATION_SETTINGS = ("pooling", "max_seconds", "simam_taps", "dtype", "precision")


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key."""

    def __init__(self, key: str, problem: str, whole_message: bool = False) -> None:
        super().__init__(problem if whole_message else f"config key '{key}': {problem}")
        self.key = key


def check_schema(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise ConfigError listing every schema violation by its dotted key path.

    Snakemake's own validation reports only the first problem, buried under a dump of the
    whole schema; this names each offending key on one line.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[tuple[str, str]] = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            problems += [(".".join([*path, name]), "unknown key") for name in unknown]
        else:
            # For oneOf, the alternatives' own messages say what would have been accepted.
            alternatives = sorted({sub.message for sub in error.context or []})
            message = " or ".join(alternatives) if alternatives else error.message
            problems.append((".".join(path) or "<top level>", message))
    if problems:
        message = "\n".join(f"config key '{key}': {problem}" for key, problem in problems)
        raise ConfigError(problems[0][0], message, whole_message=True)


def merge_config(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Merge `given` into `defaults` key by key, as Snakemake merges a --configfile."""
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def model_source_kind(source: str) -> str:
    """Classify a model source: 'url', 'resemblyzer', 'random' or 'path'."""
    if source in ("resemblyzer", "random"):
        return source
    if source.startswith(("http://", "https://", "file://")):
        return "url"
    return "path"


def _resolve_corpus(corpus: dict[str, Any], seed: int) -> dict[str, Any]:
    kind = corpus["kind"]
    splits = corpus.get("splits") or {}
    if kind == "synthetic":
        for split in SPLITS:
            n = splits.get(split)
            if not isinstance(n, int) or isinstance(n, bool) or n < 2:
                raise ConfigError(
                    f"corpus.splits.{split}",
                    "the synthetic corpus needs a number of speakers >= 2 for each split, "
                    f"got {n!r}",
                )
        corpus["splits"] = {split: int(splits[split]) for split in SPLITS}
        corpus.pop("carve_by_speaker", None)
        synth = corpus["synthetic"]
        if synth["min_wpm"] >= synth["max_wpm"]:
            raise ConfigError("corpus.synthetic.min_wpm", "must be below max_wpm")
        return corpus

    carve = corpus.get("carve_by_speaker")
    if carve:
        fractions = carve.get("fractions") or dict(DEFAULT_CARVE_FRACTIONS)
        total = sum(fractions.values())
        if abs(total - 1.0) > 1e-6:
            raise ConfigError("corpus.carve_by_speaker.fractions", f"must sum to 1, got {total:g}")
        corpus["carve_by_speaker"] = {
            "subsets": list(carve["subsets"]),
            "fractions": {split: float(fractions[split]) for split in SPLITS},
            "seed": int(carve.get("seed", seed)),
        }
        corpus["splits"] = None
        return corpus

    for split in SPLITS:
        subsets = splits.get(split)
        if not isinstance(subsets, list) or not subsets:
            raise ConfigError(
                f"corpus.splits.{split}",
                "LibriSpeech needs a non-empty list of subset names for each split "
                "(or corpus.carve_by_speaker)",
            )
    corpus["splits"] = {split: list(splits[split]) for split in SPLITS}
    corpus["carve_by_speaker"] = None
    return corpus


def _expand_seeds(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per seed of a random model with `seeds`, named <name>_s<seed>."""
    expanded = []
    for i, model in enumerate(models):
        seeds = model.get("seeds")
        if seeds is None:
            expanded.append(dict(model))
            continue
        key = f"models[{i}] ({model['name']})"
        if model_source_kind(model["source"]) != "random":
            raise ConfigError(f"{key}.seeds", "only source: random models take seeds")
        if "seed" in model:
            raise ConfigError(f"{key}.seeds", "give seed or seeds, not both")
        base = {k: v for k, v in model.items() if k != "seeds"}
        for seed in seeds:
            expanded.append({**base, "name": f"{model['name']}_s{seed}", "seed": seed})
    return expanded


def _control_groups(models: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Name a `control:` may give -> the models it stands for (a seeded entry: all seeds)."""
    groups: dict[str, list[str]] = {}
    for model in models:
        groups[model["name"]] = [model["name"]]
        if "seeds" in model:
            groups[model["name"]] = [f"{model['name']}_s{seed}" for seed in model["seeds"]]
    return groups


def _resolve_models(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = _control_groups(models)
    expanded = _expand_seeds(models)
    names = [m["name"] for m in expanded]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError("models", f"model name '{name}' appears more than once")
    resolved = []
    for i, model in enumerate(expanded):
        key = f"models[{i}] ({model['name']})"
        kind = model_source_kind(model["source"])
        model["source_kind"] = kind
        if kind == "random":
            if "arch" not in model:
                raise ConfigError(f"{key}.arch", "source: random needs arch")
            model.setdefault("seed", 0)
        elif kind == "resemblyzer":
            model["arch"] = "resemblyzer"
        elif kind == "path" and not Path(model["source"]).exists():
            raise ConfigError(f"{key}.source", f"no such file or folder: {model['source']}")
        control = model.pop("control", None)
        if control is not None and control not in groups:
            raise ConfigError(f"{key}.control", f"names no configured model: '{control}'")
        model["controls"] = groups[control] if control is not None else []
        # Sorted keys: Snakemake compares params as text, so YAML key order must not matter.
        resolved.append(dict(sorted(model.items())))
    return resolved


def _check_probes(cfg: dict[str, Any]) -> None:
    if not cfg["probes"]["targets"]:
        raise ConfigError("probes.targets", "must name at least one manifest column")
    if cfg["activations"]["max_seconds"] is not None:
        raise ConfigError(
            "activations.max_seconds",
            "must be null: the speech-rate labels (characters per second of the whole "
            "transcript) describe the whole utterance, so cropping the audio would probe "
            "activations of different audio than the labels describe",
        )


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """Return a complete copy of a schema-valid config, or raise ConfigError naming the key.

    Relative paths are taken from the working directory (Snakemake's --directory).
    """
    cfg = merge_config(DEFAULTS, config)
    cfg["corpus"] = _resolve_corpus(cfg["corpus"], cfg["seed"])
    cfg["models"] = _resolve_models(cfg["models"])
    _check_probes(cfg)
    return cfg


def result_activation_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings of a resolved config's `activations:` that change the stored numbers."""
    return {key: cfg["activations"][key] for key in RESULT_ACTIVATION_SETTINGS}


def runtime_activation_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The other `activations:` settings of a (merged, unresolved) Snakemake config, defaults
    filled: what an extraction job reads from `snakemake.config` instead of its params."""
    given = merge_config(DEFAULTS["activations"], config.get("activations") or {})
    return {key: value for key, value in given.items() if key not in RESULT_ACTIVATION_SETTINGS}
