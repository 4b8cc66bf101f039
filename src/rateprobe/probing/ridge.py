"""Ridge regression on standardised features, its penalty chosen by cross-validation over the
training speakers.

Penalty. alpha minimises the mean squared error of K-fold cross-validation on the training
split, the folds cut by speaker (rateprobe.probing.selection.speaker_folds); the probe is then
refitted on all training speakers at that alpha. Dev and test choose nothing here: dev compares
the tuned probe with the other probe family and between taps, test reports.

Why the argmin and not the one-standard-error rule (the largest alpha within one standard
error of the least error, ESL 7.10), which this module used on dev: the rule buys a "simpler"
model at some cost in accuracy, and for ridge simpler only means more shrunk, i.e. closer to
the mean predictor. On 211 LibriSpeech utterances (21-speaker dev halves) it took the largest
alpha, 1e7, in 20 of 24 fits, and the GE2E embedding scored test R² 0.00 with Pearson r 0.52.
The rule's reason here was a noisy curve (the dev argmin on 8 utterances picked an alpha with
test R² -1.3); the cross-validated curve averages over every training speaker, several times
the dev half, and the paper reports prediction accuracy, which the argmin estimates.

Cost. The Gram eigendecomposition of each fold's fitting speakers gives every alpha and target
at once (rateprobe.features.GramEigen): K + 1 eigendecompositions per tap, on the smaller of
d x d and n x n, but one Gram matrix: a fold's fitting Gram is the whole training split's
less its held-out part, centred exactly (X'X - n m m' for the fitting set's n utterances and
mean m), or, where there are fewer fitting utterances than features, a block of the training
kernel XX' centred on both sides. For the block taps of the full study (d <= 1,024, n =
28,539) forming the Gram (n d^2) costs more than its decompositions (d^3), so a fit costs about
one fit instead of K + 1. For the SimAM-ResNets' pooling output (d = 10,240) the K + 1
decompositions dominate: about 2 minutes each on 2 cores (bench/bench_probe_floors.py); the
conditional probes decompose nothing of their own, they share these decompositions
(decompose's slopes; rateprobe.probing.conditional). The folds keep no eigenvectors, only their
held-out utterances in the eigenbasis, and each part of the Gram matrix is freed once its fold
is decomposed: at d = 10,240 this holds the probing job under 13 GiB
(bench/probing_stage.json), where keeping them went past 24.

Grid edges. A choice at an end of the grid may want a value beyond it. While it does, the grid
is widened there by a decade, at most `max_widenings` times, unless the ridge path has already
reached its limit at that end: at the top the mean predictor (every principal component shrunk
at least a hundredfold, s_1 / (s_1 + alpha) <= PATH_LIMIT_SHRINKAGE), at the bottom least
squares (every kept component shrunk by at most one per cent). A choice at a limit is a result,
reported as `alpha_limit` (cross-validation prefers predicting the mean: the features hold no
linear signal the training speakers confirm; or it wants no penalty). A choice still at an end
short of its limit after the widenings is unresolved, and the fit fails (RidgeFit.edge_failure).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from rateprobe.features import GramEigen, covariance_eigen, eigenbasis_weights, kernel_eigen

# Shrinkage s / (s + alpha) of a principal component (eigenvalue s) at which the ridge path
# counts as having reached an end: below it for the largest s (the mean predictor), above one
# minus it for the smallest kept s (least squares).
PATH_LIMIT_SHRINKAGE = 0.01
# An end of the grid is widened by one decade at a time.
WIDENING_FACTOR = 10.0
# Slopes' part outside a fold's eigenbasis below this share of their norm is rounding.
OUTSIDE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class PenaltySearch:
    """How ridge chooses alpha: the configured grid, the fold of every training utterance
    (cut by speaker) and how many times an end of the grid may be widened."""

    alphas: tuple[float, ...]
    folds: np.ndarray
    max_widenings: int


@dataclass(frozen=True)
class RidgeFit:
    """Per target: the alpha chosen by cross-validation on the training speakers, where it sits
    on the searched grid, the dev MSE at it (the score that compares ridge with other probes)
    and the dev and test predictions."""

    alphas: np.ndarray  # the searched grid, ascending, widened where an end was chosen
    cv_mse: np.ndarray  # (n_alphas, n_targets): mean over folds of each fold's MSE
    chosen_alpha: np.ndarray  # (n_targets,)
    alpha_at_edge: tuple[str | None, ...]  # per target: "low", "high" or None
    alpha_limit: tuple[str | None, ...]  # per target: "mean", "least squares" or None
    dev_mse: np.ndarray  # (n_targets,), at the chosen alpha
    dev_predictions: np.ndarray  # (n_targets, n_dev), at the chosen alpha
    test_predictions: np.ndarray  # (n_targets, n_test), at the chosen alpha

    def test_runs(self, t: int) -> np.ndarray:
        """Test predictions of target column `t` as (1 run, n_test), the shape MLPs give."""
        return self.test_predictions[t][None]

    def edge_failure(self, t: int) -> str | None:
        """Why target `t`'s fit failed at an end of the grid, or None (inside the grid, or at
        a limit of the ridge path)."""
        edge = self.alpha_at_edge[t]
        if edge is None or self.alpha_limit[t] is not None:
            return None
        return (
            f"ridge alpha {self.chosen_alpha[t]:.3g} at the {edge} end of the grid "
            f"{self.alphas[0]:.3g}..{self.alphas[-1]:.3g}, widened as far as allowed"
        )


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: the decomposition of the other folds' utterances, centred
    on their own mean (as an intercept refitted per fold), and the held-out utterances in its
    eigenbasis. The fold keeps no eigenvectors: for a wide tap they are d x d (most of a
    gigabyte at d = 10,240, the pooling output of the SimAM-ResNets), K of them at once.

    Given slopes (d, k), directions in feature space that another fit sharing the fold needs
    (the conditional probe's residualiser, rateprobe.probing.conditional), the fold also keeps
    them in its eigenbasis extended by an orthonormal basis Q of their part outside it, and the
    held-out utterances' coordinates on Q: the fitting set's Gram matrix is zero on Q."""

    eigenvalues: np.ndarray  # (r,)
    projected_targets: np.ndarray  # (r, n_targets)
    target_mean: np.ndarray  # (n_targets,)
    held_out: np.ndarray  # (n_held, r): V' x of each held-out x, centred on the fitting mean
    targets: np.ndarray  # (n_held, n_targets)
    slopes: np.ndarray | None = None  # (r + q, k): [V Q]' slopes
    held_out_beyond: np.ndarray | None = None  # (n_held, q): Q' x, x centred as in held_out

    @classmethod
    def of(
        cls,
        eigen: GramEigen,
        held_out: np.ndarray,
        targets: np.ndarray,
        slopes: np.ndarray | None = None,
    ) -> Fold:
        """The fold of decomposition `eigen` and held-out features (n_held, d), centred."""
        in_eigenbasis = held_out @ eigen.eigenvectors
        fold = cls(
            eigen.eigenvalues, eigen.projected_targets, eigen.target_mean, in_eigenbasis, targets
        )
        if slopes is None:
            return fold
        inside = eigen.eigenvectors.T @ slopes
        outside = slopes - eigen.eigenvectors @ inside
        left, singular, _ = np.linalg.svd(outside, full_matrices=False)
        scale = float(np.linalg.norm(slopes))
        beyond = left[:, singular > OUTSIDE_TOLERANCE * scale] if scale > 0 else left[:, :0]
        return replace(
            fold, slopes=np.r_[inside, beyond.T @ slopes], held_out_beyond=held_out @ beyond
        )

    def columns(self, kept: slice) -> Fold:
        """The fold restricted to target columns `kept` (views, no copies)."""
        return replace(
            self,
            projected_targets=self.projected_targets[:, kept],
            target_mean=self.target_mean[kept],
            targets=self.targets[:, kept],
        )

    def mse(self, alphas: np.ndarray) -> np.ndarray:
        """Held-out MSE (n_alphas, n_targets)."""
        weights = eigenbasis_weights(self.eigenvalues, self.projected_targets, alphas)
        predictions = np.tensordot(weights, self.held_out, axes=([0], [1]))  # (n_alphas, T, n)
        errors = predictions + self.target_mean[None, :, None] - self.targets.T[None]
        return (errors**2).mean(axis=2)


