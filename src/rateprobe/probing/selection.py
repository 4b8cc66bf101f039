"""Choosing between probes on dev without favouring the one tuned hardest, and the speaker
folds that both dev halves and the ridge penalty's cross-validation (rateprobe.probing.ridge)
are cut into.

The MLP tunes itself on dev: one of up to hundreds of early-stopping epochs per network. The
dev error at the chosen epoch is then optimistic, more so the more candidates there are. So the
score that compares families (and taps) is cross-fitted: the dev speakers are cut into two
halves, each half picks the setting, and that setting is scored on the other half,

    crossfit MSE = (SSE_B(argmin_k SSE_A(k)) + SSE_A(argmin_k SSE_B(k))) / n_dev,

an honest estimate of the tuned family's error whatever the number of candidates k. Ridge
takes its penalty from cross-validation over the training speakers instead, so dev sees one
candidate and its plain dev error is already the honest score (the formula with k = 1).
"""

from __future__ import annotations

import numpy as np

from rateprobe.inputs import ProbeInputError


def speaker_folds(speaker_ids: np.ndarray, n_folds: int, seed: int, split: str) -> np.ndarray:
    """0..n_folds-1 per utterance of `split`: the speakers, shuffled with `seed`, are dealt to
    the folds in turn, so every speaker's utterances share a fold and fold sizes differ by at
    most one speaker. Fewer speakers than folds give one fold per speaker (leave one speaker
    out); fewer than two speakers cannot be cut."""
    speakers, index = np.unique(np.asarray(speaker_ids).astype(str), return_inverse=True)
    if len(speakers) < 2:
        raise ProbeInputError(
            f"the {split} split has {len(speakers)} speaker(s); its speaker folds need at "
            "least 2 (corpus.splits or corpus.carve_by_speaker.fractions)"
        )
    order = np.random.default_rng(seed).permutation(len(speakers))
    fold_of_speaker = np.empty(len(speakers), dtype=np.int64)
    fold_of_speaker[order] = np.arange(len(speakers)) % n_folds
    return fold_of_speaker[index]


def dev_halves(speaker_ids: np.ndarray, seed: int) -> np.ndarray:
    """0 or 1 per dev utterance: two speaker folds of the dev split."""
    return speaker_folds(speaker_ids, 2, seed, "dev")


def half_sums(squared_errors: np.ndarray, halves: np.ndarray) -> np.ndarray:
    """Summed squared errors (..., n_dev) per dev half -> (..., 2)."""
    return np.stack(
        [
            squared_errors[..., halves == 0].sum(axis=-1),
            squared_errors[..., halves == 1].sum(axis=-1),
        ],
        axis=-1,
    )


def crossfit_mse(candidate_sums: np.ndarray, n_dev: int) -> np.ndarray:
    """Cross-fitted dev MSE from half sums (n_candidates, ..., 2); a candidate a network may
    not take (an epoch after it stopped) has sum +inf."""
    picked = np.argmin(candidate_sums, axis=0)  # (..., 2): each half's choice
    other_half = candidate_sums[..., ::-1]
    out_of_half = np.take_along_axis(other_half, picked[None], axis=0)[0]
    return out_of_half.sum(axis=-1) / n_dev
