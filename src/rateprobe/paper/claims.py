"""The paper's claims, phrased in Russian from the decisions recorded in summary.json.

The probing stage decides every claim from the numbers (booleans, or null when the intervals
overlap); this module only turns those decisions into sentences, with the numbers behind them.
Templates print these sentences and never decide a claim themselves, so the text follows the
results whatever they are.
"""

from __future__ import annotations

from typing import Any

from rateprobe.conventions import ARCH_NAMES, TARGET_NAMES, headline_target
from rateprobe.decisions import DESCRIPTIVE
from rateprobe.paper.glossary import plural, speakers_phrase
from rateprobe.paper.latex import (
    Latex,
    compact,
    escape,
    integer,
    interval,
    join,
    number,
    percent,
    percent_interval,
    sentence,
)

CLASSIFICATION_NAMES = {
    "sex": "пол диктора",
    "cps_tercile": "терциль CPS",
}

Summary = dict[str, Any]


def model_ref(name: str) -> Latex:
    """A model name as the paper prints it (escaped data inside a macro of main.tex)."""
    return Latex(rf"\model{{{escape(name)}}}")


def target_name(target: str) -> Latex:
    return Latex(TARGET_NAMES[target]) if target in TARGET_NAMES else escape(target)


def r2_with_ci(entry: dict[str, Any]) -> Latex:
    """`$R^2 = 0,41$ [0,33; 0,48]`; a null R² is stated as not computable."""
    if entry.get("r2") is None:
        return Latex(r"$R^2$ не вычисляется")
    return Latex(rf"$R^2 = {{}}${number(entry['r2'])} {interval(entry.get('r2_ci'))}")


def primary_target(summary: Summary) -> str:
    """The target the abstract and conclusion lead with: CPS when studied, else the first."""
    targets = summary["run"]["targets"]
    return headline_target(targets)


def corpus_statement(summary: Summary) -> Latex:
    run = summary["run"]
    if run.get("synthetic_speech"):
        return Latex(
            "Все результаты получены на \\emph{синтетическом} корпусе: английские предложения, "
            "составленные генератором по образцу прозы аудиокниг, озвучены движком "
            "espeak-ng~\\cite{espeakng} разными голосами, с заданным для каждого высказывания "
            "темпом. Это демонстрационный прогон конвейера; выводы о живой речи из него делать "
            "нельзя."
        )
    kind = run["corpus_kind"]
    if kind == "librispeech":
        return Latex(
            "Все результаты получены на записях чтения корпуса LibriSpeech~\\cite{librispeech}."
        )
    statement = Latex(f"Все результаты получены на корпусе {corpus_name(summary)}.")
    description = run.get("corpus_description")
    return Latex(f"{statement} {sentence(escape(description))}") if description else statement


def corpus_name(summary: Summary) -> Latex:
    """The name of a corpus the configuration names (a table), else its kind."""
    run = summary["run"]
    return escape(run.get("corpus_name") or run["corpus_kind"])


def corpus_short(summary: Summary) -> Latex:
    if summary["run"].get("synthetic_speech"):
        return Latex(
            "Демонстрационный прогон выполнен на синтетической речи (espeak-ng), поэтому его "
            "числа иллюстрируют метод, а не свойства живой речи."
        )
    if summary["run"]["corpus_kind"] == "librispeech":
        return Latex("Эксперименты проведены на корпусе LibriSpeech.")
    return Latex(f"Эксперименты проведены на корпусе {corpus_name(summary)}.")


def bad_input_sentence(summary: Summary) -> Latex:
    bad = summary["corpus"]["bad_input"]
    skipped = bad.get("skipped_total") or 0
    if not skipped:
        return Latex("Повреждённых или непригодных файлов при подготовке данных не встретилось.")
    reasons = join(
        [rf"{escape(problem)}: {number(n)}" for problem, n in sorted(bad["by_problem"].items())]
    )
    return Latex(
        rf"При подготовке данных пропущены непригодные файлы (всего {number(skipped)}; "
        rf"{reasons}); они исключены из всех выборок."
    )


