"""Assemble results/summary.json, the single source of truth of the paper.

Reads the manifests and each model's probe table, analysis JSON and test predictions. Every
comparison the paper states is a paired speaker-bootstrap test; all of them form one family
decided with Holm's correction (rateprobe.decisions): true, false, or null when undecided.
Floats are rounded to 6 significant digits and keys sorted, so one config gives one file.
Contract: rateprobe.results.contract (docs/summary.md says what the fields mean).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rateprobe.conventions import SPLITS
from rateprobe.decisions import decide, family_sizes, too_few_speakers_reason
from rateprobe.inputs import bootstrap_of_test_speakers, read_manifests
from rateprobe.io import plain, write_json
from rateprobe.provenance import build_stamp
from rateprobe.results.claim_family import claim_tests
from rateprobe.results.contract import validate_summary
from rateprobe.results.estimates import Scores
from rateprobe.results.fields import regression_fields
from rateprobe.results.loading import ModelResults, read_bad_reports
from rateprobe.results.model_sections import model_entry
from rateprobe.results.study_sections import (
    comparisons_section,
    corpus_section,
    figures_section,
    interventions_section,
    run_section,
    sanity_section,
)

SCHEMA_VERSION = 1
SIGNIFICANT_DIGITS = 6


def build_summary(
    cfg: dict[str, Any],
    manifest_paths: Mapping[str, str | Path],
    bad_report_paths: Mapping[str, str | Path],
    model_paths: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The summary as a dictionary. `model_paths[name]` holds ModelResults' arguments."""
    targets = list(cfg["probes"]["targets"])
    manifests = read_manifests({split: manifest_paths[split] for split in SPLITS})
    results = {name: ModelResults(**paths) for name, paths in model_paths.items()}
    models_cfg = {m["name"]: m for m in cfg["models"]}
    names = [m["name"] for m in cfg["models"] if m["name"] in results]
    controls = {n: [c for c in models_cfg[n].get("controls", []) if c in results] for n in names}
    # Controls enter the paper through their model's control comparison, not one by one.
    all_controls = {control for group in controls.values() for control in group}
    studied = [name for name in names if name not in all_controls] or names
    pretrained = {n for n in names if models_cfg[n].get("source_kind", "random") != "random"}

    boot = bootstrap_of_test_speakers(manifests, cfg["probes"]["bootstrap"])
    scores = Scores(results, targets, boot)
    tests = claim_tests(studied, pretrained, controls, targets, scores)
    blocked = too_few_speakers_reason(boot.n_speakers, cfg["probes"]["min_test_speakers"])
    decisions = decide(tests, blocked)
    models = {
        name: model_entry(name, models_cfg[name], controls[name], targets, scores, decisions)
        for name in names
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "build": build_stamp(cfg),
        "run": run_section(cfg, boot.n_speakers, blocked, family_sizes(decisions)),
        "corpus": corpus_section(manifests, read_bad_reports(bad_report_paths)),
        "baselines": _baselines(next(iter(results.values())), targets),
        "models": models,
        "studied_models": studied,
        "comparisons": {
            target: comparisons_section(studied, target, scores, decisions) for target in targets
        },
        "sanity": sanity_section(models, targets),
        "interventions": interventions_section(studied, results, decisions),
        "figures": figures_section(targets, results),
    }


def _baselines(results: ModelResults, targets: list[str]) -> dict[str, dict[str, Any]]:
    """Test metrics of each target's nuisance baselines, as the probe table holds them. They
    depend on the manifests alone: any model's probing job measured the same."""
    return {
        target: {
            name: regression_fields(records)
            for name, records in results.baseline_metrics(target).items()
        }
        for target in targets
    }


def write_summary(
    cfg: dict[str, Any],
    manifest_paths: Mapping[str, str | Path],
    bad_report_paths: Mapping[str, str | Path],
    model_paths: Mapping[str, Mapping[str, Any]],
    out_path: str | Path,
) -> None:
    """Build the summary, check it against the contract (rateprobe.results.contract) and write
    it atomically, rounded and with sorted keys."""
    summary = plain(
        build_summary(cfg, manifest_paths, bad_report_paths, model_paths), SIGNIFICANT_DIGITS
    )
    write_json(out_path, validate_summary(summary, out_path).dump())
