"""Deciding the paper's claims: paired tests, small families, Holm's correction.

Every comparison "A beats B" is a paired difference d = metric(A) - metric(B) (oriented so that
d > 0 means A is better) on the same test utterances and the same speaker resamples, with its
interval and two-sided p-value (rateprobe.bootstrap: studentised for metrics of per-speaker
sums, BCa for the EER). Only the questions the study asks are tested, in two families, each
with Holm's step-down adjustment (the chance of any false claim in a family is at most ALPHA):

- PRIMARY: the study's questions about the headline target, two per studied model (does its
  best layer know rate beyond duration; does training add it, against every random control)
  and one between models (does the leader beat every other model);
- CHECK: the loading check of each pretrained model (its EER against each random control).

Everything else (best layer against the embedding, single controls, other pairs, targets and
analyses) is DESCRIPTIVE: an estimate with its interval and raw p-value, no verdict. A claim
about several comparisons at once (every control, every other model) is an intersection-union
test: it holds when each holds, so its p-value is the largest of theirs and needs no further
correction; the record kept is that weakest comparison's. A claim is decided when its adjusted
p < ALPHA:

    decided = True  (A better)  if p_holm < ALPHA and d > 0,
              False (B better)  if p_holm < ALPHA and d < 0,
              None  (undecided) otherwise.

Below `probes.min_test_speakers` test speakers the speaker bootstrap under-covers, so nothing
is decided at all and each claim says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rateprobe.bootstrap import holm, record_interval

ALPHA = 0.05
CORRECTION = "holm"
PRIMARY = "primary"
CHECK = "check"
DESCRIPTIVE = "descriptive"
FAMILIES = (PRIMARY, CHECK)
DESCRIPTIVE_REASON = "descriptive: an estimate with its interval, not a tested claim"

Test = Mapping[str, Any] | None


def too_few_speakers_reason(n_speakers: int, minimum: int) -> str | None:
    """Why no comparison may be decided, or None when the test split has enough speakers."""
    if n_speakers >= minimum:
        return None
    return f"{n_speakers} test speakers, fewer than probes.min_test_speakers = {minimum}"


def every_one(tests: Sequence[Test]) -> dict[str, Any] | None:
    """The intersection-union test of "each of `tests` favours its first side": the weakest
    test's record (largest p-value) with `n_parts`; None when there is none, or when any part
    could not be computed (a claim over every control needs every control)."""
    if not tests or any(test is None or test.get("p_value") is None for test in tests):
        return None
    weakest = max(tests, key=lambda test: (test["p_value"], -test["value"]))  # type: ignore[index]
    return {**weakest, "n_parts": len(tests)}  # type: ignore[dict-item]


def _record(test: Test, family: str) -> dict[str, Any]:
    test = test or {}
    record: dict[str, Any] = {
        "family": family,
        "delta": test.get("value"),
        "delta_ci": record_interval(test),
        "p_value": test.get("p_value"),
        "p_holm": None,
        "decided": None,
    }
    if "n_parts" in test:
        record["n_parts"] = test["n_parts"]
    return record


def decide(
    tests: Mapping[str, Mapping[str, Test]], blocked_reason: str | None
) -> dict[str, dict[str, Any]]:
    """Decisions for the tests of each family (`tests[family][key]`), keyed by claim key.

    Each test is a record {value, ci_low, ci_high, p_value} of d, or None when a side of it
    could not be computed; a test without a p-value stays undecided and does not count in its
    family's correction. DESCRIPTIVE tests keep their raw p-value and are never decided.
    """
    decisions: dict[str, dict[str, Any]] = {}
    for family, family_tests in tests.items():
        if family == DESCRIPTIVE:
            for key, test in family_tests.items():
                decisions[key] = {**_record(test, family), "decided_reason": DESCRIPTIVE_REASON}
            continue
        adjusted = holm({key: (test or {}).get("p_value") for key, test in family_tests.items()})
        for key, test in family_tests.items():
            record = _record(test, family)
            # A run too small to test reports no adjusted p: nothing there is tested.
            record["p_holm"] = adjusted[key] if blocked_reason is None else None
            if record["p_value"] is None or record["delta"] is None:
                record["decided_reason"] = "not computable"
            elif blocked_reason is not None:
                record["decided_reason"] = blocked_reason
            elif record["p_holm"] < ALPHA and record["delta"] != 0:
                record["decided"] = bool(record["delta"] > 0)
            decisions[key] = record
    return decisions


def family_sizes(decisions: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """How many tests of each corrected family had a p-value (Holm's m)."""
    return {
        family: sum(d["family"] == family and d["p_value"] is not None for d in decisions.values())
        for family in FAMILIES
    }
