"""The summary's own statistics: test R² estimates of dev-chosen probes with their speaker
resamples, recomputed from the saved test predictions (the probe table keeps only a point and
an interval, and a paired test needs both sides' resamples), and the paired tests on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rateprobe.bootstrap import Estimate, SpeakerBootstrap
from rateprobe.conventions import label_key, prediction_key
from rateprobe.metrics import METRIC_RANGES, regression_estimates
from rateprobe.probing.control_task import CONTROL_TASK, control_target
from rateprobe.probing.names import CONDITIONAL
from rateprobe.results.fields import metric_fields
from rateprobe.results.loading import ModelResults
from rateprobe.speaker_decomposition import speaker_decomposition

# The values each part of the speaker decomposition can take: intervals never leave them.
SPEAKER_PART_BOUNDS = {
    "between_r2": (-np.inf, 1.0),
    "within_r2": (-np.inf, 1.0),
    "speaker_mean_ceiling_r2": (0.0, 1.0),
}


def paired_test(first: Estimate | None, second: Estimate | None) -> dict[str, Any] | None:
    """The record {value, ci_low, ci_high, p_value} of first - second, or None."""
    if first is None or second is None:
        return None
    return first.minus(second).comparison_record()


class Scores:
    """Test R² estimates (point, speaker resamples, jackknife) of dev-chosen probes, computed
    once per (model, target, tap) and shared by every comparison that uses them."""

    def __init__(
        self, results: Mapping[str, ModelResults], targets: list[str], boot: SpeakerBootstrap
    ) -> None:
        self.results, self.boot = results, boot
        first = next(iter(results.values()))
        self.y = {target: first.predictions[label_key(target)] for target in targets}
        self._cache: dict[tuple[str, str, str], Estimate | None] = {}
        self._beyond: dict[tuple[str, str, str], dict[str, Any] | None] = {}

    def r2(self, model: str, target: str, tap: str) -> Estimate | None:
        """R² of the tap's dev-chosen probe; None when its fits failed or the tap is absent."""
        key = (model, target, tap)
        if key not in self._cache:
            own = self.results[model]
            probe = own.best_probe(target, tap) if tap in own.taps else None
            self._cache[key] = (
                None
                if probe is None
                else regression_estimates(
                    self.y[target], own.prediction(target, probe, tap), self.boot
                )["r2"]
            )
        return self._cache[key]

    def best_r2(self, model: str, target: str) -> Estimate | None:
        best = self.results[model].best(target)
        return None if best is None else self.r2(model, target, best["tap"])

    def beyond_duration(self, model: str, target: str, tap: str) -> dict[str, Any] | None:
        """R² of the conditional probe (duration basis + tap) minus R² of the basis alone,
        paired; None where the target is not conditioned on duration or the fit failed."""
        if (model, target, tap) not in self._beyond:
            own = self.results[model]
            key = prediction_key(target, CONDITIONAL, tap)
            record = None
            if (
                key in own.predictions
                and own.selection(target, tap)[CONDITIONAL]["failure"] is None
            ):
                basis = own.baselines(target)["duration_basis"]
                y = self.y[target]
                with_tap = regression_estimates(y, own.predictions[key], self.boot)["r2"]
                alone = regression_estimates(y, basis, self.boot)["r2"]
                record = with_tap.minus(alone).comparison_record()
            self._beyond[(model, target, tap)] = record
        return self._beyond[(model, target, tap)]

    def selectivity(self, model: str, target: str, tap: str) -> dict[str, Any] | None:
        """Hewitt & Liang's selectivity of the tap's ridge probe: its test R² on the target
        minus its test R² on the control task (rateprobe.probing.control_task), paired; None
        where the control task was not probed or the ridge fit failed."""
        own = self.results[model]
        control = control_target(target)
        key = prediction_key(control, "ridge", tap)
        if key not in own.predictions or own.selection(target, tap)["ridge"]["failure"]:
            return None
        real = regression_estimates(self.y[target], own.prediction(target, "ridge", tap), self.boot)
        on_control = regression_estimates(
            own.predictions[label_key(control)], own.predictions[key], self.boot
        )
        return {
            "probe": "ridge",
            "control_task": CONTROL_TASK,
            # Each R² interval within the values R² can take, as the probe table prints them.
            **metric_fields("r2", real["r2"].record(METRIC_RANGES["r2"])),
            **metric_fields("control_r2", on_control["r2"].record(METRIC_RANGES["r2"])),
            **metric_fields("selectivity", real["r2"].minus(on_control["r2"]).record()),
        }

    def speaker_parts(self, model: str, target: str, tap: str) -> dict[str, Any]:
        """Between- and within-speaker R² of the tap's dev-chosen probe, and the ceiling of a
        perfect speaker-mean predictor (rateprobe.speaker_decomposition)."""
        own = self.results[model]
        probe = own.best_probe(target, tap)
        if probe is None:
            return {"reason": "every probe fit failed"}
        parts = speaker_decomposition(self.y[target], own.prediction(target, probe, tap), self.boot)
        fields: dict[str, Any] = {}
        for name, bounds in SPEAKER_PART_BOUNDS.items():
            estimate = parts[name]
            if isinstance(estimate, Estimate):
                fields.update(metric_fields(name, estimate.record(bounds)))
            else:
                fields.update({name: None, f"{name}_reason": parts["reason"]})
        return fields
