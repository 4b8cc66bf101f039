"""The prose of the appendix: canonical correlations, classification probes, erasure of the
rate subspace and interventions on the rate, each as estimates with their intervals."""

from __future__ import annotations

from typing import get_args

from rateprobe.conventions import CLASSIFICATION_TARGETS
from rateprobe.paper.latex import Latex, interval, join, number, percent, sentence
from rateprobe.paper.prose.vocabulary import (
    CLASSIFICATION_NAMES,
    INTERVENTION_NAMES,
    model_ref,
    tap_ref,
)
from rateprobe.results.interventions import Interventions, Slope
from rateprobe.results.model_entry import Classification, ModelEntry
from rateprobe.results.records import InterventionKind


def _cca_inflation(models: dict[str, ModelEntry]) -> list[Latex]:
    """Where the in-sample multiple correlation overstates the held-out one, and where not."""
    inflated = [n for n, m in models.items() if m.cca.inflation_visible]
    modest = [n for n in models if n not in inflated]
    parts: list[Latex] = []
    if inflated:
        example = models[inflated[0]].cca
        parts.append(
            Latex(
                rf"множественная корреляция, оценённая на тех же данных, на которых подобрана "
                rf"проекция, завышена у "
                rf"{join([model_ref(n) for n in inflated])} (так, у {model_ref(inflated[0])} "
                rf"максимум на обучающей выборке {number(example.max_in_sample)} против "
                rf"{number(example.max_heldout)} на тестовой)"
            )
        )
    if modest:
        parts.append(Latex(rf"у {join([model_ref(n) for n in modest])} завышение невелико"))
    return parts


def cca_summary(models: dict[str, ModelEntry]) -> Latex:
    """Where the in-sample multiple correlation (one-dimensional CCA) overstates the held-out
    one, and how much of the embedding each model's layers already hold (held-out SVCCA)."""
    parts = _cca_inflation(models)
    flows: list[Latex] = []
    for name, model in models.items():
        first, last = model.cca.svcca_first, model.cca.svcca_last
        if first is None or last is None or first.tap == last.tap:
            continue
        flows.append(
            Latex(
                rf"у {model_ref(name)} от {number(first.heldout)} ({tap_ref(first.tap)}) "
                rf"до {number(last.heldout)} ({tap_ref(last.tap)})"
            )
        )
    if flows:
        parts.append(
            Latex(
                "средняя каноническая корреляция SVCCA~\\cite{svcca} слоя с финальным "
                rf"эмбеддингом на тестовой выборке: {join(flows, sep='; ', last='; ')}"
            )
        )
    return sentence(Latex("; ".join(parts)))


def _above_chance(name: str, result: Classification | None) -> Latex | None:
    """A model's macro-F1 above chance on one task, None where not computed."""
    if result is None or result.macro_f1 is None:
        return None
    excess = result.above_chance
    if excess is None or excess.delta is None:
        return None
    return Latex(rf"{model_ref(name)} {number(excess.delta)} {interval(excess.delta_ci)}")


def classification_summary(models: dict[str, ModelEntry]) -> Latex | None:
    """Each model's embedding: macro-F1 above chance, with its interval (an estimate)."""
    tasks: dict[str, list[Latex]] = {}
    for name, model in models.items():
        # the tasks in the summary's (alphabetical) order
        for task in sorted(CLASSIFICATION_TARGETS):
            phrase = _above_chance(name, getattr(model.classification, task))
            if phrase is not None:
                tasks.setdefault(task, []).append(phrase)
    if not tasks:
        return None
    phrases = [rf"{CLASSIFICATION_NAMES[task]}: {join(values)}" for task, values in tasks.items()]
    return Latex("превышение macro-F1 над случайным уровнем --- " + "; ".join(phrases))


def erasure_sentence(studied: dict[str, ModelEntry]) -> Latex | None:
    """Does verification use rate: the EER change once the CPS subspace is erased (an
    estimate with its interval)."""
    phrases = []
    for name, model in studied.items():
        erasure = model.erasure
        if not model.pretrained or erasure is None or erasure.eer_change is None:
            continue
        change = erasure.eer_change
        if change.delta is None:
            continue
        phrases.append(
            rf"у {model_ref(name)} EER {percent(model.eer)} $\to$ {percent(erasure.eer)}, "
            rf"изменение {number(100 * change.delta, 1)}~п.\,п. "
            rf"{interval(change.delta_ci, 1, 100.0)}"
        )
    if not phrases:
        return None
    return Latex(
        r"После линейного стирания подпространства CPS (LEACE~\cite{leace}, обучено на "
        rf"обучающей выборке) из эмбеддинга {'; '.join(phrases)}."
    )


def _slope_phrase(kind: InterventionKind, slope: Slope) -> Latex:
    return Latex(
        rf"{INTERVENTION_NAMES[kind]}: {number(slope.value)} "
        rf"{interval([slope.ci_low, slope.ci_high])}"
    )


def interventions_sentence(
    interventions: Interventions | None, leader: str | None, synthetic_speech: bool
) -> Latex | None:
    """What changing only the rate does to the leader's probe, embedding and verification
    (`interventions`: summary.json's section of them, None when the run made none)."""
    if interventions is None or leader is None or leader not in interventions.models:
        return None
    model = interventions.models[leader]
    # a model without a healthy best tap has only the embedding's slopes
    best = model.slopes["best"] if "best" in model.slopes else model.slopes["embedding"]
    # the interventions in the summary's (alphabetical) order
    measured = {kind: getattr(best, kind) for kind in sorted(get_args(InterventionKind))}
    phrases = [
        _slope_phrase(kind, slope)
        for kind, slope in measured.items()
        if slope is not None and slope.value is not None
    ]
    if not phrases:
        return None
    slopes = join(phrases, sep="; ")
    trained_on = "исходных" if synthetic_speech else "естественных"
    ratios = [c.ratio.value for c in model.drift.conditions if c.ratio.value]
    drift = (
        rf" Эмбеддинг того же высказывания при этом сдвигается на "
        rf"{number(min(ratios))}--{number(max(ratios))} среднего расстояния между дикторами."
        if ratios
        else ""
    )
    return Latex(
        rf"Если изменить только темп тестовых высказываний (рис.~\ref{{fig:interventions}}), "
        rf"проба слоя {tap_ref(best.tap)} у {model_ref(leader)}, обученная на "
        rf"{trained_on} записях, следует за ним с наклоном (1 --- полностью, 0 --- никак): "
        rf"{slopes}.{drift}"
    )
