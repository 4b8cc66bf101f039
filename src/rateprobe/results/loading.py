"""What the summary reads: each model's probe table, probing result, analyses, test predictions
and intervention results, and the corpus's bad-input reports."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rateprobe.analysis.verification import eer_estimate
from rateprobe.bootstrap import Estimate
from rateprobe.conventions import (
    EMBEDDING_TAP,
    PRIMARY_TARGET,
    SPLITS,
    baseline_key,
    prediction_key,
)
from rateprobe.probing.names import BASELINE_PREFIX, BASELINE_TAP


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_bad_reports(paths: Mapping[str, str | Path]) -> dict[str, dict[str, Any]]:
    """Each split's report of the inputs it skipped (rateprobe.corpus)."""
    return {split: json.loads(Path(paths[split]).read_text()) for split in SPLITS}


class ModelResults:
    """One model's probe table, probing result, analyses and test predictions."""

    def __init__(
        self,
        table: str | Path,
        result: str | Path,
        predictions: str | Path,
        analyses: Sequence[str | Path],
        interventions: str | Path | None = None,
    ) -> None:
        frame = pd.read_csv(table, dtype={"tap": str, "target": str, "probe": str})
        self.metrics: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        for row in frame.itertuples(index=False):
            record = {"value": row.value, "ci_low": row.ci_low, "ci_high": row.ci_high}
            clean = {k: None if pd.isna(v) else float(v) for k, v in record.items()}
            self.metrics.setdefault((row.tap, row.target, row.probe), {})[row.metric] = clean
        # The probing result and each analysis file hold distinct top-level sections.
        self.analysis: dict[str, Any] = read_json(result)
        for path in analyses:
            sections = read_json(path)
            shared = sorted(set(sections) & set(self.analysis))
            if shared:
                raise ValueError(f"{path}: sections {shared} are already given by another file")
            self.analysis.update(sections)
        with np.load(predictions, allow_pickle=False) as archive:
            self.predictions = {key: archive[key] for key in archive.files}
        self.taps: list[str] = self.analysis["taps"]
        self.interventions = None if interventions is None else read_json(interventions)

    def intervention_slopes(self, target: str, tap: str) -> dict[str, Any]:
        """Per intervention kind, the slope of the natural-speech probe's prediction against
        the manipulated rate at `tap` ({} without interventions)."""
        if self.interventions is None or target not in self.interventions["slopes"]:
            return {}
        entry = next(e for e in self.interventions["slopes"][target] if e["tap"] == tap)
        return {kind: result["slope"] for kind, result in entry["interventions"].items()}

    def intervention_taps(self) -> dict[str, str]:
        """The taps whose causal response the paper reports, by label: the dev-chosen best
        for the rate target, and the final embedding."""
        best = self.best(PRIMARY_TARGET)
        return {EMBEDDING_TAP: EMBEDDING_TAP} | ({"best": best["tap"]} if best else {})

    def selection(self, target: str, tap: str) -> dict[str, Any]:
        return self.analysis["selection"][target][self.taps.index(tap)]

    def prediction(self, target: str, probe: str, tap: str) -> np.ndarray:
        return self.predictions[prediction_key(target, probe, tap)]

    def baselines(self, target: str) -> dict[str, np.ndarray]:
        """Test predictions of each nuisance baseline of `target`, by baseline name."""
        prefix = baseline_key(target, "")
        return {
            key[len(prefix) :]: values
            for key, values in self.predictions.items()
            if key.startswith(prefix)
        }

    def baseline_metrics(self, target: str) -> dict[str, dict[str, dict[str, Any]]]:
        """The probe table's test metrics of each nuisance baseline of `target`, by name."""
        return {
            probe[len(BASELINE_PREFIX) :]: records
            for (tap, of, probe), records in self.metrics.items()
            if tap == BASELINE_TAP and of == target and probe.startswith(BASELINE_PREFIX)
        }

    def best_probe(self, target: str, tap: str) -> str | None:
        """The tap's dev-chosen probe; None when every probe fit on it failed."""
        probe = self.selection(target, tap)["best_probe"]
        return None if probe is None else str(probe)

    def best(self, target: str) -> dict[str, Any] | None:
        """The dev-chosen (tap, probe); None when every fit of every tap failed."""
        best: dict[str, Any] | None = self.analysis["best"][target]
        return best

    def eer(self) -> Estimate | None:
        """The test EER with its speaker resamples."""
        return eer_estimate(self.analysis["verification"])
