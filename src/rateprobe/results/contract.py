"""The structure of results/summary.json as frozen pydantic models: the one definition.

rateprobe.results.summarize builds the summary and validates it here before writing; the paper
reads it back through `read_summary`. schemas/summary.schema.json is generated from these models:

    python -m rateprobe.results.contract > schemas/summary.schema.json

Keys that only some entries carry (a `*_reason` beside a null value, a `*_ci` beside a number)
are fields with a default: a dump with `exclude_unset=True` leaves out what the built summary
left out, so validating and dumping gives back the same file. docs/summary.md says what the
fields mean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from rateprobe.results.claim_ids import ClaimId, find_decision
from rateprobe.results.interventions import Interventions
from rateprobe.results.model_entry import EdgeChoice, ModelEntry
from rateprobe.results.records import (
    ConfigNumber,
    Contract,
    Decision,
    Fit,
    RegressionMetrics,
    Target,
)

# How many errors of a summary that breaks the contract the message quotes.
QUOTED_ERRORS = 5


class ModelPair(Decision):
    a: str
    b: str


class Ranking(Contract):
    """The studied models ranked by test R², and each pair's paired test."""

    ranking: list[str]
    r2: dict[str, float]
    failed_models: list[str]
    best_model: str | None
    pairs: list[ModelPair]


class Comparisons(Ranking):
    """Best taps compared; `embedding` compares the final embeddings."""

    leader_beats_every_model: Decision | None
    best_model_clearly_best: Literal[True] | None
    embedding: Ranking


class FitWhere(Contract):
    model: str
    target: Target
    tap: str
    probe: Fit


class FailedFit(FitWhere):
    reason: str


class CollapsedFit(FitWhere):
    prediction_spread: float


class SanityEdgeChoice(EdgeChoice):
    model: str
    target: Target


class Sanity(Contract):
    broken_pretrained_models: list[str]
    unconfirmed_pretrained_models: list[str]
    implausible_eer_models: list[str]
    implausible_eer_factor: float
    failed_fits: list[FailedFit]
    ridge_alpha_at_edge: list[SanityEdgeChoice]
    collapsed_fits: list[CollapsedFit]


class SplitStats(Contract):
    n_utterances: int
    n_speakers: int
    n_female: int
    n_male: int
    hours: float
    mean_duration_s: float
    bad_skipped: int
    cps_mean: float | None = None
    cps_sd: float | None = None
    cps_min: float | None = None
    cps_max: float | None = None
    articulation_rate_mean: float | None = None
    articulation_rate_sd: float | None = None
    articulation_rate_min: float | None = None
    articulation_rate_max: float | None = None


class Splits(Contract):
    train: SplitStats
    dev: SplitStats
    test: SplitStats


class CorpusTotal(Contract):
    n_utterances: int
    n_speakers: int
    hours: float


class BadInput(Contract):
    policy: str | list[str]
    skipped_total: int
    by_problem: dict[str, int]


class Corpus(Contract):
    splits: Splits
    total: CorpusTotal
    bad_input: BadInput
    speaker_disjoint: bool


class ProbeSettings(Contract):
    ridge_alphas: list[ConfigNumber]
    mlp_hidden: int
    mlp_seeds: int
    mlp_lr: ConfigNumber
    mlp_max_epochs: int
    mlp_patience: int
    bootstrap_n: int
    selection: str
    ridge_alpha_selection: str
    cv_folds: int
    ridge_widenings: int
    path_limit_shrinkage: float
    failed_fit_mse_ratio: float
    collapsed_spread: float
    scale_floor: float


class ClaimSettings(Contract):
    """The claim families' size, correction and whether anything can be decided."""

    alpha: float
    correction: Literal["holm"]
    family_size: int
    check_family_size: int
    min_p_value: float
    family_resolvable: bool
    interval: str
    n_test_speakers: int
    min_test_speakers: int
    decidable: bool
    blocked_reason: str | None


class Run(Contract):
    corpus_kind: Literal["synthetic", "librispeech", "table"]
    synthetic_speech: bool
    corpus_name: str | None
    corpus_description: str | None
    seed: int
    targets: list[Target]
    pooling: list[str]
    probe_settings: ProbeSettings
    claims: ClaimSettings
    tsne_perplexity: ConfigNumber
    cca_pca_components: int
    software: dict[str, str]


class Build(Contract):
    """The build stamp (rateprobe.provenance.build_stamp)."""

    commit: str | None
    dirty: bool | None
    config_hash: str
    date: str


class Summary(Contract):
    """results/summary.json."""

    schema_version: Literal[1]
    build: Build
    run: Run
    corpus: Corpus
    baselines: dict[Target, dict[str, RegressionMetrics]]
    models: dict[str, ModelEntry]
    studied_models: list[str]
    comparisons: dict[Target, Comparisons]
    sanity: Sanity
    interventions: Interventions | None
    figures: dict[str, str]

    def decision(self, claim: ClaimId) -> Decision | None:
        """The decision recorded for `claim` (None: the claim was not made, e.g. a failed fit
        or no control); KeyError when the summary has no place for such a claim."""
        return find_decision(self, claim)

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dictionary, with exactly the keys the summary was built with."""
        return self.model_dump(mode="json", exclude_unset=True)


def validate_summary(data: Any, source: str | Path) -> Summary:
    """`data` as a Summary; ValueError naming `source` and the first errors otherwise."""
    try:
        return Summary.model_validate(data)
    except ValidationError as error:
        errors = [
            f"  {'.'.join(str(part) for part in e['loc'])}: {e['msg']}"
            for e in error.errors()[:QUOTED_ERRORS]
        ]
        raise ValueError(
            f"{source} does not match the summary contract (rateprobe.results.contract) "
            f"in {error.error_count()} place(s):\n" + "\n".join(errors)
        ) from error


def read_summary(path: str | Path) -> Summary:
    """results/summary.json, checked against the contract."""
    return validate_summary(json.loads(Path(path).read_text(encoding="utf-8")), path)


def schema_text() -> str:
    """schemas/summary.schema.json: the JSON Schema of Summary, keys sorted."""
    return json.dumps(Summary.model_json_schema(), sort_keys=True, indent=2) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
