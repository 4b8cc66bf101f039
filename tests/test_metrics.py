"""Metric code against hand-computed values: regression metrics, the speaker bootstrap,
classification metrics and the equal error rate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from rateprobe.analysis.verification import equal_error_rate, verification
from rateprobe.probing.metrics import (
    SpeakerBootstrap,
    classification_metrics,
    paired_difference,
    percentile_interval,
    regression_draws,
    regression_metrics,
    speaker_bootstrap,
)

# Speaker A: y = 1, 2 (p = 1, 3); speaker B: y = 3, 4 (p = 2, 4).
Y = np.array([1.0, 2.0, 3.0, 4.0])
P = np.array([1.0, 3.0, 2.0, 4.0])
SPEAKERS = np.array(["A", "A", "B", "B"])


def fixed_bootstrap(counts: list[list[float]]) -> SpeakerBootstrap:
    return SpeakerBootstrap(
        speakers=np.array(["A", "B"]),
        speaker_index=np.array([0, 0, 1, 1]),
        counts=np.array(counts, dtype=float),
    )


def test_point_metrics_match_hand_computation() -> None:
    # errors 0, -1, 1, 0: MSE 0.5, MAE 0.5; SST = 5 so R² = 1 - 2/5; r = 4 / sqrt(5 * 5).
    metrics = regression_metrics(Y, P, fixed_bootstrap([[1, 1]]))
    assert metrics["mse"]["value"] == pytest.approx(0.5)
    assert metrics["mae"]["value"] == pytest.approx(0.5)
    assert metrics["r2"]["value"] == pytest.approx(0.6)
    assert metrics["pearson_r"]["value"] == pytest.approx(0.8)


def test_bootstrap_draws_resample_whole_speakers() -> None:
    # Resample 1 draws A twice: y = 1,2,1,2, p = 1,3,1,3 -> SSE 2, SST 1, R² = -1, MSE 0.5.
    # Resample 2 draws B twice: y = 3,4,3,4, p = 2,4,2,4 -> SSE 2, SST 1, R² = -1, MAE 0.5.
    # Resample 3 draws each once: the sample itself.
    draws = regression_draws(Y, P, fixed_bootstrap([[2, 0], [0, 2], [1, 1]]))
    np.testing.assert_allclose(draws["r2"][1], [-1.0, -1.0, 0.6])
    np.testing.assert_allclose(draws["mse"][1], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(draws["mae"][1], [0.5, 0.5, 0.5])
    # Within one speaker y and p correlate perfectly (A) or perfectly (B).
    np.testing.assert_allclose(draws["pearson_r"][1], [1.0, 1.0, 0.8])


def test_constant_prediction_has_no_correlation() -> None:
    metrics = regression_metrics(Y, np.full(4, 2.5), fixed_bootstrap([[1, 1], [2, 0]]))
    assert metrics["pearson_r"]["value"] is None
    assert metrics["r2"]["value"] == pytest.approx(0.0)


def test_several_runs_average_the_metric() -> None:
    boot = fixed_bootstrap([[1, 1], [2, 0]])
    other = np.array([2.0, 2.0, 3.0, 3.0])
    both = regression_draws(Y, np.stack([P, other]), boot)
    for name in ("mse", "r2"):
        first, second = regression_draws(Y, P, boot)[name], regression_draws(Y, other, boot)[name]
        assert both[name][0] == pytest.approx((first[0] + second[0]) / 2)
        np.testing.assert_allclose(both[name][1], (first[1] + second[1]) / 2)


def test_paired_difference_of_identical_predictions_is_exactly_zero() -> None:
    boot = speaker_bootstrap(SPEAKERS, 50, seed=3)
    difference = paired_difference(Y, P, P, boot)
    assert difference == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_speaker_bootstrap_draws_speakers_with_replacement() -> None:
    speakers = np.array(["s1"] * 3 + ["s2"] * 5 + ["s3"] * 2)
    boot = speaker_bootstrap(speakers, 400, seed=0)
    assert list(boot.speakers) == ["s1", "s2", "s3"]
    assert boot.counts.shape == (400, 3)
    np.testing.assert_array_equal(boot.counts.sum(axis=1), 3)
    # Each speaker is drawn 0..3 times, on average once.
    assert set(np.unique(boot.counts)) <= {0.0, 1.0, 2.0, 3.0}
    assert boot.counts.mean(axis=0) == pytest.approx([1, 1, 1], abs=0.15)
    again = speaker_bootstrap(speakers, 400, seed=0)
    np.testing.assert_array_equal(boot.counts, again.counts)
    assert not np.array_equal(boot.counts, speaker_bootstrap(speakers, 400, seed=1).counts)


def test_percentile_interval_is_the_central_95_percent() -> None:
    assert percentile_interval(np.arange(101.0)) == pytest.approx((2.5, 97.5))
    assert percentile_interval(np.array([np.nan, 1.0, 1.0])) == (1.0, 1.0)
    assert percentile_interval(np.array([np.nan])) is None


def test_interval_narrows_with_more_speakers() -> None:
    rng = np.random.default_rng(0)

    def width(n_speakers: int) -> float:
        speakers = np.repeat(np.arange(n_speakers), 5).astype(str)
        y = rng.normal(size=speakers.size)
        p = y + rng.normal(scale=0.5, size=speakers.size)
        record = regression_metrics(y, p, speaker_bootstrap(speakers, 300, seed=0))["r2"]
        return record["ci_high"] - record["ci_low"]

    assert width(80) < width(8)


def test_classification_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    true = rng.integers(0, 3, size=60)
    predicted = np.where(rng.random(60) < 0.6, true, rng.integers(0, 3, size=60))
    boot = speaker_bootstrap(np.arange(60).astype(str), 20, seed=0)
    metrics = classification_metrics(true, predicted, 3, boot)
    precision, recall, f1, _ = precision_recall_fscore_support(
        true, predicted, average="macro", zero_division=0
    )
    assert metrics["precision"]["value"] == pytest.approx(precision)
    assert metrics["recall"]["value"] == pytest.approx(recall)
    assert metrics["macro_f1"]["value"] == pytest.approx(f1)
    assert metrics["accuracy"]["value"] == pytest.approx(np.mean(true == predicted))


def test_classification_leaves_out_unknown_labels() -> None:
    boot = speaker_bootstrap(np.array(["a", "b", "c", "d"]), 10, seed=0)
    metrics = classification_metrics(np.array([0, 1, -1, 1]), np.array([0, 1, 0, 0]), 2, boot)
    # Known: (0 -> 0), (1 -> 1), (1 -> 0): class 0 P=1/2 R=1, class 1 P=1 R=1/2.
    assert metrics["precision"]["value"] == pytest.approx(0.75)
    assert metrics["recall"]["value"] == pytest.approx(0.75)
    assert metrics["macro_f1"]["value"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("targets", "nontargets", "expected"),
    [
        # Thresholds 0.1, 0.2, 0.3, 0.4: at 0.4 FAR = FRR = 1/3 exactly.
        ([0.9, 0.8, 0.3], [0.1, 0.4, 0.2], 1 / 3),
        # A tie at 0.5 joins (FAR, FRR) = (1/2, 0) to (0, 1/2); the crossing is (1/4, 1/4).
        ([0.5, 0.9], [0.5, 0.1], 0.25),
        # Perfect separation: a threshold between the classes makes no error.
        ([0.7, 0.8], [0.1, 0.2, 0.3], 0.0),
        # Reversed scores: (FAR, FRR) goes (1, 0) at 0.1, (1, 1) at 0.7, (0, 1) above; the
        # path meets FAR = FRR at (1, 1): a system that ranks backwards errs always.
        ([0.1], [0.7], 1.0),
        # All scores equal: no threshold separates anything; the diagonal segment gives 1/2.
        ([0.5, 0.5], [0.5, 0.5, 0.5], 0.5),
    ],
)
def test_equal_error_rate_hand_computed(
    targets: list[float], nontargets: list[float], expected: float
) -> None:
    assert equal_error_rate(np.array(targets), np.array(nontargets)) == pytest.approx(expected)


def test_weighted_eer_equals_duplicated_trials() -> None:
    targets, nontargets = np.array([0.9, 0.3, 0.6]), np.array([0.1, 0.4, 0.65, 0.2])
    weights_t, weights_n = np.array([2, 1, 3]), np.array([1, 2, 1, 1])
    duplicated = equal_error_rate(np.repeat(targets, weights_t), np.repeat(nontargets, weights_n))
    assert equal_error_rate(targets, nontargets, weights_t, weights_n) == pytest.approx(duplicated)


def test_verification_separates_speakers_and_bootstraps_pairs() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 5
    speakers = np.repeat(np.arange(4), 3)
    embeddings = centres[speakers] + rng.normal(size=(12, 16)) * 0.1
    boot = speaker_bootstrap(speakers.astype(str), 50, seed=0)
    result = verification(embeddings, boot)
    assert result["n_same_pairs"] == 4 * 3
    assert result["n_different_pairs"] == 66 - 12
    assert result["eer"] == 0.0
    assert result["eer_ci"] == (0.0, 0.0)
    assert result["same_cos_mean"] > 0.9 > result["different_cos_mean"]


def test_verification_bootstrap_of_the_sample_itself_gives_the_point() -> None:
    rng = np.random.default_rng(2)
    speakers = np.repeat(np.arange(5), 2)
    embeddings = rng.normal(size=(10, 4)) + rng.normal(size=(5, 4))[speakers]
    identity = SpeakerBootstrap(
        speakers=np.arange(5).astype(str), speaker_index=speakers, counts=np.ones((1, 5))
    )
    result = verification(embeddings, identity)
    assert 0.0 < result["eer"] < 1.0
    assert result["eer_ci"] == pytest.approx((result["eer"], result["eer"]))


def test_verification_without_repeated_speakers_is_not_computable() -> None:
    boot = speaker_bootstrap(np.array(["a", "b", "c"]), 10, seed=0)
    result = verification(np.eye(3), boot)
    assert result["eer"] is None
    assert result["eer_reason"] == "no test speaker has two utterances"
