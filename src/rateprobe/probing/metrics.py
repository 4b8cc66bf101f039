"""Test metrics with 95% intervals from a bootstrap that resamples speakers.

Utterances of one speaker are not independent, so every interval here draws whole speakers
with replacement. Each metric is a function of per-speaker sums, so a resample is a weighted
sum (speaker counts times per-speaker sums) and a thousand resamples cost one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REGRESSION_METRICS = ("mse", "mae", "r2", "pearson_r")
CONFIDENCE = 0.95


@dataclass(frozen=True)
class SpeakerBootstrap:
    """Resamples of the speakers of one evaluation set.

    `speaker_index[i]` is utterance i's speaker (0..n_speakers-1); `counts[b, s]` how often
    speaker s is drawn in resample b.
    """

    speakers: np.ndarray
    speaker_index: np.ndarray
    counts: np.ndarray

    @property
    def n_speakers(self) -> int:
        return len(self.speakers)

    def speaker_sums(self, values: np.ndarray) -> np.ndarray:
        """Per-speaker sums of `values` (n_utts, ...) -> (n_speakers, ...)."""
        sums = np.zeros((self.n_speakers, *values.shape[1:]), dtype=np.float64)
        np.add.at(sums, self.speaker_index, values)
        return sums


def speaker_bootstrap(speaker_ids: np.ndarray, n_resamples: int, seed: int) -> SpeakerBootstrap:
    """Draw `n_resamples` resamples of the speakers in `speaker_ids` (one entry per utterance)."""
    speakers, speaker_index = np.unique(np.asarray(speaker_ids).astype(str), return_inverse=True)
    n_speakers = len(speakers)
    draws = np.random.default_rng(seed).integers(0, n_speakers, size=(n_resamples, n_speakers))
    counts = np.zeros((n_resamples, n_speakers), dtype=np.float64)
    np.add.at(counts, (np.arange(n_resamples)[:, None], draws), 1.0)
    return SpeakerBootstrap(speakers=speakers, speaker_index=speaker_index, counts=counts)


def percentile_interval(draws: np.ndarray) -> tuple[float, float] | None:
    """The central 95% of the finite bootstrap draws, or None when there are none."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return None
    tail = 100.0 * (1.0 - CONFIDENCE) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def _regression_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from sums [..., 8] = n, Σy, Σy², Σp, Σp², Σyp, Σe², Σ|e| (e = y - p)."""
    n, sy, syy, sp, spp, syp, see, sae = np.moveaxis(sums, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ss_y = syy - sy * sy / n
        ss_p = spp - sp * sp / n
        cov = syp - sy * sp / n
        # A constant prediction has no correlation; rounding can leave ss_p a hair above 0.
        constant_p = ss_p <= 1e-12 * np.maximum(spp, 1.0)
        pearson = np.where(constant_p, np.nan, cov / np.sqrt(ss_y * ss_p))
        return {
            "mse": see / n,
            "mae": sae / n,
            "r2": np.where(ss_y > 0, 1.0 - see / ss_y, np.nan),
            "pearson_r": pearson,
        }


def _per_utterance_terms(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    # Shifting y and p by one constant leaves every metric unchanged and keeps the sums small.
    shift = y.mean()
    y, p = y - shift, p - shift
    e = y - p
    return np.stack([np.ones_like(y), y, y * y, p, p * p, y * p, e * e, np.abs(e)], axis=-1)


def regression_draws(
    y: np.ndarray, predictions: np.ndarray, boot: SpeakerBootstrap
) -> dict[str, tuple[float, np.ndarray]]:
    """Point value and bootstrap draws of each regression metric.

    `predictions` is (n_utts,) or (n_runs, n_utts): with several runs (e.g. MLP seeds) each
    metric is averaged over runs, in the point value and in every resample alike.
    """
    y = np.asarray(y, dtype=np.float64)
    runs = np.atleast_2d(np.asarray(predictions, dtype=np.float64))
    if runs.shape[1] != y.shape[0]:
        raise ValueError(f"{runs.shape[1]} predictions for {y.shape[0]} targets")
    terms = np.stack([_per_utterance_terms(y, p) for p in runs], axis=1)  # (n, runs, 8)
    per_speaker = boot.speaker_sums(terms)  # (S, runs, 8)
    point = _regression_from_sums(per_speaker.sum(axis=0))
    resampled = _regression_from_sums(np.einsum("bs,srk->brk", boot.counts, per_speaker))
    out = {}
    for name in REGRESSION_METRICS:
        with np.errstate(invalid="ignore"):
            point_value = float(np.mean(point[name]))
            draws = np.mean(resampled[name], axis=1)
        out[name] = (point_value, draws)
    return out


def metric_record(point: float, draws: np.ndarray) -> dict[str, float | None]:
    """{value, ci_low, ci_high}, with None where the value cannot be computed."""
    if not np.isfinite(point):
        return {"value": None, "ci_low": None, "ci_high": None}
    interval = percentile_interval(draws)
    low, high = interval if interval is not None else (None, None)
    return {"value": float(point), "ci_low": low, "ci_high": high}


def regression_metrics(
    y: np.ndarray, predictions: np.ndarray, boot: SpeakerBootstrap
) -> dict[str, dict[str, float | None]]:
    """Each regression metric with its 95% speaker-bootstrap interval."""
    return {
        name: metric_record(point, draws)
        for name, (point, draws) in regression_draws(y, predictions, boot).items()
    }


def paired_difference(
    y: np.ndarray,
    predictions_a: np.ndarray,
    predictions_b: np.ndarray,
    boot: SpeakerBootstrap,
    metric: str = "r2",
) -> dict[str, float | None]:
    """metric(a) - metric(b) on the same utterances, with a paired speaker-bootstrap interval."""
    point_a, draws_a = regression_draws(y, predictions_a, boot)[metric]
    point_b, draws_b = regression_draws(y, predictions_b, boot)[metric]
    return metric_record(point_a - point_b, draws_a - draws_b)


def _classification_from_confusion(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Macro precision, recall and F1 from confusion matrices [..., true, predicted]."""
    true_positive = np.diagonal(confusion, axis1=-2, axis2=-1)
    predicted = confusion.sum(axis=-2)
    actual = confusion.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A class never predicted has precision 0 (as sklearn's zero_division=0).
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(actual > 0, true_positive / actual, np.nan)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
        f1 = np.where(actual > 0, f1, np.nan)
        present = actual > 0
        precision = np.where(present, precision, np.nan)
    return {
        "precision": np.nanmean(precision, axis=-1),
        "recall": np.nanmean(recall, axis=-1),
        "macro_f1": np.nanmean(f1, axis=-1),
        "accuracy": true_positive.sum(axis=-1) / confusion.sum(axis=(-2, -1)),
    }


def classification_metrics(
    true: np.ndarray, predicted: np.ndarray, n_classes: int, boot: SpeakerBootstrap
) -> dict[str, dict[str, float | None]]:
    """Macro precision/recall/F1 and accuracy over the classes present in `true`, with
    95% speaker-bootstrap intervals. Labels are integers 0..n_classes-1; utterances whose
    true label is -1 (unknown) are left out."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    known = np.flatnonzero(true >= 0)
    cells = np.zeros((len(true), n_classes, n_classes))
    cells[known, true[known], predicted[known]] = 1.0
    per_speaker = boot.speaker_sums(cells)
    point = _classification_from_confusion(per_speaker.sum(axis=0))
    with np.errstate(invalid="ignore"):
        resampled = _classification_from_confusion(
            np.einsum("bs,sij->bij", boot.counts, per_speaker)
        )
    return {name: metric_record(float(point[name]), resampled[name]) for name in point}
