"""The tested claims: every paired test behind a sentence of the paper, sorted into the primary,
check and descriptive families that rateprobe.decisions decides, each keyed by its ClaimId."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

from rateprobe.conventions import EMBEDDING_TAP, PRIMARY_TARGET, headline_target
from rateprobe.decisions import CHECK, DESCRIPTIVE, PRIMARY, every_one
from rateprobe.results.claim_ids import BEST, ClaimId
from rateprobe.results.estimates import Scores, paired_test
from rateprobe.results.loading import ModelResults

# Paired test records by claim key, each None where a side is not computable.
Tests = dict[str, dict[str, Any] | None]


def claim_tests(
    studied: list[str],
    pretrained: set[str],
    controls: Mapping[str, list[str]],
    targets: list[str],
    scores: Scores,
) -> dict[str, Tests]:
    """Every paired test behind a sentence of the paper, by family (rateprobe.decisions),
    oriented so that > 0 favours the first named; None where a side is not computable (its
    fits failed). Controls enter only as their models' controls."""
    primary_target = headline_target(targets)
    tests: dict[str, Tests] = {PRIMARY: {}, CHECK: {}, DESCRIPTIVE: {}}
    for target in targets:
        # The headline target's questions are the primary family; other targets' describe.
        questions = tests[PRIMARY] if target == primary_target else tests[DESCRIPTIVE]
        for name in studied:
            _model_target_tests(name, target, controls[name], scores, questions, tests)
        _model_pair_tests(studied, target, scores, questions, tests)
    for name in studied:
        _model_tests(name, name in pretrained, controls[name], scores.results, tests)
    return tests


def _model_target_tests(
    name: str,
    target: str,
    controls: list[str],
    scores: Scores,
    questions: Tests,
    tests: Mapping[str, Tests],
) -> None:
    """A model's tests on one target: its best tap against its embedding, its gain beyond
    duration, and its best tap against each control's and all of them."""
    descriptive = tests[DESCRIPTIVE]
    best = scores.results[name].best(target)
    if best is not None and best["tap"] != EMBEDDING_TAP:
        descriptive[ClaimId.best_vs_embedding(name, target).key] = paired_test(
            scores.best_r2(name, target), scores.r2(name, target, EMBEDDING_TAP)
        )
    if best is not None:
        record = scores.beyond_duration(name, target, best["tap"])
        if record is not None:
            questions[ClaimId.beyond_duration(name, target, BEST).key] = record
    record = scores.beyond_duration(name, target, EMBEDDING_TAP)
    if record is not None:
        descriptive[ClaimId.beyond_duration(name, target, EMBEDDING_TAP).key] = record
    versus_controls = {
        control: paired_test(scores.best_r2(name, target), scores.best_r2(control, target))
        for control in controls
    }
    for control, test in versus_controls.items():
        descriptive[ClaimId.best_vs_control(name, target, control).key] = test
    if versus_controls:
        questions[ClaimId.beats_every_control(name, target).key] = every_one(
            list(versus_controls.values())
        )


def _model_pair_tests(
    studied: list[str], target: str, scores: Scores, questions: Tests, tests: Mapping[str, Tests]
) -> None:
    """Every pair of studied models at their best taps and their embeddings, and whether the
    leader beats every other model."""
    descriptive = tests[DESCRIPTIVE]
    pairs = {}
    for a, b in combinations(studied, 2):
        pairs[a, b] = paired_test(scores.best_r2(a, target), scores.best_r2(b, target))
        descriptive[ClaimId.model_pair(target, "best_tap", a, b).key] = pairs[a, b]
        descriptive[ClaimId.model_pair(target, "embedding", a, b).key] = paired_test(
            scores.r2(a, target, EMBEDDING_TAP), scores.r2(b, target, EMBEDDING_TAP)
        )
    leader = _leader(studied, target, scores)
    if leader is not None and len(studied) > 1:
        questions[ClaimId.leader_beats_every_model(target).key] = every_one(
            [_oriented(pairs, leader, other) for other in studied if other != leader]
        )


def _model_tests(
    name: str,
    pretrained: bool,
    controls: list[str],
    results: Mapping[str, ModelResults],
    tests: Mapping[str, Tests],
) -> None:
    """A model's tests beyond the probes: interventions, erasure, EER against each control,
    classification above chance."""
    descriptive = tests[DESCRIPTIVE]
    own = results[name]
    descriptive.update(_intervention_tests(name, own))
    erasure = own.analysis.get("erasure")
    # Whether verification relies on rate is a question about trained encoders only.
    if erasure is not None and pretrained:
        descriptive[ClaimId.erasure_eer_change(name).key] = erasure["eer_change"]
    own_eer = own.eer()
    for control in controls:
        # A lower EER is better: the control's minus the model's.
        family = tests[CHECK] if pretrained else descriptive
        family[ClaimId.eer_vs_control(name, control).key] = paired_test(
            results[control].eer(), own_eer
        )
    # The text states the embedding's classification results only.
    for task, result in own.analysis["classification"][EMBEDDING_TAP].items():
        if result.get("above_chance") is not None:
            key = ClaimId.classification(name, EMBEDDING_TAP, task).key
            descriptive[key] = result["above_chance"]


def _leader(studied: list[str], target: str, scores: Scores) -> str | None:
    """The studied model of highest best-tap test R² (ties: the first configured)."""
    r2 = {name: scores.best_r2(name, target) for name in studied}
    healthy = [name for name in studied if r2[name] is not None]
    return max(healthy, key=lambda n: (r2[n].point, -studied.index(n)), default=None)  # type: ignore[union-attr]


def _oriented(
    pairs: Mapping[tuple[str, str], dict[str, Any] | None], first: str, second: str
) -> dict[str, Any] | None:
    """The paired test of first - second from the pair tested either way round."""
    if (first, second) in pairs:
        return pairs[first, second]
    test = pairs[second, first]
    if test is None:
        return None
    low, high = test.get("ci_low"), test.get("ci_high")
    return {
        **test,
        "value": -test["value"],
        "ci_low": None if high is None else -high,
        "ci_high": None if low is None else -low,
    }


def _intervention_tests(name: str, results: ModelResults) -> Tests:
    """Two claims per (tap, intervention): the probe's prediction follows the manipulated rate
    (slope > 0) and does not follow it fully (slope < 1, tested as 1 - slope > 0)."""
    tests: Tests = {}
    for label, tap in results.intervention_taps().items():
        for kind, slope in results.intervention_slopes(PRIMARY_TARGET, tap).items():
            if slope.get("value") is None:
                continue
            tracks = ClaimId.intervention(name, PRIMARY_TARGET, label, kind, "tracks")
            partial = ClaimId.intervention(name, PRIMARY_TARGET, label, kind, "partial")
            tests[tracks.key] = {**slope, "p_value": slope["p_zero"]}
            tests[partial.key] = {
                "value": 1.0 - slope["value"],
                "ci_low": None if slope["ci_high"] is None else 1.0 - slope["ci_high"],
                "ci_high": None if slope["ci_low"] is None else 1.0 - slope["ci_low"],
                "p_value": slope["p_one"],
            }
    return tests
