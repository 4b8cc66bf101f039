"""The summary's contract (rateprobe.results.contract): the schema file, byte-identical round
trips of real summaries, claim ids, and refusals that name the file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest
from fake_study import run_fake_study
from paper_support import FIXTURE_SUMMARY

import rateprobe.results.summarize
from rateprobe.config_schema import load_schema
from rateprobe.conventions import EMBEDDING_TAP, PROBE_TARGETS
from rateprobe.io import plain, write_json
from rateprobe.results.claim_ids import BEST, ClaimId
from rateprobe.results.contract import Summary, read_summary, schema_text
from rateprobe.results.model_entry import Arch
from rateprobe.results.records import Target

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "summary.schema.json"
# Summaries of real builds on this machine (not in the repository): the LibriSpeech sample
# and the demo. Each is checked where present.
BUILT_SUMMARIES = [
    Path("/work/sample-check/results/summary.json"),
    Path("/work/bench-out/demo/results/summary.json"),
]


def test_the_schema_file_is_generated_from_the_models() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == schema_text(), (
        "regenerate it: python -m rateprobe.results.contract > schemas/summary.schema.json"
    )


def test_the_target_names_are_the_probe_targets() -> None:
    assert set(get_args(Target)) == set(PROBE_TARGETS)


def test_the_architectures_are_those_a_config_may_name() -> None:
    schema = load_schema(REPO / "schemas" / "config.schema.yaml")
    arch = schema["$defs"]["model"]["properties"]["arch"]["enum"]
    assert list(get_args(Arch)) == arch


def round_trip(path: Path, tmp_path: Path) -> bytes:
    out = tmp_path / "summary.json"
    write_json(out, read_summary(path).dump())
    return out.read_bytes()


def test_the_fixture_round_trips_byte_identically(tmp_path: Path) -> None:
    assert round_trip(FIXTURE_SUMMARY, tmp_path) == FIXTURE_SUMMARY.read_bytes()


@pytest.mark.parametrize("path", BUILT_SUMMARIES, ids=lambda p: p.parts[-3])
def test_built_summaries_round_trip_byte_identically(path: Path, tmp_path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not built on this machine")
    assert round_trip(path, tmp_path) == path.read_bytes()


@pytest.fixture(scope="module")
def fixture() -> Summary:
    return read_summary(FIXTURE_SUMMARY)


def fixture_dict() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE_SUMMARY.read_text(encoding="utf-8"))
    return data


def at(data: dict[str, Any], *path: str | int) -> Any:
    for part in path:
        data = data[part]  # type: ignore[index]
    return data


KNOWN_CLAIMS = [
    (ClaimId.best_vs_embedding("resemblyzer", "cps"), ("layers", "cps", "best_minus_deepest")),
    (ClaimId.beyond_duration("resemblyzer", "cps", BEST), ("layers", "cps", "best")),
    (
        ClaimId.beyond_duration("resemblyzer", "cps", EMBEDDING_TAP),
        ("embedding", "cps", "beyond_duration"),
    ),
    (
        ClaimId.best_vs_control("resemblyzer", "cps", "resemblyzer_random_s1"),
        ("layers", "cps", "controls", 1, "comparison"),
    ),
    (ClaimId.beats_every_control("resemblyzer", "cps"), ("layers", "cps", "beats_every_control")),
    (ClaimId.erasure_eer_change("resemblyzer"), ("erasure", "eer_change")),
    (
        ClaimId.eer_vs_control("resemblyzer", "resemblyzer_random_s2"),
        ("controls_eer", 2, "comparison"),
    ),
    (
        ClaimId.classification("resemblyzer", EMBEDDING_TAP, "cps_tercile"),
        ("classification", "cps_tercile", "above_chance"),
    ),
]


@pytest.mark.parametrize(("claim", "place"), KNOWN_CLAIMS, ids=str)
def test_a_model_claim_is_found_where_the_summary_records_it(
    fixture: Summary, claim: ClaimId, place: tuple[str | int, ...]
) -> None:
    expected = at(fixture_dict()["models"]["resemblyzer"], *place)
    if place[-1] == "best":
        expected = expected["beyond_duration"]
    found = fixture.decision(claim)
    assert found is not None
    assert found.model_dump(mode="json", exclude_unset=True) == expected


def test_comparison_and_intervention_claims_are_found(fixture: Summary) -> None:
    data = fixture_dict()
    leader = fixture.decision(ClaimId.leader_beats_every_model("cps"))
    assert leader is not None
    assert leader.model_dump(mode="json", exclude_unset=True) == at(
        data, "comparisons", "cps", "leader_beats_every_model"
    )
    pair = fixture.decision(ClaimId.model_pair("cps", "embedding", *fixture.studied_models))
    assert pair is not None
    assert pair.model_dump(mode="json", exclude_unset=True) == at(
        data, "comparisons", "cps", "embedding", "pairs", 0
    )
    slope = ClaimId.intervention("samresnet34_random", "cps", "best", "rate", "partial")
    found = fixture.decision(slope)
    assert found is not None
    assert found.model_dump(mode="json", exclude_unset=True) == at(
        data, "interventions", "models", "samresnet34_random", "slopes", "best", "rate", "partial"
    )


def test_a_claim_not_made_is_none(fixture: Summary) -> None:
    # samresnet34_random has no control: its claim against every control is not made.
    assert fixture.decision(ClaimId.beats_every_control("samresnet34_random", "cps")) is None


UNKNOWN_CLAIMS = [
    ClaimId.beats_every_control("resemblyzr", "cps"),
    ClaimId.beats_every_control("resemblyzer", "speed"),
    ClaimId.best_vs_control("resemblyzer", "cps", "samresnet34_random"),
    ClaimId.beyond_duration("resemblyzer", "cps", "lstm1"),
    ClaimId.model_pair("cps", "best_tap", "samresnet34_random", "resemblyzer"),
    ClaimId.intervention("resemblyzer", "cps", "best", "stretch", "tracks"),
    ClaimId.classification("resemblyzer", EMBEDDING_TAP, "speaker"),
    ClaimId(("resemblyzer", "cps", "beats_every_contrl")),
]


@pytest.mark.parametrize("claim", UNKNOWN_CLAIMS, ids=str)
def test_an_unknown_claim_is_a_key_error_naming_it(fixture: Summary, claim: ClaimId) -> None:
    with pytest.raises(KeyError, match=re.escape(claim.key)):
        fixture.decision(claim)


def test_every_decided_claim_of_a_built_summary_is_found_by_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decisions keyed by ClaimId.key while building are the records the summary holds."""
    study = run_fake_study(tmp_path / "study")
    made: dict[str, dict[str, Any]] = {}

    def recording_decide(*args: Any) -> dict[str, dict[str, Any]]:
        decisions = decide(*args)
        made.update(decisions)
        return decisions

    decide = rateprobe.results.summarize.decide
    monkeypatch.setattr(rateprobe.results.summarize, "decide", recording_decide)
    out = tmp_path / "summary.json"
    rateprobe.results.summarize.write_summary(
        study["cfg"], study["manifests"], study["bad_reports"], study["models"], out
    )
    summary = read_summary(out)
    assert made
    for key, decision in made.items():
        found = summary.decision(ClaimId(tuple(key.split("/"))))
        assert found is not None, key
        dumped = found.model_dump(mode="json", exclude_unset=True)
        assert {name: dumped[name] for name in decision} == plain(decision, 6), key


def write_changed(tmp_path: Path, change: Any) -> Path:
    data = fixture_dict()
    change(data)
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_misspelt_key_is_refused_naming_the_file_and_the_key(tmp_path: Path) -> None:
    def misspell(data: dict[str, Any]) -> None:
        data["models"]["resemblyzer"]["eer_c"] = data["models"]["resemblyzer"].pop("eer_ci")

    path = write_changed(tmp_path, misspell)
    with pytest.raises(ValueError, match="eer_c") as refusal:
        read_summary(path)
    assert str(path) in str(refusal.value)
    assert "models.resemblyzer.eer_ci: Field required" in str(refusal.value)


def test_a_value_outside_its_enumeration_is_refused(tmp_path: Path) -> None:
    def off_grid(data: dict[str, Any]) -> None:
        data["sanity"]["ridge_alpha_at_edge"][0]["edge"] = "middle"

    with pytest.raises(ValueError, match=re.escape("sanity.ridge_alpha_at_edge.0.edge")):
        read_summary(write_changed(tmp_path, off_grid))
