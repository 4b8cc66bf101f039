"""Ridge regression on standardised features, every alpha and target from one decomposition.

The eigendecomposition of the standardised training Gram matrix X'X = V diag(s) V' gives the
ridge weights for any alpha as V diag(1/(s + alpha)) V'X'y, so the alpha search costs one
decomposition per tap plus a few matrix products. The same decomposition gives the principal
components (the leading columns of V) and the unregularised least-squares fit (alpha -> 0),
which the CCA analysis reuses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rateprobe.probing.selection import crossfit_mse, half_sums

# A feature whose training spread is below this fraction of the tap's typical spread (the root
# mean square of its features' standard deviations) is scaled as if it had that spread.
SCALE_FLOOR = 1e-2


@dataclass(frozen=True)
class Standardiser:
    """Feature centring and scaling learned on the training split, safe for sparse features.

    z = clip((x - mean) / scale, z_min, z_max) with scale = max(sd, SCALE_FLOOR * rms(sd)) and
    [z_min, z_max] the range of the training z-scores of that feature. Without the floor, a
    feature that is zero on nearly every training utterance (ReLU-sparse embeddings) turns a
    small test value into a z-score of thousands; without the clip, a feature constant on train
    can still carry any value at test. With both, every transformed value lies in the range the
    fitted model saw, so predictions stay bounded; a feature constant on train maps to 0.
    """

    mean: np.ndarray
    scale: np.ndarray
    z_min: np.ndarray
    z_max: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> Standardiser:
        features = np.asarray(features, dtype=np.float64)
        mean = features.mean(axis=0)
        sd = features.std(axis=0)
        typical = float(np.sqrt(np.mean(sd**2)))
        # All features constant: any positive scale keeps them at zero.
        floor = SCALE_FLOOR * typical if typical > 0 else 1.0
        scale = np.maximum(sd, floor)
        z = (features - mean) / scale
        return cls(mean=mean, scale=scale, z_min=z.min(axis=0), z_max=z.max(axis=0))

    def transform(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return np.clip(z, self.z_min, self.z_max)


@dataclass(frozen=True)
class GramEigen:
    """Eigenpairs (descending, non-zero) of the standardised training Gram matrix, and V'X'Y."""

    eigenvalues: np.ndarray  # (r,)
    eigenvectors: np.ndarray  # (d, r)
    projected_targets: np.ndarray  # (r, n_targets): V' X' (Y - mean Y)
    target_mean: np.ndarray  # (n_targets,)

    def weights(self, alphas: np.ndarray, n_components: int | None = None) -> np.ndarray:
        """Weights (d, n_alphas, n_targets) for each alpha; `n_components` keeps only the
        leading principal components (regression on the top principal components)."""
        keep = slice(None) if n_components is None else slice(0, n_components)
        s = self.eigenvalues[keep]
        z = self.projected_targets[keep]
        shrunk = z[:, None, :] / (s[:, None, None] + np.asarray(alphas)[None, :, None])
        r, n_alphas, n_targets = shrunk.shape
        flat = self.eigenvectors[:, keep] @ shrunk.reshape(r, n_alphas * n_targets)
        return flat.reshape(-1, n_alphas, n_targets)

    def predict(self, standardised: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Predictions (n_alphas, n_targets, n) for standardised features (n, d)."""
        d, n_alphas, n_targets = weights.shape
        flat = standardised @ weights.reshape(d, n_alphas * n_targets)
        predictions = flat.reshape(len(standardised), n_alphas, n_targets).transpose(1, 2, 0)
        return predictions + self.target_mean[None, :, None]


def gram_eigen(standardised_train: np.ndarray, targets: np.ndarray) -> GramEigen:
    """Decompose the standardised training features (n, d) against targets (n, n_targets).

    Uses the smaller of X'X (d x d) and XX' (n x n); eigenvalues below a relative tolerance
    are dropped, so the alpha -> 0 limit is the minimum-norm least-squares fit.
    """
    x = standardised_train
    targets = np.asarray(targets, dtype=np.float64).reshape(len(x), -1)
    target_mean = targets.mean(axis=0)
    n, d = x.shape
    if d <= n:
        eigenvalues, eigenvectors = np.linalg.eigh(x.T @ x)
    else:
        eigenvalues, left = np.linalg.eigh(x @ x.T)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = eigenvalues[order]
    keep = eigenvalues > max(eigenvalues[0], 0.0) * 1e-10
    eigenvalues = eigenvalues[keep]
    if d <= n:
        eigenvectors = eigenvectors[:, order][:, keep]
    else:
        eigenvectors = (x.T @ left[:, order][:, keep]) / np.sqrt(eigenvalues)
    projected = eigenvectors.T @ (x.T @ (targets - target_mean))
    return GramEigen(eigenvalues, eigenvectors, projected, target_mean)


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
