"""Probes: ridge against scikit-learn, the batched MLP against networks trained alone, and the
whole per-model job on fake activations with a planted signal and pure noise."""

from __future__ import annotations

import json
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
from sklearn.linear_model import Ridge

from rateprobe.features import Standardiser, gram_eigen
from rateprobe.inputs import ProbeInputError
from rateprobe.probing.mlp import MLPSettings, fit_mlp
from rateprobe.probing.ridge import fit_ridge, one_standard_error_choice
from rateprobe.probing.run import CSV_COLUMNS

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


def test_ridge_chooses_alpha_on_dev() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=20)

    def draw(n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(n, 20))
        return x, x @ w + noise * rng.normal(size=n)

    standardiser = Standardiser.fit(draw(200, 0.1)[0])
    x_train, y_train = draw(200, 0.1)
    x_dev, y_dev = draw(100, 0.1)
    x_pure_noise = rng.normal(size=(200, 20))
    alphas = [0.01, 1.0, 1e4]
    clean = fit_ridge(
        gram_eigen(standardiser.transform(x_train), y_train),
        standardiser.transform(x_dev),
        y_dev,
        standardiser.transform(x_dev),
        alphas,
        halves(100),
    )
    # A noiseless linear signal wants little shrinkage; features unrelated to y want a lot.
    assert clean.chosen_alpha[0] < 1e4
    noisy = fit_ridge(
        gram_eigen(x_pure_noise[:100], rng.normal(size=100)),
        x_pure_noise[100:],
        rng.normal(size=100),
        x_pure_noise[100:],
        alphas,
        halves(100),
    )
    assert noisy.chosen_alpha[0] == 1e4
    assert clean.dev_mse.shape == (3, 1)


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
    fit = fit_ridge(gram_eigen(x_train, y_train), x_test, y_test, x_test, [1e-2, 1.0], halves(30))
    mse = np.mean((fit.test_predictions[0] - y_test) ** 2)
    # Divided by the near-zero scale, 0.5 would become a z-score of ~5e5 and swamp the fit.
    assert mse < 0.05 * np.var(y_test)


def mlp_settings(seeds: tuple[int, ...]) -> MLPSettings:
    return MLPSettings(
        hidden=8, seeds=seeds, lr=0.01, weight_decay=1e-4, batch_size=16, max_epochs=40, patience=5
    )


def test_batched_mlp_networks_train_as_if_alone() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(90, 6))
    y = np.stack([np.tanh(x[:, 0]) + 0.1 * rng.normal(size=90), x[:, 1] ** 2], axis=1)
    dev = halves(20)
    together = fit_mlp(x[:50], y[:50], x[50:70], y[50:70], x[70:], mlp_settings((0, 1)), dev)
    alone = fit_mlp(x[:50], y[:50, :1], x[50:70], y[50:70, :1], x[70:], mlp_settings((0,)), dev)
    assert together.test_predictions.shape == (2, 2, 20)
    np.testing.assert_allclose(
        together.test_predictions[0, 0], alone.test_predictions[0, 0], rtol=1e-4, atol=1e-4
    )
    assert together.best_epoch[0, 0] == alone.best_epoch[0, 0]
    assert together.crossfit_dev_mse[0, 0] == pytest.approx(alone.crossfit_dev_mse[0, 0], rel=1e-4)
    # Different seeds are different networks.
    assert not np.allclose(together.test_predictions[0, 0], together.test_predictions[1, 0])


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
    fit = fit_mlp(x[:400], y[:400], x[400:500], y[400:500], x[500:], settings, halves(100))
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
    assert entry["ridge"]["alpha"] in small_config()["probes"]["ridge_alphas"]
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


def test_one_standard_error_rule_prefers_the_stronger_shrinkage_within_noise() -> None:
    # Alphas ascend. Target 0: alpha 0 is least (mean 1.0, SE 0.5 over 4 utterances), alpha 1
    # is within one SE (1.4), alpha 2 is not (2.0): alpha 1. Target 1: a clear minimum at
    # alpha 0 with no noise: alpha 0.
    errors = np.zeros((3, 2, 4))
    errors[:, 0] = [[0.0, 2.0, 0.0, 2.0], [1.4, 1.4, 1.4, 1.4], [2.0, 2.0, 2.0, 2.0]]
    errors[:, 1] = [[1.0] * 4, [1.1] * 4, [3.0] * 4]
    np.testing.assert_array_equal(one_standard_error_choice(errors), [1, 0])
