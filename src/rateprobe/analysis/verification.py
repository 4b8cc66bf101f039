"""Speaker-verification sanity check: cosine scores of test pairs and the equal error rate.

A pretrained speaker encoder must separate same-speaker from different-speaker pairs far
better than its random-initialised control; if it does not, its checkpoint or frontend is broken
and its probes mean nothing.

The rules of a verification trial live here for every check that scores trials (erasure, the
rate interventions): cosine scoring (`unit_length`), which same-speaker trials are targets
(`same_speaker_targets`) and how a speaker resample weights a trial (`speaker_bootstrapped_eer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rateprobe.bootstrap import Estimate, SpeakerBootstrap, speaker_weightings, weighted_estimate

CROSS_CHAPTER = "cross-chapter"
ALL_SAME_SPEAKER = "all same-speaker pairs"


def equal_error_rate(
    target_scores: np.ndarray,
    nontarget_scores: np.ndarray,
    target_weights: np.ndarray | None = None,
    nontarget_weights: np.ndarray | None = None,
) -> float:
    """The rate at which false acceptances equal false rejections.

    A trial is accepted when its score is >= the threshold. Sweeping the threshold over the
    distinct scores traces (FAR, FRR) points from (1, 0) to (0, 1); consecutive points are
    joined by straight segments, and the EER is where that path crosses FAR = FRR. Optional
    weights count a trial that many times (a bootstrap resample).
    """
    return float(_EERSweep(target_scores, nontarget_scores).eer(target_weights, nontarget_weights))


class _EERSweep:
    """Scores sorted once, so that many weightings of the same trials are cheap."""

    def __init__(self, target_scores: np.ndarray, nontarget_scores: np.ndarray) -> None:
        target_scores = np.asarray(target_scores, dtype=np.float64).ravel()
        nontarget_scores = np.asarray(nontarget_scores, dtype=np.float64).ravel()
        if target_scores.size == 0 or nontarget_scores.size == 0:
            raise ValueError("the EER needs at least one target and one non-target trial")
        scores = np.concatenate([target_scores, nontarget_scores])
        self.order = np.argsort(scores, kind="stable")
        self.n_targets = target_scores.size
        self.is_target = self.order < self.n_targets
        sorted_scores = scores[self.order]
        # Index of the first trial of each distinct score: thresholds sit there.
        self.group_starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])

    def eer(self, target_weights: np.ndarray | None, nontarget_weights: np.ndarray | None) -> float:
        n_nontargets = self.order.size - self.n_targets
        tw = np.ones(self.n_targets) if target_weights is None else target_weights
        nw = np.ones(n_nontargets) if nontarget_weights is None else nontarget_weights
        weights = np.concatenate([np.asarray(tw, float), np.asarray(nw, float)])[self.order]
        target_w = np.where(self.is_target, weights, 0.0)
        nontarget_w = weights - target_w
        total_target, total_nontarget = target_w.sum(), nontarget_w.sum()
        if total_target <= 0 or total_nontarget <= 0:
            return float("nan")
        # Weight strictly below each threshold, then one final threshold above every score.
        below_target = np.r_[0.0, np.cumsum(target_w)]
        below_nontarget = np.r_[0.0, np.cumsum(nontarget_w)]
        cut = np.r_[self.group_starts, weights.size]
        frr = below_target[cut] / total_target
        far = 1.0 - below_nontarget[cut] / total_nontarget
        gap = far - frr  # non-increasing, from +1 to -1
        j = int(np.argmax(gap <= 0))
        if gap[j] == 0:
            return float(far[j])
        step = gap[j - 1] / (gap[j - 1] - gap[j])
        return float(far[j - 1] + step * (far[j] - far[j - 1]))


def verification(
    embeddings: np.ndarray, boot: SpeakerBootstrap, chapter_ids: np.ndarray | None = None
) -> dict[str, Any]:
    """Cosine scores of pairs of `boot`'s utterances, and the EER with its 95% speaker-bootstrap
    BCa interval; `eer` is None with `eer_reason` when not computable.

    Non-target trials are all different-speaker pairs. Target trials are the same-speaker pairs
    that `same_speaker_targets` keeps: across chapters when `chapter_ids` (one per utterance)
    allow at least one, otherwise all (`target_trials` says which; `same_cos_mean` is over
    them); `speaker_bootstrapped_eer` weights them in a resample. `eer_draws` and
    `eer_jackknife` let `eer_estimate` rebuild the Estimate, e.g. to compare two models paired
    with `Estimate.minus`.
    """
    first, second = np.triu_indices(len(embeddings), k=1)
    first_speaker, second_speaker = boot.speaker_index[first], boot.speaker_index[second]
    same = first_speaker == second_speaker
    chapters = None if chapter_ids is None else np.asarray(chapter_ids).astype(str)
    other_chapter = None if chapters is None else chapters[first] != chapters[second]
    target, target_trials = same_speaker_targets(same, other_chapter)
    n_same, n_different = int(same.sum()), int((~same).sum())
    result: dict[str, Any] = {
        "n_same_pairs": n_same,
        "n_different_pairs": n_different,
        "n_target_pairs": int(target.sum()),
        "target_trials": target_trials,
    }
    if n_same == 0 or n_different == 0:
        reason = "the test split has a single speaker"
        if n_same == 0:
            reason = "no test speaker has two utterances"
        result.update(
            eer=None,
            eer_ci=None,
            eer_draws=None,
            eer_jackknife=None,
            eer_reason=reason,
            same_cos_mean=None,
            different_cos_mean=None,
        )
        return result
    unit = unit_length(embeddings)
    scores = np.einsum("pd,pd->p", unit[first], unit[second])
    nontarget = ~same
    estimate = speaker_bootstrapped_eer(
        scores[target],
        scores[nontarget],
        first_speaker[target],
        (first_speaker[nontarget], second_speaker[nontarget]),
        boot,
    )
    result.update(
        eer=estimate.point,
        eer_ci=estimate.interval(),
        eer_draws=estimate.draws,
        eer_jackknife=estimate.jackknife,
        same_cos_mean=float(scores[target].mean()),
        different_cos_mean=float(scores[~same].mean()),
    )
    return result


def unit_length(vectors: np.ndarray) -> np.ndarray:
    """Rows of `vectors` scaled to unit length (a zero row stays zero): the cosine score of two
    embeddings is the dot product of theirs."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def same_speaker_targets(
    same: np.ndarray, other_chapter: np.ndarray | None
) -> tuple[np.ndarray, str]:
    """The target trials among the same-speaker trials `same` (a mask), and their description.

    Those across chapters (`other_chapter`: the two utterances' chapters differ, None when
    unknown) when there is at least one, so that a shared recording session cannot pass for
    speaker identity; otherwise all of them.
    """
    if other_chapter is not None:
        cross_chapter = same & other_chapter
        if cross_chapter.any():
            return cross_chapter, CROSS_CHAPTER
    return same, ALL_SAME_SPEAKER


