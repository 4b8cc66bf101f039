"""Probes: ridge against scikit-learn, the batched MLP against networks trained alone, and the
whole per-model job on fake activations with a planted signal and pure noise."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fake_study import (
    fake_activations,
    fake_manifests,
    probe_into,
    run_fake_study,
    small_config,
)
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV, GroupKFold, PredefinedSplit

from rateprobe.conventions import SPLITS
from rateprobe.features import Standardiser, gram_eigen
from rateprobe.inputs import ProbeInputError
from rateprobe.probing import mlp, ridge
from rateprobe.probing.health import COLLAPSED_SPREAD, fit_failure, prediction_spread
from rateprobe.probing.mlp import MLPFit, MLPSettings, fit_mlps
from rateprobe.probing.mlp_network import forward, init_probe, write_gradients
from rateprobe.probing.ridge import PenaltySearch, fit_ridge
from rateprobe.probing.run import CSV_COLUMNS
from rateprobe.probing.selection import speaker_folds

torch.set_num_threads(1)


def halves(n_dev: int) -> np.ndarray:
    """Dev utterances alternating between the two selection halves."""
    return np.arange(n_dev) % 2


@pytest.mark.parametrize(("n", "d"), [(50, 8), (12, 30)])  # primal and dual decomposition
def test_ridge_weights_match_sklearn_for_every_alpha(n: int, d: int) -> None:
    rng = np.random.default_rng(0)
    x = Standardiser.fit(raw := rng.normal(size=(n, d)) * 3 + 1).transform(raw)
    y = np.stack([x[:, 0] * 2 + rng.normal(size=n), rng.normal(size=n)], axis=1)
    alphas = np.array([0.1, 1.0, 10.0])
    weights = gram_eigen(x, y).weights(alphas)
    for a, alpha in enumerate(alphas):
        reference = Ridge(alpha=alpha).fit(x, y)
        np.testing.assert_allclose(weights[:, a, :], reference.coef_.T, atol=1e-8)


def speaker_ids(n: int, per_speaker: int = 5) -> np.ndarray:
    return (np.arange(n) // per_speaker).astype(str)


def linear_splits(
    rng: np.random.Generator, d: int, signal: float, sizes: tuple[int, int, int] = (60, 30, 40)
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Standardised features and a target `signal` x (a fixed linear function) + unit noise,
    for train, dev and test."""
    w = rng.normal(size=d)
    raw = {split: rng.normal(size=(n, d)) for split, n in zip(SPLITS, sizes, strict=True)}
    standardiser = Standardiser.fit(raw["train"])
    x = {split: standardiser.transform(values) for split, values in raw.items()}
    y = {
        split: signal * raw[split] @ w + rng.normal(size=len(values))
        for split, values in raw.items()
    }
    return x, y


def search(alphas: list[float], n_train: int = 60, widenings: int = 3) -> PenaltySearch:
    folds = speaker_folds(speaker_ids(n_train), 5, seed=0, split="train")
    return PenaltySearch(tuple(alphas), folds, widenings)


@pytest.mark.parametrize("d", [8, 90])  # primal and dual decomposition in every fold
def test_penalty_choice_matches_scikit_learn_grouped_cross_validation(d: int) -> None:
    x, y = linear_splits(np.random.default_rng(d), d, signal=0.3)
    grid = [0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4]
    chosen = search(grid)
    fit = fit_ridge(x, y, chosen)
    reference = GridSearchCV(
        Ridge(), {"alpha": grid}, cv=GroupKFold(5), scoring="neg_mean_squared_error"
    ).fit(x["train"], y["train"], groups=chosen.folds)
    assert fit.alpha_at_edge == (None,)
    assert fit.chosen_alpha[0] == reference.best_params_["alpha"]
    np.testing.assert_allclose(
        fit.cv_mse[:, 0], -reference.cv_results_["mean_test_score"], rtol=1e-9
    )
    np.testing.assert_allclose(
        fit.test_predictions[0], reference.best_estimator_.predict(x["test"]), rtol=1e-9, atol=1e-9
    )
    ridge_cv = RidgeCV(
        alphas=grid, cv=PredefinedSplit(chosen.folds), scoring="neg_mean_squared_error"
    )
    assert ridge_cv.fit(x["train"], y["train"]).alpha_ == fit.chosen_alpha[0]


