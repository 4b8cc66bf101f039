"""LEACE erasure of the speech-rate subspace and the paired change of the verification EER."""

from __future__ import annotations

import numpy as np
import pytest

from rateprobe.analysis.erasure import eer_after_erasure, fit_leace, linear_r2
from rateprobe.analysis.verification import verification
from rateprobe.bootstrap import speaker_bootstrap

DIMENSIONS = 16
RATE_DIRECTION = np.eye(DIMENSIONS)[1]


def correlated_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features with an uneven spectrum and a non-zero mean, and a concept linear in them."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d)) * np.linspace(3.0, 0.1, d) + 5.0
    concept = features @ rng.normal(size=d) + rng.normal(size=n)
    return features, concept


def cross_covariance(features: np.ndarray, concept: np.ndarray) -> np.ndarray:
    return (features - features.mean(axis=0)).T @ (concept - concept.mean()) / len(concept)


@pytest.mark.parametrize(("n", "d"), [(40, 120), (300, 12)])
def test_erased_train_features_do_not_covary_with_the_concept(n: int, d: int) -> None:
    features, concept = correlated_data(n, d, seed=n)
    erased = fit_leace(features, concept)(features)
    before = np.linalg.norm(cross_covariance(features, concept))
    assert np.linalg.norm(cross_covariance(erased, concept)) < 1e-12 * before
    assert linear_r2(features, concept) > 0.5
    assert linear_r2(erased, concept) < 1e-12


@pytest.mark.parametrize(("n", "d"), [(40, 120), (300, 12)])
def test_erasure_moves_points_least_and_only_along_the_cross_covariance(n: int, d: int) -> None:
    features, concept = correlated_data(n, d, seed=n + 1)
    eraser = fit_leace(features, concept)
    sigma = cross_covariance(features, concept)
    whitening = np.linalg.pinv(np.cov(features.T, bias=True), rcond=1e-10, hermitian=True)
    rng = np.random.default_rng(0)
    # Whitened-orthogonal directions are left alone; every displacement is along Σ_xz.
    direction = rng.normal(size=d)
    direction -= sigma * (sigma @ whitening @ direction) / (sigma @ whitening @ sigma)
    point = eraser.mean + direction
    np.testing.assert_allclose(eraser(point), point, atol=1e-9)
    displacement = eraser(features) - features
    assert np.linalg.matrix_rank(np.column_stack([displacement.T, sigma]), tol=1e-9) == 1
    # Brute force: other erasers x - (D* + E)(x - μ) with E Σ_xz = 0 move train points more.
    centred = features - features.mean(axis=0)
    for metric in (np.eye(d), whitening):
        least = np.mean(np.einsum("nd,de,ne->n", displacement, metric, displacement))
        for _ in range(50):
            other = 0.1 * rng.normal(size=(d, d))
            other -= np.outer(other @ sigma, sigma) / (sigma @ sigma)
            moved = displacement - centred @ other.T
            assert np.linalg.norm(cross_covariance(features + moved, concept)) < 1e-9
            assert np.mean(np.einsum("nd,de,ne->n", moved, metric, moved)) > least


def speakers_with_rate(
    rng: np.random.Generator, n_speakers: int, rate_only: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings, CPS and speaker ids of five utterances per speaker.

    Planted identity: a random identity vector per speaker plus a CPS drawn per utterance
    along RATE_DIRECTION. Rate only: a constant vector plus the speaker's own CPS along
    RATE_DIRECTION, so that the angle between embeddings tells speakers apart by rate alone.
    """
    speakers = np.repeat(np.arange(n_speakers), 5)
    if rate_only:
        cps = rng.uniform(10.0, 20.0, n_speakers)[speakers] + rng.normal(0.0, 0.1, len(speakers))
        embeddings = 3.0 * np.eye(DIMENSIONS)[0] + np.outer(cps - 15.0, RATE_DIRECTION)
        noise = 0.05
    else:
        cps = rng.normal(15.0, 2.0, len(speakers))
        identity = rng.normal(size=(n_speakers, DIMENSIONS))
        embeddings = identity[speakers] + 0.3 * np.outer(cps - 15.0, RATE_DIRECTION)
        noise = 0.5
    return embeddings + rng.normal(0.0, noise, embeddings.shape), cps, speakers


def erasure_on_planted_speakers(rate_only: bool) -> dict:
    rng = np.random.default_rng(0)
    train_embeddings, train_cps, _ = speakers_with_rate(rng, 40, rate_only)
    test_embeddings, _, test_speakers = speakers_with_rate(rng, 20, rate_only)
    boot = speaker_bootstrap(test_speakers, n_resamples=300, seed=1)
    original = verification(test_embeddings, boot)
    return eer_after_erasure(train_embeddings, train_cps, test_embeddings, original, boot)


def test_erasing_rate_keeps_the_eer_when_identity_lies_elsewhere() -> None:
    result = erasure_on_planted_speakers(rate_only=False)
    change = result["eer_change"]
    assert result["original_eer"] < 0.1
    assert change["ci_low"] <= 0.0 <= change["ci_high"] or abs(change["value"]) < 0.02
    assert change["value"] == pytest.approx(result["eer"] - result["original_eer"])
    assert result["train_r2_after_erasure"] < 1e-12


def test_erasing_rate_destroys_verification_when_rate_is_the_identity() -> None:
    result = erasure_on_planted_speakers(rate_only=True)
    change = result["eer_change"]
    assert result["original_eer"] < 0.15
    assert result["eer"] > 0.4
    assert result["eer_ci"][0] > 0.3
    assert change["ci_low"] > 0.2
    assert change["p_value"] < 0.01
    assert len(result["eer_draws"]) == 300
    assert len(result["eer_jackknife"]) == 20
