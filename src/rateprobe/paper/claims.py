"""The paper's claims, phrased in Russian from the decisions recorded in summary.json.

The probing stage decides every claim from the numbers (booleans, or null when the intervals
overlap); this module only turns those decisions into sentences, with the numbers behind them.
Templates print these sentences and never decide a claim themselves, so the text follows the
results whatever they are.
"""

from __future__ import annotations

from typing import Any

from rateprobe.paper.latex import Latex, escape, interval, join, number, sentence

TARGET_NAMES = {
    "cps": "темп речи (CPS)",
    "articulation_rate": "темп артикуляции",
}
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
    return "cps" if "cps" in targets else targets[0]


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
    return Latex(f"Все результаты получены на корпусе {escape(kind)}.")


def corpus_short(summary: Summary) -> Latex:
    if summary["run"].get("synthetic_speech"):
        return Latex(
            "Демонстрационный прогон выполнен на синтетической речи (espeak-ng), поэтому его "
            "числа иллюстрируют метод, а не свойства живой речи."
        )
    if summary["run"]["corpus_kind"] == "librispeech":
        return Latex("Эксперименты проведены на корпусе LibriSpeech.")
    return Latex(f"Эксперименты проведены на корпусе {escape(summary['run']['corpus_kind'])}.")


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


def layer_sentence(name: str, layers: dict[str, Any]) -> Latex:
    """The best tap of a model and whether it beats the final embedding."""
    best, deepest = layers["best"], layers["deepest"]
    if best["tap"] == deepest["tap"]:
        return Latex(
            rf"у {model_ref(name)} больше всего информации о темпе несёт сам "
            rf"финальный эмбеддинг ({r2_with_ci(deepest)})"
        )
    depth = best.get("relative_depth")
    where = "самый ранний отвод" if depth == 0 else f"глубина {number(depth)}"
    head = (
        rf"у {model_ref(name)} лучший слой \texttt{{{escape(best['tap'])}}} ({where}; "
        rf"{r2_with_ci(best)}) "
    )
    decided = layers.get("middle_beats_deepest")
    if decided is True:
        verdict = rf"надёжно превосходит финальный эмбеддинг ({r2_with_ci(deepest)})"
    elif decided is False:
        verdict = rf"не превосходит финальный эмбеддинг ({r2_with_ci(deepest)})"
    else:
        verdict = (
            rf"превосходит финальный эмбеддинг ({r2_with_ci(deepest)}) лишь по точечной "
            "оценке: интервалы перекрываются"
        )
    return Latex(head + verdict)


def control_sentence(name: str, model: dict[str, Any], target: str) -> Latex | None:
    """Trained model versus its random-initialised twin; None when it has no twin."""
    control = model.get("control")
    if control is None:
        return None
    layers = model["layers"][target]
    decided = layers.get("beats_control")
    control_r2 = layers.get("control_best_r2")
    twin_r2 = rf" (лучший $R^2$ {number(control_r2)})" if control_r2 is not None else ""
    twin = rf"случайного двойника {model_ref(control)}{twin_r2}"
    if decided is True:
        return Latex(
            rf"{model_ref(name)} превосходит {twin}: обучение добавляет информацию о темпе"
        )
    if decided is False:
        return Latex(
            rf"{model_ref(name)} не превосходит {twin}: обучение не добавляет информации о темпе"
        )
    return Latex(rf"различие между {model_ref(name)} и {twin} не установлено")


def comparison_sentence(comparison: dict[str, Any]) -> Latex:
    ranking = [model_ref(m) for m in comparison["ranking"]]
    best = model_ref(comparison["best_model"])
    order = Latex(" $>$ ".join(ranking))
    if len(ranking) < 2:
        return Latex(rf"Сравнивать не с чем: исследована одна модель, {best}.")
    if comparison.get("best_model_clearly_best") is True:
        head = (
            rf"По лучшему слою {best} однозначно лидирует: её интервал лежит выше интервалов "
            rf"всех остальных моделей (порядок по $R^2$: {order})."
        )
    else:
        head = (
            rf"По точечным оценкам $R^2$ лучшего слоя порядок таков: {order}; однако интервал "
            rf"лидера ({best}) перекрывается с интервалами других моделей, и однозначного "
            "лидера нет."
        )
    pair_phrases = [_pair_phrase(pair) for pair in comparison.get("pairs", [])]
    if not pair_phrases:
        return Latex(head)
    return Latex(head + " Попарно: " + "; ".join(pair_phrases) + ".")


def embedding_comparison_sentence(comparison: dict[str, Any]) -> Latex | None:
    """The ranking on the final embeddings (its pairs are left to the table)."""
    by_embedding = comparison.get("embedding")
    if not by_embedding or len(by_embedding["ranking"]) < 2:
        return None
    order = Latex(" $>$ ".join(model_ref(m) for m in by_embedding["ranking"]))
    leader = model_ref(by_embedding["best_model"])
    if by_embedding.get("best_model_clearly_best") is True:
        return Latex(rf"На финальном эмбеддинге однозначно лидирует {leader} (порядок: {order}).")
    return Latex(
        rf"На финальном эмбеддинге порядок по точечным оценкам таков: {order}; однозначного "
        "лидера нет."
    )