def tested(decision: dict[str, Any] | None) -> bool:
    """Whether a decision belongs to a corrected family (a claim the paper tests)."""
    return decision is not None and decision.get("family", DESCRIPTIVE) != DESCRIPTIVE


def p_holm(decision: dict[str, Any]) -> Latex:
    r"""`$p_{\mathrm{Holm}} = 0,003$` of a tested claim."""
    return Latex(rf"$p_{{\mathrm{{Holm}}}} = {{}}${compact(decision['p_holm'])}")


def delta_r2(decision: dict[str, Any] | None, show_p: bool = True) -> Latex:
    r"""`$\Delta R^2 = 0,12$ [0,05; 0,19]` of a paired comparison, with the Holm-adjusted p of
    a tested claim beside its interval unless `show_p` is off (a run too small to test)."""
    if decision is None or decision.get("delta") is None:
        return Latex(r"$\Delta R^2$ не вычисляется")
    text = rf"$\Delta R^2 = {{}}${number(decision['delta'])} {interval(decision.get('delta_ci'))}"
    if show_p and tested(decision) and decision.get("p_holm") is not None:
        text += rf", {p_holm(decision)}"
    return Latex(text)


def too_few_speakers(summary: Summary) -> Latex:
    """Why no comparison is decided: too few test speakers for the bootstrap to hold."""
    claims = summary["run"]["claims"]
    n = claims["n_test_speakers"]
    return Latex(
        rf"{integer(n)} {speakers_phrase(n)} --- меньше порога "
        rf"{integer(claims['min_test_speakers'])}, при котором бутстреп-интервалы по дикторам "
        "сохраняют заявленное покрытие"
    )


def count_of(n: int, one: str, few: str, many: str) -> Latex:
    """`5 утверждений`: a count with its noun in the agreeing form."""
    return Latex(f"{integer(n)} {plural(n, one, few, many)}")


def undecided_why(summary: Summary) -> Latex:
    """Why a tested claim with an interval off zero may still be undecided."""
    family = summary["run"]["claims"]["family_size"]
    claims = count_of(
        family, "проверяемое утверждение", "проверяемых утверждения", "проверяемых утверждений"
    )
    return Latex(rf"поправка Холма на {claims}")


def _decidable(summary: Summary) -> bool:
    return bool(summary["run"]["claims"]["decidable"])


def layer_sentence(summary: Summary, name: str, layers: dict[str, Any]) -> Latex:
    """The dev-chosen layer of a model beside its final embedding, as estimates."""
    best, deepest = layers["best"], layers["deepest"]
    if best is None:
        return Latex(rf"у {model_ref(name)} ни одна проба не дала численно здоровой подгонки")
    if best["tap"] == deepest["tap"]:
        return with_beyond_duration(
            summary,
            Latex(
                rf"у {model_ref(name)} лучшим по валидационной выборке оказался сам финальный "
                rf"эмбеддинг ({r2_with_ci(deepest)})"
            ),
            deepest,
        )
    depth = best.get("relative_depth")
    where = "самый ранний слой" if depth == 0 else f"относительная глубина {number(depth)}"
    head = Latex(
        rf"у {model_ref(name)} лучший по валидации слой \texttt{{{escape(best['tap'])}}} "
        rf"({where}) даёт {r2_with_ci(best)}, финальный эмбеддинг --- {r2_with_ci(deepest)}"
    )
    comparison = layers.get("best_minus_deepest")
    if comparison is not None and comparison.get("delta") is not None:
        head = Latex(rf"{head} (разность {delta_r2(comparison)})")
    return with_beyond_duration(summary, head, best)


def beyond_duration_clause(summary: Summary, entry: dict[str, Any]) -> Latex | None:
    """What a layer adds to the duration basis (conditional probe minus basis alone): since
    the basis fixes duration and the share of pauses, the gain is knowledge of the number of
    characters at a given duration."""
    decision = entry.get("beyond_duration")
    if decision is None:
        return None
    numbers = delta_r2(decision, show_p=_decidable(summary))
    if not tested(decision) or decision.get("decided") is True:
        return Latex(rf"сверх обеих длительностей он добавляет {numbers}")
    if decision.get("decided") is False:
        return Latex(rf"вместе с длительностями он хуже одних длительностей ({numbers})")
    if not _decidable(summary):
        return Latex(rf"сверх длительностей по точечной оценке он добавляет {numbers}")
    return Latex(
        rf"прирост сверх длительностей ({numbers}) не установлен: {undecided_why(summary)}"
    )


