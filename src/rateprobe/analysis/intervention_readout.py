"""The slope's probe: the probing stage's ridge probe refitted on natural train activations and
read on the tempo-changed variants, per tap and target (the "Slope" paragraph of
rateprobe.analysis.intervention_effects)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rateprobe.analysis.intervention_statistics import Variants, slope_estimate, slope_record
from rateprobe.bootstrap import SpeakerBootstrap
from rateprobe.features import Standardiser, gram_eigen
from rateprobe.inputs import SplitActivations

MIN_TARGET_CHANGE = 0.05


def ridge_readout(
    train_features: np.ndarray,
    train_targets: np.ndarray,
    alphas: Sequence[float],
    features: Sequence[np.ndarray],
) -> list[np.ndarray]:
    """Predictions (n, n_targets) for each matrix in `features` of ridge probes fitted on train,
    target t with alphas[t], exactly as rateprobe.probing fits them (Standardiser, gram_eigen)."""
    standardiser = Standardiser.fit(train_features)
    eigen = gram_eigen(standardiser.transform(train_features), train_targets)
    diagonal = np.arange(len(alphas))
    weights = eigen.weights(np.asarray(alphas, dtype=np.float64))[:, diagonal, diagonal]
    return [standardiser.transform(f) @ weights + eigen.target_mean for f in features]


def chosen_alphas(
    analysis: Mapping[str, Any], targets: Sequence[str]
) -> dict[str, dict[str, float]]:
    """{tap: {target: ridge alpha}} from the probing stage's analysis JSON."""
    alphas: dict[str, dict[str, float]] = {}
    for target in targets:
        for entry in analysis["selection"][target]:
            alphas.setdefault(entry["tap"], {})[target] = float(entry["ridge"]["alpha"])
    return alphas


def _r2(y: np.ndarray, predicted: np.ndarray) -> float | None:
    variance = float(np.var(y))
    return 1.0 - float(np.mean((y - predicted) ** 2)) / variance if variance > 0 else None


def probe_slopes(
    acts: Mapping[str, SplitActivations],
    y: Mapping[str, np.ndarray],
    targets: Sequence[str],
    alphas: Mapping[str, Mapping[str, float]],
    variants: Variants,
    boot: SpeakerBootstrap,
    probe_result_path: str | Path,
) -> dict[str, list[dict[str, Any]]]:
    """Per target, one `slopes` entry per tap in network order (keys: module docstring): the
    ridge probe refitted on the natural train split with the probing stage's `alphas`
    ({tap: {target: alpha}}, from `probe_result_path`), read on `acts` and labels `y` of the
    train, test and interventions splits."""
    slopes: dict[str, list[dict[str, Any]]] = {target: [] for target in targets}
    for index, tap in enumerate(acts["train"].layer_names):
        if tap not in alphas:
            raise ValueError(f"{probe_result_path}: no ridge alpha for tap '{tap}'")
        natural, manipulated = ridge_readout(
            acts["train"].tap(tap),
            y["train"],
            [alphas[tap][t] for t in targets],
            [acts["test"].tap(tap), acts["interventions"].tap(tap)],
        )
        for t, target in enumerate(targets):
            slopes[target].append(
                {
                    "tap": tap,
                    "index": index,
                    "alpha": alphas[tap][target],
                    "natural_test_r2": _r2(y["test"][:, t], natural[:, t]),
                    "interventions": tap_slopes(
                        natural[:, t],
                        manipulated[:, t],
                        y["test"][:, t],
                        y["interventions"][:, t],
                        (float(y["train"][:, t].min()), float(y["train"][:, t].max())),
                        variants,
                        boot,
                    ),
                }
            )
    return slopes


def tap_slopes(
    natural: np.ndarray,
    manipulated: np.ndarray,
    y_natural: np.ndarray,
    y_manipulated: np.ndarray,
    train_range: tuple[float, float],
    variants: Variants,
    boot: SpeakerBootstrap,
) -> dict[str, dict[str, Any]]:
    """Per intervention kind, the slope of one target at one tap: `natural` (n_test,) and
    `manipulated` (n_variants,) predictions, with their true labels; `train_range` is the
    target's range on natural train utterances."""
    source = variants.source_row
    outside = (y_manipulated < train_range[0]) | (y_manipulated > train_range[1])
    delta_prediction = manipulated - natural[source]
    delta_true = y_manipulated - y_natural[source]
    relative = delta_true / y_natural[source]
    out = {}
    for kind in sorted(set(variants.intervention.tolist())):
        rows = variants.where(kind)
        change = float(np.sqrt(np.mean(relative[rows] ** 2)))
        entry: dict[str, Any] = {
            "n_variants": int(rows.sum()),
            "n_outside_train_range": int(outside[rows].sum()),
            "target_change": change,
            "mean_target_shift": float(np.mean(delta_true[rows])),
            "mean_prediction_shift": float(np.mean(delta_prediction[rows])),
        }
        if change < MIN_TARGET_CHANGE:
            entry["slope"] = None
            entry["slope_reason"] = (
                f"the intervention changes this target by {change:.1%} (RMS), below "
                f"{MIN_TARGET_CHANGE:.0%}: it is built to leave it alone"
            )
        else:
            estimate = slope_estimate(
                delta_prediction[rows], delta_true[rows], variants.speaker_index[rows], boot
            )
            entry["slope"] = slope_record(estimate)
        out[kind] = entry
    return out
