"""What the rate interventions do to the representation: slope, drift and verification across
rates (rateprobe.analysis.intervention_effects)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rateprobe.analysis.intervention_effects import intervention_analysis
from rateprobe.analysis.intervention_readout import ridge_readout
from rateprobe.analysis.intervention_statistics import (
    between_speaker_distance,
    mismatch_trials,
    slope_estimate,
    slope_record,
    trial_eer,
)
from rateprobe.analysis.verification import verification
from rateprobe.bootstrap import speaker_bootstrap
from rateprobe.features import Standardiser
from rateprobe.probing.ridge import PenaltySearch, fit_ridge

# ------------------------------------------------------------------ slope, drift, trials


def _planted_deltas(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Within-source true rate changes of 20 speakers x 2 sources x 4 factors, and speakers."""
    rng = np.random.default_rng(seed)
    speakers = np.repeat(np.arange(20), 8)
    natural = np.repeat(rng.uniform(8.0, 18.0, 40), 4)
    factors = np.tile([0.8, 0.9, 1.1, 1.25], 40)
    delta_true = natural * (factors - 1.0) * rng.uniform(0.92, 1.08, 160)
    return delta_true, speakers, rng.normal(0.0, 0.5, 160)


def test_slope_is_one_for_a_tracking_predictor_and_zero_for_an_ignoring_one() -> None:
    delta_true, speakers, noise = _planted_deltas()
    boot = speaker_bootstrap(speakers.astype(str), 400, 0)
    index = boot.speaker_index
    tracking = slope_record(slope_estimate(delta_true + noise, delta_true, index, boot))
    ignoring = slope_record(slope_estimate(noise, delta_true, index, boot))
    half = slope_record(slope_estimate(0.5 * delta_true + noise, delta_true, index, boot))
    assert tracking["value"] == pytest.approx(1.0, abs=0.05)
    assert tracking["ci_low"] < 1.0 < tracking["ci_high"]
    assert tracking["p_zero"] < 0.01 and tracking["p_one"] > 0.05
    assert ignoring["value"] == pytest.approx(0.0, abs=0.05)
    assert ignoring["ci_low"] < 0.0 < ignoring["ci_high"]
    assert ignoring["p_zero"] > 0.05 and ignoring["p_one"] < 0.01
    assert half["value"] == pytest.approx(0.5, abs=0.05)
    assert half["ci_high"] < 1.0 and half["ci_low"] > 0.0


def test_slope_is_the_pooled_least_squares_fit_through_the_origin() -> None:
    delta_true, speakers, noise = _planted_deltas(seed=1)
    predicted = 0.7 * delta_true + noise
    boot = speaker_bootstrap(speakers.astype(str), 50, 0)
    estimate = slope_estimate(predicted, delta_true, boot.speaker_index, boot)
    assert estimate.point == pytest.approx(np.sum(predicted * delta_true) / np.sum(delta_true**2))
    without_first = speakers != 0
    expected = np.sum((predicted * delta_true)[without_first]) / np.sum(
        delta_true[without_first] ** 2
    )
    assert estimate.jackknife[0] == pytest.approx(expected)


def test_between_speaker_distance_is_the_mean_over_pairs_of_different_speakers() -> None:
    rng = np.random.default_rng(2)
    speakers = np.array(["a", "a", "b", "b", "b", "c"])
    embeddings = rng.normal(size=(6, 5))
    boot = speaker_bootstrap(speakers, 30, 0)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)

    def brute(keep: np.ndarray) -> float:
        pairs = [
            1.0 - unit[i] @ unit[j]
            for i in range(6)
            for j in range(i + 1, 6)
            if keep[i] and keep[j] and speakers[i] != speakers[j]
        ]
        return float(np.mean(pairs))

    estimate = between_speaker_distance(embeddings, boot)
    assert estimate.point == pytest.approx(brute(np.ones(6, bool)))
    assert estimate.jackknife[1] == pytest.approx(brute(speakers != "b"))