class HeldOutScores(Protocol):
    """A cross-validation fold as penalty selection sees it: held-out MSE per alpha."""

    def mse(self, alphas: np.ndarray) -> np.ndarray: ...


class Refit(Protocol):
    """The probe refitted on all training utterances, as fit_decomposed uses it."""

    def path_end(self, edge: str) -> float | None:
        """The training Gram matrix's largest kept eigenvalue (`edge` "high") or smallest
        ("low"), which decide where the ridge path ends; None where none is kept (asked only
        for a choice at an end of the grid)."""
        ...

    def predictions(self, alphas: np.ndarray) -> dict[str, np.ndarray]:
        """Dev and test predictions (n, n_targets), target t's at alphas[t]."""
        ...


@dataclass(frozen=True)
class EigenRefit:
    """The refit by the decomposition of all training utterances, predicting the standardised
    dev and test features."""

    eigen: GramEigen
    features: Mapping[str, np.ndarray]

    def path_end(self, edge: str) -> float | None:
        eigenvalues = self.eigen.eigenvalues
        if eigenvalues.size == 0:
            return None
        return float(eigenvalues[0] if edge == "high" else eigenvalues[-1])

    def predictions(self, alphas: np.ndarray) -> dict[str, np.ndarray]:
        diagonal = np.arange(len(alphas))
        weights = self.eigen.weights(alphas)[:, diagonal, diagonal]  # (d, T)
        return {s: self.features[s] @ weights + self.eigen.target_mean for s in ("dev", "test")}


