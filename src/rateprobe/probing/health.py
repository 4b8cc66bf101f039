"""The numerical-health guard: a probe fit that broke is reported as failed, never ranked.

A fit is failed when any of its predictions is non-finite, when its test MSE exceeds
FAILED_FIT_MSE_RATIO times that of the mean predictor (the training mean for every test
utterance), i.e. R² below about 1 - ratio, or when its predictions collapsed to a constant
without its own selection choosing that. A probe that merely learned nothing scores near R² = 0;
one a factor of ten worse than knowing nothing has blown up numerically (a vanishing feature
scale, a diverged network), and its number says nothing about the representation.

Collapse: a run whose test predictions spread (standard deviation) less than
COLLAPSED_SPREAD times the test labels' is a constant for every purpose of the paper. An MLP
that does this has died (its units silent), which is a failure of training. Ridge can get
there by choice: cross-validation on the training speakers may prefer the strongest shrinkage,
its verdict that the features hold no linear signal those speakers confirm. That is a result,
not a breakage (a random network may rightly know nothing), so ridge passes `may_collapse` and
its collapse is reported beside the fit (`prediction_spread`), not failed. A ridge collapse
caused by a penalty stuck at the end of its grid fails through RidgeFit.edge_failure instead.
"""

from __future__ import annotations

import numpy as np

FAILED_FIT_MSE_RATIO = 10.0
COLLAPSED_SPREAD = 0.01


def prediction_spread(y_test: np.ndarray, prediction_runs: np.ndarray) -> float | None:
    """The smallest standard deviation of a run's test predictions, as a fraction of the test
    labels' (None when the labels are constant or a prediction is non-finite)."""
    runs = np.atleast_2d(prediction_runs)
    label_spread = float(np.std(y_test))
    if label_spread == 0 or not np.isfinite(runs).all():
        return None
    return float(runs.std(axis=1).min()) / label_spread


def fit_failure(
    y_test: np.ndarray,
    prediction_runs: np.ndarray,
    mean_predictor_mse: float,
    may_collapse: bool = False,
) -> str | None:
    """Why a fit failed, or None when it is healthy; `prediction_runs` (n_runs, n_test)
    holds the test predictions of every run (MLP seeds) alongside any other predictions;
    `may_collapse`: the probe's selection may choose a constant prediction (see above)."""
    runs = np.atleast_2d(prediction_runs)
    if not np.isfinite(runs).all():
        return "non-finite predictions"
    mse = float(np.mean((runs - np.asarray(y_test)[None]) ** 2))
    if mse > FAILED_FIT_MSE_RATIO * mean_predictor_mse:
        return (
            f"test MSE {mse:.3g} exceeds {FAILED_FIT_MSE_RATIO:g} x the mean predictor's "
            f"{mean_predictor_mse:.3g}"
        )
    spread = prediction_spread(y_test, runs)
    if not may_collapse and spread is not None and spread < COLLAPSED_SPREAD:
        return (
            f"collapsed predictions: their spread is {spread:.3g} of the labels', below "
            f"{COLLAPSED_SPREAD:g}"
        )
    return None
