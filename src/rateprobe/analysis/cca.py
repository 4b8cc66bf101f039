"""CCA between a tap and a one-dimensional target, and SVCCA between two taps; both fitted on
train and scored on test.

With one target variable the first canonical correlation is the multiple correlation: the
correlation between the target and its least-squares fit from the features. Fitted and scored
on the same utterances with all dimensions (what the original study reported) it approaches 1
whenever the features have nearly as many dimensions as there are utterances, whatever they
encode. Here the fit is regularised by keeping the leading principal components of the
standardised training features, and scored on test; both in-sample values stand beside it.
The paper therefore names it for what it is, a held-out multiple correlation.

Between two multi-dimensional views of the same utterances (a tap and the final embedding) CCA
says how much of one is a linear image of the other. SVCCA (Raghu et al., 2017) first keeps
each view's leading principal directions; here both those and the canonical directions are
fitted on train, and the canonical correlations are measured on test.
"""

from __future__ import annotations

import numpy as np

from rateprobe.features import GramEigen


def correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation, or None when either side is constant."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    norm = np.sqrt((a @ a) * (b @ b))
    if norm <= 1e-12 * max(len(a), 1):
        return None
    return float(np.clip((a @ b) / norm, -1.0, 1.0))


def cca_scores(
    eigen: GramEigen,
    standardised_train: np.ndarray,
    train_targets: np.ndarray,
    standardised_test: np.ndarray,
    test_targets: np.ndarray,
    n_components: int,
) -> list[dict[str, float | int | None]]:
    """Per target: `heldout` (top-k principal components, fitted on train, correlation on test),
    `in_sample_pca` (the same fit scored on train) and `in_sample` (all dimensions, no
    regularisation, scored on train), with `n_components` actually used."""
    k = min(n_components, len(eigen.eigenvalues))
    no_shrinkage = np.zeros(1)
    full = eigen.weights(no_shrinkage)
    pca = eigen.weights(no_shrinkage, n_components=k)
    train_full = eigen.predict(standardised_train, full)[0]
    train_pca = eigen.predict(standardised_train, pca)[0]
    test_pca = eigen.predict(standardised_test, pca)[0]
    y_train = np.asarray(train_targets, dtype=np.float64).reshape(len(standardised_train), -1)
    y_test = np.asarray(test_targets, dtype=np.float64).reshape(len(standardised_test), -1)
    return [
        {
            "heldout": correlation(test_pca[t], y_test[:, t]),
            "in_sample_pca": correlation(train_pca[t], y_train[:, t]),
            "in_sample": correlation(train_full[t], y_train[:, t]),
            "n_components": k,
        }
        for t in range(y_train.shape[1])
    ]


def _leading_directions(train: np.ndarray, n_components: int) -> np.ndarray:
    """The top principal directions (d, k) of centred training features."""
    _, _, vt = np.linalg.svd(train - train.mean(axis=0), full_matrices=False)
    return vt[:n_components].T


def svcca(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], n_components: int
) -> dict[str, float | int | None]:
    """Held-out SVCCA between views a and b of the same utterances (rows): `heldout`, the mean
    over canonical pairs of their correlation on test; `in_sample`, the same on train (the
    canonical correlations themselves); `n_components` kept per view."""
    k = min(n_components, len(train[0]) - 2, train[0].shape[1], train[1].shape[1])
    if k < 1:
        return {"heldout": None, "in_sample": None, "n_components": 0}
    reduced = []
    for fit, score in zip(train, test, strict=True):
        directions, mean = _leading_directions(fit, k), fit.mean(axis=0)
        reduced.append(((fit - mean) @ directions, (score - mean) @ directions))
    (train_a, test_a), (train_b, test_b) = reduced
    q_a, r_a = np.linalg.qr(train_a)
    q_b, r_b = np.linalg.qr(train_b)
    u, canonical, vt = np.linalg.svd(q_a.T @ q_b)
    projected_a = test_a @ np.linalg.solve(r_a, u)
    projected_b = test_b @ np.linalg.solve(r_b, vt.T)
    heldout = [correlation(projected_a[:, i], projected_b[:, i]) for i in range(k)]
    finite = [c for c in heldout if c is not None]
    return {
        "heldout": float(np.mean(finite)) if finite else None,
        "in_sample": float(np.mean(np.clip(canonical, 0.0, 1.0))),
        "n_components": k,
    }
