"""The control task of a probe (Hewitt & Liang, 2019): the labels kept, their tie to the audio
broken.

A probe's test R² says what the features and the probe together can do; a probe flexible
enough to memorise would score on any labels with enough structure. Hewitt & Liang's control
task keeps the label distribution but assigns labels so that only memorisation can predict
them; selectivity is the probe's score on the real task minus its score on the control task.
Here the labels of a split are dealt between speakers: speaker by speaker, in a shuffled order,
each speaker receives the labels of the next speaker in that order. The control labels are a
permutation of the real ones (the same distribution), constant in their source within a
speaker (the structure a probe of speaker identity could memorise), and unrelated to each
utterance's own rate.
"""

from __future__ import annotations

import numpy as np

CONTROL_TASK = "speaker_permuted"


def control_target(target: str) -> str:
    """The name under which a target's control-task predictions are stored."""
    return f"{target}@{CONTROL_TASK}"


def speaker_permuted(labels: np.ndarray, speaker_ids: np.ndarray, seed: int) -> np.ndarray:
    """`labels` dealt between speakers as the module says; deterministic in `seed`.

    Utterances are taken in speaker blocks: the receiving order lists each speaker's
    utterances in the shuffled speaker order, the giving order the same blocks shifted by one
    speaker. With unequal block sizes a few labels cross a block boundary, but no speaker
    keeps its own block (given two speakers or more).
    """
    labels = np.asarray(labels, dtype=np.float64)
    speakers, codes = np.unique(np.asarray(speaker_ids, dtype=str), return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(speakers))
    rank = np.empty(len(speakers), dtype=np.int64)
    rank[order] = np.arange(len(speakers))
    receiving = np.argsort(rank[codes], kind="stable")
    giving = np.argsort((rank[codes] - 1) % len(speakers), kind="stable")
    permuted = np.empty_like(labels)
    permuted[receiving] = labels[giving]
    return permuted
