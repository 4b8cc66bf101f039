"""Does verification use rate? Linear erasure of the speech-rate subspace from an embedding.

LEACE (Belrose et al. 2023, "LEACE: Perfect linear concept erasure in closed form"), fitted on
train features X (n, d) and a concept Z (n, k; here the CPS), is the affine map

    r(x) = x - W⁺ P W (x - μ),

μ the mean of X, W = (Σ_xx^{1/2})⁺ the whitening matrix of X's covariance, W⁺ = Σ_xx^{1/2} on
its range, and P the orthogonal projection onto the column space of W Σ_xz. In whitened
coordinates y = W (x - μ) the cross-covariance with Z is W Σ_xz, and projecting y onto the
complement of its column space is the smallest whitened change that zeroes it.

Erasure. Cov(r(X), Z) = Σ_xz - W⁺ P W Σ_xz = Σ_xz - W⁺ W Σ_xz = (I - Π) Σ_xz = 0, Π the
projection onto the range of Σ_xx, since P fixes W Σ_xz and Σ_xz lies in that range (by
Cauchy-Schwarz a direction u of zero variance has |Cov(uᵀX, Z)| <= √(uᵀΣ_xx u Var Z) = 0). No
affine function of r(X) then covaries with Z, so the least-squares fit of Z on the erased train
features is the constant: in-sample R² = 0.

Minimality. Write r(x) = x - D(x - μ) (an eraser that moves μ only adds ‖r(μ) - μ‖²_M to
the mean squared displacement). Erasure asks D Σ_xz = Σ_xz, and LEACE's D is
D* = W⁺ P W = Σ_xz (Σ_xzᵀ Σ_xx⁺ Σ_xz)⁺ Σ_xzᵀ Σ_xx⁺. Any other D is D* + E with E Σ_xz = 0,
and the cross term vanishes: D* Σ_xx Eᵀ = Σ_xz (…)⁺ Σ_xzᵀ Π Eᵀ = Σ_xz (…)⁺ (E Σ_xz)ᵀ = 0, so
the covariance of the displacement is D Σ_xx Dᵀ = D* Σ_xx D*ᵀ + E Σ_xx Eᵀ ⪰ D* Σ_xx D*ᵀ.
Hence r minimises the mean squared displacement E‖r(X) - X‖²_M for every positive
semi-definite M at once, the Euclidean and the whitened (M = Σ_xx⁺) norms included. r is the
identity on directions whitened-orthogonal to Σ_xz ((x - μ)ᵀ Σ_xx⁺ Σ_xz = 0) and moves points
only within the span of Σ_xz.

Rank. Embeddings often have fewer train utterances than dimensions, so Σ_xx is singular: it is
taken from the thin SVD of the centred features, and directions whose variance is below
`VARIANCE_RTOL` times the largest count as absent. That is far above the float64 rounding of
an exact null space (~1e-30) and the variance float32 storage adds (~1e-14 for values the size
of their spread), and a dropped direction u leaves at most √(λ_u Var Z) of cross-covariance.
The scale of Σ (1/n or 1/(n - 1)) cancels between W and W⁺.

A rise of the test EER after erasure means cosine scoring relies on the train-fitted rate
subspace; that subspace may carry speaker information beside rate, which is lost with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rateprobe.analysis.verification import eer_estimate, verification
from rateprobe.bootstrap import SpeakerBootstrap

VARIANCE_RTOL = 1e-10


@dataclass(frozen=True)
class ConceptEraser:
    """r(x) = x - ((x - μ) W Q) (W⁺ Q)ᵀ for row vectors x, Q (d, m) an orthonormal basis of
    the column space of W Σ_xz, so that P = Q Qᵀ; m = 0 leaves x unchanged."""

    mean: np.ndarray
    down: np.ndarray
    up: np.ndarray

    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        return x - ((x - self.mean) @ self.down) @ self.up.T


def fit_leace(
    features: np.ndarray, concept: np.ndarray, rtol: float = VARIANCE_RTOL
) -> ConceptEraser:
    """The LEACE eraser of `concept` (n,) or (n, k) from `features` (n, d).

    With Σ_xx = V Λ Vᵀ over the kept directions, W = V Λ^{-1/2} Vᵀ and W⁺ = V Λ^{1/2} Vᵀ; Q
    lies in the span of V, Q = V Q_r with Q_r an orthonormal basis of Λ^{-1/2} Vᵀ Σ_xz, so
    W Q = V Λ^{-1/2} Q_r and W⁺ Q = V Λ^{1/2} Q_r.
    """
    x = np.asarray(features, dtype=np.float64)
    z = np.asarray(concept, dtype=np.float64).reshape(len(x), -1)
    mean = x.mean(axis=0)
    centred = x - mean
    _, singular_values, axes = _kept_svd(centred, rtol)  # axes = Vᵀ, a principal axis a row
    scale = singular_values[:, None] / np.sqrt(len(x))  # Λ^{1/2}
    cross = centred.T @ (z - z.mean(axis=0)) / len(x)
    basis = _column_basis((axes @ cross) / scale)
    return ConceptEraser(mean, axes.T @ (basis / scale), axes.T @ (basis * scale))


def linear_r2(features: np.ndarray, concept: np.ndarray, rtol: float = VARIANCE_RTOL) -> float:
    """In-sample R² of the least-squares fit (with intercept) of `concept` on `features`,
    pooled over the concept's columns: ‖U_rᵀ Z_c‖²_F / ‖Z_c‖²_F, U_r the left singular vectors
    of the centred features over the kept directions and Z_c the centred concept. NaN for a
    constant concept."""
    x = np.asarray(features, dtype=np.float64)
    z = np.asarray(concept, dtype=np.float64).reshape(len(x), -1)
    left, _, _ = _kept_svd(x - x.mean(axis=0), rtol)
    centred = z - z.mean(axis=0)
    total = float(np.sum(centred**2))
    return float(np.sum((left.T @ centred) ** 2) / total) if total > 0 else float("nan")


def eer_after_erasure(
    train_features: np.ndarray,
    train_concept: np.ndarray,
    test_features: np.ndarray,
    original: Mapping[str, Any],
    boot: SpeakerBootstrap,
    chapter_ids: np.ndarray | None = None,
) -> dict[str, Any]:
    """The test EER after erasing the train-fitted concept subspace, and its paired change
    from `original`, the `verification` result of the same test features before erasure.

    `eer`, `eer_ci`, `eer_draws`, `eer_jackknife` are `verification`'s fields on the erased
    test embeddings (`eer_estimate` rebuilds the Estimate); `original_eer` is the EER before
    erasure; `eer_change` is the comparison record (value, ci_low, ci_high, p_value) of
    erased minus original EER on the same speaker resamples, None when the EER is not
    computable (then `eer_reason` says why); `train_r2_after_erasure` is `linear_r2` of the
    concept on the erased train features, 0 up to rounding.
    """
    eraser = fit_leace(train_features, train_concept)
    erased = verification(eraser(test_features), boot, chapter_ids)
    before, after = eer_estimate(original), eer_estimate(erased)
    result = {key: erased[key] for key in ("eer", "eer_ci", "eer_draws", "eer_jackknife")}
    result.update(
        original_eer=original["eer"],
        eer_change=(
            None if before is None or after is None else after.minus(before).comparison_record()
        ),
        train_r2_after_erasure=linear_r2(eraser(train_features), train_concept),
    )
    if "eer_reason" in erased:
        result["eer_reason"] = erased["eer_reason"]
    return result


def _kept_svd(centred: np.ndarray, rtol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The thin SVD U S Vᵀ of centred features (U (n, r), S (r,), Vᵀ (r, d)) over the
    directions whose variance S²/n exceeds `rtol` times the largest."""
    left, singular_values, right = np.linalg.svd(centred, full_matrices=False)
    keep = singular_values**2 > rtol * np.max(singular_values**2, initial=0.0)
    return left[:, keep], singular_values[keep], right[keep]


def _column_basis(matrix: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the column space of `matrix` (rows, m), with numpy's rank
    tolerance: singular values above max(shape) ε times the largest."""
    left, singular_values, _ = np.linalg.svd(matrix, full_matrices=False)
    tolerance = max(matrix.shape) * np.finfo(np.float64).eps
    return left[:, singular_values > tolerance * np.max(singular_values, initial=0.0)]
