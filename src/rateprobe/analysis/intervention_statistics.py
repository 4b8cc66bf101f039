"""Speaker-bootstrap statistics of tempo-changed variants paired with their source utterances:
the slope of the probe's reading on the true change, the embedding's drift, and the EER of
trials across rates (rateprobe.analysis.intervention_effects says what each measures)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from rateprobe.analysis.verification import (
    same_speaker_targets,
    speaker_bootstrapped_eer,
    unit_length,
)
from rateprobe.bootstrap import (
    Estimate,
    SpeakerBootstrap,
    cluster_estimates,
    speaker_weightings,
    weighted_estimate,
)


@dataclasses.dataclass(frozen=True)
class Variants:
    """The variant rows, each tied to its source's row in the natural test manifest."""

    source_row: np.ndarray  # (m,) row of the source in the test manifest
    speaker_index: np.ndarray  # (m,) the source's speaker in the bootstrap's speaker order
    intervention: np.ndarray  # (m,) str
    factor: np.ndarray  # (m,) float

    def conditions(self) -> list[tuple[str, float]]:
        """The (intervention, factor) pairs present, sorted."""
        pairs = zip(self.intervention.tolist(), self.factor.tolist(), strict=True)
        return sorted(set(pairs))

    def where(self, intervention: str, factor: float | None = None) -> np.ndarray:
        mask = self.intervention == intervention
        return mask if factor is None else mask & (self.factor == factor)


def pair_variants(variants: pd.DataFrame, test: pd.DataFrame, boot: SpeakerBootstrap) -> Variants:
    """Tie each variant to its source in `test`; every source must be a test utterance."""
    rows = pd.Series(np.arange(len(test)), index=test["utt_id"].to_numpy(dtype=str))
    sources = variants["source_utt_id"].to_numpy(dtype=str)
    unknown = sorted(set(sources) - set(rows.index))
    if unknown:
        raise ValueError(f"intervention sources not in the test manifest: {unknown[:5]}")
    source_row = rows.loc[sources].to_numpy()
    return Variants(
        source_row=source_row,
        speaker_index=boot.speaker_index[source_row],
        intervention=variants["intervention"].to_numpy(dtype=str),
        factor=variants["factor"].to_numpy(dtype=np.float64),
    )


def _with_rows(boot: SpeakerBootstrap, speaker_index: np.ndarray) -> SpeakerBootstrap:
    """The same resamples, for rows whose speakers are `speaker_index`."""
    return dataclasses.replace(boot, speaker_index=speaker_index)


def _slope_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """b = Σ Δp Δy / Σ Δy² from sums [..., 2] = (Σ Δp Δy, Σ Δy²)."""
    return {"slope": sums[..., 0] / sums[..., 1]}


