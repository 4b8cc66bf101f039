"""Choosing between probes on dev without favouring the one tuned hardest.

Each probe family tunes itself on dev: ridge picks one of a few alphas, the MLP one of up to
hundreds of early-stopping epochs per network. The dev error at the chosen setting is then
optimistic, and more so for the family with more candidates. So the score that compares
families (and taps) is cross-fitted: the dev speakers are cut into two halves, each half picks
the family's setting, and that setting is scored on the other half,

    crossfit MSE = (SSE_B(argmin_k SSE_A(k)) + SSE_A(argmin_k SSE_B(k))) / n_dev,

an honest estimate of the tuned family's error whatever the number of candidates k.
"""

from __future__ import annotations

import numpy as np

from rateprobe.inputs import ProbeInputError


def dev_halves(speaker_ids: np.ndarray, seed: int) -> np.ndarray:
    """0 or 1 per dev utterance: the speakers, shuffled with `seed`, alternate between halves
    (speaker-disjoint, as balanced as the speaker count allows)."""
    speakers, index = np.unique(np.asarray(speaker_ids).astype(str), return_inverse=True)
    if len(speakers) < 2:
        raise ProbeInputError(
            f"the dev split has {len(speakers)} speaker(s); choosing between probes needs "
            "at least 2 (corpus.splits or corpus.carve_by_speaker.fractions)"
        )
    order = np.random.default_rng(seed).permutation(len(speakers))
    half_of_speaker = np.empty(len(speakers), dtype=np.int64)
    half_of_speaker[order] = np.arange(len(speakers)) % 2
    return half_of_speaker[index]


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
