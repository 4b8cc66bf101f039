"""Probe selection on dev: cross-fitted scores, speaker halves, and the numerical-health guard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fake_study import run_fake_study

from rateprobe.inputs import ProbeInputError
from rateprobe.probing.health import (
    COLLAPSED_SPREAD,
    FAILED_FIT_MSE_RATIO,
    fit_failure,
    prediction_spread,
)
from rateprobe.probing.run import _best_by_dev
from rateprobe.probing.selection import crossfit_mse, dev_halves, half_sums, speaker_folds


def test_dev_halves_split_speakers_not_utterances() -> None:
    speakers = np.array(["a", "a", "b", "c", "c", "c", "d"])
    halves = dev_halves(speakers, seed=0)
    for speaker in "abcd":
        assert len(set(halves[speakers == speaker])) == 1
    assert sorted(np.unique(halves[np.unique(speakers, return_index=True)[1]])) == [0, 1]
    np.testing.assert_array_equal(halves, dev_halves(speakers, seed=0))


def test_speaker_folds_keep_speakers_whole_and_balanced() -> None:
    speakers = np.repeat([f"s{i}" for i in range(12)], [1, 2, 3] * 4)
    folds = speaker_folds(speakers, 5, seed=3, split="train")
    for speaker in np.unique(speakers):
        assert len(set(folds[speakers == speaker])) == 1
    first = np.unique(speakers, return_index=True)[1]
    assert sorted(np.bincount(folds[first])) == [2, 2, 2, 3, 3]
    np.testing.assert_array_equal(folds, speaker_folds(speakers, 5, seed=3, split="train"))
    assert not np.array_equal(folds, speaker_folds(speakers, 5, seed=4, split="train"))
    # Fewer speakers than folds: leave one speaker out.
    few = speaker_folds(np.array(["a", "b", "b", "c"]), 5, seed=0, split="train")
    assert len(set(few)) == 3 and few[1] == few[2]


def test_dev_halves_need_two_speakers() -> None:
    with pytest.raises(ProbeInputError, match="dev split has 1 speaker"):
        dev_halves(np.array(["a", "a"]), seed=0)


def test_crossfit_scores_each_half_with_the_other_halfs_choice() -> None:
    # Two candidates, two halves of sizes 2 and 2. Candidate 0 is best on half A (sum 1 vs 3),
    # candidate 1 on half B (sum 0 vs 5): out of half, A is scored by candidate 1's error on A
    # (3) and B by candidate 0's error on B (5).
    sums = np.array([[1.0, 5.0], [3.0, 0.0]])
    assert crossfit_mse(sums, n_dev=4) == pytest.approx((3.0 + 5.0) / 4)


def test_crossfit_removes_the_advantage_of_many_candidates() -> None:
    # Pure noise candidates: the in-sample minimum over 300 of them looks far better than one,
    # the cross-fitted score does not.
    rng = np.random.default_rng(0)
    halves = np.repeat([0, 1], 20)
    errors = rng.chisquare(1, size=(300, 40))
    best_in_sample = errors.mean(axis=1).min()
    crossfit = crossfit_mse(half_sums(errors, halves), n_dev=40)
    assert best_in_sample < 0.8
    assert crossfit == pytest.approx(1.0, abs=0.35)


def test_crossfit_skips_candidates_marked_unavailable() -> None:
    sums = np.array([[np.inf, np.inf], [2.0, 2.0]])
    assert crossfit_mse(sums, n_dev=2) == pytest.approx(2.0)


def test_fit_failure_names_non_finite_and_exploded_fits() -> None:
    y = np.array([1.0, 2.0, 3.0])
    assert fit_failure(y, np.array([[1.0, 2.0, 3.0]]), mean_predictor_mse=1.0) is None
    assert fit_failure(y, np.array([[1.0, np.nan, 3.0]]), 1.0) == "non-finite predictions"
    exploded = np.array([[1.0, 2.0, 3.0 + 10 * np.sqrt(3 * FAILED_FIT_MSE_RATIO)]])
    assert "exceeds 10 x the mean predictor" in str(fit_failure(y, exploded, 1.0))
    # One diverged seed among several fails the fit.
    runs = np.array([[1.0, 2.0, 3.0], [1e3, 2.0, 3.0]])
    assert fit_failure(y, runs, 1.0) is not None


def test_collapsed_predictions_fail_unless_the_probe_chose_them() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    mean_mse = float(np.var(y))
    # A dead network: one seed's predictions are the mean to within 1e-3 of the labels' spread.
    dead = np.array([[1.5, 2.0, 3.0, 3.5], 2.5 + 1e-3 * np.array([-1.0, 1.0, -1.0, 1.0])])
    assert prediction_spread(y, dead) == pytest.approx(1e-3 / np.std(y))
    assert "collapsed predictions" in str(fit_failure(y, dead, mean_mse))
    # Ridge shrunk to the mean by its cross-validated penalty: a result, not a failure.
    assert fit_failure(y, dead, mean_mse, may_collapse=True) is None
    # A weak probe near the mean whose predictions still vary is no collapse.
    weak = 2.5 + 0.05 * (y - 2.5)[None]
    assert weak.std() > COLLAPSED_SPREAD * y.std()
    assert fit_failure(y, weak, mean_mse) is None


def test_failed_fits_are_never_chosen() -> None:
    def entry(index: int, probe: str | None, score: float) -> dict:
        return {"tap": f"t{index}", "index": index, "best_probe": probe,
                "ridge": {"selection_r2": score}}  # fmt: skip

    entries = [entry(0, "ridge", 0.2), entry(1, None, 0.0), entry(2, "ridge", 0.1)]
    assert _best_by_dev(entries)["tap"] == "t0"
    assert _best_by_dev([entry(0, None, 0.0)]) is None


def test_a_probe_run_records_cross_fitted_scores(tmp_path: Path) -> None:
    study = run_fake_study(tmp_path)
    analysis = json.loads(study["models"]["good"]["result"].read_text())
    for entry in analysis["selection"]["cps"]:
        for probe in ("ridge", "mlp"):
            assert entry[probe]["failure"] is None
            # Cross-fitting scores each half out of sample: no better than the tuned dev R².
            assert entry[probe]["selection_r2"] <= entry[probe]["dev_r2"] + 0.05
    assert analysis["best"]["cps"]["tap"] == "signal"