def test_mismatch_trials_never_score_a_variant_against_its_own_source() -> None:
    enrol_speaker = np.array([0, 0, 1, 1, 2])
    chapters = np.array(["1", "1", "2", "2", "3"])
    trials = mismatch_trials(enrol_speaker, chapters, source_row=np.array([0, 2, 4]))
    assert trials.description == "all same-speaker pairs"
    assert trials.target.tolist() == [
        [False, False, False],
        [True, False, False],
        [False, False, False],
        [False, True, False],
        [False, False, False],
    ]
    assert trials.nontarget[:, 0].tolist() == [False, False, True, True, True]
    assert not (trials.target & trials.nontarget).any()


def test_natural_trials_across_rates_are_scored_as_verification_scores_its_pairs() -> None:
    """With every test utterance a source, the natural trials are verification's pairs in both
    orders: the same target rule and speaker weights give the same EER, draws and jackknife."""
    rng = np.random.default_rng(5)
    speaker_of = np.repeat(np.arange(4), 3)
    speakers = np.array(["a", "b", "c", "d"])[speaker_of]
    # Speaker d's utterances share a chapter: the cross-chapter rule leaves it no target.
    chapters = np.array(["1", "1", "2", "3", "4", "4", "5", "6", "7", "8", "8", "8"])
    embeddings = 2.0 * rng.normal(size=(4, 5))[speaker_of] + rng.normal(size=(12, 5))
    boot = speaker_bootstrap(speakers, 50, 0)
    pairs = verification(embeddings, boot, chapters)
    trials = mismatch_trials(boot.speaker_index, chapters, np.arange(12))
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    speaker = boot.speaker_index
    natural = trial_eer(unit @ unit.T, trials, speaker, speaker, boot)
    assert trials.description == pairs["target_trials"] == "cross-chapter"
    assert trials.target.sum() == 2 * pairs["n_target_pairs"] == 2 * 7
    assert trials.nontarget.sum() == 2 * pairs["n_different_pairs"]
    assert 0 < pairs["eer"] < 0.5
    assert natural.point == pytest.approx(pairs["eer"], rel=1e-9)
    np.testing.assert_allclose(natural.draws, pairs["eer_draws"], rtol=1e-9)
    np.testing.assert_allclose(natural.jackknife, pairs["eer_jackknife"], rtol=1e-9)


