"""The prose of the results: each model's best layer against its final embedding, trained
models against their random copies, the models against each other, the speaker and
within-speaker parts of R², and the probes' selectivity.

The probing stage decides every claim (a boolean, or null when undecided); these sentences
only say what was decided, with the numbers behind it.
"""

from __future__ import annotations

from typing import Any

from rateprobe.paper.glossary import plural
from rateprobe.paper.latex import Latex, integer, interval, join, number
from rateprobe.paper.prose.estimates import (
    clauses,
    decidable,
    delta_r2,
    r2_with_ci,
    tested,
    too_few_speakers,
    undecided_why,
)
from rateprobe.paper.prose.vocabulary import NO_HEALTHY_FIT, model_ref, tap_ref, target_name
from rateprobe.results.contract import ClaimSettings, Comparisons, ModelPair
from rateprobe.results.model_entry import BestTap, Layers, ModelEntry
from rateprobe.results.records import Target


def layer_sentence(testing: ClaimSettings, name: str, layers: Layers) -> Latex:
    """The dev-chosen layer of a model beside its final embedding, as estimates."""
    best, deepest = layers.best, layers.deepest
    if best is None:
        return Latex(rf"у {model_ref(name)} ни одна проба не дала численно здоровой подгонки")
    if best.tap == deepest.tap:
        # The test beyond duration is the best tap's, whichever layer that is.
        head = Latex(
            rf"у {model_ref(name)} лучшим по валидационной выборке оказался сам финальный "
            rf"эмбеддинг ({r2_with_ci(deepest)})"
        )
        return with_beyond_duration(testing, head, best)
    depth = best.relative_depth
    where = "самый ранний слой" if depth == 0 else f"относительная глубина {number(depth)}"
    head = Latex(
        rf"у {model_ref(name)} лучший по валидации слой {tap_ref(best.tap)} "
        rf"({where}) даёт {r2_with_ci(best)}, финальный эмбеддинг --- {r2_with_ci(deepest)}"
    )
    comparison = layers.best_minus_deepest
    if comparison is not None and comparison.delta is not None:
        head = Latex(rf"{head} (разность {delta_r2(comparison)})")
    return with_beyond_duration(testing, head, best)


def beyond_duration_clause(testing: ClaimSettings, entry: BestTap) -> Latex | None:
    """What a layer adds to the duration basis (conditional probe minus basis alone): since
    the basis fixes duration and the share of pauses, the gain is knowledge of the number of
    characters at a given duration."""
    decision = entry.beyond_duration
    if decision is None:
        return None
    numbers = delta_r2(decision)
    if not tested(decision) or decision.decided is True:
        return Latex(rf"сверх обеих длительностей он добавляет {numbers}")
    if decision.decided is False:
        return Latex(rf"вместе с длительностями он хуже одних длительностей ({numbers})")
    if not decidable(testing):
        return Latex(rf"сверх длительностей по точечной оценке он добавляет {numbers}")
    return Latex(
        rf"прирост сверх длительностей ({numbers}) не установлен: {undecided_why(testing)}"
    )


def with_beyond_duration(testing: ClaimSettings, text: Latex, entry: BestTap) -> Latex:
    clause = beyond_duration_clause(testing, entry)
    return text if clause is None else Latex(rf"{text}; {clause}")


def _band(layers: Layers) -> Latex:
    band = layers.control_band
    if band is None:
        return Latex("")
    if number(band[0]) == number(band[1]):
        return Latex(rf", лучший $R^2$ {number(band[0])}")
    return Latex(rf", лучший $R^2$ от {number(band[0])} до {number(band[1])}")


