"""The records summary.json repeats everywhere: decisions, estimates, regression metrics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

# Every probe target (rateprobe.conventions.PROBE_TARGETS).
Target = Literal["n_chars", "duration_s", "cps", "voiced_duration_s", "articulation_rate"]
Probe = Literal["ridge", "mlp"]
Fit = Literal["ridge", "mlp", "conditional"]
PenalisedFit = Literal["ridge", "conditional"]
AlphaEdge = Literal["low", "high"]
AlphaLimit = Literal["mean", "least squares"]
Family = Literal["primary", "check", "descriptive"]
InterventionKind = Literal["rate", "pause", "stretch", "pad"]
# A [low, high] interval (or range).
Interval = tuple[float, float]
# A number the config states, kept an int or a float as written there.
ConfigNumber = int | float


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Decision(Contract):
    """A paired test's record and its decision (rateprobe.decisions)."""

    family: Family
    delta: float | None
    delta_ci: Interval | None
    p_value: float | None
    p_holm: float | None
    decided: bool | None
    decided_reason: str | None = None
    n_parts: int | None = None


class EstimateRecord(Contract):
    """A value with its 95% interval (rateprobe.bootstrap.Estimate.record)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None


class PairedRecord(EstimateRecord):
    p_value: float | None


class RegressionMetrics(Contract):
    """Test metrics of a regression: each with its interval, or null with the reason."""

    mse: float | None = None
    mse_ci: Interval | None = None
    mse_reason: str | None = None
    mae: float | None = None
    mae_ci: Interval | None = None
    mae_reason: str | None = None
    r2: float | None = None
    r2_ci: Interval | None = None
    r2_reason: str | None = None
    pearson_r: float | None = None
    pearson_r_ci: Interval | None = None
    pearson_r_reason: str | None = None


class OverDuration(Contract):
    """R² of the conditional probe (duration basis + tap) minus R² of the basis alone."""

    delta_r2_over_duration: float | None
    delta_r2_over_duration_ci: Interval | None
