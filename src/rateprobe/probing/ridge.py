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
at once (rateprobe.features.GramEigen): K + 1 decompositions per tap.

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

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rateprobe.features import GramEigen, gram_eigen

# Shrinkage s / (s + alpha) of a principal component (eigenvalue s) at which the ridge path
# counts as having reached an end: below it for the largest s (the mean predictor), above one
# minus it for the smallest kept s (least squares).
PATH_LIMIT_SHRINKAGE = 0.01
# An end of the grid is widened by one decade at a time.
WIDENING_FACTOR = 10.0


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
class _Fold:
    """One cross-validation fold: the decomposition of the other folds' utterances, centred
    on their own mean (as an intercept refitted per fold), and the held-out utterances."""

    eigen: GramEigen
    held_out: np.ndarray  # (n_held, d), centred on the fitting utterances' mean
    targets: np.ndarray  # (n_held, n_targets)

    def mse(self, alphas: np.ndarray) -> np.ndarray:
        """Held-out MSE (n_alphas, n_targets)."""
        predictions = self.eigen.predict(self.held_out, self.eigen.weights(alphas))
        return ((predictions - self.targets.T[None]) ** 2).mean(axis=2)


def _folds(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> list[_Fold]:
    """One decomposition per fold id in `folds` (one per training utterance)."""
    cut = []
    for fold in np.unique(folds):
        held = folds == fold
        centre = x[~held].mean(axis=0)
        cut.append(_Fold(gram_eigen(x[~held] - centre, y[~held]), x[held] - centre, y[held]))
    return cut


def _cross_validated_mse(folds: list[_Fold], alphas: np.ndarray) -> np.ndarray:
    """Mean over folds of each fold's held-out MSE, (n_alphas, n_targets): the score
    scikit-learn's GridSearchCV averages."""
    return np.mean([fold.mse(alphas) for fold in folds], axis=0)


def _path_limit(eigenvalues: np.ndarray, alpha: float, edge: str) -> str | None:
    """The end of the ridge path `alpha` has reached at grid end `edge`, or None."""
    if eigenvalues.size == 0:
        # Features constant on train: every alpha predicts the mean.
        return "mean"
    if edge == "high":
        top = eigenvalues[0] / (eigenvalues[0] + alpha)
        return "mean" if top <= PATH_LIMIT_SHRINKAGE else None
    bottom = eigenvalues[-1] / (eigenvalues[-1] + alpha)
    return "least squares" if bottom >= 1.0 - PATH_LIMIT_SHRINKAGE else None


@dataclass(frozen=True)
class _Choice:
    grid: np.ndarray
    cv_mse: np.ndarray
    index: np.ndarray  # (n_targets,)
    at_edge: tuple[str | None, ...]
    limit: tuple[str | None, ...]


def _choose(grid: np.ndarray, cv_mse: np.ndarray, eigenvalues: np.ndarray) -> _Choice:
    """Each target's alpha of least cross-validated MSE on `grid` (ties to the smaller, as
    scikit-learn's GridSearchCV), and where it sits."""
    index = np.argmin(cv_mse, axis=0)
    ends = {0: "low", len(grid) - 1: "high"} if len(grid) > 1 else {}
    at_edge = tuple(ends.get(int(i)) for i in index)
    limit = tuple(
        None if edge is None else _path_limit(eigenvalues, float(grid[i]), edge)
        for i, edge in zip(index, at_edge, strict=True)
    )
    return _Choice(grid, cv_mse, index, at_edge, limit)


def _choose_alpha(folds: list[_Fold], eigenvalues: np.ndarray, search: PenaltySearch) -> _Choice:
    """Per target, the alpha of least cross-validated MSE, the grid widened by a decade at an
    end chosen short of the path's limit, at most `search.max_widenings` times (the grid is
    shared by the targets; `eigenvalues` are those of all training speakers)."""
    grid = np.asarray(sorted(search.alphas), dtype=np.float64)
    choice = _choose(grid, _cross_validated_mse(folds, grid), eigenvalues)
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
        choice = _choose(grid, _cross_validated_mse(folds, grid), eigenvalues)
    return choice


def fit_ridge(
    x: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray], search: PenaltySearch
) -> RidgeFit:
    """Choose each target's alpha by speaker-grouped cross-validation on train, refit on all
    of train, predict dev and test. `x`: standardised features per split (train centred),
    `y`: targets per split, (n, n_targets) or (n,)."""
    targets = {
        split: np.asarray(v, dtype=np.float64).reshape(len(x[split]), -1) for split, v in y.items()
    }
    eigen = gram_eigen(x["train"], targets["train"])
    folds = _folds(x["train"], targets["train"], np.asarray(search.folds))
    choice = _choose_alpha(folds, eigen.eigenvalues, search)
    chosen_alpha = choice.grid[choice.index]
    diagonal = np.arange(len(chosen_alpha))
    weights = eigen.weights(chosen_alpha)[:, diagonal, diagonal]  # (d, T): alpha t for target t
    dev_predictions = x["dev"] @ weights + eigen.target_mean
    return RidgeFit(
        alphas=choice.grid,
        cv_mse=choice.cv_mse,
        chosen_alpha=chosen_alpha,
        alpha_at_edge=choice.at_edge,
        alpha_limit=choice.limit,
        dev_mse=((dev_predictions - targets["dev"]) ** 2).mean(axis=0),
        dev_predictions=dev_predictions.T,
        test_predictions=(x["test"] @ weights + eigen.target_mean).T,
    )
