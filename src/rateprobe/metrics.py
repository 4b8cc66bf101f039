"""Test metrics, regression and classification, as functions of per-speaker sums: each gets its
95% interval from the speaker bootstrap (rateprobe.bootstrap) at the cost of one matrix product."""

from __future__ import annotations

import numpy as np

from rateprobe.bootstrap import Estimate, SpeakerBootstrap, cluster_estimates

REGRESSION_METRICS = ("mse", "mae", "r2", "pearson_r")
# The values each metric can take: its printed interval never leaves them.
METRIC_RANGES = {
    "mse": (0.0, np.inf),
    "mae": (0.0, np.inf),
    "r2": (-np.inf, 1.0),
    "pearson_r": (-1.0, 1.0),
    "precision": (0.0, 1.0),
    "recall": (0.0, 1.0),
    "macro_f1": (0.0, 1.0),
    "accuracy": (0.0, 1.0),
}


def _regression_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from sums [..., 8] = n, Σy, Σy², Σp, Σp², Σyp, Σe², Σ|e| (e = y - p)."""
    n, sy, syy, sp, spp, syp, see, sae = np.moveaxis(sums, -1, 0)
    ss_y = syy - sy * sy / n
    ss_p = spp - sp * sp / n
    cov = syp - sy * sp / n
    # A constant prediction has no correlation; rounding can leave ss_p a hair above 0.
    constant_p = ss_p <= 1e-12 * np.maximum(spp, 1.0)
    return {
        "mse": see / n,
        "mae": sae / n,
        "r2": np.where(ss_y > 0, 1.0 - see / ss_y, np.nan),
        "pearson_r": np.where(constant_p, np.nan, cov / np.sqrt(ss_y * ss_p)),
    }


def _run_averaged_regression(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Regression metrics from sums [..., runs, 8], averaged over the runs."""
    return {name: values.mean(axis=-1) for name, values in _regression_from_sums(sums).items()}


def _per_utterance_terms(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    # Shifting y and p by one constant leaves every metric unchanged and keeps the sums small.
    shift = y.mean()
    y, p = y - shift, p - shift
    e = y - p
    return np.stack([np.ones_like(y), y, y * y, p, p * p, y * p, e * e, np.abs(e)], axis=-1)


def regression_estimates(
    y: np.ndarray, predictions: np.ndarray, boot: SpeakerBootstrap
) -> dict[str, Estimate]:
    """Each regression metric as an Estimate.

    `predictions` is (n_utts,) or (n_runs, n_utts): with several runs (e.g. MLP seeds) each
    metric is averaged over runs, in the point, every draw and every jackknife value alike.
    """
    y = np.asarray(y, dtype=np.float64)
    runs = np.atleast_2d(np.asarray(predictions, dtype=np.float64))
    if runs.shape[1] != y.shape[0]:
        raise ValueError(f"{runs.shape[1]} predictions for {y.shape[0]} targets")
    terms = np.stack([_per_utterance_terms(y, p) for p in runs], axis=1)  # (n, runs, 8)
    return cluster_estimates(boot.speaker_sums(terms), boot, _run_averaged_regression)


def regression_metrics(
    y: np.ndarray, predictions: np.ndarray, boot: SpeakerBootstrap
) -> dict[str, dict[str, float | None]]:
    """Each regression metric with its 95% studentised speaker-bootstrap interval."""
    return {
        name: e.record(METRIC_RANGES[name])
        for name, e in regression_estimates(y, predictions, boot).items()
    }


def paired_difference(
    y: np.ndarray,
    predictions_a: np.ndarray,
    predictions_b: np.ndarray,
    boot: SpeakerBootstrap,
    metric: str = "r2",
) -> dict[str, float | None]:
    """metric(a) - metric(b) on the same utterances: value, paired studentised interval and
    p-value."""
    a = regression_estimates(y, predictions_a, boot)[metric]
    b = regression_estimates(y, predictions_b, boot)[metric]
    return a.minus(b).comparison_record()


def classification_from_confusion(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Macro precision, recall and F1 over the classes present in the true labels, and
    accuracy, from confusion matrices [..., true, predicted]."""
    true_positive = np.diagonal(confusion, axis1=-2, axis2=-1)
    predicted = confusion.sum(axis=-2)
    actual = confusion.sum(axis=-1)
    present = actual > 0
    n_present = present.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A class never predicted has precision 0 (as sklearn's zero_division=0).
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(present, true_positive / actual, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
        # Means over the present classes (NaN when none is): an absent class has no true
        # positive, so it adds 0 to each sum.
        return {
            "precision": precision.sum(axis=-1) / n_present,
            "recall": recall.sum(axis=-1) / n_present,
            "macro_f1": f1.sum(axis=-1) / n_present,
            "accuracy": true_positive.sum(axis=-1) / confusion.sum(axis=(-2, -1)),
        }


def confusion_cells(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """One confusion matrix per utterance (n, true, predicted), a single 1; all zero for an
    utterance whose true label is -1 (unknown). Labels are integers 0..n_classes-1."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    known = np.flatnonzero(true >= 0)
    cells = np.zeros((len(true), n_classes, n_classes))
    cells[known, true[known], predicted[known]] = 1.0
    return cells


def macro_f1(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """Macro-F1 over the classes present in `true` (the one definition used everywhere)."""
    confusion = confusion_cells(true, predicted, n_classes).sum(axis=0)
    return float(classification_from_confusion(confusion)["macro_f1"])


def classification_metrics(
    true: np.ndarray, predicted: np.ndarray, n_classes: int, boot: SpeakerBootstrap
) -> dict[str, dict[str, float | None]]:
    """Macro precision/recall/F1 and accuracy over the classes present in `true`, with 95%
    studentised speaker-bootstrap intervals; utterances whose true label is -1 are left out."""
    per_speaker = boot.speaker_sums(confusion_cells(true, predicted, n_classes))
    estimates = cluster_estimates(per_speaker, boot, classification_from_confusion)
    return {name: estimate.record(METRIC_RANGES[name]) for name, estimate in estimates.items()}
