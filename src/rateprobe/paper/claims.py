"""The paper's claims, phrased in Russian from the decisions recorded in summary.json.

The probing stage decides every claim from the numbers (booleans, or null when the intervals
overlap); this module only turns those decisions into sentences, with the numbers behind them.
Templates print these sentences and never decide a claim themselves, so the text follows the
results whatever they are.
"""

from __future__ import annotations

from typing import Any

from rateprobe.conventions import ARCH_NAMES, TARGET_NAMES, headline_target
from rateprobe.paper.latex import (
    Latex,
    escape,
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
            "Все результаты получены на \\emph{синтетическом} корпусе: речь синтезирована "
            "движком espeak-ng~\\cite{espeakng} по текстам в разметке LibriSpeech, с заданным "
            "для каждого высказывания темпом. Это демонстрационный прогон конвейера; выводы "
            "о реальной речи из него делать нельзя."
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


def delta_r2(decision: dict[str, Any] | None) -> Latex:
    r"""`$\Delta R^2 = 0,12$ [0,05; 0,19]` of a paired comparison."""
    if decision is None or decision.get("delta") is None:
        return Latex(r"$\Delta R^2$ не вычисляется")
    return Latex(
        rf"$\Delta R^2 = {{}}${number(decision['delta'])} {interval(decision.get('delta_ci'))}"
    )


def too_few_speakers(summary: Summary) -> Latex:
    """Why no comparison is decided: too few test speakers for the bootstrap to hold."""
    claims = summary["run"]["claims"]
    return Latex(
        rf"тестовых дикторов {number(claims['n_test_speakers'])}, меньше порога "
        rf"{number(claims['min_test_speakers'])}, при котором бутстреп-интервалы по дикторам "
        "сохраняют заявленное покрытие"
    )


def _decidable(summary: Summary) -> bool:
    return bool(summary["run"]["claims"]["decidable"])


def layer_sentence(summary: Summary, name: str, layers: dict[str, Any]) -> Latex:
    """The dev-chosen tap of a model and how it compares with the final embedding."""
    best, deepest = layers["best"], layers["deepest"]
    if best is None:
        return Latex(rf"у {model_ref(name)} ни одна проба не дала численно здоровой подгонки")
    if best["tap"] == deepest["tap"]:
        return with_beyond_duration(
            Latex(
                rf"у {model_ref(name)} по валидационной выборке лучшим отводом выбран сам "
                rf"финальный эмбеддинг ({r2_with_ci(deepest)}); что он несёт больше других "
                "слоёв, из такого выбора не следует"
            ),
            deepest,
        )
    depth = best.get("relative_depth")
    where = "самый ранний отвод" if depth == 0 else f"глубина {number(depth)}"
    head = Latex(
        rf"у {model_ref(name)} лучший по валидации слой \texttt{{{escape(best['tap'])}}} "
        rf"({where}; {r2_with_ci(best)}) "
    )
    return with_beyond_duration(_versus_embedding(summary, head, layers), best)


def _versus_embedding(summary: Summary, head: Latex, layers: dict[str, Any]) -> Latex:
    deepest = layers["deepest"]
    comparison = layers.get("best_minus_deepest")
    numbers = rf"{r2_with_ci(deepest)}; {delta_r2(comparison)}"
    decided = layers.get("middle_beats_deepest")
    if decided is True:
        return Latex(head + rf"значимо превосходит финальный эмбеддинг ({numbers})")
    if decided is False:
        return Latex(
            head + rf"несмотря на выбор по валидации, значимо уступает финальному эмбеддингу "
            rf"({numbers})"
        )
    if not _decidable(summary) or comparison is None:
        return Latex(head + rf"сравнивается с финальным эмбеддингом ({r2_with_ci(deepest)}) "
                     "лишь по точечным оценкам")  # fmt: skip
    return Latex(
        rf"{head.rstrip()}; его отличие от финального эмбеддинга ({numbers}) не установлено"
    )


def beyond_duration_clause(entry: dict[str, Any]) -> Latex | None:
    """What a tap adds to the duration basis (conditional probe minus basis alone)."""
    decision = entry.get("beyond_duration")
    if decision is None:
        return None
    numbers = delta_r2(decision)
    if decision.get("decided") is True:
        return Latex(rf"сверх длительности он значимо добавляет {numbers}")
    if decision.get("decided") is False:
        return Latex(rf"вместе с длительностью он значимо хуже одной длительности ({numbers})")
    if decision.get("decided_reason"):
        return Latex(rf"сверх длительности по точечной оценке {numbers}")
    return Latex(rf"его вклад сверх длительности ({numbers}) не установлен")


def with_beyond_duration(text: Latex, entry: dict[str, Any]) -> Latex:
    clause = beyond_duration_clause(entry)
    return text if clause is None else Latex(rf"{text}; {clause}")


def _band(model: dict[str, Any], target: str) -> Latex:
    band = model["layers"][target].get("control_band")
    if band is None:
        return Latex("")
    if number(band[0]) == number(band[1]):
        return Latex(rf", лучший $R^2$ {number(band[0])}")
    return Latex(rf", лучший $R^2$ от {number(band[0])} до {number(band[1])}")


def control_sentence(
    summary: Summary, name: str, model: dict[str, Any], target: str
) -> Latex | None:
    """Trained model versus the band of its random-initialised controls; None without controls."""
    controls = model.get("controls") or []
    if not controls or model["layers"][target]["best"] is None:
        return None
    listed = rf"{number(len(controls))}: {join([model_ref(c) for c in controls])}"
    band = rf"({listed}{_band(model, target)})"
    decided = model["layers"][target].get("beats_controls")
    if decided is True:
        return Latex(
            rf"{model_ref(name)} значимо превосходит всех своих случайных двойников {band}: "
            "обучение добавляет информацию о темпе сверх архитектуры"
        )
    if decided is False:
        return Latex(
            rf"хотя бы один из случайных двойников {band} значимо превосходит {model_ref(name)}"
        )
    if not _decidable(summary):
        return Latex(
            rf"{model_ref(name)} и его случайные двойники {band} сравниваются лишь по точечным "
            "оценкам"
        )
    return Latex(
        rf"превосходство {model_ref(name)} над каждым из случайных двойников {band} не "
        "установлено"
    )


def comparison_sentence(summary: Summary, comparison: dict[str, Any]) -> Latex:
    ranking = [model_ref(m) for m in comparison["ranking"]]
    if not ranking:
        return Latex("Ни у одной модели пробы не дали численно здоровой подгонки.")
    best = model_ref(comparison["best_model"])
    order = Latex(" $>$ ".join(ranking))
    if len(ranking) < 2:
        return Latex(rf"Сравнивать не с чем: исследована одна модель, {best}.")
    if not _decidable(summary):
        # No order either: a ranking of point estimates would read as a result.
        return Latex(rf"Модели не сравниваются и не ранжируются: {too_few_speakers(summary)}.")
    if comparison.get("best_model_clearly_best") is True:
        head = (
            rf"По лучшему слою {best} значимо превосходит каждую из остальных моделей "
            rf"(порядок по $R^2$: {order})."
        )
    else:
        head = (
            rf"По точечным оценкам $R^2$ лучшего слоя порядок таков: {order}; превосходство "
            rf"лидера ({best}) над всеми остальными не установлено."
        )
    pairs = comparison.get("pairs", [])
    if len(pairs) == 1:
        # Two models: the head has said how they compare; only the difference is left.
        return Latex(rf"{head[:-1]} ({delta_r2(pairs[0])}).")
    pair_phrases = [_pair_phrase(pair) for pair in pairs]
    if not pair_phrases:
        return Latex(head)
    return Latex(head + " Попарно: " + "; ".join(pair_phrases) + ".")


def embedding_comparison_sentence(summary: Summary, comparison: dict[str, Any]) -> Latex | None:
    """The ranking on the final embeddings (its pairs are left to the table)."""
    by_embedding = comparison.get("embedding")
    if not by_embedding or len(by_embedding["ranking"]) < 2 or not _decidable(summary):
        return None
    order = Latex(" $>$ ".join(model_ref(m) for m in by_embedding["ranking"]))
    leader = model_ref(by_embedding["best_model"])
    if by_embedding.get("best_model_clearly_best") is True:
        return Latex(
            rf"На финальном эмбеддинге {leader} значимо превосходит остальные модели "
            rf"(порядок: {order})."
        )
    return Latex(
        rf"На финальном эмбеддинге порядок по точечным оценкам таков: {order}; значимого "
        "лидера нет."
    )


def _pair_phrase(pair: dict[str, Any]) -> str:
    a, b = model_ref(pair["a"]), model_ref(pair["b"])
    if pair.get("decided") is True:
        return rf"{a} лучше {b}, {delta_r2(pair)}"
    if pair.get("decided") is False:
        return rf"{b} лучше {a}, {delta_r2(pair)}"
    return rf"различие {a} и {b} не установлено, {delta_r2(pair)}"


def sanity_sentence(summary: Summary) -> Latex:
    """Whether the pretrained models tell speakers apart better than their controls."""
    sanity = summary["sanity"]
    broken, unconfirmed = (
        sanity["broken_pretrained_models"],
        sanity["unconfirmed_pretrained_models"],
    )
    parts = []
    if broken:
        parts.append(
            r"\textbf{Предупреждение:} у предобученных моделей "
            rf"{join([model_ref(m) for m in broken])} EER значимо выше, чем у их случайно "
            "инициализированных двойников. Вероятно, чекпойнт повреждён или загружен неверно; "
            "выводы об этих моделях ненадёжны."
        )
    if unconfirmed:
        why = (
            too_few_speakers(summary)
            if not _decidable(summary)
            else Latex("различие EER с двойниками не установлено")
        )
        parts.append(
            rf"Что предобученные модели {join([model_ref(m) for m in unconfirmed])} различают "
            rf"дикторов лучше случайных двойников, не подтверждено ({why})."
        )
    for name in sanity["implausible_eer_models"]:
        model = summary["models"][name]
        reference = model["reference_eer"]
        check = "выводы об этой модели требуют проверки её весов и фронтенда."
        domain = (
            f" На синтетической речи часть разрыва может быть сдвигом домена, но {check}"
            if summary["run"].get("synthetic_speech")
            else f" {check[0].upper()}{check[1:]}"
        )
        parts.append(
            rf"EER {model_ref(name)} ({percent(model['eer'])}, "
            rf"{percent_interval(model['eer_ci'])}~\%) более чем в "
            rf"{number(sanity['implausible_eer_factor'], 0)} раз выше опорного "
            rf"{percent(reference['eer'])} ({escape(reference['source'])}).{domain}"
        )
    checked = [
        name
        for name, model in summary["models"].items()
        if model.get("pretrained") and model.get("beats_controls_eer") is True
    ]
    if checked:
        loaded = [m for m in checked if m not in sanity["implausible_eer_models"]]
        verdict = ": веса загружены корректно" if loaded == checked else ""
        parts.append(
            rf"Предобученные модели ({join([model_ref(m) for m in checked])}) различают "
            rf"дикторов значимо лучше всех своих случайных двойников{verdict}."
        )
    if not parts:
        return Latex(
            "Проверить предобученные модели сравнением со случайными двойниками не удалось."
        )
    return Latex(" ".join(parts))


def health_sentence(summary: Summary) -> Latex:
    """Which probe fits failed numerically, where ridge's cross-validation chose to predict
    the mean, and where it wanted an alpha off even its widened grid."""
    sanity = summary["sanity"]
    failed = sanity["failed_fits"]
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
        text = (
            rf"Неудачных подгонок (разд.~\ref{{sec:method}}) {number(len(failed))}: "
            rf"{listed}{more}; они не ранжируются и не входят в выводы."
        )
    else:
        text = r"Неудачных подгонок (разд.~\ref{sec:method}) нет."
    edges = sanity["ridge_alpha_at_edge"]
    to_mean = [e for e in edges if e.get("alpha_limit") == "mean"]
    unresolved = [e for e in edges if e.get("alpha_limit") is None]
    if to_mean:
        text += (
            rf" В {number(len(to_mean))} подгонках гребневой регрессии перекрёстная проверка "
            "выбрала сильнейшую регуляризацию: такая проба предсказывает среднее обучающей "
            "выборки, линейной связи с целью не найдено."
        )
    if unresolved:
        text += (
            rf" Коэффициент гребневой регрессии остался на краю сетки в "
            rf"{number(len(unresolved))} случаях и после её расширения; эти подгонки неудачны."
        )
    return Latex(text)


def cca_summary(models: dict[str, Any]) -> Latex:
    """Where in-sample CCA overstates the held-out value, with one model's numbers as example."""
    inflated = [n for n, m in models.items() if m["cca"].get("inflation_visible")]
    modest = [n for n in models if n not in inflated]
    parts = []
    if inflated:
        example = models[inflated[0]]["cca"]
        parts.append(
            rf"канонические корреляции, оценённые на тех же данных, на которых подобраны "
            rf"проекции, заметно завышены у {join([model_ref(n) for n in inflated])} (так, у "
            rf"{model_ref(inflated[0])} максимум на обучающей выборке "
            rf"{number(example['max_in_sample'])} против {number(example['max_heldout'])} на "
            "тестовой)"
        )
    if modest:
        parts.append(rf"у {join([model_ref(n) for n in modest])} завышение невелико")
    return sentence(Latex("; ".join(parts)))


def classification_summary(models: dict[str, Any]) -> Latex | None:
    """Which models' embeddings predict each classification target better than chance
    (the paired test of macro-F1 minus chance, decided with the rest of the family)."""
    tasks: dict[str, dict[str, list[Latex]]] = {}
    for name, model in models.items():
        for task, result in (model.get("classification") or {}).items():
            if not isinstance(result, dict) or result.get("macro_f1") is None:
                continue
            decided = (result.get("above_chance") or {}).get("decided")
            verdict = {True: "above", False: "below"}.get(decided, "undecided")  # type: ignore[arg-type]
            tasks.setdefault(task, {"above": [], "below": [], "undecided": []})[verdict].append(
                model_ref(name)
            )
    if not tasks:
        return None
    wording = {
        "above": "значимо выше случайного уровня у",
        "below": "значимо ниже случайного уровня у",
        "undecided": "отличие от случайного уровня не установлено у",
    }
    phrases = []
    for task, verdicts in tasks.items():
        parts = [rf"{wording[v]} {join(names)}" for v, names in verdicts.items() if names]
        task_name = CLASSIFICATION_NAMES.get(task, escape(task))
        phrases.append(rf"{task_name}: " + ", ".join(parts))
    return Latex("; ".join(phrases))


def _leader_qualifier(comparison: dict[str, Any]) -> Latex:
    if comparison.get("best_model_clearly_best") is True:
        return Latex("значимо лучше каждой из остальных моделей")
    return Latex("по точечной оценке; превосходство над остальными не установлено")


def _described(summary: Summary, name: str) -> Latex:
    """A model reference that says when the model has random weights."""
    if summary["models"][name].get("pretrained"):
        return model_ref(name)
    return Latex(rf"{model_ref(name)} (случайные веса)")


def headline(summary: Summary) -> Latex:
    """The key result for the abstract: the leaders on the final embedding and on any layer."""
    target = primary_target(summary)
    by_tap = summary["comparisons"][target]
    tap_leader = by_tap["best_model"]
    if tap_leader is None:
        return Latex("Ни у одной модели пробы не дали численно здоровой подгонки.")
    if not _decidable(summary):
        return unranked_headline(summary, target)
    best = summary["models"][tap_leader]["layers"][target]["best"]
    on_layers = with_beyond_duration(
        Latex(
            rf"по лучшему слою первая {_described(summary, tap_leader)}: "
            rf"\texttt{{{escape(best['tap'])}}}, {r2_with_ci(best)} "
            rf"({_leader_qualifier(by_tap)})"
        ),
        best,
    )
    by_embedding = by_tap.get("embedding")
    if by_embedding and by_embedding["best_model"] is not None:
        emb_leader = by_embedding["best_model"]
        embedding = summary["models"][emb_leader]["embedding"][target]
        on_embedding = (
            rf"{target_name(target)} из финального эмбеддинга точнее всех восстанавливается у "
            rf"{_described(summary, emb_leader)}: проба {escape(embedding['best_probe'])}, "
            rf"{r2_with_ci(embedding)} ({_leader_qualifier(by_embedding)})"
        )
        on_layers = Latex(f"{on_embedding}; {on_layers}")
    return sentence(Latex(on_layers))


def unranked_headline(summary: Summary, target: str) -> Latex:
    """Too few test speakers to compare: each studied model's numbers, in the configured order
    and without a ranking, so that no point estimate reads as a winner."""
    parts = []
    for name in summary["studied_models"]:
        layers = summary["models"][name]["layers"][target]
        if layers["best"] is None:
            continue
        parts.append(
            rf"{_described(summary, name)}: эмбеддинг {r2_with_ci(layers['deepest'])}, лучший по "
            rf"валидации слой \texttt{{{escape(layers['best']['tap'])}}} "
            rf"{r2_with_ci(layers['best'])}"
        )
    return Latex(
        rf"Для цели <<{target_name(target)}>> у {'; у '.join(parts)}. Это лишь точечные оценки, "
        rf"модели не ранжируются: {too_few_speakers(summary)}."
    )


def embedding_method_phrase(method: dict[str, Any]) -> Latex:
    """How an encoder family's embedding is computed, from the summary's record of it."""
    reference = rf"\texttt{{{escape(method['reference'])}}}"
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


def erasure_sentence(summary: Summary) -> Latex | None:
    """Does verification use rate: the EER change once the CPS subspace is erased."""
    phrases = []
    for name in summary["studied_models"]:
        model = summary["models"][name]
        erasure = model.get("erasure")
        if not model.get("pretrained") or not erasure or not erasure.get("eer_change"):
            continue
        change = erasure["eer_change"]
        if change.get("delta") is None:
            continue
        numbers = (
            rf"EER {percent(model['eer'])} $\to$ {percent(erasure['eer'])}, изменение "
            rf"{number(100 * change['delta'], 1)} {interval(change.get('delta_ci'), 1, 100.0)}"
            r"~п.\,п."
        )
        if change.get("decided") is True:
            verdict = "верификация опирается на это подпространство"
        elif change.get("decided") is False:
            verdict = "без него дикторы различаются даже лучше"
        else:
            verdict = "опора верификации на темп не установлена"
        phrases.append(rf"у {model_ref(name)} {numbers}: {verdict}")
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


def _slope_phrase(summary: Summary, kind: str, slope: dict[str, Any]) -> Latex:
    name = INTERVENTION_NAMES.get(kind, escape(kind))
    numbers = rf"{number(slope['value'])} {interval([slope['ci_low'], slope['ci_high']])}"
    tracks, partial = slope.get("tracks") or {}, slope.get("partial") or {}
    if not _decidable(summary):
        verdict = "точечная оценка"
    elif tracks.get("decided") is True:
        verdict = (
            "следует причинно, но не полностью"
            if partial.get("decided") is True
            else "следует причинно"
        )
    else:
        verdict = "причинная связь не установлена"
    return Latex(rf"{name}: {numbers}, {verdict}")


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
    slopes = join([_slope_phrase(summary, kind, best[kind]) for kind in kinds], sep="; ")
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
        rf"естественной речи, следует за ним с наклоном: "
        rf"{slopes}.{drift}"
    )