def with_beyond_duration(summary: Summary, text: Latex, entry: dict[str, Any]) -> Latex:
    clause = beyond_duration_clause(summary, entry)
    return text if clause is None else Latex(rf"{text}; {clause}")


def _band(model: dict[str, Any], target: str) -> Latex:
    band = model["layers"][target].get("control_band")
    if band is None:
        return Latex("")
    if number(band[0]) == number(band[1]):
        return Latex(rf", лучший $R^2$ {number(band[0])}")
    return Latex(rf", лучший $R^2$ от {number(band[0])} до {number(band[1])}")


def control_sentence(
    summary: Summary, name: str, model: dict[str, Any], target: str, brief: bool = False
) -> Latex | None:
    """Trained model against every random-initialised copy (the weakest of the paired
    comparisons decides); None without copies. `brief` (abstract, conclusion) keeps only the
    deciding difference, without the copies' count and R² band."""
    controls = model.get("controls") or []
    layers = model["layers"][target]
    if not controls or layers["best"] is None:
        return None
    test = layers.get("beats_every_control")
    if test is None:
        return Latex(
            rf"сравнить {model_ref(name)} со всеми его случайно инициализированными копиями "
            "нельзя: у части копий ни одна проба не дала здоровой подгонки"
        )
    context = _control_context(summary, model, target, brief)
    if not _decidable(summary):
        return Latex(
            rf"{model_ref(name)} сравнивается со своими случайно инициализированными копиями "
            rf"лишь по точечным оценкам ({context})"
        )
    if test.get("decided") is True:
        return Latex(
            rf"{model_ref(name)} превосходит каждую из своих случайно инициализированных копий "
            rf"({context}): обучение добавляет информацию о темпе сверх архитектуры"
        )
    if test.get("decided") is False:
        return Latex(
            rf"одна из случайно инициализированных копий превосходит {model_ref(name)} ({context})"
        )
    return Latex(
        rf"превосходство {model_ref(name)} над каждой из его случайно инициализированных копий "
        rf"({context}) не установлено: {undecided_why(summary)}"
    )


def _control_context(
    summary: Summary, model: dict[str, Any], target: str, brief: bool = False
) -> Latex:
    """The numbers behind a trained-vs-copies claim: the copies' count and R² band (unless
    `brief`) and the deciding (smallest) difference."""
    n = len(model["controls"])
    band = Latex(_band(model, target).lstrip(", "))
    test = model["layers"][target]["beats_every_control"]
    return join(
        [*([] if brief else [Latex(rf"{integer(n)} {plural(n, 'копия', 'копии', 'копий')}")]),
         *([Latex(rf"у них {band}")] if band and not brief else []),
         Latex(rf"наименьшая разность {delta_r2(test, show_p=_decidable(summary))}")],
        sep="; ", last="; ",
    )  # fmt: skip


def controls_clauses(summary: Summary, target: str, brief: bool = False) -> Latex:
    """Every studied model against its random copies; the models whose claim stays undecided
    share one clause, so the reason (the Holm correction) is said once."""
    studied = studied_models(summary)

    def pending(model: dict[str, Any]) -> bool:
        layers = model["layers"][target]
        test = layers.get("beats_every_control")
        has_claim = bool(model.get("controls")) and layers["best"] is not None
        return has_claim and test is not None and test.get("decided") is None

    undecided = [name for name, model in studied.items() if pending(model)]
    if len(undecided) < 2 or not _decidable(summary):
        undecided = []  # a single model's clause says the reason itself
    parts = [
        clause
        for name, model in studied.items()
        if name not in undecided
        and (clause := control_sentence(summary, name, model, target, brief)) is not None
    ]
    if undecided:
        each = [
            Latex(rf"{model_ref(n)} ({_control_context(summary, studied[n], target, brief)})")
            for n in undecided
        ]
        parts.append(
            Latex(
                "превосходство над каждой из своих случайно инициализированных копий не "
                rf"установлено ни у {join(each, sep=', ни у ', last=', ни у ')}: "
                rf"{undecided_why(summary)}"
            )
        )
    return _clauses(parts)


