"""Coverage of the speaker-bootstrap intervals, by simulation.

A test set has S speakers with 2 to 5 utterances each; the target is a speaker effect plus
utterance noise, y = u_s + e_i, and two fixed predictors err at both levels, the second by
more (its errors are the first one's plus independent ones, so the pair is correlated as two
probes of one model are):

    p_a = 0.8 y + v_s + η_i,    p_b = p_a + w_s + ζ_i,

all terms independent normals. In the population R² = 1 - E[(y - p)²] / Var(y), with
Var(y) = σu² + σe², E[(y - p_a)²] = 0.2² Var(y) + σv² + ση² and
E[(y - p_b)²] = E[(y - p_a)²] + σw² + σζ²: R²(a) = 0.745, R²(a) - R²(b) = 0.121.

Coverage of nominal 95% intervals in this simulation, 4000 test sets of 400 resamples each
(`python tests/test_bootstrap_coverage.py 4000 6 12 20` prints it; percentile = the central
95% of the draws, BCa = the same Estimate without its resample deviations):

    speakers    R²: percentile   BCa    studentised    ΔR²: percentile   BCa    studentised
       6             0.799      0.817      0.960             0.850      0.880      0.935
      12             0.877      0.888      0.948             0.890      0.898      0.917
      20             0.892      0.892      0.946             0.918      0.916      0.938

BCa does not reach 90% for R² at 20 speakers, hence the studentised intervals of
rateprobe.bootstrap; the test holds them to at least 90% at 6 and at 20 speakers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from rateprobe.bootstrap import Estimate, speaker_bootstrap
from rateprobe.metrics import regression_estimates

SPEAKER_SD, UTTERANCE_SD, SLOPE = 1.0, 0.7, 0.8
SPEAKER_ERROR_SD, UTTERANCE_ERROR_SD = 0.4, 0.4  # v and η
EXTRA_SPEAKER_ERROR_SD, EXTRA_UTTERANCE_ERROR_SD = 0.3, 0.3  # w and ζ
N_RESAMPLES = 400

TARGET_VARIANCE = SPEAKER_SD**2 + UTTERANCE_SD**2
ERROR_A = (1 - SLOPE) ** 2 * TARGET_VARIANCE + SPEAKER_ERROR_SD**2 + UTTERANCE_ERROR_SD**2
ERROR_B = ERROR_A + EXTRA_SPEAKER_ERROR_SD**2 + EXTRA_UTTERANCE_ERROR_SD**2
TRUE_R2 = 1 - ERROR_A / TARGET_VARIANCE
TRUE_DELTA_R2 = (ERROR_B - ERROR_A) / TARGET_VARIANCE

Interval = Callable[[Estimate], tuple[float, float] | None]


def percentile_interval(estimate: Estimate) -> tuple[float, float]:
    """The central 95% of the finite draws: the plain percentile interval."""
    low, high = np.quantile(estimate.draws[np.isfinite(estimate.draws)], [0.025, 0.975])
    return float(low), float(high)


def bca_interval(estimate: Estimate) -> tuple[float, float] | None:
    return Estimate(estimate.point, estimate.draws, estimate.jackknife).interval()


INTERVALS: dict[str, Interval] = {
    "percentile": percentile_interval,
    "BCa": bca_interval,
    "studentised": Estimate.interval,
}


def two_level_noise(
    rng: np.random.Generator, speaker: np.ndarray, speaker_sd: float, utterance_sd: float
) -> np.ndarray:
    """A normal term per speaker plus a normal term per utterance."""
    per_speaker = rng.normal(0.0, speaker_sd, size=speaker.max() + 1)[speaker]
    return per_speaker + rng.normal(0.0, utterance_sd, size=speaker.size)


def simulated_estimates(
    n_speakers: int, n_sets: int, seed: int
) -> Iterator[tuple[Estimate, Estimate]]:
    """R²(a) and the paired R²(a) - R²(b) on each of `n_sets` simulated test sets."""
    rng = np.random.default_rng(seed)
    for _ in range(n_sets):
        speaker = np.repeat(np.arange(n_speakers), rng.integers(2, 6, size=n_speakers))
        y = two_level_noise(rng, speaker, SPEAKER_SD, UTTERANCE_SD)
        p_a = SLOPE * y + two_level_noise(rng, speaker, SPEAKER_ERROR_SD, UTTERANCE_ERROR_SD)
        p_b = p_a + two_level_noise(rng, speaker, EXTRA_SPEAKER_ERROR_SD, EXTRA_UTTERANCE_ERROR_SD)
        boot = speaker_bootstrap(speaker.astype(str), N_RESAMPLES, seed=int(rng.integers(2**31)))
        r2_a = regression_estimates(y, p_a, boot)["r2"]
        yield r2_a, r2_a.minus(regression_estimates(y, p_b, boot)["r2"])


def coverage(
    n_speakers: int, n_sets: int, interval: Interval = Estimate.interval, seed: int = 0
) -> tuple[float, float]:
    """Shares of the test sets whose interval covers the true R² and the true ΔR²."""

    def covers(estimate: Estimate, truth: float) -> bool:
        bounds = interval(estimate)
        return bounds is not None and bounds[0] <= truth <= bounds[1]

    hits = np.array(
        [
            (covers(r2, TRUE_R2), covers(delta, TRUE_DELTA_R2))
            for r2, delta in simulated_estimates(n_speakers, n_sets, seed)
        ]
    )
    return float(hits[:, 0].mean()), float(hits[:, 1].mean())


@pytest.mark.parametrize("n_speakers", [6, 20])
def test_intervals_cover_the_true_r2_and_its_paired_difference(n_speakers: int) -> None:
    # 2000 sets put the Monte Carlo error of a share near 0.94 at 0.5 points; the upper
    # bound catches intervals that are merely wide.
    r2_coverage, delta_coverage = coverage(n_speakers, n_sets=2000)
    assert 0.90 <= r2_coverage <= 0.985
    assert 0.90 <= delta_coverage <= 0.985


if __name__ == "__main__":
    n_sets, *speaker_counts = (int(arg) for arg in sys.argv[1:])
    print("speakers  interval      R²     ΔR²")
    for n_speakers in speaker_counts:
        for name, interval in INTERVALS.items():
            r2_coverage, delta_coverage = coverage(n_speakers, n_sets, interval)
            print(f"{n_speakers:8d}  {name:11s}  {r2_coverage:.3f}  {delta_coverage:.3f}")