# Fewer features than every fitting set (the Gram down-dated per fold), more than every one
# (blocks of the kernel), and between (more utterances in train than features, fewer in a fold).
@pytest.mark.parametrize("d", [8, 90, 55])
def test_every_folds_error_matches_ridge_refitted_on_its_centred_fitting_set(d: int) -> None:
    rng = np.random.default_rng(d)
    x, y_signal = linear_splits(rng, d, signal=0.5)
    # Two targets far from zero, so a fold's own target mean matters; uneven folds.
    y = {s: np.c_[12.0 + v, 3.0 - 2.0 * v + rng.normal(size=len(v))] for s, v in y_signal.items()}
    folds = rng.permutation(np.arange(60) % 4 + np.arange(60) // 50)
    grid = [1e-2, 1.0, 30.0, 1e3]
    fit = fit_ridge(x, y, PenaltySearch(tuple(grid), folds, max_widenings=0))
    expected = np.zeros((len(grid), 2))
    for fold in np.unique(folds):
        held = folds == fold
        for a, alpha in enumerate(grid):
            reference = Ridge(alpha=alpha).fit(x["train"][~held], y["train"][~held])
            errors = reference.predict(x["train"][held]) - y["train"][held]
            expected[a] += (errors**2).mean(axis=0) / len(np.unique(folds))
    np.testing.assert_allclose(fit.cv_mse, expected, rtol=1e-9)
    refit = Ridge(alpha=fit.chosen_alpha[0]).fit(x["train"], y["train"][:, 0])
    np.testing.assert_allclose(fit.test_predictions[0], refit.predict(x["test"]), rtol=1e-9)


def test_ridge_folds_keep_no_features_by_features_matrix() -> None:
    # The full study's widest tap (d = 10,240) took the probing job past 24 GiB while each of
    # the K folds kept its d x d eigenvectors: a fold needs only its held-out rows' projections.
    rng = np.random.default_rng(0)
    n, d = 400, 120  # every fitting set (320) has more utterances than features: X'X is used
    x, y = rng.standard_normal((n, d)), rng.standard_normal((n, 2))
    _, folds = ridge.decompose(x, y, np.arange(n) % 5, slopes=rng.standard_normal((d, 2)))
    for fold in folds:
        assert max(array.size for array in vars(fold).values()) < d * d


def test_an_end_of_the_grid_is_widened_until_the_choice_moves_inside() -> None:
    x, y = linear_splits(np.random.default_rng(1), 8, signal=1.0)
    # A clear linear signal wants an alpha near 1, three decades below the configured grid.
    fit = fit_ridge(x, y, search([1e3, 1e4], widenings=4))
    assert fit.alpha_at_edge == (None,)
    assert fit.alphas[0] < fit.chosen_alpha[0] < 1e3
    assert fit.alphas[-1] == 1e4  # the end not chosen stays
    assert fit.edge_failure(0) is None
    stuck = fit_ridge(x, y, search([1e3, 1e4], widenings=1))
    assert stuck.alpha_at_edge == ("low",) and stuck.alpha_limit == (None,)
    assert stuck.alphas.tolist() == [100.0, 1e3, 1e4]
    assert "at the low end of the grid 100..1e+04" in str(stuck.edge_failure(0))


def test_features_without_signal_are_shrunk_to_the_mean_not_failed() -> None:
    x, y = linear_splits(np.random.default_rng(3), 20, signal=0.0)
    fit = fit_ridge(x, y, search([0.1, 1.0, 10.0, 100.0]))
    # Cross-validation prefers the strongest shrinkage; widening carries it to the end of the
    # path, where the probe is the mean predictor: a verdict, not a grid artefact.
    assert fit.alphas[-1] > 100.0
    assert fit.alpha_at_edge == ("high",) and fit.alpha_limit == ("mean",)
    assert fit.edge_failure(0) is None
    spread = prediction_spread(y["test"], fit.test_runs(0))
    assert spread is not None and spread < COLLAPSED_SPREAD
    mean_mse = float(np.mean((y["test"] - y["train"].mean()) ** 2))
    assert fit_failure(y["test"], fit.test_runs(0), mean_mse, may_collapse=True) is None
    assert "collapsed" in str(fit_failure(y["test"], fit.test_runs(0), mean_mse))


def test_an_unpenalised_end_is_least_squares_and_needs_no_widening() -> None:
    x, y = linear_splits(np.random.default_rng(3), 2, signal=1.0, sizes=(200, 30, 40))
    fit = fit_ridge(x, y, search([1e-4, 1e-3], n_train=200))
    assert fit.alphas.tolist() == [1e-4, 1e-3]
    assert fit.alpha_at_edge == ("low",) and fit.alpha_limit == ("least squares",)
    assert fit.edge_failure(0) is None
    least_squares = LinearRegression().fit(x["train"], y["train"]).predict(x["test"])
    np.testing.assert_allclose(fit.test_predictions[0], least_squares, rtol=1e-5, atol=1e-5)


def sparse_embedding(rng: np.random.Generator, n: int) -> np.ndarray:
    """Features shaped like a ReLU-sparse embedding: dense informative columns, one column that
    is zero on every training utterance and one that is almost constant (std ~1e-6)."""
    dense = rng.normal(size=(n, 6))
    return np.c_[dense, np.zeros(n), 1e-6 * rng.normal(size=n)]


def test_standardiser_keeps_features_constant_on_train_bounded() -> None:
    rng = np.random.default_rng(4)
    train = sparse_embedding(rng, 40)
    standardiser = Standardiser.fit(train)
    # At test the dead columns wake up with values as large as the dense ones.
    test = sparse_embedding(rng, 20)
    test[:, 6:] = rng.normal(size=(20, 2))
    z_train, z_test = standardiser.transform(train), standardiser.transform(test)
    np.testing.assert_allclose(z_train[:, :6].std(axis=0), 1.0)
    assert np.all(np.isfinite(z_test))
    np.testing.assert_array_equal(z_test[:, 6], 0.0)
    # Never outside the range the fitted probe saw on train.
    assert np.all(z_test >= z_train.min(axis=0)) and np.all(z_test <= z_train.max(axis=0))


def test_ridge_predictions_stay_bounded_when_train_constant_features_wake_up() -> None:
    rng = np.random.default_rng(5)
    train, test = sparse_embedding(rng, 60), sparse_embedding(rng, 30)
    test[:, 6:] = 0.5
    w = rng.normal(size=6)
    y_train, y_test = train[:, :6] @ w, test[:, :6] @ w
    standardiser = Standardiser.fit(train)
    x_train, x_test = standardiser.transform(train), standardiser.transform(test)
    x = {"train": x_train, "dev": x_test, "test": x_test}
    y = {"train": y_train, "dev": y_test, "test": y_test}
    fit = fit_ridge(x, y, search([1e-2, 1.0]))
    mse = np.mean((fit.test_predictions[0] - y_test) ** 2)
    # Divided by the near-zero scale, 0.5 would become a z-score of ~5e5 and swamp the fit.
    assert mse < 0.05 * np.var(y_test)


def mlp_settings(seeds: tuple[int, ...]) -> MLPSettings:
    return MLPSettings(
        hidden=8, seeds=seeds, lr=0.01, weight_decay=1e-4, batch_size=16, max_epochs=40, patience=5
    )


def fit_one_tap(
    x: np.ndarray, y: np.ndarray, n_train: int, n_dev: int, settings: MLPSettings
) -> MLPFit:
    """The MLP probes of one tap: rows split into train, dev and the rest as test."""
    splits = {
        "train": x[:n_train],
        "dev": x[n_train : n_train + n_dev],
        "test": x[n_train + n_dev :],
    }
    dev = y[n_train : n_train + n_dev]
    return fit_mlps({"tap": splits}, y[:n_train], dev, settings, halves(n_dev))["tap"]


def assert_same_fit(batched: MLPFit, alone: MLPFit) -> None:
    """Equal up to the float32 summation order inside batched products."""
    np.testing.assert_allclose(batched.test_predictions, alone.test_predictions, atol=1e-5)
    np.testing.assert_allclose(batched.dev_predictions, alone.dev_predictions, atol=1e-5)
    np.testing.assert_array_equal(batched.best_epoch, alone.best_epoch)
    assert batched.epochs_run == alone.epochs_run
    np.testing.assert_allclose(batched.crossfit_dev_mse, alone.crossfit_dev_mse, rtol=1e-5)


@pytest.mark.parametrize("batch", [64, 19])
def test_handwritten_gradients_are_autograds(batch: int) -> None:
    """The MLP probes' gradient, written by hand into preallocated buffers, is autograd's
    gradient of the summed minibatch MSE (a full batch and a ragged last one)."""
    n_probes, n_features, n_targets, hidden = 5, 12, 2, 8
    params = [
        torch.stack(layer)
        for layer in zip(
            *(init_probe(seed, n_features, n_targets, hidden) for seed in range(n_probes)),
            strict=True,
        )
    ]
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(n_probes, batch, n_features, generator=generator)
    targets = torch.randn(n_probes, n_targets, batch, generator=generator)
    leaves = [p.clone().requires_grad_() for p in params]
    ((forward(leaves, features) - targets) ** 2).mean(dim=2).sum().backward()
    for param in params:
        param.grad = torch.full_like(param, float("nan"))  # every entry must be written
    write_gradients(params, features, targets)
    for leaf, param in zip(leaves, params, strict=True):
        assert param.grad is not None and leaf.grad is not None
        assert param.grad.abs().max() > 0
        torch.testing.assert_close(param.grad, leaf.grad, rtol=1e-6, atol=1e-7)


def test_batched_mlp_networks_train_as_if_alone() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(90, 6))
    y = np.stack([np.tanh(x[:, 0]) + 0.1 * rng.normal(size=90), x[:, 1] ** 2], axis=1)
    together = fit_one_tap(x, y, 50, 20, mlp_settings((0, 1)))
    alone = fit_one_tap(x, y[:, :1], 50, 20, mlp_settings((0,)))
    assert together.test_predictions.shape == (2, 2, 20)
    np.testing.assert_allclose(
        together.test_predictions[0, 0], alone.test_predictions[0, 0], rtol=1e-4, atol=1e-4
    )
    assert together.best_epoch[0, 0] == alone.best_epoch[0, 0]
    assert together.crossfit_dev_mse[0, 0] == pytest.approx(alone.crossfit_dev_mse[0, 0], rel=1e-4)
    # Different seeds are different networks.
    assert not np.allclose(together.test_predictions[0, 0], together.test_predictions[1, 0])


