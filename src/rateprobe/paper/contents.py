"""Which figures, paragraphs and model descriptions the paper holds, decided from the summary
here so that the templates only print what they are handed."""

from __future__ import annotations

from typing import Any

from rateprobe.paper.prose.checks import verification_available
from rateprobe.paper.prose.estimates import primary_target, studied_models
from rateprobe.paper.prose.vocabulary import ARCHITECTURES
from rateprobe.results.contract import Summary


def figures_shown(summary: Summary, primary: str) -> dict[str, bool]:
    """Each optional figure of the paper: whether the summary drew it (the verification
    figure also needs a verification EER to show)."""
    figures = summary.figures
    return {
        "cca": "cca" in figures,
        "interventions": "interventions" in figures,
        "model_comparison": "model_comparison" in figures,
        "verification": "verification" in figures
        and verification_available(studied_models(summary)),
        "prediction": f"prediction_{primary}" in figures,
        "layers": f"layer_curves_{primary}" in figures,
    }


def paper_contents(summary: Summary) -> dict[str, Any]:
    """What the templates show beside the claims: the optional figures, the targets other
    than the primary one (the appendix's tables and layer curves), whether random copies were
    studied, and the architecture families the method section describes."""
    run, models = summary.run, summary.models
    primary = primary_target(run)
    other_targets = [target for target in run.targets if target != primary]
    return {
        "figure_shown": figures_shown(summary, primary),
        "other_targets": other_targets,
        "other_layer_figures": [
            target for target in other_targets if f"layer_curves_{target}" in summary.figures
        ],
        "random_copies": any(model.controls for model in models.values()),
        "arch_families": sorted(
            {ARCHITECTURES[m.arch].family for m in models.values() if m.arch in ARCHITECTURES}
        ),
    }