def comparison_sentence(
    summary: Summary, comparison: dict[str, Any], with_pairs: bool = True
) -> Latex:
    """The models' best layers: whether the leader beats every other model (a tested claim),
    then, `with_pairs`, each paired difference as an estimate. No order is printed unless
    decided."""
    ranking = comparison["ranking"]
    if not ranking:
        return Latex("Ни у одной модели пробы не дали численно здоровой подгонки.")
    best = model_ref(comparison["best_model"])
    if len(ranking) < 2:
        return Latex(rf"Сравнивать не с чем: исследована одна модель, {best}.")
    if not _decidable(summary):
        return Latex(rf"Модели не сравниваются и не ранжируются: {too_few_speakers(summary)}.")
    test = comparison.get("leader_beats_every_model")
    # With two models their one pair is the leader's test, already printed.
    listed = with_pairs and len(ranking) > 2
    pairs = "; ".join(_pair_phrase(pair) for pair in comparison.get("pairs", []) if listed)
    if test is not None and test.get("decided") is True:
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


def _pair_phrase(pair: dict[str, Any]) -> str:
    return rf"{model_ref(pair['a'])} $-$ {model_ref(pair['b'])}: {delta_r2(pair)}"


def embedding_comparison_sentence(summary: Summary, comparison: dict[str, Any]) -> Latex | None:
    """The final embeddings' paired differences (estimates; their R² are in the table)."""
    by_embedding = comparison.get("embedding")
    if not by_embedding or len(by_embedding["ranking"]) < 2 or not _decidable(summary):
        return None
    pairs = "; ".join(_pair_phrase(pair) for pair in by_embedding["pairs"])
    return Latex(rf"На финальном эмбеддинге разности $R^2$: {pairs}.")


def sanity_warning(summary: Summary) -> Latex | None:
    """The body's warning when a pretrained model tells speakers apart worse than its random
    copies (the appendix holds the rest of the loading check)."""
    broken = summary["sanity"]["broken_pretrained_models"]
    if not broken:
        return None
    return Latex(
        r"\textbf{Предупреждение:} у предобученных моделей "
        rf"{join([model_ref(m) for m in broken])} EER значимо выше, чем у их случайно "
        "инициализированных копий. Вероятно, чекпойнт повреждён или загружен неверно; "
        "выводы об этих моделях ненадёжны."
    )


def sanity_sentence(summary: Summary) -> Latex:
    """Whether the pretrained models tell speakers apart better than their random copies (the
    loading check, its own Holm family), and whether their EER is plausible."""
    sanity = summary["sanity"]
    unconfirmed = sanity["unconfirmed_pretrained_models"]
    warning = sanity_warning(summary)
    parts: list[str] = [warning] if warning else []
    if unconfirmed:
        why = (
            too_few_speakers(summary)
            if not _decidable(summary)
            else Latex("разность EER с копиями не установлена")
        )
        parts.append(
            rf"Что предобученные модели {join([model_ref(m) for m in unconfirmed])} различают "
            rf"дикторов лучше случайно инициализированных копий, не подтверждено ({why})."
        )
    for name in sanity["implausible_eer_models"]:
        parts.append(implausible_eer_sentence(summary, name))
    checked = [
        name
        for name, model in summary["models"].items()
        if model.get("pretrained") and model.get("beats_controls_eer") is True
    ]
    if checked:
        parts.append(
            rf"Предобученные модели ({join([model_ref(m) for m in checked])}) различают "
            "дикторов значимо лучше всех своих случайно инициализированных копий (поправка "
            "Холма внутри этой проверки)."
        )
    if not parts:
        return Latex(
            "Проверить предобученные модели сравнением со случайно инициализированными "
            "копиями не удалось."
        )
    return Latex(" ".join(parts))