def tap_study(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Three taps over 160 utterances (100 train, 40 dev, 20 test): two of width 6, one
    carrying the targets and one pure noise, and one of width 10 carrying them too."""
    signal = rng.normal(size=(160, 6))
    y = np.stack([np.tanh(signal[:, 0]), signal[:, 1] ** 2], axis=1)
    y += 0.2 * rng.normal(size=y.shape)
    wide = np.c_[signal[:, :2] + 0.3 * rng.normal(size=(160, 2)), rng.normal(size=(160, 8))]
    return {"signal": signal, "noise": rng.normal(size=(160, 6)), "wide": wide}, y


def by_split(x: np.ndarray) -> dict[str, np.ndarray]:
    return {"train": x[:100], "dev": x[100:140], "test": x[140:]}


def test_taps_trained_together_match_each_tap_trained_alone() -> None:
    taps, y = tap_study(np.random.default_rng(6))
    settings = mlp_settings((0, 1, 2))
    together = fit_mlps(
        {tap: by_split(x) for tap, x in taps.items()}, y[:100], y[100:140], settings, halves(40)
    )
    assert list(together) == list(taps)
    for tap, x in taps.items():
        assert_same_fit(together[tap], fit_one_tap(x, y, 100, 40, settings))


def test_each_probe_stops_on_its_own_dev_loss() -> None:
    taps, y = tap_study(np.random.default_rng(7))
    settings = MLPSettings(
        hidden=8, seeds=(0, 1, 2), lr=0.01, weight_decay=1e-4, batch_size=16, max_epochs=60,
        patience=4,
    )  # fmt: skip
    # Noise stops within a few epochs, the signal keeps improving for longer.
    fits = fit_mlps(
        {tap: by_split(taps[tap]) for tap in ("signal", "noise")},
        y[:100], y[100:140], settings, halves(40),
    )  # fmt: skip
    assert fits["noise"].epochs_run < fits["signal"].epochs_run
    for fit in fits.values():
        last = fit.best_epoch.max()
        assert fit.epochs_run == min(last + settings.patience, settings.max_epochs)
        # Networks stop one by one: not all at the tap's last epoch.
        assert fit.best_epoch.min() < last
    # The noise tap's networks froze at their best epochs while the signal's trained on.
    assert_same_fit(fits["noise"], fit_one_tap(taps["noise"], y, 100, 40, settings))


def test_chunks_of_taps_read_each_tap_once_and_fit_the_same() -> None:
    taps, y = tap_study(np.random.default_rng(8))
    reads: list[str] = []

    class CountingTaps(Mapping[str, dict[str, np.ndarray]]):
        def __getitem__(self, tap: str) -> dict[str, np.ndarray]:
            reads.append(tap)
            return by_split(taps[tap])

        def __iter__(self) -> Iterator[str]:
            return iter(taps)

        def __len__(self) -> int:
            return len(taps)

    settings = mlp_settings((0, 1, 2))
    one_chunk = fit_mlps(CountingTaps(), y[:100], y[100:140], settings, halves(40))
    assert reads == list(taps)
    # A budget below one tap's features: every tap is a chunk of its own.
    per_tap = fit_mlps(CountingTaps(), y[:100], y[100:140], settings, halves(40), chunk_bytes=1)
    assert reads == list(taps) * 2
    for tap in taps:
        assert_same_fit(one_chunk[tap], per_tap[tap])


def test_dev_evaluation_in_slices_fits_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    taps, y = tap_study(np.random.default_rng(10))
    features = {tap: by_split(x) for tap, x in taps.items()}
    settings = mlp_settings((0, 1, 2))
    at_once = fit_mlps(features, y[:100], y[100:140], settings, halves(40))
    # A budget below one probe's dev features: each probe is scored on its own.
    monkeypatch.setattr(mlp, "EVALUATION_BYTES", 1)
    one_by_one = fit_mlps(features, y[:100], y[100:140], settings, halves(40))
    for tap in taps:
        for field in ("dev_predictions", "test_predictions", "best_epoch", "crossfit_dev_mse"):
            np.testing.assert_array_equal(
                getattr(one_by_one[tap], field), getattr(at_once[tap], field)
            )


def test_mismatched_feature_rows_name_the_tap() -> None:
    taps, y = tap_study(np.random.default_rng(9))
    features = {"signal": {**by_split(taps["signal"]), "dev": taps["signal"][100:130]}}
    with pytest.raises(ValueError, match="tap 'signal': 30 dev feature rows for 40 dev targets"):
        fit_mlps(features, y[:100], y[100:140], mlp_settings((0, 1, 2)), halves(40))


def test_mlp_learns_a_nonlinear_signal_and_stops_early() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 4))
    y = (x[:, 0] ** 2 + 0.1 * rng.normal(size=600))[:, None]
    settings = MLPSettings(
        hidden=32,
        seeds=(0, 1, 2),
        lr=0.01,
        weight_decay=0.0,
        batch_size=32,
        max_epochs=200,
        patience=10,
    )
    fit = fit_one_tap(x, y, 400, 100, settings)
    residual = fit.test_predictions[:, 0] - y[500:, 0]
    assert np.mean(residual**2) < 0.25 * np.var(y[500:, 0])
    assert fit.epochs_run < 200
    assert (fit.best_epoch <= fit.epochs_run - settings.patience).all()


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fake_study(tmp_path_factory.mktemp("study"))


def test_probes_find_the_planted_signal_and_not_noise(study: dict) -> None:
    table = pd.read_csv(study["models"]["good"]["table"])
    assert tuple(table.columns) == CSV_COLUMNS
    r2 = table[(table.metric == "r2") & (table.target == "cps")].set_index(["tap", "probe"])
    for probe in ("ridge", "mlp"):
        assert r2.loc[("signal", probe), "value"] > 0.9
        assert r2.loc[("signal", probe), "ci_low"] > 0.8
        assert r2.loc[("noise", probe), "value"] < 0.2
    assert r2.loc[("none", "baseline_mean"), "value"] <= 0.0
    blank = pd.read_csv(study["models"]["blank"]["table"])
    blank_r2 = blank[(blank.metric == "r2") & (blank.target == "cps") & (blank.tap == "signal")]
    assert (blank_r2["value"] < 0.2).all()


def test_every_tap_target_and_probe_is_reported(study: dict) -> None:
    table = pd.read_csv(study["models"]["good"]["table"])
    probed = table[table.probe.isin(["ridge", "mlp"])]
    assert len(probed) == 3 * 2 * 2 * 4  # taps x targets x probes x metrics
    assert probed["index"].tolist() == sorted(probed["index"].tolist())
    finite = probed[probed.metric != "pearson_r"]
    assert (finite["ci_low"] <= finite["ci_high"]).all()


def test_best_tap_is_chosen_on_dev(study: dict) -> None:
    analysis = json.loads(study["models"]["good"]["result"].read_text())
    assert analysis["best"]["cps"]["tap"] == "signal"
    entry = analysis["selection"]["cps"][1]
    low, high = entry["ridge"]["alpha_grid"]
    assert low <= entry["ridge"]["alpha"] <= high
    assert low <= min(small_config()["probes"]["ridge_alphas"])
    assert entry["mlp"]["n_seeds"] == 3
    assert len(entry["mlp"]["best_epochs"]) == 3
    with np.load(study["models"]["good"]["predictions"]) as predictions:
        assert predictions["pred/cps/mlp/signal"].shape == (3, 160)
        assert predictions["pred/cps/ridge/signal"].shape == (1, 160)


def test_rows_out_of_manifest_order_are_refused(tmp_path: Path) -> None:
    manifests = fake_manifests(tmp_path)
    activations = fake_activations(tmp_path, "m", manifests)
    with np.load(activations["dev"]) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["utt_id"] = arrays["utt_id"][::-1]
    np.savez(activations["dev"], **arrays)
    out = tmp_path / "out"
    with pytest.raises(ProbeInputError, match=r"dev.npz: rows .* manifest order"):
        probe_into(out, "m", activations, manifests, small_config())


def test_missing_target_column_is_named(tmp_path: Path) -> None:
    manifests = fake_manifests(tmp_path)
    activations = fake_activations(tmp_path, "m", manifests)
    out = tmp_path / "out"
    with pytest.raises(ProbeInputError, match=r"train.csv: no target column\(s\) \['tempo'\]"):
        probe_into(out, "m", activations, manifests, small_config(("cps", "tempo")))
