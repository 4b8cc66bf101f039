"""Rate beyond duration: nuisance baselines and conditional probes.

Pooled activations of almost any network encode how long an utterance is, and CPS = n / T is
partly a function of duration, so a probe can score on CPS without tracking rate. Two answers:

- Baselines, fitted by ordinary least squares with an intercept (one or two features need no
  penalty, and a penalty chosen on few speakers can shrink them to the mean): the mean
  predictor, log duration alone, log voiced duration alone, and both (the duration basis, the
  reference of the conditional probes). A basis that defines the target by construction is
  never used (n_chars with duration gives CPS exactly; log-duration gives duration).
- Conditional probing: R² of a probe on [duration basis, tap] minus R² of the basis alone. The
  basis B (log duration and log voiced duration, with an intercept) is not penalised and the
  tap X is, which by the Frisch-Waugh-Lovell theorem is ridge of the residual target M y on
  the residual features M X, M = I - B (B'B)^-1 B' fitted on train:

      ŷ = B β + (X - B Γ) w,   β = OLS of y on B,  Γ = OLS of X on B,  w = ridge(M y, M X).

  The difference of test R² between this and the basis alone is what the tap adds beyond
  duration. The ridge penalty is cross-validated on the residualised training speakers
  (rateprobe.probing.ridge); the residualiser is fitted once on all of them, so each fold's
  held-out speakers helped fit its k + 1 basis coefficients, a leak negligible beside the
  tap's hundreds of penalised ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from rateprobe.conventions import SPLITS
from rateprobe.probing.ridge import PenaltySearch, RidgeFit, fit_ridge

# A VAD can find very little speech; the floor keeps the logarithm finite.
MIN_SECONDS = 0.01
# Columns a baseline reads, and the targets it may not explain (they are defined by it).
BASELINE_COLUMNS = {"log_duration": "duration_s", "voiced_duration": "voiced_duration_s"}
DEFINED_BY = {"log_duration": {"duration_s"}, "voiced_duration": {"voiced_duration_s"}}
# Both duration features at once: the baseline the conditional probes are measured against.
DURATION_BASIS = "duration_basis"


def log_seconds(frame: pd.DataFrame, column: str) -> np.ndarray:
    return np.log(np.maximum(frame[column].to_numpy(dtype=np.float64), MIN_SECONDS))


def baseline_features(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each baseline's features (n, 1), for the baselines whose column the manifest has."""
    return {
        name: log_seconds(frame, column)[:, None]
        for name, column in BASELINE_COLUMNS.items()
        if column in frame.columns
    }


def duration_basis(frame: pd.DataFrame) -> np.ndarray:
    """(n, k) log duration and, when known, log voiced duration: what rate is conditioned on."""
    return np.concatenate(list(baseline_features(frame).values()), axis=1)


def allowed_baselines(target: str) -> list[str]:
    """The baselines that do not define `target` by construction: each duration feature alone,
    and the whole duration basis where `target` is conditioned on duration."""
    alone = [name for name in BASELINE_COLUMNS if target not in DEFINED_BY[name]]
    return alone + ([DURATION_BASIS] if conditions_on_duration(target) else [])


def conditions_on_duration(target: str) -> bool:
    """Whether 'beyond duration' means anything for the target (not for duration itself)."""
    return all(target not in defined for defined in DEFINED_BY.values())


@dataclass(frozen=True)
class Residualiser:
    """Least squares on the basis (with an intercept), fitted on train."""

    coefficients: np.ndarray  # (k + 1, m): intercept first

    @classmethod
    def fit(cls, basis: np.ndarray, values: np.ndarray) -> Residualiser:
        design = np.c_[np.ones(len(basis)), basis]
        return cls(np.linalg.lstsq(design, values, rcond=None)[0])

    def fitted(self, basis: np.ndarray) -> np.ndarray:
        return np.c_[np.ones(len(basis)), basis] @ self.coefficients


def baseline_designs(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each baseline's features (n, k) but the mean's: one duration feature, or the basis."""
    return {**baseline_features(frame), DURATION_BASIS: duration_basis(frame)}


def fit_conditional(
    standardised_tap: Mapping[str, np.ndarray],
    basis: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    search: PenaltySearch,
) -> RidgeFit:
    """Ridge on [basis, tap] with only the tap penalised (see the module docstring); targets
    (n, n_targets). Dev and test predictions include the basis part."""
    on_features = Residualiser.fit(basis["train"], standardised_tap["train"])
    on_targets = Residualiser.fit(basis["train"], targets["train"])
    residual = {s: x - on_features.fitted(basis[s]) for s, x in standardised_tap.items()}
    base = {s: on_targets.fitted(basis[s]) for s in standardised_tap}
    fit = fit_ridge(residual, {s: targets[s] - base[s] for s in standardised_tap}, search)
    return replace(
        fit,
        dev_predictions=fit.dev_predictions + base["dev"].T,
        test_predictions=fit.test_predictions + base["test"].T,
    )


def baseline_predictions(
    manifests: Mapping[str, pd.DataFrame], y: Mapping[str, np.ndarray], targets: list[str]
) -> dict[str, dict[str, np.ndarray]]:
    """Per target, the test predictions of each nuisance baseline it allows: the training
    mean, and least squares on each duration feature alone and on the whole duration basis
    (the reference of the conditional probes; rateprobe.probing.conditional)."""
    out: dict[str, dict[str, np.ndarray]] = {
        target: {"mean": np.full(len(y["test"]), y["train"][:, t].mean())}
        for t, target in enumerate(targets)
    }
    designs = {split: baseline_designs(manifests[split]) for split in SPLITS}
    for name, train_design in designs["train"].items():
        fitted = Residualiser.fit(train_design, y["train"]).fitted(designs["test"][name])
        for t, target in enumerate(targets):
            if name in allowed_baselines(target):
                out[target][name] = fitted[:, t]
    return out
