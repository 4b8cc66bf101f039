"""Causal rate interventions: the variants' audio and labels, and the measurements on them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rateprobe.analysis.interventions import (
    between_speaker_distance,
    intervention_analysis,
    mismatch_trials,
    ridge_readout,
    slope_estimate,
    slope_record,
    trial_eer,
)
from rateprobe.analysis.verification import verification
from rateprobe.audio import TARGET_RATE, read_audio
from rateprobe.config import DEFAULTS
from rateprobe.corpus.splits import synthetic_report
from rateprobe.corpus.synthetic import synthesize_corpus, synthesize_utterance
from rateprobe.features import Standardiser
from rateprobe.interventions import (
    MANIFEST_COLUMNS,
    build_interventions,
    pad_silence,
    rate_variant,
    synthetic_test_plans,
)
from rateprobe.labels import VadSettings, build_manifest, count_chars, voiced_duration
from rateprobe.metrics import speaker_bootstrap
from rateprobe.probing.ridge import PenaltySearch, fit_ridge

REPO = Path(__file__).resolve().parents[1]
LIBRISPEECH_SAMPLE = REPO.parent / "shared" / "librispeech-sample" / "LibriSpeech"
VAD = {"aggressiveness": 2, "frame_ms": 30}
BOUNDS = DEFAULTS["labels"]
SETTINGS = {
    "enabled": True,
    "rate_factors": [0.8, 1.25],
    "pause_gaps": [10],
    "pad_seconds": 1.0,
    "utterances_per_speaker": 1,
}
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng absent")
needs_rubberband = pytest.mark.skipif(
    shutil.which("rubberband") is None, reason="rubberband absent (bin/setup installs it)"
)


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


# ------------------------------------------------------------------ audio and manifests


@pytest.fixture(scope="module")
def synthetic_test_split(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny espeak-ng corpus (3 speakers per split, 2 utterances each) and its test manifest."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent")
    root = tmp_path_factory.mktemp("synthetic")
    corpus = {
        "kind": "synthetic",
        "root": str(root / "corpus"),
        "splits": {"train": 2, "dev": 2, "test": 3},
        "synthetic": {"utterances_per_speaker": 2, "min_wpm": 120, "max_wpm": 300},
    }
    report = synthetic_report(corpus["root"])
    synthesize_corpus(corpus, seed=0, report_path=report, workers=2)
    manifest = root / "test.csv"
    bad = root / "test.bad.json"
    build_manifest(corpus, VAD, "fail", "test", manifest, bad, bounds=BOUNDS, workers=2)
    return {"root": root, "manifest": manifest, "report": report}


def _natural(manifest: Path) -> pd.DataFrame:
    return pd.read_csv(manifest, dtype={"utt_id": str, "speaker_id": str}).set_index("utt_id")


def _assert_well_formed(variants: pd.DataFrame, natural: pd.DataFrame, n_variants: int) -> None:
    assert list(variants.columns) == list(MANIFEST_COLUMNS)
    assert variants["utt_id"].is_unique and variants["utt_id"].is_monotonic_increasing
    assert len(variants) == n_variants
    source = natural.loc[variants["source_utt_id"]]
    assert (variants["speaker_id"].to_numpy() == source["speaker_id"].to_numpy()).all()
    assert (variants["text"].to_numpy() == source["text"].to_numpy()).all()
    assert (variants["n_chars"].to_numpy() == source["n_chars"].to_numpy()).all()
    assert (variants["n_chars"] == variants["text"].map(count_chars)).all()
    np.testing.assert_allclose(variants["cps"], variants["n_chars"] / variants["duration_s"])
    assert all(Path(p).is_file() for p in variants["path"])


@needs_espeak
def test_synthetic_interventions_change_the_rate_by_the_factor(
    synthetic_test_split: dict[str, Path], tmp_path: Path
) -> None:
    split = synthetic_test_split
    variants = build_interventions(
        split["manifest"], SETTINGS, "synthetic", VAD, 0, tmp_path / "m.csv", tmp_path / "audio",
        synthesis_report=split["report"], workers=2,
    )  # fmt: skip
    natural = _natural(split["manifest"])
    _assert_well_formed(variants, natural, n_variants=3 * 3)
    assert variants.equals(pd.read_csv(tmp_path / "m.csv", dtype={"utt_id": str, "speaker_id": str,
                                                                  "chapter_id": str}))  # fmt: skip
    ratio = variants["cps"].to_numpy() / natural.loc[variants["source_utt_id"], "cps"].to_numpy()
    rate = (variants["intervention"] == "rate").to_numpy()
    # espeak-ng's speed is not exactly proportional: measured 0.92-1.12 x the factor.
    np.testing.assert_allclose(ratio[rate] / variants["factor"][rate], 1.0, atol=0.15)
    assert (ratio[~rate] < 0.95).all()  # longer pauses, same words: slower
    assert set(variants["utt_id"]) >= {f"{u}~rate1.25" for u in variants["source_utt_id"]}


@needs_espeak
def test_resynthesis_keeps_the_voice_and_text(
    synthetic_test_split: dict[str, Path], tmp_path: Path
) -> None:
    plans = synthetic_test_plans(json.loads(synthetic_test_split["report"].read_text()))
    natural = _natural(synthetic_test_split["manifest"])
    assert sorted(plans) == sorted(natural.index)
    utt_id = natural.index[0]
    same_speed = rate_variant(plans[utt_id], 1.0)
    faster = rate_variant(plans[utt_id], 1.25)
    assert (same_speed.speaker, same_speed.text) == (faster.speaker, faster.text)
    assert faster.wpm == round(plans[utt_id].wpm * 1.25)
    synthesize_utterance(same_speed, tmp_path)
    again = read_audio(tmp_path / same_speed.relative_path).samples
    np.testing.assert_array_equal(again, read_audio(natural.loc[utt_id, "path"]).samples)


@needs_espeak
@needs_rubberband
def test_time_stretch_changes_duration_by_the_factor_and_keeps_the_text(
    synthetic_test_split: dict[str, Path], tmp_path: Path
) -> None:
    split = synthetic_test_split
    variants = build_interventions(
        split["manifest"], SETTINGS, "librispeech", VAD, 0, tmp_path / "m.csv",
        tmp_path / "audio", workers=2,
    )  # fmt: skip
    natural = _natural(split["manifest"])
    _assert_well_formed(variants, natural, n_variants=3 * 3)
    source = natural.loc[variants["source_utt_id"]]
    stretch = (variants["intervention"] == "stretch").to_numpy()
    expected = source["duration_s"].to_numpy()[stretch] / variants["factor"].to_numpy()[stretch]
    np.testing.assert_allclose(variants["duration_s"].to_numpy()[stretch], expected, atol=0.002)
    pad = ~stretch
    added = variants["duration_s"].to_numpy()[pad] - source["duration_s"].to_numpy()[pad]
    np.testing.assert_allclose(added, SETTINGS["pad_seconds"], atol=1 / TARGET_RATE)


@pytest.mark.skipif(not LIBRISPEECH_SAMPLE.is_dir(), reason="../shared/librispeech-sample absent")
def test_padding_leaves_the_articulation_rate_alone_on_real_speech() -> None:
    vad = VadSettings(**VAD)
    ratios = []
    for path in sorted(LIBRISPEECH_SAMPLE.rglob("*.flac"))[:12]:
        samples, _ = sf.read(path, dtype="float32")
        padded = pad_silence(samples, 1.0, np.random.default_rng(0))
        assert len(padded) == len(samples) + TARGET_RATE
        np.testing.assert_array_equal(padded[TARGET_RATE // 2 : -TARGET_RATE // 2], samples)
        ratios.append(voiced_duration(samples, vad) / voiced_duration(padded, vad))
    # VAD tolerance: a frame or two either way per utterance (measured 0.97-1.05 on 40).
    assert np.all(np.abs(np.array(ratios) - 1.0) < 0.06)
    assert abs(np.mean(ratios) - 1.0) < 0.02
