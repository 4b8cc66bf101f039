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

Cost. Residualising changes a fold's Gram matrix of the tap by a term of rank 2k, so the
conditional probe's folds and its refit on all training utterances are computed from the plain
ridge probe's decompositions (_ConditionalFold; the refit is a fold that holds out dev and
test) rather than decomposed again: for the SimAM-ResNets' pooling output (d = 10,240) that is
K + 1 eigendecompositions of 10,240 x 10,240 matrices saved per tap, and the residualised
copy of the tap is never made. Only a choice at an end of the grid asks for the residualised
Gram matrix's eigenvalues (where its ridge path ends): a decomposition without vectors.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse.linalg import LinearOperator, eigsh

from rateprobe.conventions import SPLITS
from rateprobe.features import leading_order
from rateprobe.probing.ridge import (
    EigenRefit,
    Fold,
    PenaltySearch,
    RidgeFit,
    decompose,
    fit_decomposed,
    target_matrices,
)

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


@dataclass(frozen=True)
class _ConditionalFold:
    """One fold of the conditional probe, from the ridge fold's decomposition of the tap
    (rateprobe.probing.ridge.Fold, kept with the residualiser's slopes): a cross-validation
    fold, or the refit on all training utterances holding out dev and test.

    With the tap's fitting-set Gram matrix G = V S V' (centred on the fold), the residualised
    tap's is G + W C W', W = [X'B, Γ'] (d x 2k: the fitting set's tap-basis cross-products and
    the residualiser's slopes), C = [[0, -I], [-I, B'B]] (B centred on the fold). By the
    Woodbury identity every alpha's ridge weights on the residualised tap are those of G plus a
    2k x 2k solve, in the fold's eigenbasis (extended by Q, where G is zero): no decomposition
    of its own, the same numbers as decomposing the residualised tap (up to rounding)."""

    eigenvalues: np.ndarray  # (p,): the fold's, then zeros on Q
    directions: np.ndarray  # (p, 2k): W in the extended eigenbasis
    inverse_c: np.ndarray  # (2k, 2k)
    cross: np.ndarray  # (p, T): the residualised tap's cross-products with residualised targets
    held_out: np.ndarray  # (n_held, r): the ridge fold's, shared
    held_out_beyond: np.ndarray  # (n_held, q)
    held_out_basis: np.ndarray  # (n_held, k): centred on the fitting set
    slopes: np.ndarray  # (p, k): the residualiser's slopes Γ' in the extended eigenbasis
    baseline: np.ndarray  # (n_held, T): the prediction at infinite alpha (mean and basis part)
    targets: np.ndarray  # (n_held, T)

    @classmethod
    def of(
        cls,
        fold: Fold,
        columns: _Columns,
        fitting_moments: tuple[np.ndarray, np.ndarray],
        target_slopes: np.ndarray,
    ) -> _ConditionalFold:
        """The conditional fold of ridge fold `fold`, decomposed against the columns that
        `columns` lays out and with the tap's slopes on the basis; `fitting_moments`: the
        fitting set's B'B and B'Y, both centred on it (Y the conditional targets);
        `target_slopes`: the targets' slopes on the basis (k, T)."""
        if fold.slopes is None or fold.held_out_beyond is None:
            raise ValueError("the ridge fold was decomposed without the residualiser's slopes")
        basis_gram, basis_cross = fitting_moments
        held_basis = fold.targets[:, columns.basis] - fold.target_mean[columns.basis]
        q, k = fold.held_out_beyond.shape[1], held_basis.shape[1]
        # X'B lies in the fold's eigenbasis: zero on Q.
        directions = np.c_[
            np.r_[fold.projected_targets[:, columns.basis], np.zeros((q, k))], fold.slopes
        ]
        identity = np.eye(k)
        inverse_c = np.block([[-basis_gram, -identity], [-identity, np.zeros((k, k))]])
        e = np.r_[target_slopes, basis_cross - basis_gram @ target_slopes]
        projected = np.r_[fold.projected_targets[:, columns.conditional], np.zeros((q, e.shape[1]))]
        return cls(
            eigenvalues=np.r_[fold.eigenvalues, np.zeros(q)],
            directions=directions,
            inverse_c=inverse_c,
            cross=projected - directions @ e,
            held_out=fold.held_out,
            held_out_beyond=fold.held_out_beyond,
            held_out_basis=held_basis,
            slopes=fold.slopes,
            baseline=fold.target_mean[columns.conditional] + held_basis @ target_slopes,
            targets=fold.targets[:, columns.conditional],
        )

    def predictions(self, alphas: np.ndarray) -> np.ndarray:
        """Held-out predictions of the conditional targets (n_alphas, n_targets, n_held)."""
        shrink = 1.0 / (self.eigenvalues[None, :] + np.asarray(alphas)[:, None])  # (A, p)
        shrunk_directions = shrink[:, :, None] * self.directions[None]  # (A, p, 2k)
        capacitance = self.inverse_c[None] + self.directions.T[None] @ shrunk_directions
        shrunk_cross = shrink[:, :, None] * self.cross[None]  # (A, p, T)
        correction = np.linalg.solve(
            capacitance, shrunk_directions.transpose(0, 2, 1) @ self.cross[None]
        )
        weights = shrunk_cross - shrunk_directions @ correction  # (A, p, T)
        r = self.held_out.shape[1]
        on_residualised_tap = (
            np.tensordot(weights[:, :r], self.held_out, axes=([1], [1]))
            + np.tensordot(weights[:, r:], self.held_out_beyond, axes=([1], [1]))
            - np.tensordot(self.slopes.T[None] @ weights, self.held_out_basis, axes=([1], [1]))
        )  # (A, T, n_held)
        return on_residualised_tap + self.baseline.T[None]

    def mse(self, alphas: np.ndarray) -> np.ndarray:
        """Held-out MSE (n_alphas, n_targets)."""
        return ((self.predictions(alphas) - self.targets.T[None]) ** 2).mean(axis=2)

    def gram_eigenvalues(self) -> np.ndarray:
        """The kept eigenvalues of the residualised tap's fitting-set Gram matrix, descending:
        diag(S, 0) + W C W' in the extended eigenbasis, decomposed without vectors (most of
        the cost of a decomposition: at d = 10,240 about a minute on 2 cores)."""
        gram = self.directions @ np.linalg.solve(self.inverse_c, self.directions.T)
        gram[np.diag_indices_from(gram)] += self.eigenvalues
        eigenvalues = np.linalg.eigvalsh(gram)
        return eigenvalues[leading_order(eigenvalues)]

    def top_gram_eigenvalue(self) -> float:
        """The largest eigenvalue of the residualised tap's fitting-set Gram matrix, by Lanczos
        iteration to machine precision: a product with diag(S, 0) + W C W' costs O(p k), so
        this takes well under a second where gram_eigenvalues takes a minute."""
        c = np.linalg.inv(self.inverse_c)
        p = len(self.eigenvalues)
        gram = LinearOperator(
            (p, p),
            matvec=lambda v: self.eigenvalues * v + self.directions @ (c @ (self.directions.T @ v)),
            dtype=np.float64,
        )
        if p == 1:
            return float(gram.matvec(np.ones(1))[0])
        # A fixed start, so that the result does not depend on ARPACK's random one.
        start = np.ones(p) / np.sqrt(p)
        return float(eigsh(gram, k=1, which="LA", v0=start, tol=0, return_eigenvectors=False)[0])