def decompose(
    x: np.ndarray, y: np.ndarray, folds: np.ndarray, slopes: np.ndarray | None = None
) -> tuple[GramEigen, list[Fold]]:
    """The decomposition of all training utterances (x as given, y (n, n_targets) centred on
    its mean) and one per fold id in `folds` (one per training utterance), of the other folds'
    utterances centred on their own mean, each keeping `slopes` (see Fold). The Gram matrix of
    the training features is computed once; a fold's fitting set has its part of it (by
    down-dating, or as a block of the kernel)."""
    members = [np.flatnonzero(folds == fold) for fold in np.unique(folds)]
    if x.shape[1] <= len(x) - max(len(held) for held in members):
        # Every fitting set has at least as many utterances as features: X'X (d x d).
        return _covariance_decompositions(x, y, members, slopes)
    kernel = x @ x.T
    y_mean = y.mean(axis=0)
    eigen = kernel_eigen(x, kernel, y - y_mean, y_mean)
    return eigen, [_kernel_fold(x, y, kernel, held, slopes) for held in members]


@dataclass(frozen=True)
class _Moments:
    """Sums over some utterances: their count, sum of x, sum of y, X'X and X'Y."""

    n: int
    x_sum: np.ndarray  # (d,)
    y_sum: np.ndarray  # (n_targets,)
    gram: np.ndarray  # (d, d)
    cross: np.ndarray  # (d, n_targets)

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> _Moments:
        return cls(len(x), x.sum(axis=0), y.sum(axis=0), x.T @ x, x.T @ y)

    def __add__(self, other: _Moments) -> _Moments:
        return self._plus(other, 1)

    def __sub__(self, other: _Moments) -> _Moments:
        return self._plus(other, -1)

    def _plus(self, other: _Moments, sign: int) -> _Moments:
        return _Moments(
            self.n + sign * other.n,
            self.x_sum + sign * other.x_sum,
            self.y_sum + sign * other.y_sum,
            self.gram + sign * other.gram,
            self.cross + sign * other.cross,
        )


def _covariance_decompositions(
    x: np.ndarray, y: np.ndarray, members: list[np.ndarray], slopes: np.ndarray | None
) -> tuple[GramEigen, list[Fold]]:
    """decompose by X'X: each fold's held-out moments once, their total for all of
    train, and a fitting set's centred Gram X'X - n m m' and cross-products X'Y - n m ybar'
    from the total less the held-out part."""
    y_mean = y.mean(axis=0)
    # Targets centred on train, so the down-dated cross-products cancel nothing large.
    parts = [_Moments.of(x[held], y[held] - y_mean) for held in members]
    total = functools.reduce(operator.add, parts)
    # Each part's Gram matrix leaves memory as soon as its fold has used it.
    folds = [_covariance_fold(x, y, y_mean, held, total - parts.pop(0), slopes) for held in members]
    return covariance_eigen(total.gram, total.cross, y_mean), folds


def _covariance_fold(
    x: np.ndarray,
    y: np.ndarray,
    y_mean: np.ndarray,
    held: np.ndarray,
    fitting: _Moments,
    slopes: np.ndarray | None,
) -> Fold:
    """The fold holding out utterances `held`, decomposed from its fitting set's moments."""
    x_mean, y_fold_mean = fitting.x_sum / fitting.n, fitting.y_sum / fitting.n
    gram = fitting.gram  # this fold's own array: centred in place, no d x d copy
    gram -= fitting.n * np.outer(x_mean, x_mean)
    cross = fitting.cross - fitting.n * np.outer(x_mean, y_fold_mean)
    eigen = covariance_eigen(gram, cross, y_mean + y_fold_mean)
    return Fold.of(eigen, x[held] - x_mean, y[held], slopes)


def _kernel_fold(
    x: np.ndarray, y: np.ndarray, kernel: np.ndarray, held: np.ndarray, slopes: np.ndarray | None
) -> Fold:
    """The fold holding out utterances `held`, decomposed by the fitting set's kernel: the
    block of all training utterances' kernel, centred on both sides (H K H, H = I - 11'/n)."""
    fitting = np.setdiff1d(np.arange(len(x)), held)
    block = kernel[np.ix_(fitting, fitting)]
    row_mean = block.mean(axis=1)
    centred_kernel = block - row_mean[:, None] - row_mean[None, :] + row_mean.mean()
    x_mean = x[fitting].mean(axis=0)
    y_fold_mean = y[fitting].mean(axis=0)
    eigen = kernel_eigen(x[fitting] - x_mean, centred_kernel, y[fitting] - y_fold_mean, y_fold_mean)
    return Fold.of(eigen, x[held] - x_mean, y[held], slopes)


