"""The paper's prose, phrased in Russian from the decisions recorded in summary.json.

The probing stage decides every claim from the numbers (booleans, or null when the intervals
overlap); this package only turns those decisions into sentences, with the numbers behind
them, one module per part of the paper (`vocabulary` holds the names they share). Templates
print these sentences and never decide a claim themselves, so the text follows the results
whatever they are.
"""

from __future__ import annotations

from typing import Any

from rateprobe.paper.prose.appendix import (
    cca_summary,
    classification_summary,
    erasure_sentence,
    interventions_sentence,
)
from rateprobe.paper.prose.checks import (
    eer_missing_reason,
    health_sentence,
    sanity_sentence,
    sanity_warning,
    verification_available,
)
from rateprobe.paper.prose.estimates import count_of, primary_target, studied_models
from rateprobe.paper.prose.experiments import (
    selectivity_sentence,
    speaker_parts_sentence,
    target_sentences,
)
from rateprobe.paper.prose.methodology import (
    bad_input_sentence,
    corpus_short,
    corpus_statement,
    studied_architectures,
)
from rateprobe.paper.prose.overview import (
    best_layer_estimates,
    headline,
    limitations,
    tested_findings,
)
from rateprobe.results.contract import Summary


def build_claims(summary: Summary) -> dict[str, Any]:
    """Every claim sentence the templates print, keyed by what it is about."""
    run, sanity, models = summary.run, summary.sanity, summary.models
    testing, studied = run.claims, studied_models(summary)
    per_target = {
        target: target_sentences(testing, studied, target, summary.comparisons[target])
        for target in run.targets
    }
    primary = primary_target(run)
    comparison = summary.comparisons[primary]
    leader = comparison.best_model
    available = verification_available(studied)
    return {
        "corpus": corpus_statement(run),
        "corpus_short": corpus_short(run),
        "bad_input": bad_input_sentence(summary.corpus.bad_input),
        "architectures": studied_architectures(studied),
        "headline": headline(testing, studied, primary, comparison),
        "findings": tested_findings(testing, studied, primary, comparison)
        or best_layer_estimates(studied, primary, comparison),
        "verification_available": available,
        "eer_missing_reason": None if available else eer_missing_reason(studied),
        "limitations": limitations(run, sanity, models, studied),
        "family_phrase": count_of(testing.family_size, "утверждение", "утверждения", "утверждений"),
        "primary_target": primary,
        "targets": per_target,
        "sanity": sanity_sentence(sanity, models, run),
        "sanity_warning": sanity_warning(sanity),
        "health": health_sentence(sanity),
        "speaker_parts": speaker_parts_sentence(
            leader, None if leader is None else models[leader].layers[primary]
        ),
        "selectivity": selectivity_sentence(studied, primary),
        "erasure": erasure_sentence(studied),
        "interventions": interventions_sentence(
            summary.interventions, leader, run.synthetic_speech
        ),
        "cca": cca_summary(studied),
        "classification": classification_summary(studied),
    }
