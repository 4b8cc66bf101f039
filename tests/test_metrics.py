"""Metric code against hand-computed values: regression metrics, the speaker bootstrap with
its studentised and BCa intervals and p-values, Holm's adjustment, classification metrics and
the equal error rate."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from rateprobe.analysis.verification import eer_estimate, equal_error_rate, verification
from rateprobe.bootstrap import Estimate, SpeakerBootstrap, holm, mean_estimate, speaker_bootstrap
from rateprobe.metrics import (
    classification_metrics,
    macro_f1,
    paired_difference,
    regression_estimates,
    regression_metrics,
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
    estimates = regression_estimates(Y, P, fixed_bootstrap([[2, 0], [0, 2], [1, 1]]))
    np.testing.assert_allclose(estimates["r2"].draws, [-1.0, -1.0, 0.6])
    np.testing.assert_allclose(estimates["mse"].draws, [0.5, 0.5, 0.5])
    np.testing.assert_allclose(estimates["mae"].draws, [0.5, 0.5, 0.5])
    # Within one speaker y and p correlate perfectly (A) or perfectly (B).
    np.testing.assert_allclose(estimates["pearson_r"].draws, [1.0, 1.0, 0.8])


def test_jackknife_leaves_out_one_speaker_at_a_time() -> None:
    # Without A: y = 3,4, p = 2,4 -> SSE 1, SST 0.5, R² = -1, MSE 0.5, MAE 0.5.
    # Without B: y = 1,2, p = 1,3 -> SSE 1, SST 0.5, R² = -1, MSE 0.5, MAE 0.5.
    estimates = regression_estimates(Y, P, fixed_bootstrap([[1, 1]]))
    np.testing.assert_allclose(estimates["r2"].jackknife, [-1.0, -1.0])
    np.testing.assert_allclose(estimates["mse"].jackknife, [0.5, 0.5])
    np.testing.assert_allclose(estimates["pearson_r"].jackknife, [1.0, 1.0])
    y = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 0.5])
    p = np.array([1.5, 1.0, 3.5, 4.0, 4.5, 1.0])
    speakers = np.array(["a", "a", "b", "b", "c", "c"])
    jackknife = regression_estimates(y, p, speaker_bootstrap(speakers, 5, seed=0))["r2"].jackknife
    for s, left_out in enumerate(["a", "b", "c"]):
        keep = speakers != left_out
        r2 = 1 - np.sum((y[keep] - p[keep]) ** 2) / np.sum((y[keep] - y[keep].mean()) ** 2)
        assert jackknife[s] == pytest.approx(r2)


def test_constant_prediction_has_no_correlation() -> None:
    metrics = regression_metrics(Y, np.full(4, 2.5), fixed_bootstrap([[1, 1], [2, 0]]))
    assert metrics["pearson_r"]["value"] is None
    assert metrics["r2"]["value"] == pytest.approx(0.0)


def test_several_runs_average_the_metric() -> None:
    boot = fixed_bootstrap([[1, 1], [2, 0]])
    other = np.array([2.0, 2.0, 3.0, 3.0])
    both = regression_estimates(Y, np.stack([P, other]), boot)
    for name in ("mse", "r2"):
        first = regression_estimates(Y, P, boot)[name]
        second = regression_estimates(Y, other, boot)[name]
        assert both[name].point == pytest.approx((first.point + second.point) / 2)
        np.testing.assert_allclose(both[name].draws, (first.draws + second.draws) / 2)
        np.testing.assert_allclose(both[name].jackknife, (first.jackknife + second.jackknife) / 2)


def test_paired_difference_of_identical_predictions_is_exactly_zero() -> None:
    boot = speaker_bootstrap(SPEAKERS, 50, seed=3)
    difference = paired_difference(Y, P, P, boot)
    assert difference == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0}


def test_paired_difference_subtracts_the_same_resamples() -> None:
    rng = np.random.default_rng(4)
    speakers = np.repeat(np.arange(20), 3).astype(str)
    y = rng.normal(size=60)
    good, bad = y + 0.3 * rng.normal(size=60), y + 0.6 * rng.normal(size=60)
    boot = speaker_bootstrap(speakers, 400, seed=0)
    a, b = regression_estimates(y, good, boot)["r2"], regression_estimates(y, bad, boot)["r2"]
    difference = a.minus(b)
    np.testing.assert_allclose(difference.draws, a.draws - b.draws)
    np.testing.assert_allclose(difference.jackknife, a.jackknife - b.jackknife)
    assert a.resample_deviations is not None and b.resample_deviations is not None
    np.testing.assert_allclose(
        difference.resample_deviations, a.resample_deviations - b.resample_deviations
    )
    assert paired_difference(y, good, bad, boot) == difference.comparison_record()
    assert difference.point > 0 and difference.record()["ci_low"] > 0
    assert difference.p_value() < 0.05


def test_mean_estimate_is_the_estimate_of_the_mean_prediction_metric() -> None:
    # Averaging metrics over runs inside regression_estimates and averaging the Estimates of
    # single runs must agree field by field.
    boot = speaker_bootstrap(np.array(["a", "a", "b", "b", "c", "c", "d", "d"]), 30, seed=2)
    y = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 0.5, 2.5, 3.5])
    runs = y + np.random.default_rng(7).normal(scale=0.5, size=(3, 8))
    together = regression_estimates(y, runs, boot)["r2"]
    averaged = mean_estimate([regression_estimates(y, run, boot)["r2"] for run in runs])
    assert averaged.point == pytest.approx(together.point)
    np.testing.assert_allclose(averaged.draws, together.draws)
    np.testing.assert_allclose(averaged.jackknife, together.jackknife)
    assert averaged.resample_deviations is not None and together.resample_deviations is not None
    np.testing.assert_allclose(averaged.resample_deviations, together.resample_deviations)
    bca = mean_estimate([Estimate(1.0, np.zeros(30), np.zeros(4)), together])
    assert bca.resample_deviations is None


def test_minus_refuses_estimates_of_different_resamples() -> None:
    estimate = Estimate(0.5, np.zeros(10), np.zeros(4))
    with pytest.raises(ValueError, match="same resamples"):
        estimate.minus(Estimate(0.5, np.zeros(11), np.zeros(4)))
    with pytest.raises(ValueError, match="same resamples"):
        estimate.minus(Estimate(0.5, np.zeros(10), np.zeros(5)))


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


# Draws 0..99: the quantile at level L is draw number ceil(100 L) (1-based), of value one less.
HUNDRED = np.arange(100.0)
SYMMETRIC_JACKKNIFE = np.array([1.0, 2.0, 3.0, 4.0])


def test_bca_without_bias_or_skew_is_the_central_95_percent() -> None:
    # Point 49.5 splits the draws in half: z0 = 0; a symmetric jackknife: a = 0.
    # Levels 0.025 and 0.975 -> draws number 3 and 98.
    estimate = Estimate(49.5, HUNDRED, SYMMETRIC_JACKKNIFE)
    assert estimate.record() == {"value": 49.5, "ci_low": 2.0, "ci_high": 97.0}


def test_bca_bias_correction_follows_the_share_below_the_point() -> None:
    # 30 of 100 draws lie below 29.5: z0 = Φ⁻¹(0.3) = -0.5244; with a = 0 the levels are
    # Φ(2 z0 ∓ 1.96) = Φ(-3.0088) = 0.0013 and Φ(0.9112) = 0.8189 -> draws number 1 and 82.
    assert Estimate(29.5, HUNDRED, SYMMETRIC_JACKKNIFE).interval() == (0.0, 81.0)
    # A tie counts half: 49 below and one equal to 49.0 is the same share as 49.5.
    assert Estimate(49.0, HUNDRED, SYMMETRIC_JACKKNIFE).interval() == (2.0, 97.0)


def test_bca_acceleration_comes_from_the_jackknife() -> None:
    # Jackknife 0, 0, 0, 3: m - j = .75, .75, .75, -2.25; Σ³ = -10.125, Σ² = 6.75, so
    # a = -10.125 / (6 · 6.75^1.5) = -0.09623. With z0 = 0 the levels are
    # Φ(-1.96 / (1 - 0.1886)) = Φ(-2.4156) = 0.0079 and Φ(1.96 / 1.1886) = Φ(1.6490) = 0.9504
    # -> draws number 1 and 96: a < 0 shifts the interval down.
    assert Estimate(49.5, HUNDRED, np.array([0.0, 0.0, 0.0, 3.0])).interval() == (0.0, 95.0)


def test_bca_degenerate_cases() -> None:
    # All finite draws equal: the interval is that value; non-finite draws are left out.
    assert Estimate(1.0, np.array([np.nan, 2.0, 2.0]), SYMMETRIC_JACKKNIFE).interval() == (2.0, 2.0)
    # No finite draw, or a non-finite point: nothing.
    assert Estimate(1.0, np.array([np.nan, np.inf]), SYMMETRIC_JACKKNIFE).interval() is None
    assert Estimate(np.nan, HUNDRED, SYMMETRIC_JACKKNIFE).record() == {
        "value": None,
        "ci_low": None,
        "ci_high": None,
    }
    # A non-finite jackknife value gives a = 0: the unaccelerated interval.
    assert Estimate(49.5, HUNDRED, np.array([0.0, np.nan, 0.0, 3.0])).interval() == (2.0, 97.0)
    # The point above every draw: the share 1 is clamped to 1 - 1/200, z0 = 2.5758, and the
    # levels Φ(2 z0 ∓ 1.96) = 0.99929 and 1.0 both pick the last draw.
    assert Estimate(200.0, HUNDRED, SYMMETRIC_JACKKNIFE).interval() == (99.0, 99.0)


def test_a_single_speaker_gives_no_interval() -> None:
    boot = SpeakerBootstrap(
        speakers=np.array(["A"]), speaker_index=np.zeros(4, dtype=int), counts=np.ones((20, 1))
    )
    record = paired_difference(Y, P, np.full(4, 2.5), boot)
    assert record["value"] == pytest.approx(0.6)
    assert (record["ci_low"], record["ci_high"], record["p_value"]) == (None, None, None)


def skewed_estimates(seed: int, studentised: bool) -> Iterator[Estimate]:
    """Forty estimates with skewed resamples about random centres: BCa ones (a skewed
    jackknife), or studentised ones (with each resample's jackknife deviations)."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        centre = rng.normal(scale=0.3)
        point = centre + rng.normal(scale=0.05)
        draws = centre + rng.standard_gamma(2.0, size=500) / 8 - 0.25
        jackknife = rng.normal(scale=0.1, size=12)
        if studentised:
            yield Estimate(point, draws, centre + jackknife, rng.normal(scale=0.1, size=(500, 12)))
        else:
            yield Estimate(point, draws, centre + jackknife**3)


def assert_p_value_inverts_the_interval(estimate: Estimate) -> None:
    """The share of draws behind p, p̂ = ((B + 1) p - 1) / B, inverts the interval exactly; p
    itself, counting the sample as a draw, only where it lets an interval exclude 0."""
    p = estimate.p_value()
    assert p is not None
    n_draws = estimate.draws.size
    share = ((n_draws + 1) * p - 1) / n_draws
    for confidence in (0.5, 0.8, 0.9, 0.95, 0.99):
        interval = estimate.interval(confidence)
        assert interval is not None
        excludes_zero = not interval[0] <= 0 <= interval[1]
        assert excludes_zero == (share < 1 - confidence)
        assert excludes_zero or p >= 1 - confidence


def test_p_value_inverts_the_bca_interval() -> None:
    # Draws 0..99, z0 = 0, a = 0: one draw of 100 is <= 0, so the lower end passes 0 once its
    # level exceeds 0.01, at α = 0.02; with the sample as a 101st draw, p = (2 + 1) / 101.
    assert Estimate(49.5, HUNDRED, SYMMETRIC_JACKKNIFE).p_value() == pytest.approx(3 / 101)
    for estimate in skewed_estimates(seed=5, studentised=False):
        assert_p_value_inverts_the_interval(estimate)


def test_p_value_degenerate_cases() -> None:
    assert Estimate(0.0, np.zeros(50), np.zeros(4)).p_value() == 1.0
    # Every draw on one side of 0: 0 is outside every interval, and p is the least B draws
    # give, 1 / (B + 1), never 0.
    assert Estimate(2.0, np.full(50, 2.0), SYMMETRIC_JACKKNIFE).p_value() == pytest.approx(1 / 51)
    assert Estimate(-1.0, -1.0 - HUNDRED, SYMMETRIC_JACKKNIFE).p_value() == pytest.approx(1 / 101)
    assert Estimate(np.nan, HUNDRED, SYMMETRIC_JACKKNIFE).p_value() is None


def test_studentised_interval_hand_computed() -> None:
    # Jackknife 1, 2, 3, 4: Σ (j - 2.5)² = 5, SE = √(3/4 · 5). Every resample's deviations
    # (1, -1, 0, 0) give SE* = √(3/4 · 2) = √1.5, and the draws sit at t* = 0, ±0.1, ..., ±9.9:
    # the 95% quantile of |t*| is the 95th of 100, 9.4.
    t = np.arange(100) / 10 * np.where(np.arange(100) % 2, 1.0, -1.0)
    deviations = np.tile([1.0, -1.0, 0.0, 0.0], (100, 1))
    estimate = Estimate(5.0, 5.0 + np.sqrt(1.5) * t, SYMMETRIC_JACKKNIFE, deviations)
    se = np.sqrt(3.75)
    assert estimate.interval() == pytest.approx((5.0 - 9.4 * se, 5.0 + 9.4 * se))
    # T = 5 / SE = 2.58: |t*| = 2.6 ... 9.9, 74 of 100 draws, reach it: p = (74 + 1) / 101.
    assert estimate.p_value() == pytest.approx(75 / 101)


def test_studentised_resample_deviations_are_each_resamples_jackknife() -> None:
    y = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 0.5, 2.5, 3.5])
    p = np.array([1.5, 1.0, 3.5, 4.0, 4.5, 1.0, 2.0, 2.0])
    speaker_index = np.repeat(np.arange(4), 2)
    boot = speaker_bootstrap(speaker_index.astype(str), 6, seed=1)
    deviations = regression_estimates(y, p, boot)["r2"].resample_deviations
    assert deviations is not None

    def r2(weights: np.ndarray) -> float:
        repeats = weights[speaker_index].astype(int)
        y_w, p_w = np.repeat(y, repeats), np.repeat(p, repeats)
        return 1 - np.sum((y_w - p_w) ** 2) / np.sum((y_w - y_w.mean()) ** 2)

    for counts, row in zip(boot.counts, deviations, strict=True):
        drawn = counts > 0
        without = np.array([r2(counts - np.eye(4)[s]) if drawn[s] else 0.0 for s in range(4)])
        mean = np.sum(counts * without) / 4
        np.testing.assert_allclose(row, np.where(drawn, np.sqrt(counts) * (without - mean), 0))


