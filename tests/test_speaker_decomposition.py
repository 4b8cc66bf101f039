"""The speaker decomposition of R² against hand-computed values and planted predictors: a
perfect speaker-mean predictor, one that tracks only within-speaker deviations, and test sets
without a repeated speaker."""

from __future__ import annotations

import numpy as np
import pytest

from rateprobe.bootstrap import Estimate, SpeakerBootstrap, speaker_bootstrap
from rateprobe.metrics import regression_estimates
from rateprobe.speaker_decomposition import NO_REPEATED_SPEAKER, speaker_decomposition

# Speaker A: y = 0, 2, 4 (mean 2), p = 1, 2, 6 (mean 3); speaker B: y = 6, p = 5.
Y = np.array([0.0, 2.0, 4.0, 6.0])
P = np.array([1.0, 2.0, 6.0, 5.0])
PARTS = ("between_r2", "within_r2", "speaker_mean_ceiling_r2")


def fixed_bootstrap(counts: list[list[float]]) -> SpeakerBootstrap:
    return SpeakerBootstrap(
        speakers=np.array(["A", "B"]),
        speaker_index=np.array([0, 0, 0, 1]),
        counts=np.array(counts, dtype=float),
    )


def estimates(y: np.ndarray, p: np.ndarray, boot: SpeakerBootstrap) -> dict[str, Estimate]:
    parts = speaker_decomposition(y, p, boot)
    assert "reason" not in parts
    return {name: part for name, part in parts.items() if isinstance(part, Estimate)}


def speaker_data(seed: int) -> tuple[np.ndarray, SpeakerBootstrap, np.random.Generator]:
    """Eight speakers with 2..9 utterances around habits 10..17 CPS, their bootstrap, and the
    random generator to draw prediction noise from."""
    rng = np.random.default_rng(seed)
    speakers = np.repeat(np.arange(8), np.arange(2, 10)).astype(str)
    habit = 10.0 + np.repeat(np.arange(8.0), np.arange(2, 10))
    y = habit + rng.normal(0.0, 1.5, speakers.size)
    return y, speaker_bootstrap(speakers, 400, seed=seed), rng


def speaker_means(values: np.ndarray, boot: SpeakerBootstrap) -> np.ndarray:
    """Each utterance's speaker mean of `values`."""
    n = np.bincount(boot.speaker_index)
    return (np.bincount(boot.speaker_index, weights=values) / n)[boot.speaker_index]


def test_point_matches_hand_computation() -> None:
    # ȳ = 3. SSB = 3 (2 - 3)² + 1 (6 - 3)² = 12, SSE_B = 3 (2 - 3)² + 1 (6 - 5)² = 4.
    # Centred on A's means: y -2, 0, 2 (SSW = 8), p -2, -1, 3: SSE_W = 0 + 1 + 1 = 2.
    parts = estimates(Y, P, fixed_bootstrap([[1, 1]]))
    assert parts["between_r2"].point == pytest.approx(1 - 4 / 12)
    assert parts["within_r2"].point == pytest.approx(1 - 2 / 8)
    assert parts["speaker_mean_ceiling_r2"].point == pytest.approx(12 / 20)


def test_between_part_weights_speakers_by_their_utterance_count() -> None:
    # Count weights make it the plain R² of every utterance's speaker means. (Equal weights on
    # the hand case, means 2 and 6 predicted 3 and 5, would give 1 - 2/8 = 0.75, not 2/3.)
    y, boot, rng = speaker_data(seed=5)
    prediction = y + rng.normal(0.5, 1.0, y.size)
    between = estimates(y, prediction, boot)["between_r2"]
    means = regression_estimates(speaker_means(y, boot), speaker_means(prediction, boot), boot)
    assert between.point == pytest.approx(means["r2"].point)
    np.testing.assert_allclose(between.draws, means["r2"].draws)
    np.testing.assert_allclose(between.jackknife, means["r2"].jackknife)


def test_draws_resample_whole_speakers() -> None:
    # A twice: one speaker mean, so no between part; SSW = 16, SSE_W = 4; SSB = 0, ceiling 0.
    # B twice: one utterance value, nothing defined.  Both once: the sample itself.
    # A once, B twice: ȳ = 3.6, SSB = 3 · 1.6² + 2 · 2.4² = 19.2, SSE_B = 3 + 2 = 5,
    # SSW = 8, SSE_W = 2.
    boot = fixed_bootstrap([[2, 0], [0, 2], [1, 1], [1, 2]])
    parts = estimates(Y, P, boot)
    nan = np.nan
    np.testing.assert_allclose(parts["between_r2"].draws, [nan, nan, 2 / 3, 1 - 5 / 19.2])
    np.testing.assert_allclose(parts["within_r2"].draws, [0.75, nan, 0.75, 0.75])
    np.testing.assert_allclose(parts["speaker_mean_ceiling_r2"].draws, [0.0, nan, 0.6, 19.2 / 27.2])


