"""A model's `layers` section of one target: every tap's probes, the dev-chosen best tap, the
best tap against the embedding, and the model against its controls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rateprobe.bootstrap import mean_estimate, record_interval
from rateprobe.conventions import EMBEDDING_TAP
from rateprobe.probing.names import CONDITIONAL, PROBES, RIDGE_PROBES
from rateprobe.results.claim_ids import BEST, ClaimId
from rateprobe.results.estimates import Scores
from rateprobe.results.fields import over_duration_fields, regression_fields
from rateprobe.results.loading import ModelResults


def layers_section(
    name: str,
    target: str,
    controls: list[str],
    scores: Scores,
    decisions: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    own = scores.results[name]
    per_tap = _per_tap(name, target, controls, scores)
    return {
        "per_tap": per_tap,
        "deepest": tap_fields(own, target, EMBEDDING_TAP),
        "alpha_at_edge": _edge_choices(per_tap),
        **_best_tap(name, target, scores, decisions),
        **_best_minus_deepest(name, target, own.best(target), decisions),
        **_versus_controls(name, target, controls, scores, decisions),
    }


def tap_fields(results: ModelResults, target: str, tap: str) -> dict[str, Any]:
    """Test metrics of a tap's dev-chosen probe, or null metrics when its fits failed."""
    probe = results.best_probe(target, tap)
    if probe is None:
        reasons = {p: results.selection(target, tap)[p]["failure"] for p in PROBES}
        reason = "every probe fit failed: " + "; ".join(f"{p}: {r}" for p, r in reasons.items())
        return {"tap": tap, "probe": None, "r2": None, "r2_reason": reason}
    return {"tap": tap, "probe": probe, **regression_fields(results.metrics[(tap, target, probe)])}


def _per_tap(name: str, target: str, controls: list[str], scores: Scores) -> list[dict[str, Any]]:
    own = scores.results[name]
    curve = _minus_controls_curve(name, target, controls, scores) if controls else None
    return [
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
        fields = regression_fields(results.metrics[(tap, target, probe)])
        fields.update({k: v for k, v in chosen.items() if k != "test_r2_sd"})
        if probe == CONDITIONAL:
            fields.update(over_duration_fields(beyond_duration))
        else:
            fields["r2_seed_sd"] = chosen["test_r2_sd"]
        entry[probe] = fields
    return entry


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
        curve.append({"delta_r2": record["value"], "delta_r2_ci": record_interval(record)})
    return curve


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


def _best_tap(
    name: str, target: str, scores: Scores, decisions: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """`best`: the dev-chosen tap's test metrics and what the summary estimates there."""
    own = scores.results[name]
    chosen = own.best(target)
    if chosen is None:
        return {"best": None, "best_reason": "every probe fit of every tap failed"}
    tap = chosen["tap"]
    return {
        "best": {
            **tap_fields(own, target, tap),
            "index": chosen["index"],
            "relative_depth": chosen["index"] / max(len(own.taps) - 1, 1),
            "selection_r2": chosen["selection_r2"],
            **over_duration_fields(scores.beyond_duration(name, target, tap)),
            "speaker_parts": scores.speaker_parts(name, target, tap),
            "selectivity": scores.selectivity(name, target, tap),
            "beyond_duration": decisions.get(ClaimId.beyond_duration(name, target, BEST).key),
        }
    }


def _best_minus_deepest(
    name: str,
    target: str,
    chosen: Mapping[str, Any] | None,
    decisions: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    """Whether the dev-chosen tap beats the embedding, or why that is not a claim."""
    key = ClaimId.best_vs_embedding(name, target).key
    if key in decisions:
        return {
            "best_minus_deepest": decisions[key],
            "middle_beats_deepest": decisions[key]["decided"],
        }
    if chosen is not None and chosen["tap"] == EMBEDDING_TAP:
        reason = "the tap chosen on dev is the embedding itself"
    elif chosen is None:
        reason = "every probe fit failed"
    else:
        reason = "not a claim of the paper (the model is a control)"
    return {
        "best_minus_deepest": None,
        "middle_beats_deepest": None,
        "middle_beats_deepest_reason": reason,
    }


def _versus_controls(
    name: str,
    target: str,
    controls: list[str],
    scores: Scores,
    decisions: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    """Each control's best tap and its comparison, the band of the controls' R², and whether
    the model beats every control."""
    entries = []
    for control in controls:
        decision = decisions.get(ClaimId.best_vs_control(name, target, control).key)
        control_best = scores.results[control].best(target)
        control_tap_fields = (
            tap_fields(scores.results[control], target, control_best["tap"]) if control_best else {}
        )
        entries.append({"name": control, **control_tap_fields, "comparison": decision})
    band = [t["r2"] for t in entries if t.get("r2") is not None]
    at_embedding = [tap_fields(scores.results[c], target, EMBEDDING_TAP) for c in controls]
    points = [t["r2"] for t in at_embedding if t["r2"] is not None]
    test = decisions.get(ClaimId.beats_every_control(name, target).key)
    section: dict[str, Any] = {
        "controls": entries,
        "control_band": [min(band), max(band)] if band else None,
        "control_embedding_band": [min(points), max(points)] if points else None,
        "beats_every_control": test,
        "beats_controls": None if test is None else test["decided"],
    }
    if not controls:
        section["beats_controls_reason"] = "no control model"
    return section