def speaker_bootstrapped_eer(
    target_scores: np.ndarray,
    nontarget_scores: np.ndarray,
    target_speaker: np.ndarray,
    nontarget_speakers: tuple[np.ndarray, np.ndarray],
    boot: SpeakerBootstrap,
) -> Estimate:
    """The EER of the trials as a BCa speaker-bootstrap Estimate.

    A resample counts a target trial once per draw of its speaker (`target_speaker`, indices
    into `boot`'s speakers) and a non-target trial once per pair of draws of its two speakers
    (`nontarget_speakers`); the jackknife leaves each speaker out in turn.
    """
    sweep = _EERSweep(target_scores, nontarget_scores)
    first, second = nontarget_speakers
    eers = np.array(
        [sweep.eer(w[target_speaker], w[first] * w[second]) for w in speaker_weightings(boot)]
    )
    return weighted_estimate(eers, boot)


def eer_estimate(result: Mapping[str, Any]) -> Estimate | None:
    """The EER Estimate of a `verification` result (or of its stored eer, eer_draws and
    eer_jackknife); None when the EER was not computable."""
    if result["eer"] is None:
        return None
    return Estimate(
        float(result["eer"]),
        np.asarray(result["eer_draws"], dtype=np.float64),
        np.asarray(result["eer_jackknife"], dtype=np.float64),
    )