def test_ridge_readout_reproduces_the_probing_stage_fit() -> None:
    rng = np.random.default_rng(3)
    train, test = rng.normal(size=(60, 8)), rng.normal(size=(20, 8))
    weights = rng.normal(size=(8, 2))
    y_train = train @ weights + rng.normal(0, 0.1, (60, 2))
    standardiser = Standardiser.fit(train)
    x = {"train": standardiser.transform(train), "dev": standardiser.transform(test)}
    x["test"] = x["dev"]
    y = {"train": y_train, "dev": test @ weights, "test": test @ weights}
    for alpha in (0.1, 100.0):
        fit = fit_ridge(x, y, PenaltySearch((alpha,), np.arange(60) % 5, max_widenings=3))
        (readout,) = ridge_readout(train, y_train, [alpha, alpha], [test])
        np.testing.assert_allclose(readout.T, fit.test_predictions, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ the analysis, end to end


def _write_split(root: Path, name: str, frame: pd.DataFrame, taps: dict[str, np.ndarray]) -> Path:
    frame.to_csv(root / f"{name}.csv", index=False)
    np.savez(
        root / f"{name}.npz",
        utt_id=frame["utt_id"].to_numpy(dtype=str),
        layer_names=np.array(list(taps), dtype=str),
        meta_json=np.array(json.dumps({"model": "fake"})),
        **{f"tap/{name}": values for name, values in taps.items()},
    )
    return root / f"{name}.csv"


def _fake_taps(cps: np.ndarray, speaker_vectors: np.ndarray, rng: np.random.Generator) -> dict:
    """`tracks`: cps linearly (the encoder follows rate); `speaker`: identity only; the
    embedding: identity plus a little cps."""
    direction = np.linspace(-1.0, 1.0, 6)
    noise = rng.normal(0.0, 0.05, (len(cps), 6))
    return {
        "tracks": np.outer(cps - 12.0, direction) + noise,
        "speaker": speaker_vectors + noise,
        "embedding": speaker_vectors + 0.05 * np.outer(cps - 12.0, direction) + noise,
    }


def _fake_frame(speakers: list[str], cps: np.ndarray, prefix: str = "") -> pd.DataFrame:
    n_chars = 40
    duration = n_chars / cps
    return pd.DataFrame(
        {
            "utt_id": [f"{s}-1-{i:04d}{prefix}" for i, s in enumerate(speakers)],
            "speaker_id": speakers,
            "chapter_id": "1",
            "n_chars": n_chars,
            "duration_s": duration,
            "cps": cps,
            "articulation_rate": cps * 1.1,
        }
    )


def test_analysis_finds_the_planted_causal_tap(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    vectors = {s: rng.normal(0.0, 1.0, 6) for s in map(str, range(100, 130))}
    frames, taps = {}, {}
    # Natural train rates span every variant's rate: the standardiser clips features to their
    # training range, which would flatten the response to rates beyond it.
    for split, speakers, low, high in (("train", range(100, 116), 5.0, 25.0),
                                       ("test", range(116, 130), 9.0, 15.0)):  # fmt: skip
        names = [str(s) for s in speakers for _ in range(3)]
        frames[split] = _fake_frame(names, rng.uniform(low, high, len(names)))
        speaker_vectors = np.array([vectors[s] for s in names])
        taps[split] = _fake_taps(frames[split]["cps"].to_numpy(), speaker_vectors, rng)
    test = frames["test"]
    sources = test.groupby("speaker_id").head(1)
    variants = []
    for factor in (0.8, 1.25):
        frame = sources.copy()
        frame["source_utt_id"] = frame["utt_id"]
        frame["utt_id"] = frame["utt_id"] + f"~rate{factor:g}"
        frame["intervention"], frame["factor"] = "rate", factor
        frame["cps"] *= factor
        frame["duration_s"] /= factor
        frame["articulation_rate"] *= factor
        variants.append(frame)
    manipulated = pd.concat(variants).sort_values("utt_id", ignore_index=True)
    source_vectors = np.array([vectors[s] for s in manipulated["speaker_id"]])
    manipulated_taps = _fake_taps(manipulated["cps"].to_numpy(), source_vectors, rng)
    paths = {name: _write_split(tmp_path, name, frames[name], taps[name]) for name in frames}
    _write_split(tmp_path, "interventions", manipulated, manipulated_taps)
    targets = ["cps", "articulation_rate"]
    selection = {
        t: [{"tap": tap, "ridge": {"alpha": 1.0}} for tap in taps["train"]] for t in targets
    }
    (tmp_path / "analysis.json").write_text(
        json.dumps({"targets": targets, "selection": selection})
    )

    result = intervention_analysis(
        "fake",
        tmp_path / "interventions.csv",
        tmp_path / "interventions.npz",
        paths,
        {name: tmp_path / f"{name}.npz" for name in paths},
        tmp_path / "analysis.json",
        {"n": 200, "seed": 0},
        tmp_path / "out.json",
    )
    written = json.loads((tmp_path / "out.json").read_text())
    assert written == json.loads(json.dumps(result))
    slopes = {e["tap"]: e["interventions"]["rate"]["slope"] for e in written["slopes"]["cps"]}
    assert slopes["tracks"]["value"] == pytest.approx(1.0, abs=0.1)
    assert abs(slopes["speaker"]["value"]) < 0.2 and slopes["speaker"]["p_one"] < 0.01
    assert written["n_sources"] == 14 and written["n_variants"] == 28
    assert [c["factor"] for c in written["conditions"]] == [0.8, 1.25]
    assert written["conditions"][0]["true_change"]["cps"]["ratio_mean"] == pytest.approx(0.8)
    drift = written["drift"]["conditions"][1]
    assert 0 < drift["ratio"]["value"] < 0.2  # the rate moves the embedding far less than a speaker
    eer = written["verification"]["conditions"][0]
    assert eer["n_target_trials"] == 14 * 2 and eer["eer"]["value"] is not None
    assert eer["difference"]["p_value"] is not None