def _cross_validated_mse(folds: Sequence[HeldOutScores], alphas: np.ndarray) -> np.ndarray:
    """Mean over folds of each fold's held-out MSE, (n_alphas, n_targets): the score
    scikit-learn's GridSearchCV averages."""
    return np.mean([fold.mse(alphas) for fold in folds], axis=0)


def _path_limit(eigenvalue: float | None, alpha: float, edge: str) -> str | None:
    """The end of the ridge path `alpha` has reached at grid end `edge`, or None;
    `eigenvalue`: the Gram matrix's largest kept one at the high end, smallest at the low."""
    if eigenvalue is None:
        # Features constant on train: every alpha predicts the mean.
        return "mean"
    shrinkage = eigenvalue / (eigenvalue + alpha)
    if edge == "high":
        return "mean" if shrinkage <= PATH_LIMIT_SHRINKAGE else None
    return "least squares" if shrinkage >= 1.0 - PATH_LIMIT_SHRINKAGE else None


@dataclass(frozen=True)
class _Choice:
    grid: np.ndarray
    cv_mse: np.ndarray
    index: np.ndarray  # (n_targets,)
    at_edge: tuple[str | None, ...]
    limit: tuple[str | None, ...]


def _choose(grid: np.ndarray, cv_mse: np.ndarray, refit: Refit) -> _Choice:
    """Each target's alpha of least cross-validated MSE on `grid` (ties to the smaller, as
    scikit-learn's GridSearchCV), and where it sits."""
    index = np.argmin(cv_mse, axis=0)
    ends = {0: "low", len(grid) - 1: "high"} if len(grid) > 1 else {}
    at_edge = tuple(ends.get(int(i)) for i in index)
    limit = tuple(
        None if edge is None else _path_limit(refit.path_end(edge), float(grid[i]), edge)
        for i, edge in zip(index, at_edge, strict=True)
    )
    return _Choice(grid, cv_mse, index, at_edge, limit)


def _choose_alpha(folds: Sequence[HeldOutScores], refit: Refit, search: PenaltySearch) -> _Choice:
    """Per target, the alpha of least cross-validated MSE, the grid widened by a decade at an
    end chosen short of the path's limit (that of the refit on all training speakers), at most
    `search.max_widenings` times (the grid is shared by the targets)."""
    grid = np.asarray(sorted(search.alphas), dtype=np.float64)
    choice = _choose(grid, _cross_validated_mse(folds, grid), refit)
    for _ in range(search.max_widenings):
        open_ends = {
            edge
            for edge, limit in zip(choice.at_edge, choice.limit, strict=True)
            if edge is not None and limit is None
        }
        if not open_ends:
            break
        low = grid[:1] / WIDENING_FACTOR if "low" in open_ends else grid[:0]
        high = grid[-1:] * WIDENING_FACTOR if "high" in open_ends else grid[:0]
        grid = np.concatenate([low, grid, high])
        choice = _choose(grid, _cross_validated_mse(folds, grid), refit)
    return choice


def fit_ridge(
    x: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray], search: PenaltySearch
) -> RidgeFit:
    """Choose each target's alpha by speaker-grouped cross-validation on train, refit on all
    of train, predict dev and test. `x`: standardised features per split (train centred),
    `y`: targets per split, (n, n_targets) or (n,)."""
    targets = target_matrices(x, y)
    eigen, folds = decompose(x["train"], targets["train"], np.asarray(search.folds))
    return fit_decomposed(EigenRefit(eigen, x), folds, search, targets["dev"])


def target_matrices(
    x: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Targets per split as float64 (n, n_targets)."""
    return {
        split: np.asarray(v, dtype=np.float64).reshape(len(x[split]), -1) for split, v in y.items()
    }


def fit_decomposed(
    refit: Refit,
    folds: Sequence[HeldOutScores],
    search: PenaltySearch,
    dev_targets: np.ndarray,
) -> RidgeFit:
    """fit_ridge from the folds' held-out scores and the refit on all training utterances:
    alphas chosen on the folds, dev and test predicted by the refit; `dev_targets` (n_dev,
    n_targets)."""
    choice = _choose_alpha(folds, refit, search)
    chosen_alpha = choice.grid[choice.index]
    predictions = refit.predictions(chosen_alpha)
    return RidgeFit(
        alphas=choice.grid,
        cv_mse=choice.cv_mse,
        chosen_alpha=chosen_alpha,
        alpha_at_edge=choice.at_edge,
        alpha_limit=choice.limit,
        dev_mse=((predictions["dev"] - dev_targets) ** 2).mean(axis=0),
        dev_predictions=predictions["dev"].T,
        test_predictions=predictions["test"].T,
    )