def implausible_eer_sentence(summary: Summary, name: str) -> Latex:
    """A failed plausibility check: the EER far above the model's published one."""
    sanity, model = summary["sanity"], summary["models"][name]
    reference = model["reference_eer"]
    check = "выводы об этой модели требуют проверки её весов и фронтенда."
    domain = (
        f" На синтетической речи часть разрыва может быть сдвигом домена, но {check}"
        if summary["run"].get("synthetic_speech")
        else f" {check[0].upper()}{check[1:]}"
    )
    return Latex(
        rf"EER {model_ref(name)} ({percent(model['eer'])}, "
        rf"{percent_interval(model['eer_ci'])}~\%) более чем в "
        rf"{number(sanity['implausible_eer_factor'], 0)} раз выше опубликованного "
        rf"{percent(reference['eer'])} ({escape(reference['source'])}).{domain}"
    )


def verification_available(summary: Summary) -> bool:
    """Whether any studied model has a test EER (speakers with two utterances exist)."""
    return any(summary["models"][n].get("eer") is not None for n in summary["studied_models"])


EER_MISSING_REASONS = {
    "no test speaker has two utterances": "ни у одного тестового диктора нет двух высказываний",
    "the test split has a single speaker": "в тестовой выборке один диктор",
}


def eer_missing_reason(summary: Summary) -> Latex:
    """Why no EER was computed, in Russian (the summary records it in English)."""
    first = summary["models"][summary["studied_models"][0]]
    reason = first.get("eer_reason", "")
    return Latex(EER_MISSING_REASONS.get(reason, "EER не вычисляется"))


# The ends of the ridge path a cross-validated penalty can reach, as the paper words the choice.
LIMIT_PHRASES = {
    "mean": (
        "сильнейшую регуляризацию в {fits} (проба предсказывает среднее обучающей выборки: "
        "линейной связи с целью не найдено)"
    ),
    "least squares": (
        "слабейшую в {fits} (решение методом наименьших квадратов с минимальной нормой)"
    ),
}


def health_sentence(summary: Summary) -> Latex:
    """Which probe fits failed numerically (a ridge penalty left at an end of its widened grid
    is one of them), and where ridge's cross-validation chose to predict the mean."""
    sanity = summary["sanity"]
    failed = sanity["failed_fits"]
    edges = sanity["ridge_alpha_at_edge"]
    if failed:
        listed = join(
            [
                Latex(
                    rf"{model_ref(f['model'])}/\texttt{{{escape(f['tap'])}}}/{escape(f['probe'])}"
                )
                for f in failed[:6]
            ]
        )
        more = rf" и ещё {number(len(failed) - 6)}" if len(failed) > 6 else ""
        unresolved = sum(e.get("alpha_limit") is None for e in edges)
        at_edge = (
            rf" (из них {number(unresolved)} --- коэффициент гребневой регрессии на краю сетки "
            "и после её расширения)"
            if unresolved
            else ""
        )
        text = (
            rf"Неудачных подгонок (разд.~\ref{{sec:method}}) {number(len(failed))}{at_edge}: "
            rf"{listed}{more}; они не ранжируются и не входят в выводы."
        )
    else:
        text = r"Неудачных подгонок (разд.~\ref{sec:method}) нет."
    limits = []
    for limit, chosen in LIMIT_PHRASES.items():
        n = sum(e.get("alpha_limit") == limit for e in edges)
        if n:
            fits = f"{number(n)} {plural(n, 'подгонке', 'подгонках', 'подгонках')}"
            limits.append(chosen.format(fits=fits))
    if limits:
        text += rf" Перекрёстная проверка гребневой регрессии выбрала {join(limits)}."
    return Latex(text)


