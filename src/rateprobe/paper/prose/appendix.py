"""The prose of the appendix: canonical correlations, classification probes, erasure of the
rate subspace and interventions on the rate, each as estimates with their intervals."""

from __future__ import annotations

from rateprobe.paper.latex import Latex, escape, interval, join, number, percent, sentence
from rateprobe.paper.prose.estimates import Record
from rateprobe.paper.prose.vocabulary import (
    CLASSIFICATION_NAMES,
    INTERVENTION_NAMES,
    model_ref,
    tap_ref,
)


def _cca_inflation(models: dict[str, Record]) -> list[Latex]:
    """Where the in-sample multiple correlation overstates the held-out one, and where not."""
    inflated = [n for n, m in models.items() if m["cca"].get("inflation_visible")]
    modest = [n for n in models if n not in inflated]
    parts: list[Latex] = []
    if inflated:
        example = models[inflated[0]]["cca"]
        parts.append(
            Latex(
                rf"множественная корреляция, оценённая на тех же данных, на которых подобрана "
                rf"проекция, завышена у "
                rf"{join([model_ref(n) for n in inflated])} (так, у {model_ref(inflated[0])} "
                rf"максимум на обучающей выборке {number(example['max_in_sample'])} против "
                rf"{number(example['max_heldout'])} на тестовой)"
            )
        )
    if modest:
        parts.append(Latex(rf"у {join([model_ref(n) for n in modest])} завышение невелико"))
    return parts


def cca_summary(models: dict[str, Record]) -> Latex:
    """Where the in-sample multiple correlation (one-dimensional CCA) overstates the held-out
    one, and how much of the embedding each model's layers already hold (held-out SVCCA)."""
    parts = _cca_inflation(models)
    flows: list[Latex] = []
    for name, model in models.items():
        first, last = model["cca"].get("svcca_first"), model["cca"].get("svcca_last")
        if first is None or last is None or first["tap"] == last["tap"]:
            continue
        flows.append(
            Latex(
                rf"у {model_ref(name)} от {number(first['heldout'])} ({tap_ref(first['tap'])}) "
                rf"до {number(last['heldout'])} ({tap_ref(last['tap'])})"
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


def classification_summary(models: dict[str, Record]) -> Latex | None:
    """Each model's embedding: macro-F1 above chance, with its interval (an estimate)."""
    tasks: dict[str, list[Latex]] = {}
    for name, model in models.items():
        for task, result in (model.get("classification") or {}).items():
            if not isinstance(result, dict) or result.get("macro_f1") is None:
                continue
            excess = result.get("above_chance") or {}
            if excess.get("delta") is None:
                continue
            tasks.setdefault(task, []).append(
                Latex(
                    rf"{model_ref(name)} {number(excess['delta'])} "
                    rf"{interval(excess.get('delta_ci'))}"
                )
            )
    if not tasks:
        return None
    phrases = [
        rf"{CLASSIFICATION_NAMES.get(task, escape(task))}: {join(values)}"
        for task, values in tasks.items()
    ]
    return Latex("превышение macro-F1 над случайным уровнем --- " + "; ".join(phrases))


def erasure_sentence(studied: dict[str, Record]) -> Latex | None:
    """Does verification use rate: the EER change once the CPS subspace is erased (an
    estimate with its interval)."""
    phrases = []
    for name, model in studied.items():
        erasure = model.get("erasure")
        if not model.get("pretrained") or not erasure or not erasure.get("eer_change"):
            continue
        change = erasure["eer_change"]
        if change.get("delta") is None:
            continue
        phrases.append(
            rf"у {model_ref(name)} EER {percent(model['eer'])} $\to$ {percent(erasure['eer'])}, "
            rf"изменение {number(100 * change['delta'], 1)}~п.\,п. "
            rf"{interval(change.get('delta_ci'), 1, 100.0)}"
        )
    if not phrases:
        return None
    return Latex(
        r"После линейного стирания подпространства CPS (LEACE~\cite{leace}, обучено на "
        rf"обучающей выборке) из эмбеддинга {'; '.join(phrases)}."
    )


def _slope_phrase(kind: str, slope: Record) -> Latex:
    name = INTERVENTION_NAMES.get(kind, escape(kind))
    return Latex(
        rf"{name}: {number(slope['value'])} {interval([slope['ci_low'], slope['ci_high']])}"
    )


def interventions_sentence(
    interventions: Record | None, leader: str | None, synthetic_speech: bool | None
) -> Latex | None:
    """What changing only the rate does to the leader's probe, embedding and verification
    (`interventions`: summary.json's section of them, None when the run made none)."""
    if not interventions or leader is None or leader not in interventions["models"]:
        return None
    model = interventions["models"][leader]
    best = model["slopes"].get("best") or model["slopes"]["embedding"]
    kinds = [k for k in best if k != "tap" and best[k].get("value") is not None]
    if not kinds:
        return None
    slopes = join([_slope_phrase(kind, best[kind]) for kind in kinds], sep="; ")
    trained_on = "исходных" if synthetic_speech else "естественных"
    ratios = [c["ratio"]["value"] for c in model["drift"]["conditions"] if c["ratio"]["value"]]
    drift = (
        rf" Эмбеддинг того же высказывания при этом сдвигается на "
        rf"{number(min(ratios))}--{number(max(ratios))} среднего расстояния между дикторами."
        if ratios
        else ""
    )
    return Latex(
        rf"Если изменить только темп тестовых высказываний (рис.~\ref{{fig:interventions}}), "
        rf"проба слоя {tap_ref(best['tap'])} у {model_ref(leader)}, обученная на "
        rf"{trained_on} записях, следует за ним с наклоном (1 --- полностью, 0 --- никак): "
        rf"{slopes}.{drift}"
    )
