"""Assemble results/summary.json, the single source of truth of the paper.

Reads the manifests and each model's probe table, analysis JSON and test predictions, and
decides the paper's claims from intervals: a claim is true when its interval excludes the
opposite, false when the interval shows the opposite, and null (undecided) when it straddles.
Floats are rounded to 6 significant digits and keys sorted, so one config gives one file.
Contract: docs/summary.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import metadata
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rateprobe.figures import figure_files
from rateprobe.probing.data import (
    EMBEDDING_TAP,
    SPLITS,
    assert_speaker_disjoint,
    read_manifest,
    target_matrix,
)
from rateprobe.probing.io import write_json
from rateprobe.probing.metrics import (
    REGRESSION_METRICS,
    SpeakerBootstrap,
    paired_difference,
    regression_metrics,
    speaker_bootstrap,
)
from rateprobe.probing.run import RATE_TARGET, prediction_key

SCHEMA_VERSION = 1
SIGNIFICANT_DIGITS = 6
# In-sample CCA above held-out by more than this counts as visible inflation.
CCA_INFLATION_MARGIN = 0.1
SOFTWARE = ("torch", "numpy", "scikit-learn", "snakemake")


def interval_claim(interval: list[float] | tuple[float, float] | None) -> bool | None:
    """True when the interval of a difference lies above 0, False below, None otherwise."""
    if interval is None or interval[0] is None:
        return None
    if interval[0] > 0:
        return True
    if interval[1] < 0:
        return False
    return None


def metric_fields(
    name: str, record: Mapping[str, Any], reason: str = "not computable"
) -> dict[str, Any]:
    """`name`, `name_ci` and, when the value is missing, `name_reason`."""
    value = record.get("value")
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return {name: None, f"{name}_reason": reason}
    low, high = record.get("ci_low"), record.get("ci_high")
    ci = None if low is None or high is None or pd.isna(low) else [float(low), float(high)]
    return {name: float(value), f"{name}_ci": ci}


def _regression_fields(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in REGRESSION_METRICS:
        reason = "constant prediction" if name == "pearson_r" else "not computable"
        fields.update(metric_fields(name, records[name], reason))
    return fields


class ModelResults:
    """One model's probe table, analysis JSON and test predictions."""

    def __init__(self, csv: str | Path, analysis: str | Path, predictions: str | Path) -> None:
        table = pd.read_csv(csv, dtype={"tap": str, "target": str, "probe": str})
        self.metrics: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        for row in table.itertuples(index=False):
            record = {"value": row.value, "ci_low": row.ci_low, "ci_high": row.ci_high}
            clean = {k: None if pd.isna(v) else float(v) for k, v in record.items()}
            self.metrics.setdefault((row.tap, row.target, row.probe), {})[row.metric] = clean
        self.analysis = json.loads(Path(analysis).read_text())
        with np.load(predictions, allow_pickle=False) as archive:
            self.predictions = {key: archive[key] for key in archive.files}
        self.taps: list[str] = self.analysis["taps"]

    def selection(self, target: str, tap: str) -> dict[str, Any]:
        return self.analysis["selection"][target][self.taps.index(tap)]

    def prediction(self, target: str, probe: str, tap: str) -> np.ndarray:
        return self.predictions[prediction_key(target, probe, tap)]

    def best_probe(self, target: str, tap: str) -> str:
        return str(self.selection(target, tap)["best_probe"])


