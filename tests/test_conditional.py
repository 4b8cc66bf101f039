"""Rate beyond duration: baselines that never define their target, and conditional probes
whose duration basis is unpenalised."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_study import run_fake_study, small_config

from rateprobe.features import Standardiser, gram_eigen
from rateprobe.probing import conditional as conditional_module
from rateprobe.probing.conditional import (
    Residualiser,
    allowed_baselines,
    conditions_on_duration,
    fit_ridge_and_conditional,
)
from rateprobe.probing.ridge import PenaltySearch, fit_ridge
from rateprobe.results.summarize import build_summary


def test_a_baseline_never_defines_its_target() -> None:
    assert allowed_baselines("cps") == ["log_duration", "voiced_duration", "duration_basis"]
    assert allowed_baselines("duration_s") == ["voiced_duration"]
    assert allowed_baselines("voiced_duration_s") == ["log_duration"]
    assert conditions_on_duration("cps") and not conditions_on_duration("duration_s")


def split_data(rng: np.random.Generator, n: int, signal: float) -> dict[str, np.ndarray]:
    basis = rng.normal(size=(n, 2))
    hidden_rate = rng.normal(size=n)
    tap = np.c_[rng.normal(size=(n, 20)), signal * hidden_rate + 0.1 * rng.normal(size=n)]
    y = 3.0 * basis[:, 0] - basis[:, 1] + hidden_rate
    return {"basis": basis, "tap": tap, "y": y[:, None]}


def test_the_basis_is_not_shrunk() -> None:
    # Under a penalty that silences the tap, what is left is the least-squares fit on the
    # basis alone: an ordinary ridge on [basis, tap] would shrink the basis to the mean too.
    rng = np.random.default_rng(0)
    data = {
        s: split_data(rng, n, signal=0.0) for s, n in (("train", 200), ("dev", 60), ("test", 80))
    }
    standardiser = Standardiser.fit(data["train"]["tap"])
    tap = {s: standardiser.transform(d["tap"]) for s, d in data.items()}
    _, fit = fit_ridge_and_conditional(
        tap, {s: d["basis"] for s, d in data.items()}, {s: d["y"] for s, d in data.items()}, 1,
        PenaltySearch(alphas=(1e7,), folds=np.arange(200) % 5, max_widenings=3),
    )  # fmt: skip
    design = np.c_[np.ones(200), data["train"]["basis"]]
    coefficients = np.linalg.lstsq(design, data["train"]["y"][:, 0], rcond=None)[0]
    on_basis = np.c_[np.ones(80), data["test"]["basis"]] @ coefficients
    np.testing.assert_allclose(fit.test_predictions[0], on_basis, atol=1e-3)
    assert np.std(on_basis) > 1.0


# More utterances than features in every fitting set (the Gram matrix down-dated per fold),
# fewer in every one (blocks of the kernel), and between; then a tap column that only fold 0's
# utterances move: its fitting set's Gram matrix is zero there while the residualiser's slopes
# (fitted on all of train) are not. Every case has a choice at a limit of the ridge path, which
# the residualised tap's eigenvalues decide (least squares for the first target, the mean for
# the third, noise, in most).
@pytest.mark.parametrize(
    ("d", "n", "one_fold_column"),
    [(8, 60, False), (90, 60, False), (55, 60, False), (30, 200, True)],
)
def test_conditional_folds_and_refit_from_ridge_equal_decomposing_the_residualised_tap(
    d: int, n: int, one_fold_column: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(d)
    sizes = {"train": n, "dev": 30, "test": 40}
    basis = {s: rng.normal(1.5, 0.4, size=(m, 2)) for s, m in sizes.items()}
    raw = {s: rng.normal(size=(m, d)) + 0.8 * basis[s][:, :1] for s, m in sizes.items()}
    folds = rng.permutation(np.arange(n) % 4 + np.arange(n) // (n - 10))
    if one_fold_column:
        raw["train"][:, 0] = np.where(folds == 0, rng.normal(size=n), 0.0)
    standardiser = Standardiser.fit(raw["train"])
    x = {s: standardiser.transform(v) for s, v in raw.items()}
    y = {
        s: np.c_[12 + 3 * basis[s][:, 0] + x[s][:, 1], 3 - x[s][:, 2] + rng.normal(size=m),
                 rng.normal(size=m)]
        for s, m in sizes.items()
    }  # fmt: skip
    search = PenaltySearch((1e-2, 1.0, 30.0, 1e3), folds, max_widenings=2)
    path_ends: list[tuple[str, float | None]] = []
    path_end = conditional_module._ConditionalRefit.path_end

    def recorded(refit: conditional_module._ConditionalRefit, edge: str) -> float | None:
        path_ends.append((edge, path_end(refit, edge)))
        return path_ends[-1][1]

    monkeypatch.setattr(conditional_module._ConditionalRefit, "path_end", recorded)
    ridge, conditional = fit_ridge_and_conditional(x, basis, y, 3, search)
    # By the Frisch-Waugh-Lovell theorem: ridge of the residualised targets on the residualised
    # tap, every fold and the refit decomposed from their own residualised features.
    on_tap, on_targets = (Residualiser.fit(basis["train"], v["train"]) for v in (x, y))
    residual = {s: x[s] - on_tap.fitted(basis[s]) for s in sizes}
    base = {s: on_targets.fitted(basis[s])[:, :3] for s in sizes}
    reference = fit_ridge(residual, {s: y[s][:, :3] - base[s] for s in sizes}, search)
    np.testing.assert_allclose(conditional.cv_mse, reference.cv_mse, rtol=1e-8)
    np.testing.assert_array_equal(conditional.alphas, reference.alphas)
    np.testing.assert_array_equal(conditional.chosen_alpha, reference.chosen_alpha)
    assert conditional.alpha_at_edge == reference.alpha_at_edge
    assert conditional.alpha_limit == reference.alpha_limit
    assert set(conditional.alpha_limit) - {None}
    # Where the residualised tap's ridge path ends: its Gram matrix's extreme eigenvalues.
    eigenvalues = gram_eigen(residual["train"], y["train"]).eigenvalues
    assert path_ends
    for edge, value in path_ends:
        np.testing.assert_allclose(value, eigenvalues[0 if edge == "high" else -1], rtol=1e-9)
    for split in ("dev", "test"):
        np.testing.assert_allclose(
            getattr(conditional, f"{split}_predictions"),
            getattr(reference, f"{split}_predictions") + base[split].T,
            rtol=1e-9,
        )
    np.testing.assert_allclose(conditional.dev_mse, reference.dev_mse, rtol=1e-6)
    plain = fit_ridge(x, y, search)
    np.testing.assert_allclose(ridge.cv_mse, plain.cv_mse, rtol=1e-12)
    np.testing.assert_allclose(ridge.test_predictions, plain.test_predictions, rtol=1e-12)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict:
    study = run_fake_study(tmp_path_factory.mktemp("study"), small_config(("cps", "duration_s")))
    return build_summary(study["cfg"], study["manifests"], study["bad_reports"], study["models"])


def test_baselines_are_fitted_per_target(summary: dict) -> None:
    cps, duration = summary["baselines"]["cps"], summary["baselines"]["duration_s"]
    assert set(cps) == {"mean", "log_duration", "voiced_duration", "duration_basis"}
    assert set(duration) == {"mean", "voiced_duration"}
    # The fake CPS is a speaker habit plus noise, divided out of duration: duration explains
    # some of it, voiced duration (a share of duration) about as much; the mean nothing.
    assert cps["mean"]["r2"] <= 0.0
    assert duration["voiced_duration"]["r2"] > 0.5


def test_the_planted_rate_survives_the_duration_control(summary: dict) -> None:
    layers = summary["models"]["good"]["layers"]["cps"]
    by_tap = {e["tap"]: e for e in layers["per_tap"]}
    signal, noise = by_tap["signal"]["conditional"], by_tap["noise"]["conditional"]
    assert signal["delta_r2_over_duration"] > 0.5
    assert signal["delta_r2_over_duration_ci"][0] > 0.3
    assert abs(noise["delta_r2_over_duration"]) < 0.1
    assert layers["best"]["beyond_duration"]["decided"] is True
    assert "delta_r2_over_duration" in summary["models"]["good"]["embedding"]["cps"]
    # Duration itself is not conditioned on duration.
    duration_taps = summary["models"]["good"]["layers"]["duration_s"]["per_tap"]
    assert all("conditional" not in e for e in duration_taps)


def test_conditional_predictions_are_stored_for_paired_tests(tmp_path: Path) -> None:
    study = run_fake_study(tmp_path)
    with np.load(study["models"]["good"]["predictions"]) as archive:
        assert archive["pred/cps/conditional/signal"].shape == (1, 160)
        assert archive["baseline/cps/duration_basis"].shape == (1, 160)
    table = pd.read_csv(study["models"]["good"]["table"])
    assert set(table.probe) >= {"ridge", "mlp", "conditional", "baseline_mean"}
    analysis = json.loads(study["models"]["good"]["result"].read_text())
    assert analysis["best"]["cps"]["tap"] == "signal"
