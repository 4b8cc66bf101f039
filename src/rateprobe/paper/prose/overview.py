"""The prose of the abstract and the conclusion: each studied model's best layer and final
embedding, the answers to the tested questions, and the limits of the run."""

from __future__ import annotations

from rateprobe.paper.glossary import speakers_phrase
from rateprobe.paper.latex import Latex, integer, join, percent, sentence
from rateprobe.paper.prose.checks import eer_missing_reason, published_eer, verification_available
from rateprobe.paper.prose.estimates import (
    decidable,
    delta_r2,
    r2_with_ci,
    too_few_speakers,
)
from rateprobe.paper.prose.vocabulary import NO_HEALTHY_FIT, model_ref, tap_ref, target_name
from rateprobe.results.contract import ClaimSettings, Comparisons, Run, Sanity
from rateprobe.results.model_entry import ModelEntry
from rateprobe.results.records import Target


def _described(name: str, model: ModelEntry) -> Latex:
    """A model reference that says when the model has random weights."""
    if model.pretrained:
        return model_ref(name)
    return Latex(rf"{model_ref(name)} (случайные веса)")


def best_layer_estimates(
    studied: dict[str, ModelEntry], target: Target, comparison: Comparisons
) -> Latex:
    """Each studied model's best layer and final embedding on the headline target."""
    if comparison.best_model is None:
        return Latex(NO_HEALTHY_FIT)
    parts = []
    for name, model in studied.items():
        layers = model.layers[target]
        if layers.best is None:
            continue
        parts.append(
            rf"у {_described(name, model)} лучший по валидации слой "
            rf"{tap_ref(layers.best.tap)} даёт {r2_with_ci(layers.best)}, "
            rf"финальный эмбеддинг --- {r2_with_ci(layers.deepest)}"
        )
    return Latex(rf"Для цели <<{target_name(target)}>> {'; '.join(parts)}.")


def beyond_duration_finding(studied: dict[str, ModelEntry], target: Target) -> Latex | None:
    """Which studied models' best layers know rate beyond duration (a tested claim)."""
    known: list[Latex] = []
    unknown: list[Latex] = []
    for name, model in studied.items():
        best = model.layers[target].best
        decision = None if best is None else best.beyond_duration
        if decision is None or decision.delta is None:
            continue
        phrase = Latex(rf"{model_ref(name)}: {delta_r2(decision)}")
        (known if decision.decided is True else unknown).append(phrase)
    parts = []
    if known:
        parts.append(
            rf"при известных длительности записи и длительности речи лучший слой добавляет "
            rf"знание о числе символов у {join(known, sep='; ', last='; ')}"
        )
    if unknown:
        parts.append(
            rf"прирост сверх длительностей не установлен у {join(unknown, sep='; ', last='; ')}"
        )
    return Latex("; ".join(parts)) if parts else None


def tested_findings(
    testing: ClaimSettings, studied: dict[str, ModelEntry], target: Target, comparison: Comparisons
) -> Latex | None:
    """The answers to the study's tested questions with their effect sizes: what the best
    layers add beyond duration, and the leader if it beats every other model. None where the
    test set is too small to test anything."""
    if not decidable(testing) or comparison.best_model is None:
        return None
    found: list[Latex | None] = [beyond_duration_finding(studied, target)]
    test = comparison.leader_beats_every_model
    if test is not None and test.decided is True:
        found.append(
            Latex(
                rf"{model_ref(comparison.best_model)} превосходит остальные модели "
                rf"(наименьшая разность {delta_r2(test)})"
            )
        )
    return Latex(" ".join(sentence(f) for f in found if f)) or None


def headline(
    testing: ClaimSettings, studied: dict[str, ModelEntry], target: Target, comparison: Comparisons
) -> Latex:
    """The abstract's results: the estimates, then the tested questions' answers."""
    text = best_layer_estimates(studied, target, comparison)
    if comparison.best_model is None:
        return text
    if not decidable(testing):
        return Latex(
            rf"{text} Это точечные оценки, модели не сравниваются: {too_few_speakers(testing)}."
        )
    found = tested_findings(testing, studied, target, comparison)
    return Latex(f"{text} {found}") if found else text


def limitations(
    run: Run, sanity: Sanity, models: dict[str, ModelEntry], studied: dict[str, ModelEntry]
) -> Latex:
    """What limits the conclusions of this run, as a Russian enumeration."""
    n = run.claims.n_test_speakers
    parts = []
    if run.synthetic_speech:
        parts.append(Latex("речь синтезирована, и выводы о живой речи из неё не следуют"))
    parts.append(Latex(rf"всего {integer(n)} {speakers_phrase(n)}"))
    if not verification_available(studied):
        parts.append(
            Latex("проверить загрузку весов по EER нельзя: " + eer_missing_reason(studied))
        )
    for name in sanity.implausible_eer_models:
        model = models[name]
        parts.append(
            Latex(
                rf"проверка загрузки не пройдена: EER {model_ref(name)} {percent(model.eer)} "
                rf"против опубликованного {percent(published_eer(name, model).eer)}"
            )
        )
    failed = sanity.failed_fits
    if failed:
        parts.append(Latex(rf"неудачных подгонок проб {integer(len(failed))}"))
    return join(parts, sep="; ", last="; ")
