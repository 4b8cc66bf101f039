"""The probe's control task (labels dealt between speakers) and held-out SVCCA, the latter
cross-checked against scikit-learn's CCA."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cross_decomposition import CCA

from rateprobe.analysis.cca import svcca
from rateprobe.probing.control_task import speaker_permuted


def test_control_labels_are_the_same_labels_given_to_other_speakers() -> None:
    speakers = np.repeat([f"s{i}" for i in range(6)], 4)
    labels = np.arange(24, dtype=float)
    permuted = speaker_permuted(labels, speakers, seed=3)
    assert sorted(permuted) == sorted(labels)  # the label distribution is kept exactly
    for speaker in np.unique(speakers):
        own = labels[speakers == speaker]
        given = permuted[speakers == speaker]
        # Equal blocks: each speaker receives one other speaker's whole block.
        assert not set(given) & set(own)
        assert len({int(v) // 4 for v in given}) == 1
    assert np.array_equal(permuted, speaker_permuted(labels, speakers, seed=3))
    assert not np.array_equal(permuted, speaker_permuted(labels, speakers, seed=4))


def test_unequal_speaker_blocks_still_give_a_permutation() -> None:
    rng = np.random.default_rng(0)
    speakers = np.array([f"s{i}" for i in rng.integers(0, 7, size=40)])
    labels = rng.normal(size=40)
    assert sorted(speaker_permuted(labels, speakers, seed=0)) == sorted(labels)


def views(n: int, shared: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(n, 3))
    a = np.hstack([common, rng.normal(size=(n, 5))]) @ rng.normal(size=(8, 8))
    b = np.hstack([shared * common, rng.normal(size=(n, 4))]) @ rng.normal(size=(7, 7))
    return a, b


def test_svcca_in_sample_correlations_match_scikit_learn() -> None:
    a, b = views(400, shared=1.0)
    k = 4
    ours = svcca((a, b), (a, b), k)
    # scikit-learn on the same principal-component views.
    reduced = []
    for view in (a, b):
        centred = view - view.mean(axis=0)
        reduced.append(centred @ np.linalg.svd(centred, full_matrices=False)[2][:k].T)
    x_scores, y_scores = CCA(n_components=k, max_iter=5000, tol=1e-10).fit_transform(*reduced)
    theirs = [abs(np.corrcoef(x_scores[:, i], y_scores[:, i])[0, 1]) for i in range(k)]
    assert ours["in_sample"] == pytest.approx(np.mean(theirs), abs=1e-4)
    assert ours["heldout"] == pytest.approx(ours["in_sample"], abs=1e-9)  # same data scored


def test_held_out_svcca_sees_shared_structure_and_not_noise() -> None:
    a, b = views(600, shared=1.0)
    related = svcca((a[:400], b[:400]), (a[400:], b[400:]), 6)
    a_noise, b_noise = views(600, shared=0.0, seed=1)
    # Few fitting utterances: in-sample canonical correlations of noise are large, held-out not.
    unrelated = svcca((a_noise[:40], b_noise[:40]), (a_noise[40:], b_noise[40:]), 6)
    assert related["heldout"] > 0.35
    assert abs(unrelated["heldout"]) < 0.1 and unrelated["in_sample"] > 0.2
