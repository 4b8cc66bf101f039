"""Rate beyond duration: baselines that never define their target, and conditional probes
whose duration basis is unpenalised."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_study import run_fake_study, small_config

from rateprobe.features import Standardiser
from rateprobe.probing.conditional import (
    allowed_baselines,
    conditions_on_duration,
    fit_conditional,
)
from rateprobe.probing.ridge import PenaltySearch
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
    fit = fit_conditional(
        tap, {s: d["basis"] for s, d in data.items()}, {s: d["y"] for s, d in data.items()},
        PenaltySearch(alphas=(1e7,), folds=np.arange(200) % 5, max_widenings=3),
    )  # fmt: skip
    design = np.c_[np.ones(200), data["train"]["basis"]]
    coefficients = np.linalg.lstsq(design, data["train"]["y"][:, 0], rcond=None)[0]
    on_basis = np.c_[np.ones(80), data["test"]["basis"]] @ coefficients
    np.testing.assert_allclose(fit.test_predictions[0], on_basis, atol=1e-3)
    assert np.std(on_basis) > 1.0


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
