"""Deciding the paper's comparative claims: paired tests, one family, Holm's correction.

Every claim "A beats B" is a paired difference d = metric(A) - metric(B) (oriented so that
d > 0 means A is better) on the same test utterances and the same speaker resamples, with its
interval and two-sided p-value (rateprobe.metrics: studentised for metrics of per-speaker
sums, BCa for the EER). One paper makes many such claims at
once, so they form one family: Holm's step-down adjustment of the p-values keeps the chance
of any false claim at most ALPHA. A claim is decided when its adjusted p < ALPHA:

    decided = True  (A better)  if p_holm < ALPHA and d > 0,
              False (B better)  if p_holm < ALPHA and d < 0,
              None  (undecided) otherwise.

Below `probes.min_test_speakers` test speakers the speaker bootstrap under-covers, so nothing
is decided at all and each claim says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rateprobe.metrics import holm

ALPHA = 0.05
CORRECTION = "holm"


def too_few_speakers_reason(n_speakers: int, minimum: int) -> str | None:
    """Why no comparison may be decided, or None when the test split has enough speakers."""
    if n_speakers >= minimum:
        return None
    return f"{n_speakers} test speakers, fewer than probes.min_test_speakers = {minimum}"


def decide(
    tests: Mapping[str, Mapping[str, Any] | None], blocked_reason: str | None
) -> dict[str, dict[str, Any]]:
    """Decisions for a family of paired tests, keyed as `tests`.

    Each test is a record {value, ci_low, ci_high, p_value} of d, or None when a side of it
    could not be computed; a test without a p-value is left out of the family and stays
    undecided.
    """
    adjusted = holm({key: (test or {}).get("p_value") for key, test in tests.items()})
    decisions = {}
    for key, maybe_test in tests.items():
        test = maybe_test or {}
        p_holm = adjusted[key]
        ci = None if test.get("ci_low") is None else [test["ci_low"], test["ci_high"]]
        record: dict[str, Any] = {
            "delta": test.get("value"),
            "delta_ci": ci,
            "p_value": test.get("p_value"),
            "p_holm": p_holm,
            "decided": None,
        }
        if p_holm is None or test.get("value") is None:
            record["decided_reason"] = "not computable"
        elif blocked_reason is not None:
            record["decided_reason"] = blocked_reason
        elif p_holm < ALPHA and test["value"] != 0:
            record["decided"] = bool(test["value"] > 0)
        decisions[key] = record
    return decisions
