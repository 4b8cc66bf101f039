"""Speaker habit vs utterance rate: the plain R² of a probe split into a between-speaker and a
within-speaker part.

CPS is partly a speaker's habit, so a probe on a speaker encoder can score well by knowing the
speaker without tracking how fast this utterance is. With speaker s holding n_s of the N test
utterances, ȳ_s and p̄_s the speaker's mean target and prediction, ȳ the mean target and
e = y - p (so ē_s = ȳ_s - p̄_s), the total sums of squares split into speaker means and
deviations from them:

    SST = SSB + SSW,   SSB = Σ_s n_s (ȳ_s - ȳ)²,   SSW = Σ_s Σ_i (y_si - ȳ_s)²
    SSE = SSE_B + SSE_W,   SSE_B = Σ_s n_s ē_s²,   SSE_W = Σ_s Σ_i (e_si - ē_s)²

    between R² = 1 - SSE_B / SSB   (speaker mean predictions against speaker mean targets)
    within R²  = 1 - SSE_W / SSW   (target and prediction centred on each speaker's means)
    ceiling    = SSB / SST         (the plain R² of predicting each utterance by ȳ_s)

The between R² weights each speaker by its utterance count n_s. That keeps the three on the
scale of the plain R², which they then reconcile exactly,

    R² = 1 - (SSE_B + SSE_W) / SST = ceiling · between R² + (1 - ceiling) · within R²,

and it weights each speaker mean by its precision (ȳ_s has variance σ²/n_s when speakers
vary alike around their habits), where equal weights would let a speaker's two utterances
move the between R² as much as another's hundred.

Every term is a sum over speakers of something computed from one speaker's utterances alone:
n_s, Σy, (Σy)²/n_s = n_s ȳ_s², Σ(y - ȳ_s)², (Σe)²/n_s = n_s ē_s² and Σ(e - ē_s)², with
SSB = Σ (Σy)²/n_s - (Σ Σy)²/N. So the three are functions of per-speaker sums and get
studentised speaker-bootstrap intervals from `cluster_estimates`: a resample drawing speaker
s c_s times weights its sums by c_s, exactly as if its utterances were copied c_s times.

A speaker with one test utterance adds to SSB but nothing to SSW. When no speaker has two,
SSW = 0, the within R² is undefined and the between R² is the plain R²: there is nothing to
decompose, and only the ceiling (then 1) is returned, with a reason.
"""

from __future__ import annotations

import numpy as np

from rateprobe.bootstrap import Estimate, SpeakerBootstrap, cluster_estimates

NO_REPEATED_SPEAKER = "no test speaker has two utterances"
# SSB is a difference of sums: equal speaker means leave only rounding of this relative size.
_ROUNDING = 1e-12


def speaker_decomposition(
    y: np.ndarray, predictions: np.ndarray, boot: SpeakerBootstrap
) -> dict[str, Estimate | str | None]:
    """{between_r2, within_r2, speaker_mean_ceiling_r2} as studentised Estimates (module
    docstring), plus `reason` with between_r2 and within_r2 None when no speaker has two
    utterances.

    `predictions` is (n_utts,) or (n_runs, n_utts): with several runs (e.g. MLP seeds) each
    part is averaged over runs, in the point, every draw and every jackknife value alike, as
    the plain R² of `regression_estimates` is, so the reconciliation holds for the averages.
    """
    y = np.asarray(y, dtype=np.float64)
    runs = np.atleast_2d(np.asarray(predictions, dtype=np.float64))
    if runs.shape[1] != y.shape[0]:
        raise ValueError(f"{runs.shape[1]} predictions for {y.shape[0]} targets")
    per_speaker = np.stack([_speaker_terms(y, p, boot) for p in runs], axis=1)  # (S, runs, 6)
    estimates = cluster_estimates(per_speaker, boot, _run_averaged_decomposition)
    if np.bincount(boot.speaker_index).max() < 2:
        return {
            "between_r2": None,
            "within_r2": None,
            "speaker_mean_ceiling_r2": estimates["speaker_mean_ceiling_r2"],
            "reason": NO_REPEATED_SPEAKER,
        }
    return dict(estimates)


def _speaker_terms(y: np.ndarray, p: np.ndarray, boot: SpeakerBootstrap) -> np.ndarray:
    """Per-speaker [n_s, Σy, (Σy)²/n_s, Σ(y - ȳ_s)², (Σe)²/n_s, Σ(e - ē_s)²], e = y - p.

    y is shifted by its mean first: that changes no part and keeps (Σy)²/n_s small."""
    e = y - p
    y = y - y.mean()
    n = boot.speaker_sums(np.ones_like(y))
    sum_y, within_y = _sum_and_centred_squares(y, n, boot)
    sum_e, within_e = _sum_and_centred_squares(e, n, boot)
    return np.stack([n, sum_y, sum_y**2 / n, within_y, sum_e**2 / n, within_e], axis=-1)


def _sum_and_centred_squares(
    values: np.ndarray, n: np.ndarray, boot: SpeakerBootstrap
) -> tuple[np.ndarray, np.ndarray]:
    """Per speaker Σv and Σ(v - v̄_s)², the latter from centred values (no cancellation)."""
    sums = boot.speaker_sums(values)
    centred = values - (sums / n)[boot.speaker_index]
    return sums, boot.speaker_sums(centred**2)


def _decomposition_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """The three parts from sums over speakers [..., 6] of `_speaker_terms`; NaN where a part's
    denominator is 0 (one distinct speaker mean: SSB = 0; no repeated speaker: SSW = 0)."""
    n, sum_y, speaker_squares, ssw, sse_b, sse_w = np.moveaxis(sums, -1, 0)
    ssb = speaker_squares - sum_y**2 / n
    ssb = np.where(ssb > _ROUNDING * speaker_squares, ssb, 0.0)
    sst = ssb + ssw
    return {
        "between_r2": np.where(ssb > 0, 1.0 - sse_b / ssb, np.nan),
        "within_r2": np.where(ssw > 0, 1.0 - sse_w / ssw, np.nan),
        "speaker_mean_ceiling_r2": np.where(sst > 0, ssb / sst, np.nan),
    }


def _run_averaged_decomposition(sums: np.ndarray) -> dict[str, np.ndarray]:
    """The parts from sums [..., runs, 6], averaged over the runs."""
    return {name: part.mean(axis=-1) for name, part in _decomposition_from_sums(sums).items()}
