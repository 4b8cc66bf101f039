"""The summary's study-level sections: the run's settings, the corpus, the models compared,
the sanity checks, the causal interventions and the figures."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from rateprobe.conventions import EMBEDDING_TAP, PRIMARY_TARGET, figure_files
from rateprobe.decisions import ALPHA, CHECK, CORRECTION, PRIMARY
from rateprobe.features import SCALE_FLOOR
from rateprobe.probing.health import COLLAPSED_SPREAD, FAILED_FIT_MSE_RATIO
from rateprobe.probing.names import CONDITIONAL, PROBES
from rateprobe.probing.ridge import PATH_LIMIT_SHRINKAGE
from rateprobe.results.claim_ids import ClaimId, Scope
from rateprobe.results.estimates import Scores
from rateprobe.results.loading import ModelResults
from rateprobe.results.model_sections import IMPLAUSIBLE_EER_FACTOR

SOFTWARE = ("torch", "numpy", "scikit-learn", "snakemake")


def run_section(
    cfg: dict[str, Any], n_test_speakers: int, blocked: str | None, sizes: Mapping[str, int]
) -> dict[str, Any]:
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
        "probe_settings": _probe_settings(probes),
        "claims": _claim_settings(probes, n_test_speakers, blocked, sizes),
        "tsne_perplexity": analysis["tsne"]["perplexity"],
        "cca_pca_components": analysis["cca"]["pca_components"],
        "software": _software(),
    }


def _probe_settings(probes: Mapping[str, Any]) -> dict[str, Any]:
    return {
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
    }


def _claim_settings(
    probes: Mapping[str, Any], n_test_speakers: int, blocked: str | None, sizes: Mapping[str, int]
) -> dict[str, Any]:
    least_p = 1.0 / (probes["bootstrap"]["n"] + 1)
    return {
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
    }


def _software() -> dict[str, str]:
    versions = {"rateprobe": metadata.version("rateprobe")}
    for package in SOFTWARE:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def corpus_section(
    manifests: Mapping[str, pd.DataFrame], bad_reports: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    splits = {split: _split_stats(frame, bad_reports[split]) for split, frame in manifests.items()}
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
        # rateprobe.inputs.read_manifests refuses splits that share a speaker.
        "speaker_disjoint": True,
    }


def _split_stats(frame: pd.DataFrame, bad_report: Mapping[str, Any]) -> dict[str, Any]:
    speakers = frame.drop_duplicates("speaker_id")
    sex = speakers["sex"] if "sex" in speakers.columns else pd.Series([], dtype=str)
    entry: dict[str, Any] = {
        "n_utterances": len(frame),
        "n_speakers": len(speakers),
        "n_female": int((sex == "F").sum()),
        "n_male": int((sex == "M").sum()),
        "hours": float(frame["duration_s"].sum() / 3600.0),
        "mean_duration_s": float(frame["duration_s"].mean()),
        "bad_skipped": int(sum(bad_report.get("skipped", {}).values())),
    }
    for column in ("cps", "articulation_rate"):
        if column in frame.columns:
            values = frame[column].to_numpy(dtype=np.float64)
            entry[f"{column}_mean"] = float(values.mean())
            entry[f"{column}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else None
            entry[f"{column}_min"] = float(values.min())
            entry[f"{column}_max"] = float(values.max())
    return entry


def comparisons_section(
    names: list[str], target: str, scores: Scores, decisions: Mapping[str, Any]
) -> dict[str, Any]:
    """The studied models ranked at their best taps (with whether the leader beats every
    other) and at their embeddings, with each pair's paired test."""
    best_tap = _ranking(names, target, "best_tap", scores, decisions)
    test = decisions.get(ClaimId.leader_beats_every_model(target).key)
    return {
        **best_tap,
        "leader_beats_every_model": test,
        "best_model_clearly_best": True if test and test["decided"] else None,
        "embedding": _ranking(names, target, "embedding", scores, decisions),
    }


def _ranking(
    names: list[str], target: str, scope: Scope, scores: Scores, decisions: Mapping[str, Any]
) -> dict[str, Any]:
    estimates = {
        name: scores.best_r2(name, target)
        if scope == "best_tap"
        else scores.r2(name, target, EMBEDDING_TAP)
        for name in names
    }
    healthy = [name for name in names if estimates[name] is not None]
    r2 = {name: estimates[name].point for name in healthy}  # type: ignore[union-attr]
    ranking = sorted(healthy, key=lambda n: (-r2[n], names.index(n)))
    pairs = [
        {"a": a, "b": b, **decisions[ClaimId.model_pair(target, scope, a, b).key]}
        for a, b in combinations(healthy, 2)
    ]
    return {
        "ranking": ranking,
        "r2": r2,
        "failed_models": [name for name in names if name not in healthy],
        "best_model": ranking[0] if ranking else None,
        "pairs": pairs,
    }


def sanity_section(models: Mapping[str, Any], targets: list[str]) -> dict[str, Any]:
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


def _collapsed(prediction_spread: float | None) -> bool:
    return prediction_spread is not None and prediction_spread < COLLAPSED_SPREAD


def interventions_section(
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
        data = own.interventions or {}
        models[name] = {
            "slopes": _intervention_slopes(name, own, decisions),
            "drift": data["drift"],
            "verification": data["verification"],
        }
    first = results[done[0]].interventions or {}
    return {"target": PRIMARY_TARGET, "conditions": first["conditions"], "models": models}


def _intervention_slopes(
    name: str, results: ModelResults, decisions: Mapping[str, Any]
) -> dict[str, Any]:
    """Per reported tap, each intervention's slope with its two decisions."""
    claim = ClaimId.intervention
    slopes = {}
    for label, tap in results.intervention_taps().items():
        slopes[label] = {
            "tap": tap,
            **{
                kind: {
                    **slope,
                    "tracks": decisions.get(claim(name, PRIMARY_TARGET, label, kind, "tracks").key),
                    "partial": decisions.get(
                        claim(name, PRIMARY_TARGET, label, kind, "partial").key
                    ),
                }
                for kind, slope in results.intervention_slopes(PRIMARY_TARGET, tap).items()
            },
        }
    return slopes


def figures_section(targets: list[str], results: Mapping[str, ModelResults]) -> dict[str, str]:
    """Each figure's file, relative to results/."""
    interventions = any(r.interventions for r in results.values())
    return {key: f"figures/{file}" for key, file in figure_files(targets, interventions).items()}
