"""Ridge regression on standardised features, every alpha and target from one decomposition.

The eigendecomposition of the standardised training Gram matrix (rateprobe.features) gives the
ridge weights for any alpha as V diag(1/(s + alpha)) V'X'y, so the alpha search costs one
decomposition per tap plus a few matrix products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rateprobe.features import GramEigen
from rateprobe.probing.selection import crossfit_mse, half_sums


@dataclass(frozen=True)
class RidgeFit:
    """Per target: the alpha chosen on dev, dev MSE of every alpha, the cross-fitted dev MSE
    that compares ridge with other probes (rateprobe.probing.selection), and the predictions."""

    alphas: np.ndarray
    chosen_alpha: np.ndarray  # (n_targets,)
    dev_mse: np.ndarray  # (n_alphas, n_targets)
    crossfit_dev_mse: np.ndarray  # (n_targets,)
    dev_predictions: np.ndarray  # (n_targets, n_dev), at the chosen alpha
    test_predictions: np.ndarray  # (n_targets, n_test), at the chosen alpha

    def test_runs(self, t: int) -> np.ndarray:
        """Test predictions of target column `t` as (1 run, n_test), the shape MLPs give."""
        return self.test_predictions[t][None]


def one_standard_error_choice(squared_errors: np.ndarray) -> np.ndarray:
    """Per target, the index of the largest alpha (the grid ascends) whose mean squared error
    over dev utterances is at most min + SE(min); squared_errors (A, T, n_dev)."""
    mse = squared_errors.mean(axis=2)
    least = np.argmin(mse, axis=0)
    targets = np.arange(mse.shape[1])
    at_least = squared_errors[least, targets]  # (T, n_dev)
    standard_error = at_least.std(axis=1, ddof=1) / np.sqrt(at_least.shape[1])
    within = mse <= (mse[least, targets] + standard_error)[None]
    return len(mse) - 1 - np.argmax(within[::-1], axis=0)


def fit_ridge(
    eigen: GramEigen,
    dev_features: np.ndarray,
    dev_targets: np.ndarray,
    test_features: np.ndarray,
    alphas: list[float],
    dev_halves: np.ndarray,
) -> RidgeFit:
    """Fit every alpha on train, choose per target an alpha by the one-standard-error rule on
    dev, predict test.

    The rule (Hastie, Tibshirani and Friedman, ESL 7.10) takes the strongest shrinkage whose dev
    MSE is within one standard error of the least: with few dev utterances the plain argmin
    chases noise (on 8 dev utterances it picked an alpha whose test R² was -1.3). The standard
    error is that of the mean squared error over dev utterances at the least-MSE alpha.
    Features are standardised; targets (n, n_targets); `dev_halves` splits dev by speaker.
    """
    alpha_grid = np.asarray(sorted(alphas), dtype=np.float64)
    weights = eigen.weights(alpha_grid)
    dev_pred = eigen.predict(dev_features, weights)  # (A, T, n_dev)
    dev_targets = np.asarray(dev_targets, dtype=np.float64).reshape(len(dev_features), -1)
    squared_errors = (dev_pred - dev_targets.T[None]) ** 2  # (A, T, n_dev)
    dev_mse = squared_errors.mean(axis=2)
    best = one_standard_error_choice(squared_errors)
    targets_range = np.arange(dev_mse.shape[1])
    chosen_weights = weights[:, best, targets_range]  # (d, T)
    test_pred = test_features @ chosen_weights + eigen.target_mean
    return RidgeFit(
        alphas=alpha_grid,
        chosen_alpha=alpha_grid[best],
        dev_mse=dev_mse,
        crossfit_dev_mse=crossfit_mse(half_sums(squared_errors, dev_halves), len(dev_features)),
        dev_predictions=dev_pred[best, targets_range],
        test_predictions=test_pred.T,
    )