def _corpus_section(
    manifests: Mapping[str, pd.DataFrame], bad_reports: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    splits = {}
    for split, frame in manifests.items():
        speakers = frame.drop_duplicates("speaker_id")
        sex = speakers["sex"] if "sex" in speakers.columns else pd.Series([], dtype=str)
        entry: dict[str, Any] = {
            "n_utterances": len(frame),
            "n_speakers": len(speakers),
            "n_female": int((sex == "F").sum()),
            "n_male": int((sex == "M").sum()),
            "hours": float(frame["duration_s"].sum() / 3600.0),
            "mean_duration_s": float(frame["duration_s"].mean()),
            "bad_skipped": int(sum(bad_reports[split].get("skipped", {}).values())),
        }
        for column in ("cps", "articulation_rate"):
            if column in frame.columns:
                values = frame[column].to_numpy(dtype=np.float64)
                entry[f"{column}_mean"] = float(values.mean())
                entry[f"{column}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else None
                entry[f"{column}_min"] = float(values.min())
                entry[f"{column}_max"] = float(values.max())
        splits[split] = entry
    by_problem: dict[str, int] = {}
    for report in bad_reports.values():
        for problem, count in report.get("skipped", {}).items():
            by_problem[problem] = by_problem.get(problem, 0) + int(count)
    policies = sorted({str(r.get("policy", "fail")) for r in bad_reports.values()})
    return {
        "splits": splits,
        "total": {
            "n_utterances": sum(s["n_utterances"] for s in splits.values()),
            "n_speakers": sum(s["n_speakers"] for s in splits.values()),
            "hours": sum(s["hours"] for s in splits.values()),
        },
        "bad_input": {
            "policy": policies[0] if len(policies) == 1 else policies,
            "skipped_total": sum(by_problem.values()),
            "by_problem": by_problem,
        },
        # read_manifests below refuses splits that share a speaker.
        "speaker_disjoint": True,
    }


def _tap_entry(results: ModelResults, target: str, tap: str, index: int) -> dict[str, Any]:
    selection = results.selection(target, tap)
    entry: dict[str, Any] = {
        "tap": tap,
        "index": index,
        "dim": selection["dim"],
        "best_probe": selection["best_probe"],
    }
    for probe in ("ridge", "mlp"):
        fields = _regression_fields(results.metrics[(tap, target, probe)])
        fields["dev_r2"] = selection[probe]["dev_r2"]
        if probe == "ridge":
            fields["alpha"] = selection["ridge"]["alpha"]
        else:
            fields["n_seeds"] = selection["mlp"]["n_seeds"]
            fields["r2_seed_sd"] = selection["mlp"]["r2_seed_sd"]
            fields["best_epochs"] = selection["mlp"]["best_epochs"]
        entry[probe] = fields
    return entry


def _best_tap_fields(results: ModelResults, target: str, tap: str) -> dict[str, Any]:
    """Test metrics of a tap's dev-selected probe."""
    probe = results.best_probe(target, tap)
    return {"tap": tap, "probe": probe, **_regression_fields(results.metrics[(tap, target, probe)])}


def _delta(y: np.ndarray, a: np.ndarray, b: np.ndarray, boot: SpeakerBootstrap) -> dict[str, Any]:
    record = paired_difference(y, a, b, boot)
    ci = None if record["ci_low"] is None else [record["ci_low"], record["ci_high"]]
    return {"delta_r2": record["value"], "delta_r2_ci": ci}


def _layers_section(
    name: str,
    results: Mapping[str, ModelResults],
    control: str | None,
    target: str,
    boot: SpeakerBootstrap,
) -> dict[str, Any]:
    own = results[name]
    y = own.predictions[f"y/{target}"]
    per_tap = [_tap_entry(own, target, tap, i) for i, tap in enumerate(own.taps)]
    best_sel = own.analysis["best"][target]
    best_tap, best_probe = best_sel["tap"], best_sel["probe"]
    best = {
        **_best_tap_fields(own, target, best_tap),
        "index": best_sel["index"],
        "relative_depth": best_sel["index"] / max(len(own.taps) - 1, 1),
        "dev_r2": best_sel["dev_r2"],
    }
    deepest = _best_tap_fields(own, target, EMBEDDING_TAP)
    section: dict[str, Any] = {"per_tap": per_tap, "best": best, "deepest": deepest}
    if best_tap == EMBEDDING_TAP:
        section["best_minus_deepest"] = None
        section["middle_beats_deepest"] = False
    else:
        difference = _delta(
            y,
            own.prediction(target, best_probe, best_tap),
            own.prediction(target, deepest["probe"], EMBEDDING_TAP),
            boot,
        )
        section["best_minus_deepest"] = difference
        section["middle_beats_deepest"] = interval_claim(difference["delta_r2_ci"])

    section["control_best_r2"] = None
    section["control_same_tap"] = None
    section["beats_control"] = None
    if control is None:
        section["beats_control_reason"] = "no control model"
        return section
    twin = results[control]
    twin_best = twin.analysis["best"][target]
    section["control_best_r2"] = twin.metrics[(twin_best["tap"], target, twin_best["probe"])]["r2"][
        "value"
    ]
    if best_tap not in twin.taps:
        section["beats_control_reason"] = f"the control has no tap '{best_tap}'"
        return section
    difference = _delta(
        y,
        own.prediction(target, best_probe, best_tap),
        twin.prediction(target, best_probe, best_tap),
        boot,
    )
    section["control_same_tap"] = {
        "tap": best_tap,
        "probe": best_probe,
        **metric_fields("r2", twin.metrics[(best_tap, target, best_probe)]["r2"]),
        **difference,
    }
    section["beats_control"] = interval_claim(difference["delta_r2_ci"])
    return section


def _cca_section(results: ModelResults, targets: list[str]) -> dict[str, Any]:
    section: dict[str, Any] = {
        target: [
            {
                k: entry[k]
                for k in ("tap", "index", "heldout", "in_sample", "in_sample_pca", "n_components")
            }
            for entry in results.analysis["cca"][target]
        ]
        for target in targets
    }
    headline = RATE_TARGET if RATE_TARGET in targets else targets[0]
    rows = section[headline]
    in_sample = [r["in_sample"] for r in rows if r["in_sample"] is not None]
    heldout = [r["heldout"] for r in rows if r["heldout"] is not None]
    gaps = [
        r["in_sample"] - r["heldout"]
        for r in rows
        if r["in_sample"] is not None and r["heldout"] is not None
    ]
    section.update(
        headline_target=headline,
        max_in_sample=max(in_sample) if in_sample else None,
        max_heldout=max(heldout) if heldout else None,
        max_inflation=max(gaps) if gaps else None,
        inflation_visible=bool(gaps) and max(gaps) > CCA_INFLATION_MARGIN,
    )
    return section


def _classification_section(results: ModelResults) -> dict[str, Any]:
    by_tap = results.analysis["classification"]

    def fields(tap: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for task, result in by_tap[tap].items():
            if result.get("macro_f1", "present") is None:
                out[task] = None
                out[f"{task}_reason"] = result["macro_f1_reason"]
                continue
            entry: dict[str, Any] = {
                "tap": tap,
                "classes": result["classes"],
                "test_class_counts": result["test_class_counts"],
                "chance_macro_f1": result["chance_macro_f1"],
                "C": result["C"],
            }
            for name, record in result["metrics"].items():
                entry.update(metric_fields(name, record))
            out[task] = entry
        return out

    section = fields(EMBEDDING_TAP)
    other = [tap for tap in by_tap if tap != EMBEDDING_TAP]
    section["best_rate_tap"] = fields(other[0]) if other else None
    return section


def _verification_fields(analysis: dict[str, Any]) -> dict[str, Any]:
    v = analysis["verification"]
    fields: dict[str, Any] = {
        "eer": v["eer"],
        "eer_ci": v["eer_ci"],
        "verification": {
            k: v[k]
            for k in ("same_cos_mean", "different_cos_mean", "n_same_pairs", "n_different_pairs")
        },
    }
    if v["eer"] is None:
        fields["eer_reason"] = v["eer_reason"]
    return fields


def _beats_control_eer(own: dict[str, Any], twin: dict[str, Any] | None) -> bool | None:
    """True when the model's EER interval lies wholly below its twin's, False when its EER is
    not below the twin's at all, None when undecided or not computable."""
    if twin is None or own["eer"] is None or twin["eer"] is None:
        return None
    if own["eer"] >= twin["eer"]:
        return False
    if own["eer_ci"] and twin["eer_ci"] and own["eer_ci"][1] < twin["eer_ci"][0]:
        return True
    return None


def _comparisons(
    names: list[str],
    results: Mapping[str, ModelResults],
    target: str,
    boot: SpeakerBootstrap,
) -> dict[str, Any]:
    y = results[names[0]].predictions[f"y/{target}"]

    def choice(name: str, tap: str | None) -> tuple[str, str]:
        best = results[name].analysis["best"][target]
        chosen = best["tap"] if tap is None else tap
        probe = best["probe"] if tap is None else results[name].best_probe(target, chosen)
        return chosen, probe

    def compare(tap: str | None) -> dict[str, Any]:
        scores = {}
        for name in names:
            chosen, probe = choice(name, tap)
            scores[name] = results[name].metrics[(chosen, target, probe)]["r2"]["value"]
        ranking = sorted(names, key=lambda n: (-scores[n], names.index(n)))
        pairs = []
        for a, b in combinations(names, 2):
            tap_a, probe_a = choice(a, tap)
            tap_b, probe_b = choice(b, tap)
            difference = _delta(
                y,
                results[a].prediction(target, probe_a, tap_a),
                results[b].prediction(target, probe_b, tap_b),
                boot,
            )
            pairs.append(
                {
                    "a": a,
                    "b": b,
                    **difference,
                    "a_better": interval_claim(difference["delta_r2_ci"]),
                }
            )
        leader = ranking[0]
        clearly = all(
            (p["a_better"] is True and p["a"] == leader)
            or (p["a_better"] is False and p["b"] == leader)
            for p in pairs
            if leader in (p["a"], p["b"])
        )
        return {
            "ranking": ranking,
            "r2": scores,
            "best_model": leader,
            "best_model_clearly_best": True if clearly and len(names) > 1 else None,
            "pairs": pairs,
        }

    by_best_tap = compare(None)
    by_embedding = compare(EMBEDDING_TAP)
    return {**by_best_tap, "embedding": by_embedding}


def _software() -> dict[str, str]:
    versions = {"rateprobe": metadata.version("rateprobe")}
    for package in SOFTWARE:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def build_summary(
    cfg: dict[str, Any],
    manifest_paths: Mapping[str, str | Path],
    bad_report_paths: Mapping[str, str | Path],
    model_paths: Mapping[str, Mapping[str, str | Path]],
) -> dict[str, Any]:
    """The summary as a dictionary. `model_paths[name]` has keys csv, analysis, predictions."""
    targets = list(cfg["probes"]["targets"])
    manifests = {split: read_manifest(manifest_paths[split]) for split in SPLITS}
    assert_speaker_disjoint(manifests)
    bad_reports = {s: json.loads(Path(bad_report_paths[s]).read_text()) for s in SPLITS}
    results = {name: ModelResults(**paths) for name, paths in model_paths.items()}
    models_cfg = {m["name"]: m for m in cfg["models"]}
    names = [m["name"] for m in cfg["models"] if m["name"] in results]

    bootstrap = cfg["probes"]["bootstrap"]
    boot = speaker_bootstrap(
        manifests["test"]["speaker_id"].to_numpy(dtype=str), bootstrap["n"], bootstrap["seed"]
    )
    y = {s: target_matrix(manifests[s], targets) for s in SPLITS}
    baselines = {}
    for t, target in enumerate(targets):
        constant = np.full(len(y["test"]), y["train"][:, t].mean())
        records = regression_metrics(y["test"][:, t], constant, boot)
        baselines[target] = {"mean_predictor": _regression_fields(records)}

    models: dict[str, Any] = {}
    for name in names:
        own, model_cfg = results[name], models_cfg[name]
        control = model_cfg.get("control")
        control = control if control in results else None
        meta = own.analysis["meta"]
        source_kind = model_cfg.get("source_kind", "random")
        entry: dict[str, Any] = {
            "arch": model_cfg.get("arch", meta.get("arch")),
            "source_kind": source_kind,
            "pretrained": source_kind != "random",
            "control": control,
            "training_data": model_cfg.get("training_data"),
            "n_params": meta.get("n_params"),
            "taps": own.taps,
            "tap_dims": own.analysis["tap_dims"],
            **_verification_fields(own.analysis),
            "embedding": {
                target: _best_tap_fields(own, target, EMBEDDING_TAP) for target in targets
            },
            "layers": {
                target: _layers_section(name, results, control, target, boot) for target in targets
            },
            "cca": _cca_section(own, targets),
            "classification": _classification_section(own),
            "tsne": {
                k: own.analysis["tsne"][k]
                for k in ("perplexity", "perplexity_requested", "seed", "n_points")
            },
        }
        for target in targets:
            entry["embedding"][target]["best_probe"] = entry["embedding"][target].pop("probe")
        models[name] = entry
    for name in names:
        control = models[name]["control"]
        models[name]["beats_control_eer"] = _beats_control_eer(
            models[name], models[control] if control else None
        )
    broken = [
        name
        for name in names
        if models[name]["pretrained"]
        and models[name]["control"] is not None
        and models[name]["eer"] is not None
        and models[models[name]["control"]]["eer"] is not None
        and models[name]["beats_control_eer"] is not True
    ]

    probes, analysis = cfg["probes"], cfg["analysis"]
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "corpus_kind": cfg["corpus"]["kind"],
            "synthetic_speech": cfg["corpus"]["kind"] == "synthetic",
            "seed": cfg["seed"],
            "targets": targets,
            "pooling": cfg["activations"]["pooling"],
            "max_seconds": cfg["activations"]["max_seconds"],
            "probe_settings": {
                "ridge_alphas": probes["ridge_alphas"],
                "mlp_hidden": probes["mlp"]["hidden"],
                "mlp_seeds": len(probes["mlp"]["seeds"]),
                "mlp_lr": probes["mlp"]["lr"],
                "mlp_max_epochs": probes["mlp"]["max_epochs"],
                "mlp_patience": probes["mlp"]["patience"],
                "bootstrap_n": bootstrap["n"],
                "selection": "dev",
            },
            "tsne_perplexity": analysis["tsne"]["perplexity"],
            "cca_pca_components": analysis["cca"]["pca_components"],
            "software": _software(),
        },
        "corpus": _corpus_section(manifests, bad_reports),
        "baselines": baselines,
        "models": models,
        "comparisons": {target: _comparisons(names, results, target, boot) for target in targets},
        "sanity": {"broken_pretrained_models": broken},
        "figures": {key: f"figures/{file}" for key, file in figure_files(targets).items()},
    }


def write_summary(
    cfg: dict[str, Any],
    manifest_paths: Mapping[str, str | Path],
    bad_report_paths: Mapping[str, str | Path],
    model_paths: Mapping[str, Mapping[str, str | Path]],
    out_path: str | Path,
) -> None:
    """Build the summary and write it atomically, rounded and with sorted keys."""
    summary = build_summary(cfg, manifest_paths, bad_report_paths, model_paths)
    write_json(out_path, summary, digits=SIGNIFICANT_DIGITS)
