"""Causal rate interventions in summary.json (`interventions`; computed by
rateprobe.analysis.intervention_effects)."""

from __future__ import annotations

from typing import Literal

from rateprobe.results.records import (
    ConfigNumber,
    Contract,
    Decision,
    EstimateRecord,
    InterventionKind,
    PairedRecord,
    Target,
)


class RatioSpread(Contract):
    ratio_mean: float
    ratio_min: float
    ratio_max: float


class InterventionCondition(Contract):
    intervention: InterventionKind
    factor: ConfigNumber
    n_variants: int
    true_change: dict[Target, RatioSpread]


class Slope(EstimateRecord):
    """The probe's response to the manipulated rate: slope > 0 (tracks), slope < 1 (partial)."""

    p_zero: float | None
    p_one: float | None
    tracks: Decision | None
    partial: Decision | None


class TapSlopes(Contract):
    tap: str
    rate: Slope | None = None
    pause: Slope | None = None
    stretch: Slope | None = None
    pad: Slope | None = None


class DriftCondition(Contract):
    intervention: InterventionKind
    factor: ConfigNumber
    n_variants: int
    drift: EstimateRecord
    ratio: EstimateRecord


class Drift(Contract):
    tap: str
    between_speaker_distance: EstimateRecord
    conditions: list[DriftCondition]


class VerificationCondition(Contract):
    intervention: InterventionKind
    factor: ConfigNumber
    n_target_trials: int
    n_nontarget_trials: int
    eer: EstimateRecord | None
    eer_reason: str | None = None
    natural_eer: EstimateRecord | None
    natural_eer_reason: str | None = None
    difference: PairedRecord | None
    difference_reason: str | None = None


class VerificationAcrossRates(Contract):
    target_trials: Literal["cross-chapter", "all same-speaker pairs"]
    conditions: list[VerificationCondition]


class ModelInterventions(Contract):
    slopes: dict[Literal["best", "embedding"], TapSlopes]
    drift: Drift
    verification: VerificationAcrossRates


class Interventions(Contract):
    target: Target
    conditions: list[InterventionCondition]
    models: dict[str, ModelInterventions]