@dataclass(frozen=True)
class _ConditionalRefit:
    """The conditional probe refitted on all training utterances (rateprobe.probing.ridge's
    Refit): a conditional fold holding out dev, then test."""

    fold: _ConditionalFold
    n_dev: int

    @functools.cached_property
    def _eigenvalues(self) -> np.ndarray:
        return self.fold.gram_eigenvalues()

    @functools.cached_property
    def _top_eigenvalue(self) -> float:
        return self.fold.top_gram_eigenvalue()

    def path_end(self, edge: str) -> float | None:
        if edge == "high":
            top = self._top_eigenvalue
            return top if top > 0 else None
        # The smallest kept eigenvalue needs them all (a choice at the low end is rare where
        # the tap is wide: the training utterances outnumber its dimensions).
        return float(self._eigenvalues[-1]) if self._eigenvalues.size else None

    def predictions(self, alphas: np.ndarray) -> dict[str, np.ndarray]:
        diagonal = np.arange(len(alphas))
        predicted = self.fold.predictions(alphas)[diagonal, diagonal].T  # (n_held, T)
        return {"dev": predicted[: self.n_dev], "test": predicted[self.n_dev :]}


@dataclass(frozen=True)
class _Columns:
    """Where the columns of the matrix the folds were decomposed against come from: the ridge
    targets first (the conditional targets their leading ones), then the duration basis."""

    ridge: slice
    conditional: slice
    basis: slice


