"""summary.json: the contract of docs/summary.md, claims decided from intervals, determinism."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_study import run_fake_study

from rateprobe.provenance import config_hash
from rateprobe.results.summarize import build_summary, write_summary


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fake_study(tmp_path_factory.mktemp("study"))


def summarise(study: dict, out: Path) -> dict:
    write_summary(study["cfg"], study["manifests"], study["bad_reports"], study["models"], out)
    return json.loads(out.read_text())


def test_same_inputs_give_a_byte_identical_summary(study: dict, tmp_path: Path) -> None:
    summarise(study, tmp_path / "a.json")
    summarise(study, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_the_whole_probing_stage_is_deterministic(study: dict, tmp_path: Path) -> None:
    again = run_fake_study(tmp_path / "again")
    summarise(study, tmp_path / "a.json")
    summarise(again, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    for name, paths in study["models"].items():
        assert paths["table"].read_bytes() == again["models"][name]["table"].read_bytes()


def test_the_summary_job_imports_no_torch() -> None:
    """The summary reads saved predictions: its job must not pay for (or need) torch."""
    check = (
        "import sys, rateprobe.results.summarize; "
        "loaded = sorted(m for m in ('torch', 'rateprobe.probing.run') if m in sys.modules); "
        "assert not loaded, loaded"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


def test_design_fixed_keys(study: dict, tmp_path: Path) -> None:
    summary = summarise(study, tmp_path / "s.json")
    for model in summary["models"].values():
        assert isinstance(model["embedding"]["cps"]["r2"], float)
        assert 0.0 <= model["eer"] <= 1.0
    good = summary["models"]["good"]
    assert good["embedding"]["cps"]["best_probe"] in ("ridge", "mlp")


def test_summary_carries_the_build_stamp(study: dict, tmp_path: Path) -> None:
    build = summarise(study, tmp_path / "s.json")["build"]
    assert set(build) == {"commit", "dirty", "config_hash", "date"}
    assert build["config_hash"] == config_hash(study["cfg"])
    changed = copy.deepcopy(study["cfg"])
    changed["seed"] = 1
    assert config_hash(changed) != build["config_hash"]


def test_claims_follow_the_planted_signal(study: dict, tmp_path: Path) -> None:
    summary = summarise(study, tmp_path / "s.json")
    good, blank = summary["models"]["good"], summary["models"]["blank"]
    layers = good["layers"]["cps"]
    assert layers["best"]["tap"] == "signal"
    assert layers["best"]["relative_depth"] == 0.5
    # The planted tap beats the control's best tap: a primary claim, decided.
    assert layers["beats_controls"] is True
    assert layers["beats_every_control"]["family"] == "primary"
    assert layers["beats_every_control"]["p_holm"] < 0.05
    # Best tap against the embedding (weaker signal) is an estimate with an interval, no verdict.
    versus_embedding = layers["best_minus_deepest"]
    assert versus_embedding["family"] == "descriptive" and versus_embedding["delta_ci"][0] > 0
    assert layers["middle_beats_deepest"] is None and versus_embedding["p_holm"] is None
    assert [c["name"] for c in layers["controls"]] == ["blank"]
    assert layers["controls"][0]["comparison"]["family"] == "descriptive"
    assert blank["layers"]["cps"]["beats_controls"] is None
    assert blank["layers"]["cps"]["beats_controls_reason"] == "no control model"
    # The blank control has no speaker information at all; the good model separates speakers.
    assert good["beats_controls_eer"] is True
    assert summary["sanity"]["broken_pretrained_models"] == []
    assert summary["sanity"]["unconfirmed_pretrained_models"] == []
    # The control is compared through its model's control claims, not ranked beside it.
    assert summary["studied_models"] == ["good"]
    assert summary["comparisons"]["cps"]["ranking"] == ["good"]
    assert good["cca"]["headline_target"] == "cps"
    assert good["pretrained"] is True and blank["pretrained"] is False


def test_the_study_questions_form_one_small_holm_family(study: dict, tmp_path: Path) -> None:
    summary = summarise(study, tmp_path / "s.json")
    claims = summary["run"]["claims"]
    assert claims["correction"] == "holm" and claims["decidable"] is True
    layers = summary["models"]["good"]["layers"]["cps"]
    primary = [layers["best"]["beyond_duration"], layers["beats_every_control"]]
    # One studied model: beyond duration and beats every control; no model comparison.
    assert claims["family_size"] == 2
    for decision in primary:
        assert decision["family"] == "primary"
        assert decision["p_holm"] >= decision["p_value"]
        assert decision["p_holm"] <= min(1.0, claims["family_size"] * decision["p_value"])
    # The claim over every control is the weakest single comparison (intersection-union).
    single = layers["controls"][0]["comparison"]
    assert layers["beats_every_control"]["delta"] == single["delta"]
    assert layers["beats_every_control"]["n_parts"] == 1
    # The loading check is its own family.
    assert claims["check_family_size"] == 1
    assert summary["models"]["good"]["controls_eer"][0]["comparison"]["family"] == "check"


def test_a_family_larger_than_the_resamples_resolve_is_flagged(study: dict, tmp_path: Path) -> None:
    summary = summarise(study, tmp_path / "s.json")
    claims = summary["run"]["claims"]
    # p >= 1 / (n + 1) with n = 499 resamples: 2 claims x 1/500 passes Holm's first step.
    assert claims["min_p_value"] == pytest.approx(1 / 500)
    assert claims["family_resolvable"] is True
    first = summary["models"]["good"]["layers"]["cps"]["beats_every_control"]
    assert first["p_value"] >= claims["min_p_value"] and first["decided"] is True
    cfg = copy.deepcopy(study["cfg"])
    cfg["probes"]["bootstrap"]["n"] = 19
    few = build_summary(cfg, study["manifests"], study["bad_reports"], study["models"])
    assert few["run"]["claims"]["family_resolvable"] is False
    assert few["models"]["good"]["layers"]["cps"]["beats_controls"] is None


def test_ridge_penalties_are_reported_with_their_place_on_the_grid(
    study: dict, tmp_path: Path
) -> None:
    summary = summarise(study, tmp_path / "s.json")
    by_tap = {e["tap"]: e for e in summary["models"]["good"]["layers"]["cps"]["per_tap"]}
    for probe in ("ridge", "conditional"):
        fit = by_tap["signal"][probe]
        low, high = fit["alpha_grid"]
        assert low < fit["alpha"] < high and fit["alpha_at_edge"] is None
        assert fit["failure"] is None and fit["prediction_spread"] > 0.5
    assert by_tap["signal"]["ridge"]["cv_r2"] > 0.9
    # The pure-noise tap: cross-validation shrinks ridge to the training mean, a reported
    # verdict (at the path's limit), neither a failure nor an unreported edge.
    noise = by_tap["noise"]["ridge"]
    assert (noise["alpha_at_edge"], noise["alpha_limit"], noise["failure"]) == (
        "high",
        "mean",
        None,
    )
    sanity = summary["sanity"]
    reported = {"model": "good", "target": "cps", "tap": "noise", "probe": "ridge",
                "edge": "high", "alpha": noise["alpha"], "alpha_limit": "mean"}  # fmt: skip
    assert reported in sanity["ridge_alpha_at_edge"]
    assert ("good", "noise", "ridge") in {
        (c["model"], c["tap"], c["probe"]) for c in sanity["collapsed_fits"]
    }
    assert sanity["failed_fits"] == []


def test_too_few_test_speakers_decide_nothing(study: dict, tmp_path: Path) -> None:
    cfg = copy.deepcopy(study["cfg"])
    cfg["probes"]["min_test_speakers"] = 21
    summary = build_summary(cfg, study["manifests"], study["bad_reports"], study["models"])
    assert summary["run"]["claims"]["decidable"] is False
    good = summary["models"]["good"]
    assert good["layers"]["cps"]["beats_controls"] is None
    assert good["beats_controls_eer"] is None
    reason = good["layers"]["cps"]["beats_every_control"]["decided_reason"]
    assert reason == "20 test speakers, fewer than probes.min_test_speakers = 21"
    assert summary["sanity"]["unconfirmed_pretrained_models"] == ["good"]
    # Nothing is tested, so no p is Holm-adjusted; the family is still sized by its p-values.
    test = good["layers"]["cps"]["beats_every_control"]
    assert test["p_value"] is not None and test["p_holm"] is None
    decided = build_summary(study["cfg"], study["manifests"], study["bad_reports"], study["models"])
    assert summary["run"]["claims"]["family_size"] == decided["run"]["claims"]["family_size"] > 0


def test_corpus_and_baselines(study: dict, tmp_path: Path) -> None:
    summary = summarise(study, tmp_path / "s.json")
    train = summary["corpus"]["splits"]["train"]
    assert train["n_speakers"] == 12 and train["n_utterances"] == 96
    assert train["n_female"] == 6 and train["n_male"] == 6
    assert summary["corpus"]["total"]["n_speakers"] == 36
    assert summary["corpus"]["speaker_disjoint"] is True
    mean = summary["baselines"]["cps"]["mean"]
    assert mean["pearson_r"] is None and mean["pearson_r_reason"] == "constant prediction"
    assert mean["r2"] <= 0.0
    assert summary["run"]["synthetic_speech"] is True
    assert summary["figures"]["layer_curves_cps"] == "figures/layer_curves_cps.pdf"


def test_floats_have_at_most_six_significant_digits(study: dict, tmp_path: Path) -> None:
    def floats(node: object) -> list[float]:
        if isinstance(node, dict):
            return [f for v in node.values() for f in floats(v)]
        if isinstance(node, list):
            return [f for v in node for f in floats(v)]
        return [node] if isinstance(node, float) else []

    values = floats(summarise(study, tmp_path / "s.json"))
    assert values
    assert all(float(f"{v:.6g}") == v for v in values)


def test_missing_control_leaves_claims_undecided(study: dict, tmp_path: Path) -> None:
    only_good = {"good": study["models"]["good"]}
    cfg = dict(study["cfg"], models=[m for m in study["cfg"]["models"] if m["name"] == "good"])
    summary = build_summary(cfg, study["manifests"], study["bad_reports"], only_good)
    good = summary["models"]["good"]
    assert good["controls"] == []
    assert good["beats_controls_eer"] is None
    assert good["layers"]["cps"]["beats_controls"] is None
    assert summary["comparisons"]["cps"]["best_model_clearly_best"] is None


def test_eer_not_computable_is_null_with_reason(study: dict, tmp_path: Path) -> None:
    verification_path, *others = study["models"]["good"]["analyses"]
    analysis = json.loads(verification_path.read_text())
    analysis["verification"].update(
        eer=None, eer_ci=None, eer_reason="no test speaker has two utterances"
    )
    (tmp_path / "verification.json").write_text(json.dumps(analysis))
    changed = dict(study["models"]["good"], analyses=[tmp_path / "verification.json", *others])
    models = {"good": changed, "blank": study["models"]["blank"]}
    summary = build_summary(study["cfg"], study["manifests"], study["bad_reports"], models)
    good = summary["models"]["good"]
    assert good["eer"] is None
    assert good["eer_reason"] == "no test speaker has two utterances"
    assert good["beats_controls_eer"] is None
    assert good["controls_eer"][0]["comparison"]["decided_reason"] == "not computable"