def test_studentised_p_value_inverts_the_interval() -> None:
    for estimate in skewed_estimates(seed=6, studentised=True):
        assert_p_value_inverts_the_interval(estimate)


def test_studentised_degenerate_cases() -> None:
    # Resamples without spread but away from the point: |t*| = inf, an unbounded interval.
    flat = Estimate(1.0, np.full(50, 2.0), SYMMETRIC_JACKKNIFE, np.zeros((50, 4)))
    assert flat.interval() is None
    assert flat.p_value() == 1.0
    # A difference with a BCa side is BCa.
    bca = Estimate(1.0, np.full(50, 2.0), SYMMETRIC_JACKKNIFE)
    assert flat.minus(bca).resample_deviations is None
    assert flat.minus(flat).resample_deviations is not None


def test_holm_adjusts_step_down_and_skips_missing_tests() -> None:
    # Three tests: sorted 0.01, 0.03, 0.04 -> 3 · 0.01 = 0.03, 2 · 0.03 = 0.06, then
    # max(0.06, 1 · 0.04) = 0.06 (adjusted p-values never decrease down the order).
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": None})
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": None})
    assert list(adjusted) == ["a", "b", "c", "d"]
    # Sorted 0.2, 0.3, 0.4, 0.5 -> 0.8, 0.9, max(0.9, 0.8), max(0.9, 0.5).
    assert holm({"a": 0.4, "b": 0.3, "c": 0.5, "d": 0.2}) == pytest.approx(
        {"a": 0.9, "b": 0.9, "c": 0.9, "d": 0.8}
    )
    # 2 · 0.6 = 1.2 caps at 1, and 0.7 stays below its predecessor.
    assert holm({"a": 0.6, "b": 0.7}) == {"a": 1.0, "b": 1.0}
    assert holm({}) == {}


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
    assert metrics["macro_f1"]["ci_low"] < f1 < metrics["macro_f1"]["ci_high"]