def control_sentence(
    testing: ClaimSettings, name: str, model: ModelEntry, target: Target, brief: bool = False
) -> Latex | None:
    """Trained model against every random-initialised copy (the weakest of the paired
    comparisons decides); None without copies. `brief` (abstract, conclusion) keeps only the
    deciding difference, without the copies' count and R² band."""
    layers = model.layers[target]
    if not model.controls or layers.best is None:
        return None
    test = layers.beats_every_control
    if test is None:
        return Latex(
            rf"сравнить {model_ref(name)} со всеми его случайно инициализированными копиями "
            "нельзя: у части копий ни одна проба не дала здоровой подгонки"
        )
    context = _control_context(model, target, brief)
    if not decidable(testing):
        return Latex(
            rf"{model_ref(name)} сравнивается со своими случайно инициализированными копиями "
            rf"лишь по точечным оценкам ({context})"
        )
    if test.decided is True:
        return Latex(
            rf"{model_ref(name)} превосходит каждую из своих случайно инициализированных копий "
            rf"({context}): обучение добавляет информацию о темпе сверх архитектуры"
        )
    if test.decided is False:
        return Latex(
            rf"одна из случайно инициализированных копий превосходит {model_ref(name)} ({context})"
        )
    return Latex(
        rf"превосходство {model_ref(name)} над каждой из его случайно инициализированных копий "
        rf"({context}) не установлено: {undecided_why(testing)}"
    )


def _control_context(model: ModelEntry, target: Target, brief: bool = False) -> Latex:
    """The numbers behind a trained-vs-copies claim: the copies' count and R² band (unless
    `brief`) and the deciding (smallest) difference."""
    n = len(model.controls)
    layers = model.layers[target]
    band = Latex(_band(layers).lstrip(", "))
    test = layers.beats_every_control
    return join(
        [*([] if brief else [Latex(rf"{integer(n)} {plural(n, 'копия', 'копии', 'копий')}")]),
         *([Latex(rf"у них {band}")] if band and not brief else []),
         Latex(rf"наименьшая разность {delta_r2(test)}")],
        sep="; ", last="; ",
    )  # fmt: skip


def _undecided_against_copies(model: ModelEntry, target: Target) -> bool:
    """A trained-vs-copies claim that was tested and left undecided."""
    layers = model.layers[target]
    test = layers.beats_every_control
    has_claim = bool(model.controls) and layers.best is not None
    return has_claim and test is not None and test.decided is None


def controls_clauses(
    testing: ClaimSettings, studied: dict[str, ModelEntry], target: Target, brief: bool = False
) -> Latex:
    """Every studied model against its random copies; the models whose claim stays undecided
    share one clause, so the reason (the Holm correction) is said once."""
    undecided = [n for n, model in studied.items() if _undecided_against_copies(model, target)]
    if len(undecided) < 2 or not decidable(testing):
        undecided = []  # a single model's clause says the reason itself
    parts = [
        clause
        for name, model in studied.items()
        if name not in undecided
        and (clause := control_sentence(testing, name, model, target, brief)) is not None
    ]
    if undecided:
        each = [
            Latex(rf"{model_ref(n)} ({_control_context(studied[n], target, brief)})")
            for n in undecided
        ]
        parts.append(
            Latex(
                "превосходство над каждой из своих случайно инициализированных копий не "
                rf"установлено ни у {join(each, sep=', ни у ', last=', ни у ')}: "
                rf"{undecided_why(testing)}"
            )
        )
    return clauses(parts)


def comparison_sentence(
    testing: ClaimSettings, comparison: Comparisons, with_pairs: bool = True
) -> Latex:
    """The models' best layers: whether the leader beats every other model (a tested claim),
    then, `with_pairs`, each paired difference as an estimate. No order is printed unless
    decided."""
    ranking = comparison.ranking
    if not ranking or comparison.best_model is None:
        return Latex(NO_HEALTHY_FIT)
    best = model_ref(comparison.best_model)
    if len(ranking) < 2:
        return Latex(rf"Сравнивать не с чем: исследована одна модель, {best}.")
    if not decidable(testing):
        return Latex(rf"Модели не сравниваются и не ранжируются: {too_few_speakers(testing)}.")
    test = comparison.leader_beats_every_model
    # With two models their one pair is the leader's test, already printed.
    listed = with_pairs and len(ranking) > 2
    pairs = "; ".join(_pair_phrase(pair) for pair in comparison.pairs if listed)
    if test is not None and test.decided is True:
        head = (
            rf"По лучшему слою {best} превосходит каждую из остальных моделей (наименьшая "
            rf"разность {delta_r2(test)})."
        )
    else:
        numbers = "" if test is None else rf" (наименьшая разность {delta_r2(test)})"
        head = (
            rf"Модели не ранжируются: превосходство модели {best} с наибольшим по точечной "
            rf"оценке $R^2$ лучшего слоя над каждой из остальных не установлено{numbers}."
        )
    return Latex(rf"{head} Попарные разности $R^2$: {pairs}.") if pairs else Latex(head)


