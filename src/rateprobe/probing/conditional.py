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
conditional probe's folds are computed from the plain ridge probe's fold decompositions
(_ConditionalFold) rather than decomposed again: for the SimAM-ResNets' pooling output
(d = 10,240) that is K of the K + 1 eigendecompositions of 10,240 x 10,240 matrices saved per
tap. Only its refit on all training utterances decomposes the residualised tap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from rateprobe.conventions import SPLITS
from rateprobe.features import gram_eigen
from rateprobe.probing.ridge import (
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
    """One cross-validation fold of the conditional probe, from the ridge fold's decomposition
    of the tap (rateprobe.probing.ridge.Fold, kept with the residualiser's slopes).

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
    offsets: np.ndarray  # (n_held, T): held-out error of the prediction 0

    @classmethod
    def of(
        cls,
        fold: Fold,
        columns: _Columns,
        basis_moments: tuple[np.ndarray, np.ndarray],
        target_slopes: np.ndarray,
    ) -> _ConditionalFold:
        """The conditional fold of ridge fold `fold`, decomposed against the columns that
        `columns` lays out and with the tap's slopes on the basis; `basis_moments`: all
        training utterances' B'B and B'Y (B centred on train, Y the conditional targets centred
        on train); `target_slopes`: the targets' slopes on the basis (k, T)."""
        if fold.slopes is None or fold.held_out_beyond is None:
            raise ValueError("the ridge fold was decomposed without the residualiser's slopes")
        targets, basis = columns.conditional, columns.basis
        n_fitting = columns.n_train - len(fold.targets)
        held_basis, held_targets = fold.targets[:, basis], fold.targets[:, targets]
        basis_mean, target_mean = fold.target_mean[basis], fold.target_mean[targets]
        # Fitting-set moments: all of train less the held-out utterances, centred on the fold.
        basis_gram = (
            basis_moments[0]
            - held_basis.T @ held_basis
            - n_fitting * np.outer(basis_mean, basis_mean)
        )
        basis_cross = (
            basis_moments[1]
            - held_basis.T @ (held_targets - columns.train_target_mean)
            - n_fitting * np.outer(basis_mean, target_mean - columns.train_target_mean)
        )
        q, k = fold.held_out_beyond.shape[1], len(basis_mean)
        # X'B lies in the fold's eigenbasis: zero on Q.
        directions = np.c_[np.r_[fold.projected_targets[:, basis], np.zeros((q, k))], fold.slopes]
        identity = np.eye(k)
        inverse_c = np.block([[-basis_gram, -identity], [-identity, np.zeros((k, k))]])
        e = np.r_[target_slopes, basis_cross - basis_gram @ target_slopes]
        projected = np.r_[fold.projected_targets[:, targets], np.zeros((q, e.shape[1]))]
        return cls(
            eigenvalues=np.r_[fold.eigenvalues, np.zeros(q)],
            directions=directions,
            inverse_c=inverse_c,
            cross=projected - directions @ e,
            held_out=fold.held_out,
            held_out_beyond=fold.held_out_beyond,
            held_out_basis=held_basis - basis_mean,
            slopes=fold.slopes,
            offsets=(target_mean - held_targets) + (held_basis - basis_mean) @ target_slopes,
        )

    def mse(self, alphas: np.ndarray) -> np.ndarray:
        """Held-out MSE of the residualised targets (n_alphas, n_targets)."""
        shrink = 1.0 / (self.eigenvalues[None, :] + np.asarray(alphas)[:, None])  # (A, p)
        shrunk_directions = shrink[:, :, None] * self.directions[None]  # (A, p, 2k)
        capacitance = self.inverse_c[None] + self.directions.T[None] @ shrunk_directions
        shrunk_cross = shrink[:, :, None] * self.cross[None]  # (A, p, T)
        correction = np.linalg.solve(
            capacitance, shrunk_directions.transpose(0, 2, 1) @ self.cross[None]
        )
        weights = shrunk_cross - shrunk_directions @ correction  # (A, p, T)
        r = self.held_out.shape[1]
        predictions = (
            np.tensordot(weights[:, :r], self.held_out, axes=([1], [1]))
            + np.tensordot(weights[:, r:], self.held_out_beyond, axes=([1], [1]))
            - np.tensordot(self.slopes.T[None] @ weights, self.held_out_basis, axes=([1], [1]))
        )  # (A, T, n_held)
        errors = predictions + self.offsets.T[None]
        return (errors**2).mean(axis=2)


@dataclass(frozen=True)
class _Columns:
    """Where the columns of the matrix the folds were decomposed against come from: the ridge
    targets first (the conditional targets their leading ones), then the duration basis."""

    n_train: int
    ridge: slice
    conditional: slice
    basis: slice
    train_target_mean: np.ndarray  # (T,): the conditional targets' mean on train


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
    probe's folds come from ridge's decompositions (_ConditionalFold); its refit on all
    training utterances decomposes the residualised tap."""
    y = target_matrices(standardised_tap, targets)
    n_ridge, k = y["train"].shape[1], basis["train"].shape[1]
    on_features = Residualiser.fit(basis["train"], standardised_tap["train"])
    on_targets = Residualiser.fit(basis["train"], y["train"][:, :n_conditional])
    train_basis = basis["train"] - basis["train"].mean(axis=0)
    columns = _Columns(
        n_train=len(train_basis),
        ridge=slice(0, n_ridge),
        conditional=slice(0, n_conditional),
        basis=slice(n_ridge, n_ridge + k),
        train_target_mean=y["train"][:, :n_conditional].mean(axis=0),
    )
    eigen, folds = decompose(
        standardised_tap["train"],
        np.c_[y["train"], train_basis],
        np.asarray(search.folds),
        slopes=on_features.coefficients[1:].T,
    )
    ridge = fit_decomposed(
        eigen.columns(columns.ridge),
        [fold.columns(columns.ridge) for fold in folds],
        search,
        standardised_tap,
        y,
    )
    centred_targets = y["train"][:, columns.conditional] - columns.train_target_mean
    basis_moments = (train_basis.T @ train_basis, train_basis.T @ centred_targets)
    conditional_folds = [
        _ConditionalFold.of(fold, columns, basis_moments, on_targets.coefficients[1:])
        for fold in folds
    ]
    # Ridge's d x d eigenvectors leave memory before the residualised tap's are computed.
    del eigen, folds
    residual = {s: x - on_features.fitted(basis[s]) for s, x in standardised_tap.items()}
    base = {s: on_targets.fitted(basis[s]) for s in standardised_tap}
    residual_targets = {s: y[s][:, columns.conditional] - base[s] for s in standardised_tap}
    conditional = fit_decomposed(
        gram_eigen(residual["train"], residual_targets["train"]),
        conditional_folds,
        search,
        residual,
        residual_targets,
    )
    return ridge, replace(
        conditional,
        dev_predictions=conditional.dev_predictions + base["dev"].T,
        test_predictions=conditional.test_predictions + base["test"].T,
    )


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