def _clauses(parts: list[Latex]) -> Latex:
    return join(parts, sep="; ", last="; ")


def studied_models(summary: Summary) -> dict[str, Any]:
    """The models the text discusses one by one (the controls enter through their model's
    control sentence and the tables)."""
    return {name: summary["models"][name] for name in summary["studied_models"]}


def build_claims(summary: Summary) -> dict[str, Any]:
    """Every claim sentence the templates print, keyed by what it is about."""
    studied = studied_models(summary)
    per_target = {}
    for target in summary["run"]["targets"]:
        controls = [control_sentence(summary, n, m, target) for n, m in studied.items()]
        layers = [layer_sentence(summary, n, m["layers"][target]) for n, m in studied.items()]
        comparison = summary["comparisons"][target]
        per_target[target] = {
            "name": target_name(target),
            "layers": _clauses(layers),
            "controls": _clauses([c for c in controls if c is not None]),
            "comparison": comparison_sentence(summary, comparison),
            "embedding_comparison": embedding_comparison_sentence(summary, comparison),
        }
    primary = primary_target(summary)
    leader = summary["comparisons"][primary]["best_model"] or next(iter(studied))
    return {
        "corpus": corpus_statement(summary),
        "corpus_short": corpus_short(summary),
        "bad_input": bad_input_sentence(summary),
        "headline": headline(summary),
        "leader_layers": layer_sentence(summary, leader, studied[leader]["layers"][primary]),
        "leader_control": control_sentence(summary, leader, studied[leader], primary),
        "primary_target": primary,
        "targets": per_target,
        "sanity": sanity_sentence(summary),
        "health": health_sentence(summary),
        "speaker_parts": speaker_parts_sentence(summary),
        "erasure": erasure_sentence(summary),
        "interventions": interventions_sentence(summary),
        "cca": cca_summary(studied),
        "classification": classification_summary(studied),
    }