def _pair_phrase(pair: ModelPair) -> str:
    return rf"{model_ref(pair.a)} $-$ {model_ref(pair.b)}: {delta_r2(pair)}"


def embedding_comparison_sentence(testing: ClaimSettings, comparison: Comparisons) -> Latex | None:
    """The final embeddings' paired differences (estimates; their R² are in the table)."""
    by_embedding = comparison.embedding
    if len(by_embedding.ranking) < 2 or not decidable(testing):
        return None
    pairs = "; ".join(_pair_phrase(pair) for pair in by_embedding.pairs)
    return Latex(rf"На финальном эмбеддинге разности $R^2$: {pairs}.")


def speaker_parts_sentence(leader: str | None, layers: Layers | None) -> Latex | None:
    """Speaker habit vs utterance rate at the leader's best tap (`layers`: its entry for the
    primary target); None without a leader, or when the test split has no speaker with two
    utterances (the part is then left out)."""
    if leader is None or layers is None:
        return None
    best = layers.best
    if best is None or best.speaker_parts.within_r2 is None:
        return None
    parts = best.speaker_parts
    return Latex(
        rf"У {model_ref(leader)} $R^2$ лучшего слоя {tap_ref(best.tap)} между "
        rf"дикторами {number(parts.between_r2)} {interval(parts.between_r2_ci)}, внутри "
        rf"дикторов {number(parts.within_r2)} {interval(parts.within_r2_ci)}; "
        rf"предсказание истинным средним каждого диктора дало бы $R^2 = {{}}$"
        rf"{number(parts.speaker_mean_ceiling_r2)}."
    )


def selectivity_sentence(studied: dict[str, ModelEntry], target: Target) -> Latex | None:
    """Each studied model's ridge selectivity at its best layer (Hewitt & Liang's control
    task: CPS dealt between speakers); None when no model has it."""
    phrases = []
    for name, model in studied.items():
        best = model.layers[target].best
        found = None if best is None else best.selectivity
        if best is None or found is None or found.selectivity is None:
            continue
        phrases.append(
            rf"у {model_ref(name)} ({tap_ref(best.tap)}) "
            rf"{number(found.selectivity)} {interval(found.selectivity_ci)} при "
            rf"$R^2$ контрольной задачи {number(found.control_r2)}"
        )
    if not phrases:
        return None
    return Latex(rf"Селективность лучших слоёв (разд.~\ref{{sec:method}}): {'; '.join(phrases)}.")


def target_sentences(
    testing: ClaimSettings, studied: dict[str, ModelEntry], target: Target, comparison: Comparisons
) -> dict[str, Any]:
    """The sentences about one target: its name, layers, copies and model comparison."""
    layers = [layer_sentence(testing, n, m.layers[target]) for n, m in studied.items()]
    return {
        "name": target_name(target),
        "layers": clauses(layers),
        "controls": controls_clauses(testing, studied, target),
        "controls_brief": controls_clauses(testing, studied, target, brief=True),
        "comparison": comparison_sentence(testing, comparison),
        "ranking": comparison_sentence(testing, comparison, with_pairs=False),
        "embedding_comparison": embedding_comparison_sentence(testing, comparison),
    }
