"""The numerical-health guard: a probe fit that broke is reported as failed, never ranked.

A fit is failed when any of its predictions is non-finite, or when its test MSE exceeds
FAILED_FIT_MSE_RATIO times that of the mean predictor (the training mean for every test
utterance), i.e. R² below about 1 - ratio. A probe that merely learned nothing scores near
R² = 0; one a factor of ten worse than knowing nothing has blown up numerically (a vanishing
feature scale, a diverged network), and its number says nothing about the representation.
"""

from __future__ import annotations

import numpy as np

FAILED_FIT_MSE_RATIO = 10.0


def fit_failure(
    y_test: np.ndarray, prediction_runs: np.ndarray, mean_predictor_mse: float
) -> str | None:
    """Why a fit failed, or None when it is healthy; `prediction_runs` (n_runs, n_test)
    holds the test predictions of every run (MLP seeds) alongside any other predictions."""
    runs = np.atleast_2d(prediction_runs)
    if not np.isfinite(runs).all():
        return "non-finite predictions"
    mse = float(np.mean((runs - np.asarray(y_test)[None]) ** 2))
    if mse > FAILED_FIT_MSE_RATIO * mean_predictor_mse:
        return (
            f"test MSE {mse:.3g} exceeds {FAILED_FIT_MSE_RATIO:g} x the mean predictor's "
            f"{mean_predictor_mse:.3g}"
        )
    return None