def _pair_phrase(pair: dict[str, Any]) -> str:
    a, b = model_ref(pair["a"]), model_ref(pair["b"])
    delta = rf"$\Delta R^2 = {{}}${number(pair['delta_r2'])} {interval(pair.get('delta_r2_ci'))}"
    if pair.get("a_better") is True:
        return rf"{a} лучше {b}, {delta}"
    if pair.get("a_better") is False:
        return rf"{b} лучше {a}, {delta}"
    return rf"{a} и {b} неразличимы, {delta}"


def sanity_sentence(summary: Summary) -> Latex:
    """The broken-checkpoint warning, or the confirmation that pretrained models work."""
    broken = summary["sanity"]["broken_pretrained_models"]
    if broken:
        return Latex(
            r"\textbf{Предупреждение:} у предобученных моделей "
            rf"{join([model_ref(m) for m in broken])} EER не ниже, чем у их случайно "
            "инициализированных двойников. Вероятно, чекпойнт повреждён или загружен неверно; "
            "выводы об этих моделях ненадёжны."
        )
    checked = [
        name
        for name, model in summary["models"].items()
        if model.get("pretrained") and model.get("beats_control_eer") is True
    ]
    if not checked:
        return Latex(
            "Проверить предобученные модели сравнением со случайными двойниками не удалось."
        )
    return Latex(
        rf"Предобученные модели ({join([model_ref(m) for m in checked])}) различают дикторов "
        "надёжно лучше своих случайных двойников: веса загружены корректно."
    )


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
    """Which models' embeddings predict each classification target above chance."""
    tasks: dict[str, dict[str, list[Latex]]] = {}
    for name, model in models.items():
        for task, result in (model.get("classification") or {}).items():
            if not isinstance(result, dict) or result.get("macro_f1") is None:
                continue
            ci = result.get("macro_f1_ci")
            above = ci is not None and ci[0] > result["chance_macro_f1"]
            verdicts = tasks.setdefault(task, {"above": [], "not": []})
            verdicts["above" if above else "not"].append(model_ref(name))
    if not tasks:
        return None
    phrases = []
    for task, verdicts in tasks.items():
        task_name = CLASSIFICATION_NAMES.get(task, escape(task))
        parts = []
        if verdicts["above"]:
            parts.append(rf"выше случайного уровня у {join(verdicts['above'])}")
        if verdicts["not"]:
            parts.append(rf"не отличается от случайного у {join(verdicts['not'])}")
        phrases.append(rf"{task_name} предсказывается " + ", а ".join(parts))
    return Latex("; ".join(phrases))


def _leader_qualifier(comparison: dict[str, Any]) -> str:
    if comparison.get("best_model_clearly_best") is True:
        return "интервал выше, чем у остальных моделей"
    return "лишь по точечной оценке: интервалы перекрываются"


def headline(summary: Summary) -> Latex:
    """The key result for the abstract: the leaders on the final embedding and on any layer."""
    target = primary_target(summary)
    by_tap = summary["comparisons"][target]
    tap_leader = by_tap["best_model"]
    best = summary["models"][tap_leader]["layers"][target]["best"]
    on_layers = (
        rf"по лучшему слою лидирует {model_ref(tap_leader)}: "
        rf"\texttt{{{escape(best['tap'])}}}, {r2_with_ci(best)} ({_leader_qualifier(by_tap)})"
    )
    by_embedding = by_tap.get("embedding")
    if not by_embedding:
        return sentence(Latex(on_layers))
    emb_leader = by_embedding["best_model"]
    embedding = summary["models"][emb_leader]["embedding"][target]
    on_embedding = (
        rf"лучше всех {target_name(target)} из финального эмбеддинга восстанавливает "
        rf"{model_ref(emb_leader)} (проба {escape(embedding['best_probe'])}, "
        rf"{r2_with_ci(embedding)}; {_leader_qualifier(by_embedding)})"
    )
    return sentence(Latex(f"{on_embedding}; {on_layers}"))


def _clauses(parts: list[Latex]) -> Latex:
    return join(parts, sep="; ", last="; ")


def build_claims(summary: Summary) -> dict[str, Any]:
    """Every claim sentence the templates print, keyed by what it is about."""
    models = summary["models"]
    per_target = {}
    for target in summary["run"]["targets"]:
        controls = [control_sentence(n, m, target) for n, m in models.items()]
        per_target[target] = {
            "name": target_name(target),
            "layers": _clauses([layer_sentence(n, m["layers"][target]) for n, m in models.items()]),
            "controls": _clauses([c for c in controls if c is not None]),
            "comparison": comparison_sentence(summary["comparisons"][target]),
            "embedding_comparison": embedding_comparison_sentence(summary["comparisons"][target]),
        }
    primary = primary_target(summary)
    leader = summary["comparisons"][primary]["best_model"]
    return {
        "corpus": corpus_statement(summary),
        "corpus_short": corpus_short(summary),
        "bad_input": bad_input_sentence(summary),
        "headline": headline(summary),
        "leader_layers": layer_sentence(leader, models[leader]["layers"][primary]),
        "leader_control": control_sentence(leader, models[leader], primary),
        "primary_target": primary,
        "targets": per_target,
        "sanity": sanity_sentence(summary),
        "cca": cca_summary(models),
        "classification": classification_summary(models),
    }