def test_jackknife_leaves_out_one_speaker_at_a_time() -> None:
    # Without A only B's single utterance is left: nothing defined. Without B: A alone has
    # no between part, within R² 0.75 and ceiling 0.
    parts = estimates(Y, P, fixed_bootstrap([[1, 1]]))
    np.testing.assert_allclose(parts["between_r2"].jackknife, [np.nan, np.nan])
    np.testing.assert_allclose(parts["within_r2"].jackknife, [np.nan, 0.75])
    np.testing.assert_allclose(parts["speaker_mean_ceiling_r2"].jackknife, [np.nan, 0.0])


def test_speaker_mean_predictor_reaches_the_ceiling() -> None:
    y, boot, _ = speaker_data(seed=1)
    prediction = speaker_means(y, boot)
    parts = estimates(y, prediction, boot)
    r2 = regression_estimates(y, prediction, boot)["r2"]
    assert parts["between_r2"].point == pytest.approx(1.0)
    assert parts["within_r2"].point == pytest.approx(0.0, abs=1e-12)
    assert r2.point == pytest.approx(parts["speaker_mean_ceiling_r2"].point)
    np.testing.assert_allclose(r2.draws, parts["speaker_mean_ceiling_r2"].draws)
    assert 0.5 < parts["speaker_mean_ceiling_r2"].point < 1.0


def test_predictor_of_deviations_only_has_no_between_part() -> None:
    # Every speaker is predicted the same mean, plus the exact deviation from its habit.
    y, boot, _ = speaker_data(seed=2)
    prediction = y.mean() + y - speaker_means(y, boot)
    parts = estimates(y, prediction, boot)
    ceiling = parts["speaker_mean_ceiling_r2"].point
    assert parts["within_r2"].point == pytest.approx(1.0)
    assert parts["between_r2"].point == pytest.approx(0.0, abs=1e-12)
    assert regression_estimates(y, prediction, boot)["r2"].point == pytest.approx(1 - ceiling)


def test_parts_reconcile_with_the_plain_r2_in_every_draw() -> None:
    # R² = ceiling · between + (1 - ceiling) · within, also averaged over runs.
    y, boot, rng = speaker_data(seed=3)
    runs = y + rng.normal(0.0, [[1.0], [2.0]], (2, y.size))
    parts = estimates(y, runs, boot)
    r2 = regression_estimates(y, runs, boot)["r2"]
    for field in ("point", "draws", "jackknife"):
        between, within, c = (getattr(parts[name], field) for name in PARTS)
        np.testing.assert_allclose(getattr(r2, field), c * between + (1 - c) * within)
    # The ceiling does not depend on the predictions.
    single_run = estimates(y, runs[0], boot)["speaker_mean_ceiling_r2"]
    assert parts["speaker_mean_ceiling_r2"].point == pytest.approx(single_run.point)


def test_several_runs_average_each_part() -> None:
    boot = fixed_bootstrap([[1, 1], [1, 2]])
    other = np.array([0.0, 3.0, 3.0, 7.0])
    both = estimates(Y, np.stack([P, other]), boot)
    first, second = estimates(Y, P, boot), estimates(Y, other, boot)
    for name in PARTS:
        assert both[name].point == pytest.approx((first[name].point + second[name].point) / 2)
        np.testing.assert_allclose(both[name].draws, (first[name].draws + second[name].draws) / 2)


def test_intervals_contain_the_point() -> None:
    y, boot, rng = speaker_data(seed=4)
    prediction = y + rng.normal(0.0, 1.0, y.size)
    for name, part in estimates(y, prediction, boot).items():
        assert part.resample_deviations is not None, name
        interval = part.interval()
        assert interval is not None, name
        low, high = interval
        assert low < part.point < high, name


def test_without_a_repeated_speaker_only_the_ceiling_is_returned() -> None:
    speakers = np.array(["a", "b", "c", "d"])
    y = np.array([10.0, 12.0, 15.0, 11.0])
    parts = speaker_decomposition(y, y + 1.0, speaker_bootstrap(speakers, 50, seed=0))
    assert parts["reason"] == NO_REPEATED_SPEAKER
    assert parts["between_r2"] is None
    assert parts["within_r2"] is None
    ceiling = parts["speaker_mean_ceiling_r2"]
    assert isinstance(ceiling, Estimate)
    # Each utterance is its speaker's mean: a speaker-mean predictor is perfect.
    assert ceiling.point == pytest.approx(1.0)


def test_predictions_must_match_the_targets() -> None:
    with pytest.raises(ValueError, match="3 predictions for 4 targets"):
        speaker_decomposition(Y, P[:3], fixed_bootstrap([[1, 1]]))