def test_macro_f1_averages_over_the_classes_present_in_the_truth() -> None:
    # Class 2 is predicted but never true: it does not count (sklearn's default counts it).
    true, predicted = np.array([0, 0, 1, 1, -1]), np.array([0, 2, 1, 1, 2])
    known = true >= 0
    ours = f1_score(true[known], predicted[known], labels=[0, 1], average="macro")
    assert macro_f1(true, predicted, 3) == pytest.approx(ours)
    assert ours > f1_score(true[known], predicted[known], average="macro")


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
    assert result["target_trials"] == "all same-speaker pairs"
    assert result["n_target_pairs"] == result["n_same_pairs"]
    np.testing.assert_array_equal(result["eer_draws"], np.zeros(50))
    np.testing.assert_array_equal(result["eer_jackknife"], np.zeros(4))


def verification_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Five speakers of four utterances whose embeddings overlap."""
    rng = np.random.default_rng(seed)
    speakers = np.repeat(np.arange(5), 4)
    return rng.normal(size=(20, 4)) + rng.normal(size=(5, 4))[speakers], speakers


def test_verification_jackknife_is_the_eer_without_each_speaker() -> None:
    embeddings, speakers = verification_data(2)
    result = verification(embeddings, speaker_bootstrap(speakers.astype(str), 30, seed=0))
    assert result["eer_draws"].shape == (30,)
    for s in range(5):
        keep = speakers != s
        without = verification(
            embeddings[keep], speaker_bootstrap(speakers[keep].astype(str), 1, seed=0)
        )
        assert result["eer_jackknife"][s] == pytest.approx(without["eer"])
    estimate = eer_estimate(result)
    assert estimate is not None
    assert estimate.record() == {
        "value": result["eer"],
        "ci_low": result["eer_ci"][0],
        "ci_high": result["eer_ci"][1],
    }


def test_verification_targets_cross_chapter_pairs_when_chapters_allow() -> None:
    embeddings, speakers = verification_data(3)
    boot = speaker_bootstrap(speakers.astype(str), 30, seed=0)
    # Each speaker reads two chapters of two utterances: 2 · 2 = 4 of its 6 pairs cross.
    chapters = (np.arange(20) // 2).astype(str)
    result = verification(embeddings, boot, chapter_ids=chapters)
    assert result["target_trials"] == "cross-chapter"
    assert (result["n_same_pairs"], result["n_target_pairs"]) == (30, 20)
    assert result["n_different_pairs"] == 190 - 30
    # Same result as dropping the same-chapter pairs by hand: utterances of the other chapter.
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosine = unit @ unit.T
    same_speaker = speakers[:, None] == speakers[None, :]
    cross = same_speaker & (chapters[:, None] != chapters[None, :])
    different = np.triu(~same_speaker, k=1)
    expected = equal_error_rate(cosine[np.triu(cross, k=1)], cosine[different])
    assert result["eer"] == pytest.approx(expected)
    assert result["same_cos_mean"] == pytest.approx(cosine[np.triu(cross, k=1)].mean())


def test_verification_falls_back_to_all_same_speaker_pairs() -> None:
    embeddings, speakers = verification_data(3)
    boot = speaker_bootstrap(speakers.astype(str), 30, seed=0)
    one_chapter_each = speakers.astype(str)
    result = verification(embeddings, boot, chapter_ids=one_chapter_each)
    assert result["target_trials"] == "all same-speaker pairs"
    assert result["n_target_pairs"] == result["n_same_pairs"] == 30
    assert result["eer"] == verification(embeddings, boot)["eer"]


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
    assert eer_estimate(result) is None