def cca_summary(models: dict[str, Any]) -> Latex:
    """Where the in-sample multiple correlation (one-dimensional CCA) overstates the held-out
    one, and how much of the embedding each model's layers already hold (held-out SVCCA)."""
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
    flows: list[Latex] = []
    for name, model in models.items():
        first, last = model["cca"].get("svcca_first"), model["cca"].get("svcca_last")
        if first is None or last is None or first["tap"] == last["tap"]:
            continue
        first_tap, last_tap = escape(first["tap"]), escape(last["tap"])
        flows.append(
            Latex(
                rf"у {model_ref(name)} от {number(first['heldout'])} (\texttt{{{first_tap}}}) "
                rf"до {number(last['heldout'])} (\texttt{{{last_tap}}})"
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


def classification_summary(models: dict[str, Any]) -> Latex | None:
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


def _described(summary: Summary, name: str) -> Latex:
    """A model reference that says when the model has random weights."""
    if summary["models"][name].get("pretrained"):
        return model_ref(name)
    return Latex(rf"{model_ref(name)} (случайные веса)")


def estimates(summary: Summary) -> Latex:
    """Each studied model's best layer and final embedding on the headline target."""
    target = primary_target(summary)
    if summary["comparisons"][target]["best_model"] is None:
        return Latex("Ни у одной модели пробы не дали численно здоровой подгонки.")
    parts = []
    for name in summary["studied_models"]:
        layers = summary["models"][name]["layers"][target]
        if layers["best"] is None:
            continue
        parts.append(
            rf"у {_described(summary, name)} лучший по валидации слой "
            rf"\texttt{{{escape(layers['best']['tap'])}}} даёт {r2_with_ci(layers['best'])}, "
            rf"финальный эмбеддинг --- {r2_with_ci(layers['deepest'])}"
        )
    return Latex(rf"Для цели <<{target_name(target)}>> {'; '.join(parts)}.")


def tested_findings(summary: Summary) -> Latex | None:
    """The answers to the study's tested questions with their effect sizes: what the best
    layers add beyond duration, and the leader if it beats every other model. None where the
    test set is too small to test anything."""
    target = primary_target(summary)
    if not _decidable(summary) or summary["comparisons"][target]["best_model"] is None:
        return None
    found: list[Latex | None] = [beyond_duration_finding(summary, target)]
    comparison = summary["comparisons"][target]
    test = comparison.get("leader_beats_every_model")
    if test is not None and test.get("decided") is True:
        found.append(
            Latex(
                rf"{model_ref(comparison['best_model'])} превосходит остальные модели "
                rf"(наименьшая разность {delta_r2(test)})"
            )
        )
    return Latex(" ".join(sentence(f) for f in found if f)) or None


def headline(summary: Summary) -> Latex:
    """The abstract's results: the estimates, then the tested questions' answers."""
    text = estimates(summary)
    if summary["comparisons"][primary_target(summary)]["best_model"] is None:
        return text
    if not _decidable(summary):
        return Latex(
            rf"{text} Это точечные оценки, модели не сравниваются: {too_few_speakers(summary)}."
        )
    found = tested_findings(summary)
    return Latex(f"{text} {found}") if found else text


def beyond_duration_finding(summary: Summary, target: str) -> Latex | None:
    """Which studied models' best layers know rate beyond duration (a tested claim)."""
    known: list[Latex] = []
    unknown: list[Latex] = []
    for name in summary["studied_models"]:
        best = summary["models"][name]["layers"][target]["best"]
        decision = (best or {}).get("beyond_duration")
        if decision is None or decision.get("delta") is None:
            continue
        phrase = Latex(rf"{model_ref(name)}: {delta_r2(decision)}")
        (known if decision.get("decided") is True else unknown).append(phrase)
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


ARCH_CITATIONS = {
    "resemblyzer": "ge2e",
    "samresnet34": "wespeaker,simam,resnet",
    "samresnet100": "wespeaker,simam,resnet",
    "resnet34": "wespeaker,resnet",
    "ecapa_c512": "ecapa",
    "ecapa_c1024": "ecapa",
    "campplus": "campplus",
}


def studied_architectures(summary: Summary) -> Latex:
    """The studied models' architectures, each once and cited: `CAM++~\\cite{campplus} и ...`."""
    archs = dict.fromkeys(summary["models"][name]["arch"] for name in summary["studied_models"])
    return join(
        [Latex(rf"{escape(ARCH_NAMES[arch])}~\cite{{{ARCH_CITATIONS[arch]}}}") for arch in archs]
    )


def embedding_method_phrase(method: dict[str, Any]) -> Latex:
    """How an encoder family's embedding is computed, from the summary's record of it (its
    reference may name several implementations, separated by semicolons)."""
    reference = join(
        [Latex(rf"\texttt{{{escape(name)}}}") for name in method["reference"].split("; ")]
    )
    if method["kind"] == "windowed_mean":
        return Latex(
            rf"L2-нормированное среднее эмбеддингов окон по {number(method['window_s'], 1)}~с "
            rf"с шагом {number(method['step_s'])}~с, как {reference}"
        )
    return Latex(rf"пулинг по всему высказыванию за один проход, как {reference}")


def embedding_methods(summary: Summary) -> Latex:
    """One clause per architecture: how its final embedding is computed."""
    phrases: dict[str, Latex] = {}
    for model in summary["models"].values():
        method = model.get("embedding_method")
        if method and model["arch"] not in phrases:
            name = ARCH_NAMES.get(model["arch"], model["arch"])
            phrases[model["arch"]] = Latex(rf"{escape(name)} --- {embedding_method_phrase(method)}")
    return join(list(phrases.values()), sep="; ", last="; ")


def speaker_parts_sentence(summary: Summary) -> Latex | None:
    """Speaker habit vs utterance rate, for the leader's best tap on the primary target; None
    when the test split has no speaker with two utterances (the part is then left out)."""
    target = primary_target(summary)
    leader = summary["comparisons"][target]["best_model"]
    if leader is None:
        return None
    best = summary["models"][leader]["layers"][target]["best"]
    parts = best.get("speaker_parts") or {}
    if parts.get("within_r2") is None:
        return None
    return Latex(
        rf"У {model_ref(leader)} $R^2$ лучшего слоя \texttt{{{escape(best['tap'])}}} между "
        rf"дикторами {number(parts['between_r2'])} {interval(parts.get('between_r2_ci'))}, внутри "
        rf"дикторов {number(parts['within_r2'])} {interval(parts.get('within_r2_ci'))}; "
        rf"предсказание истинным средним каждого диктора дало бы $R^2 = {{}}$"
        rf"{number(parts['speaker_mean_ceiling_r2'])}."
    )


def selectivity_sentence(summary: Summary) -> Latex | None:
    """Each studied model's ridge selectivity at its best layer (Hewitt & Liang's control
    task: CPS dealt between speakers); None when no model has it."""
    target = primary_target(summary)
    phrases = []
    for name in summary["studied_models"]:
        best = summary["models"][name]["layers"][target]["best"]
        found = (best or {}).get("selectivity")
        if not found or found.get("selectivity") is None:
            continue
        phrases.append(
            rf"у {model_ref(name)} (\texttt{{{escape(best['tap'])}}}) "
            rf"{number(found['selectivity'])} {interval(found.get('selectivity_ci'))} при "
            rf"$R^2$ контрольной задачи {number(found['control_r2'])}"
        )
    if not phrases:
        return None
    return Latex(rf"Селективность лучших слоёв (разд.~\ref{{sec:method}}): {'; '.join(phrases)}.")


def erasure_sentence(summary: Summary) -> Latex | None:
    """Does verification use rate: the EER change once the CPS subspace is erased (an
    estimate with its interval)."""
    phrases = []
    for name in summary["studied_models"]:
        model = summary["models"][name]
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


INTERVENTION_NAMES = {
    "rate": "темп синтеза",
    "pause": "паузы между словами",
    "stretch": "растяжение во времени",
    "pad": "тишина по краям",
}


def _slope_phrase(kind: str, slope: dict[str, Any]) -> Latex:
    name = INTERVENTION_NAMES.get(kind, escape(kind))
    return Latex(
        rf"{name}: {number(slope['value'])} {interval([slope['ci_low'], slope['ci_high']])}"
    )


def interventions_sentence(summary: Summary) -> Latex | None:
    """What changing only the rate does to the leader's probe, embedding and verification."""
    section = summary.get("interventions")
    target = primary_target(summary)
    leader = summary["comparisons"][target]["best_model"]
    if not section or leader not in section["models"]:
        return None
    model = section["models"][leader]
    best = model["slopes"].get("best") or model["slopes"]["embedding"]
    kinds = [k for k in best if k != "tap" and best[k].get("value") is not None]
    if not kinds:
        return None
    slopes = join([_slope_phrase(kind, best[kind]) for kind in kinds], sep="; ")
    trained_on = "исходных" if summary["run"].get("synthetic_speech") else "естественных"
    ratios = [c["ratio"]["value"] for c in model["drift"]["conditions"] if c["ratio"]["value"]]
    drift = (
        rf" Эмбеддинг того же высказывания при этом сдвигается на "
        rf"{number(min(ratios))}--{number(max(ratios))} среднего расстояния между дикторами."
        if ratios
        else ""
    )
    return Latex(
        rf"Если изменить только темп тестовых высказываний (рис.~\ref{{fig:interventions}}), "
        rf"проба слоя \texttt{{{escape(best['tap'])}}} у {model_ref(leader)}, обученная на "
        rf"{trained_on} записях, следует за ним с наклоном (1 --- полностью, 0 --- никак): "
        rf"{slopes}.{drift}"
    )


def _clauses(parts: list[Latex]) -> Latex:
    return join(parts, sep="; ", last="; ")


def studied_models(summary: Summary) -> dict[str, Any]:
    """The models the text discusses one by one (the controls enter through their model's
    control sentence and the tables)."""
    return {name: summary["models"][name] for name in summary["studied_models"]}


def limitations(summary: Summary) -> Latex:
    """What limits the conclusions of this run, as a Russian enumeration."""
    n = summary["run"]["claims"]["n_test_speakers"]
    parts = []
    if summary["run"].get("synthetic_speech"):
        parts.append(Latex("речь синтезирована, и выводы о живой речи из неё не следуют"))
    parts.append(Latex(rf"всего {integer(n)} {speakers_phrase(n)}"))
    if not verification_available(summary):
        parts.append(
            Latex("проверить загрузку весов по EER нельзя: " + eer_missing_reason(summary))
        )
    for name in summary["sanity"]["implausible_eer_models"]:
        model = summary["models"][name]
        parts.append(
            Latex(
                rf"проверка загрузки не пройдена: EER {model_ref(name)} {percent(model['eer'])} "
                rf"против опубликованного {percent(model['reference_eer']['eer'])}"
            )
        )
    failed = summary["sanity"]["failed_fits"]
    if failed:
        parts.append(Latex(rf"неудачных подгонок проб {integer(len(failed))}"))
    return join(parts, sep="; ", last="; ")


def build_claims(summary: Summary) -> dict[str, Any]:
    """Every claim sentence the templates print, keyed by what it is about."""
    studied = studied_models(summary)
    per_target = {}
    for target in summary["run"]["targets"]:
        layers = [layer_sentence(summary, n, m["layers"][target]) for n, m in studied.items()]
        comparison = summary["comparisons"][target]
        per_target[target] = {
            "name": target_name(target),
            "layers": _clauses(layers),
            "controls": controls_clauses(summary, target),
            "controls_brief": controls_clauses(summary, target, brief=True),
            "comparison": comparison_sentence(summary, comparison),
            "ranking": comparison_sentence(summary, comparison, with_pairs=False),
            "embedding_comparison": embedding_comparison_sentence(summary, comparison),
        }
    primary = primary_target(summary)
    return {
        "corpus": corpus_statement(summary),
        "corpus_short": corpus_short(summary),
        "bad_input": bad_input_sentence(summary),
        "architectures": studied_architectures(summary),
        "headline": headline(summary),
        "findings": tested_findings(summary) or estimates(summary),
        "verification_available": verification_available(summary),
        "eer_missing_reason": None
        if verification_available(summary)
        else eer_missing_reason(summary),
        "limitations": limitations(summary),
        "family_phrase": count_of(
            summary["run"]["claims"]["family_size"], "утверждение", "утверждения", "утверждений"
        ),
        "primary_target": primary,
        "targets": per_target,
        "sanity": sanity_sentence(summary),
        "sanity_warning": sanity_warning(summary),
        "health": health_sentence(summary),
        "speaker_parts": speaker_parts_sentence(summary),
        "selectivity": selectivity_sentence(summary),
        "erasure": erasure_sentence(summary),
        "interventions": interventions_sentence(summary),
        "cca": cca_summary(studied),
        "classification": classification_summary(studied),
    }
