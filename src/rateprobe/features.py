"""Standardised features and the eigendecomposition of their training Gram matrix.

The linear algebra that probes and analyses share. The eigendecomposition X'X = V diag(s) V'
of the standardised training features gives ridge weights for any alpha (rateprobe.probing.
ridge), the principal components (the leading columns of V) and the unregularised
least-squares fit (alpha -> 0) that the CCA analysis uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

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
        # (x - mean) / scale rounds monotonically in x, so the z-scores' extremes are those of
        # the features, transformed: exactly, and without the (n, d) z-scores.
        z_min = (features.min(axis=0) - mean) / scale
        z_max = (features.max(axis=0) - mean) / scale
        return cls(mean=mean, scale=scale, z_min=z_min, z_max=z_max)

    def transform(self, features: np.ndarray) -> np.ndarray:
        z = np.array(features, dtype=np.float64)  # a copy, standardised in place
        z -= self.mean
        z /= self.scale
        return np.clip(z, self.z_min, self.z_max, out=z)


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
        shrunk = eigenbasis_weights(self.eigenvalues[keep], self.projected_targets[keep], alphas)
        r, n_alphas, n_targets = shrunk.shape
        flat = self.eigenvectors[:, keep] @ shrunk.reshape(r, n_alphas * n_targets)
        return flat.reshape(-1, n_alphas, n_targets)

    def columns(self, kept: slice) -> GramEigen:
        """The decomposition restricted to target columns `kept` (views, no copies)."""
        return replace(
            self,
            projected_targets=self.projected_targets[:, kept],
            target_mean=self.target_mean[kept],
        )

    def predict(self, standardised: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Predictions (n_alphas, n_targets, n) for standardised features (n, d)."""
        d, n_alphas, n_targets = weights.shape
        flat = standardised @ weights.reshape(d, n_alphas * n_targets)
        predictions = flat.reshape(len(standardised), n_alphas, n_targets).transpose(1, 2, 0)
        return predictions + self.target_mean[None, :, None]


def eigenbasis_weights(
    eigenvalues: np.ndarray, projected_targets: np.ndarray, alphas: np.ndarray
) -> np.ndarray:
    """Ridge weights of each alpha in the eigenbasis, (r, n_alphas, n_targets): V' times
    GramEigen.weights, for features already projected on the eigenvectors."""
    z = projected_targets[:, None, :]
    return z / (eigenvalues[:, None, None] + np.asarray(alphas)[None, :, None])


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
        return covariance_eigen(x.T @ x, x.T @ (targets - target_mean), target_mean)
    return kernel_eigen(x, x @ x.T, targets - target_mean, target_mean)


def covariance_eigen(gram: np.ndarray, cross: np.ndarray, target_mean: np.ndarray) -> GramEigen:
    """The decomposition from X'X (d, d) and X'(Y - mean Y) (d, n_targets), however they were
    summed (rateprobe.probing.ridge down-dates them per cross-validation fold)."""
    eigenvalues, eigenvectors = _leading(*np.linalg.eigh(gram))
    return GramEigen(eigenvalues, eigenvectors, eigenvectors.T @ cross, target_mean)


def kernel_eigen(
    x: np.ndarray, kernel: np.ndarray, centred_targets: np.ndarray, target_mean: np.ndarray
) -> GramEigen:
    """The decomposition from the features X (n, d), their kernel XX' (n, n), however it was
    computed, and Y - mean Y (n, n_targets): the eigenvectors of X'X are X'U / sqrt(s)."""
    eigenvalues, left = _leading(*np.linalg.eigh(kernel))
    eigenvectors = (x.T @ left) / np.sqrt(eigenvalues)
    projected = eigenvectors.T @ (x.T @ centred_targets)
    return GramEigen(eigenvalues, eigenvectors, projected, target_mean)


def leading_order(eigenvalues: np.ndarray) -> np.ndarray:
    """Indices of the eigenvalues kept, in descending order: those below a relative tolerance
    are dropped."""
    order = np.argsort(eigenvalues)[::-1]
    descending = eigenvalues[order]
    return order[descending > max(descending[0], 0.0) * 1e-10]


def _leading(eigenvalues: np.ndarray, eigenvectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs in descending order, those below a relative tolerance dropped."""
    kept = leading_order(eigenvalues)
    # One copy of the eigenvectors, not two: a wide tap's are most of a gigabyte.
    return eigenvalues[kept], eigenvectors[:, kept]