def _fold_moments(
    fold: Fold,
    columns: _Columns,
    train_moments: tuple[np.ndarray, np.ndarray],
    train_target_mean: np.ndarray,
    n_train: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A cross-validation fold's fitting-set B'B and B'Y, centred on it: all training
    utterances' (`train_moments`, B and Y centred on train) less the held-out utterances'."""
    n_fitting = n_train - len(fold.targets)
    held_basis = fold.targets[:, columns.basis]  # centred on train
    held_targets = fold.targets[:, columns.conditional] - train_target_mean
    basis_mean = fold.target_mean[columns.basis]
    target_mean = fold.target_mean[columns.conditional] - train_target_mean
    return (
        train_moments[0] - held_basis.T @ held_basis - n_fitting * np.outer(basis_mean, basis_mean),
        train_moments[1]
        - held_basis.T @ held_targets
        - n_fitting * np.outer(basis_mean, target_mean),
    )


def fit_ridge_and_conditional(
    standardised_tap: Mapping[str, np.ndarray],
    basis: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    n_conditional: int,
    search: PenaltySearch,
) -> tuple[RidgeFit, RidgeFit]:
    """Ridge of every target column (n, n_targets) on the tap, and the conditional probe of
    the first `n_conditional`: ridge on [basis, tap] with only the tap penalised (see the
    module docstring), its dev and test predictions including the basis part. The conditional
    probe's folds and refit come from ridge's decompositions (_ConditionalFold)."""
    y = target_matrices(standardised_tap, targets)
    n_ridge, k = y["train"].shape[1], basis["train"].shape[1]
    on_features = Residualiser.fit(basis["train"], standardised_tap["train"])
    on_targets = Residualiser.fit(basis["train"], y["train"][:, :n_conditional])
    basis_mean = basis["train"].mean(axis=0)
    columns = _Columns(
        ridge=slice(0, n_ridge),
        conditional=slice(0, n_conditional),
        basis=slice(n_ridge, n_ridge + k),
    )
    # Every split's basis centred on train's, beside the targets: the columns decomposed.
    with_basis = {s: np.c_[y[s], basis[s] - basis_mean] for s in standardised_tap}
    slopes = on_features.coefficients[1:].T
    eigen, folds = decompose(
        standardised_tap["train"], with_basis["train"], np.asarray(search.folds), slopes
    )
    ridge = fit_decomposed(
        EigenRefit(eigen.columns(columns.ridge), standardised_tap),
        [fold.columns(columns.ridge) for fold in folds],
        search,
        y["dev"],
    )
    train_basis = with_basis["train"][:, columns.basis]
    train_target_mean = eigen.target_mean[columns.conditional]
    centred_targets = y["train"][:, columns.conditional] - train_target_mean
    train_moments = (train_basis.T @ train_basis, train_basis.T @ centred_targets)
    target_slopes = on_targets.coefficients[1:]
    conditional_folds = [
        _ConditionalFold.of(
            fold,
            columns,
            _fold_moments(fold, columns, train_moments, train_target_mean, len(train_basis)),
            target_slopes,
        )
        for fold in folds
    ]
    held_out = Fold.of(
        eigen,
        np.r_[standardised_tap["dev"], standardised_tap["test"]],
        np.r_[with_basis["dev"], with_basis["test"]],
        slopes,
    )
    refit = _ConditionalRefit(
        _ConditionalFold.of(held_out, columns, train_moments, target_slopes), len(y["dev"])
    )
    # Ridge's d x d eigenvectors leave memory before a choice at an end of the grid asks for
    # the residualised Gram matrix (d x d) and its eigenvalues.
    del eigen, folds, held_out
    return ridge, fit_decomposed(refit, conditional_folds, search, y["dev"][:, columns.conditional])


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