def _mean_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Σ x / n from sums [..., 2] = (Σ x, n)."""
    return {"mean": sums[..., 0] / sums[..., 1]}


def slope_estimate(
    delta_prediction: np.ndarray,
    delta_true: np.ndarray,
    speaker_index: np.ndarray,
    boot: SpeakerBootstrap,
) -> Estimate:
    """Least squares through the origin of Δp on Δy, pooled over rows, as a studentised
    speaker-bootstrap Estimate (rows' speakers in `speaker_index`)."""
    terms = np.stack([delta_prediction * delta_true, delta_true**2], axis=1)
    per_speaker = _with_rows(boot, speaker_index).speaker_sums(terms)
    return cluster_estimates(per_speaker, boot, _slope_from_sums)["slope"]


def slope_record(estimate: Estimate) -> dict[str, float | None]:
    """The slope with its interval and the p-values of "slope = 0" and "slope = 1"."""
    minus_one = Estimate(
        estimate.point - 1.0,
        estimate.draws - 1.0,
        estimate.jackknife - 1.0,
        estimate.resample_deviations,
    )
    return {**estimate.record(), "p_zero": estimate.p_value(), "p_one": minus_one.p_value()}


def row_mean_estimate(
    values: np.ndarray, speaker_index: np.ndarray, boot: SpeakerBootstrap
) -> Estimate:
    """The mean of per-row values as a studentised speaker-bootstrap Estimate."""
    terms = np.stack([values, np.ones_like(values)], axis=1)
    per_speaker = _with_rows(boot, speaker_index).speaker_sums(terms)
    return cluster_estimates(per_speaker, boot, _mean_from_sums)["mean"]


def cosine_drift(natural: np.ndarray, manipulated: np.ndarray) -> np.ndarray:
    """1 - cos between matching rows of two embedding matrices."""
    return 1.0 - np.sum(unit_length(natural) * unit_length(manipulated), axis=1)


def between_speaker_distance(embeddings: np.ndarray, boot: SpeakerBootstrap) -> Estimate:
    """Mean cosine distance between utterances of different speakers (rows in `boot`'s order).

    With S[a, b] the sum of distances between utterances of speakers a != b and N[a, b] their
    number of pairs, a weighting c of the speakers gives c'Sc / c'Nc.
    """
    unit = unit_length(embeddings)
    onehot = np.eye(boot.n_speakers)[boot.speaker_index]
    sums = onehot.T @ (1.0 - unit @ unit.T) @ onehot
    pairs = np.outer(onehot.sum(axis=0), onehot.sum(axis=0))
    np.fill_diagonal(sums, 0.0)
    np.fill_diagonal(pairs, 0.0)
    weights = speaker_weightings(boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.einsum("wi,ij,wj->w", weights, sums, weights) / np.einsum(
            "wi,ij,wj->w", weights, pairs, weights
        )
    return weighted_estimate(values, boot)


def ratio_estimate(numerator: Estimate, denominator: Estimate) -> Estimate:
    """numerator / denominator of paired Estimates (same resamples and speakers), BCa."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return Estimate(
            numerator.point / denominator.point,
            numerator.draws / denominator.draws,
            numerator.jackknife / denominator.jackknife,
        )


@dataclasses.dataclass(frozen=True)
class Trials:
    """Enrolment (natural test utterance) x test (variant) trials as boolean masks."""

    target: np.ndarray  # (n_enrol, n_variants)
    nontarget: np.ndarray
    description: str


def mismatch_trials(
    enrol_speaker: np.ndarray,
    enrol_chapter: np.ndarray,
    source_row: np.ndarray,
) -> Trials:
    """Trials of every natural test utterance against the variants of other utterances.

    `enrol_*` describe the natural test utterances (speaker index, chapter); `source_row`
    gives each variant's source among them. Targets follow `same_speaker_targets` (across
    chapters when any such trial exists); a variant is never scored against its own source.
    """
    n_enrol = len(enrol_speaker)
    other = np.arange(n_enrol)[:, None] != source_row[None, :]
    same = enrol_speaker[:, None] == enrol_speaker[source_row][None, :]
    other_chapter = enrol_chapter[:, None] != enrol_chapter[source_row][None, :]
    target, description = same_speaker_targets(same & other, other_chapter)
    return Trials(target=target, nontarget=~same, description=description)


def trial_eer(
    scores: np.ndarray,
    trials: Trials,
    enrol_speaker: np.ndarray,
    test_speaker: np.ndarray,
    boot: SpeakerBootstrap,
) -> Estimate:
    """EER of the trials with `scores` (n_enrol, n_variants) and its BCa Estimate, the trials
    weighted as `speaker_bootstrapped_eer` weights them (speakers as indices into `boot`'s)."""
    target_enrol, target_test = np.nonzero(trials.target)
    other_enrol, other_test = np.nonzero(trials.nontarget)
    return speaker_bootstrapped_eer(
        scores[target_enrol, target_test],
        scores[other_enrol, other_test],
        test_speaker[target_test],
        (enrol_speaker[other_enrol], test_speaker[other_test]),
        boot,
    )
