"""Claim ids: the name of each tested or descriptive claim, built in one place.

rateprobe.results.claim_family keys its family of tests (rateprobe.decisions) by `ClaimId.key`,
a "/"-joined path such as "resemblyzer/cps/beats_every_control"; `find_decision` finds where the
summary records a claim's decision, and refuses an id that names no such place (a misspelt
model, target or kind) instead of reading it as undecided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rateprobe.conventions import EMBEDDING_TAP

if TYPE_CHECKING:
    from rateprobe.results.contract import Summary
    from rateprobe.results.model_entry import Layers, ModelEntry
    from rateprobe.results.records import Decision

# Where a model's gain beyond duration is tested: its dev-chosen best tap, or the embedding.
BEST = "best"
Scope = Literal["best_tap", "embedding"]
SlopeTest = Literal["tracks", "partial"]


@dataclass(frozen=True)
class ClaimId:
    """One claim; build it with the constructor of its kind."""

    parts: tuple[str, ...]

    @property
    def key(self) -> str:
        return "/".join(self.parts)

    def __str__(self) -> str:
        return self.key

    @classmethod
    def best_vs_embedding(cls, model: str, target: str) -> ClaimId:
        return cls((model, target, "best_vs_embedding"))

    @classmethod
    def beyond_duration(cls, model: str, target: str, where: str) -> ClaimId:
        """`where`: BEST or EMBEDDING_TAP."""
        return cls((model, target, "beyond_duration", where))

    @classmethod
    def best_vs_control(cls, model: str, target: str, control: str) -> ClaimId:
        return cls((model, target, "best_vs_control", control))

    @classmethod
    def beats_every_control(cls, model: str, target: str) -> ClaimId:
        return cls((model, target, "beats_every_control"))

    @classmethod
    def model_pair(cls, target: str, scope: Scope, first: str, second: str) -> ClaimId:
        return cls(("comparison", target, scope, first, second))

    @classmethod
    def leader_beats_every_model(cls, target: str) -> ClaimId:
        return cls(("comparison", target, "leader_beats_every_model"))

    @classmethod
    def intervention(
        cls, model: str, target: str, label: str, kind: str, test: SlopeTest
    ) -> ClaimId:
        """The slope at tap `label` ("best" or "embedding") under intervention `kind`."""
        return cls((model, target, "intervention", label, kind, test))

    @classmethod
    def erasure_eer_change(cls, model: str) -> ClaimId:
        return cls((model, "erasure_eer_change"))

    @classmethod
    def eer_vs_control(cls, model: str, control: str) -> ClaimId:
        return cls((model, "eer_vs_control", control))

    @classmethod
    def classification(cls, model: str, tap: str, task: str) -> ClaimId:
        return cls((model, "classification", tap, task))


def _unknown(claim: ClaimId) -> KeyError:
    return KeyError(f"the summary records no claim {claim.key!r}")


def _named(entries: list[Any], name: str, claim: ClaimId) -> Decision | None:
    match = [entry.comparison for entry in entries if entry.name == name]
    if not match:
        raise _unknown(claim)
    return match[0]  # type: ignore[no-any-return]


def _model(summary: Summary, name: str, claim: ClaimId) -> ModelEntry:
    if name not in summary.models:
        raise _unknown(claim)
    return summary.models[name]


def _layers(summary: Summary, name: str, target: str, claim: ClaimId) -> Layers:
    layers = _model(summary, name, claim).layers
    if target not in layers:
        raise _unknown(claim)
    return layers[target]  # type: ignore[index]


def _model_claim(summary: Summary, claim: ClaimId) -> Decision | None:
    """Claims about one model and one target."""
    match claim.parts:
        case (name, target, "best_vs_embedding"):
            return _layers(summary, name, target, claim).best_minus_deepest
        case (name, target, "beats_every_control"):
            return _layers(summary, name, target, claim).beats_every_control
        case (name, target, "best_vs_control", control):
            return _named(_layers(summary, name, target, claim).controls, control, claim)
        case (name, target, "beyond_duration", where) if where == BEST:
            best = _layers(summary, name, target, claim).best
            return None if best is None else best.beyond_duration
        case (name, target, "beyond_duration", where) if where == EMBEDDING_TAP:
            _layers(summary, name, target, claim)
            return summary.models[name].embedding[target].beyond_duration  # type: ignore[index]
        case (name, target, "intervention", label, kind, "tracks" | "partial" as test):
            if summary.interventions is None or name not in summary.interventions.models:
                raise _unknown(claim)
            slopes = summary.interventions.models[name].slopes
            slope = getattr(slopes[label], kind, None) if label in slopes else None  # type: ignore[index]
            if slope is None or target != summary.interventions.target:
                raise _unknown(claim)
            return slope.tracks if test == "tracks" else slope.partial  # type: ignore[no-any-return]
    raise _unknown(claim)


def _pair(summary: Summary, claim: ClaimId) -> Decision | None:
    """Claims between the studied models."""
    match claim.parts:
        case ("comparison", target, "leader_beats_every_model") if target in summary.comparisons:
            return summary.comparisons[target].leader_beats_every_model  # type: ignore[index]
        case ("comparison", target, "best_tap" | "embedding" as scope, first, second):
            studied = summary.studied_models
            if target not in summary.comparisons or first not in studied or second not in studied:
                raise _unknown(claim)
            if studied.index(first) >= studied.index(second):
                raise _unknown(claim)
            ranking = summary.comparisons[target]  # type: ignore[index]
            pairs = ranking.pairs if scope == "best_tap" else ranking.embedding.pairs
            # A pair with a failed side was not tested: no decision.
            match = [p for p in pairs if (p.a, p.b) == (first, second)]
            return match[0] if match else None
    raise _unknown(claim)


def find_decision(summary: Summary, claim: ClaimId) -> Decision | None:
    """The decision of `claim` in `summary`, None where the claim was not made (a failed fit,
    no control, no erasure); KeyError for an id that names no claim of this summary."""
    match claim.parts:
        case ("comparison", *_):
            return _pair(summary, claim)
        case (name, "erasure_eer_change"):
            erasure = _model(summary, name, claim).erasure
            return None if erasure is None else erasure.eer_change
        case (name, "eer_vs_control", control):
            return _named(_model(summary, name, claim).controls_eer, control, claim)
        case (name, "classification", tap, "sex" | "cps_tercile" as task) if tap == EMBEDDING_TAP:
            result = getattr(_model(summary, name, claim).classification, task)
            return None if result is None else result.above_chance  # type: ignore[no-any-return]
    return _model_claim(summary, claim)
