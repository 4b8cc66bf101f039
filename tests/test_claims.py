"""The paper's sentences say what the decisions say: one test per sentence that used to
overstate (a damaged checkpoint from an undecided EER, a layer "exceeding" the embedding by a
negative point estimate, a dev argmax read as "most information", comparisons on too few
speakers, failed fits and grid-edge alphas left unsaid)."""

from __future__ import annotations

import copy
from typing import Any

from paper_support import load_fixture, typed

from rateprobe.paper.glossary import speakers_phrase
from rateprobe.paper.prose import build_claims
from rateprobe.paper.prose.experiments import (
    beyond_duration_clause,
    control_sentence,
    layer_sentence,
)
from rateprobe.paper.prose.methodology import corpus_short, corpus_statement
from rateprobe.results.contract import ClaimSettings, Run
from rateprobe.results.model_entry import BestTap, Layers, ModelEntry

PRIMARY = "cps"


def studied(summary: dict[str, Any]) -> str:
    return summary["studied_models"][0]


def claim_settings(summary: dict[str, Any]) -> ClaimSettings:
    return ClaimSettings.model_validate(summary["run"]["claims"])


def undecided(delta: float) -> dict[str, Any]:
    """A descriptive comparison (best layer against the embedding) as the summary records it."""
    return {"family": "descriptive", "delta": delta, "delta_ci": [delta - 0.1, delta + 0.1],
            "p_value": 0.3, "p_holm": 0.9, "decided": None}  # fmt: skip


def test_an_undecided_eer_comparison_is_not_called_a_damaged_checkpoint() -> None:
    summary = load_fixture()
    name = studied(summary)
    summary["sanity"].update(broken_pretrained_models=[], unconfirmed_pretrained_models=[name])
    summary["models"][name]["beats_controls_eer"] = None
    text = build_claims(typed(summary))["sanity"]
    assert "не подтверждено" in text
    assert "повреждён" not in text and "Предупреждение" not in text
    summary["sanity"].update(broken_pretrained_models=[name], unconfirmed_pretrained_models=[])
    summary["models"][name]["beats_controls_eer"] = False
    assert "повреждён" in build_claims(typed(summary))["sanity"]


def test_best_layer_against_the_embedding_is_an_estimate_without_a_verdict() -> None:
    summary = load_fixture()
    layers = copy.deepcopy(summary["models"][studied(summary)]["layers"][PRIMARY])
    layers["best"]["tap"] = "layer2.0"
    for delta in (-0.05, 0.05):
        layers["best_minus_deepest"] = undecided(delta)
        text = layer_sentence(
            claim_settings(summary), studied(summary), Layers.model_validate(layers)
        )
        assert "превосходит" not in text and "уступает" not in text
        assert r"(разность $\Delta R^2 = {}$" in text
        assert "Holm" not in text.split("разность")[1].split(";")[0]


def test_a_dev_argmax_at_the_embedding_is_not_most_information() -> None:
    summary = load_fixture()
    layers = copy.deepcopy(summary["models"][studied(summary)]["layers"][PRIMARY])
    layers["best"] = dict(layers["best"], **layers["deepest"], index=len(layers["per_tap"]) - 1)
    layers["best_minus_deepest"] = None
    text = layer_sentence(claim_settings(summary), studied(summary), Layers.model_validate(layers))
    assert "больше всего" not in text and "превосходит" not in text
    assert "лучшим по валидационной выборке оказался сам финальный эмбеддинг" in text


def test_the_embedding_as_best_tap_states_its_test_beyond_duration() -> None:
    summary = load_fixture()
    layers = copy.deepcopy(summary["models"][studied(summary)]["layers"][PRIMARY])
    layers["best"] = dict(layers["best"], **layers["deepest"], index=len(layers["per_tap"]) - 1)
    layers["best"]["beyond_duration"] = {"family": "primary", "delta": 0.04,
                                         "delta_ci": [0.01, 0.07], "p_value": 0.0002,
                                         "p_holm": 0.001, "decided": True}  # fmt: skip
    text = layer_sentence(claim_settings(summary), studied(summary), Layers.model_validate(layers))
    assert "оказался сам финальный эмбеддинг" in text
    assert "; сверх обеих длительностей он добавляет" in text


def test_a_tested_claim_prints_its_holm_p_and_says_why_it_is_undecided() -> None:
    summary = load_fixture()
    name = studied(summary)
    best = summary["models"][name]["layers"][PRIMARY]["best"]
    best["beyond_duration"] = {"family": "primary", "delta": 0.04, "delta_ci": [0.01, 0.07],
                               "p_value": 0.02, "p_holm": 0.08, "decided": None}  # fmt: skip
    text = beyond_duration_clause(claim_settings(summary), BestTap.model_validate(best)) or ""
    assert r"[0,01; 0,07], $p_{\mathrm{Holm}} = {}$0,08" in text
    assert "не установлен: поправка Холма на" in text
    best["beyond_duration"].update(p_holm=0.004, decided=True)
    text = beyond_duration_clause(claim_settings(summary), BestTap.model_validate(best)) or ""
    assert "сверх обеих длительностей он добавляет" in text
    assert r"$p_{\mathrm{Holm}} = {}$0,004" in text


def test_training_against_random_copies_needs_every_copy() -> None:
    summary = load_fixture()
    name = next(n for n in summary["studied_models"] if summary["models"][n]["controls"])
    model = summary["models"][name]
    model["layers"][PRIMARY]["beats_every_control"] = None
    text = control_sentence(
        claim_settings(summary), name, ModelEntry.model_validate(model), PRIMARY
    )
    assert text is not None
    assert "нельзя" in text and "превосходит" not in text


def blocked(node: Any, reason: str) -> None:
    """Every decision record undecided for `reason` and without an adjusted p, as the summary
    writes them then (rateprobe.decisions.decide)."""
    if isinstance(node, dict):
        if "decided" in node:
            node.update(decided=None, decided_reason=reason, p_holm=None)
        for value in node.values():
            blocked(value, reason)
    elif isinstance(node, list):
        for value in node:
            blocked(value, reason)


def test_too_few_test_speakers_replace_every_comparison() -> None:
    summary = load_fixture()
    summary["run"]["claims"].update(decidable=False, n_test_speakers=8, min_test_speakers=20)
    blocked(summary, "8 test speakers, fewer than probes.min_test_speakers = 20")
    for name in summary["studied_models"]:
        summary["models"][name]["beats_controls_eer"] = None
    claims = build_claims(typed(summary))
    comparison, headline = claims["targets"][PRIMARY]["comparison"], claims["headline"]
    assert claims["targets"][PRIMARY]["embedding_comparison"] is None
    assert "не сравниваются и не ранжируются" in comparison
    assert "Это точечные оценки" in headline
    # No point estimate reads as a winner.
    for ranking in ("точнее всех", "первая", " $>$ "):
        assert ranking not in headline and ranking not in comparison
    for text in (comparison, headline):
        assert "8 тестовых дикторов --- меньше порога 20" in text
        assert "значимо" not in text
    # An untested run prints no Holm-adjusted p.
    controls = claims["targets"][PRIMARY]["controls"]
    assert "лишь по точечным оценкам" in controls
    for text in (controls, claims["targets"][PRIMARY]["layers"]):
        assert "Holm" not in text


def test_failed_fits_and_alphas_at_the_grid_edge_are_reported() -> None:
    summary = load_fixture()
    name = studied(summary)
    summary["sanity"]["failed_fits"] = [
        {"model": name, "target": PRIMARY, "tap": "lstm1", "probe": "mlp", "reason": "x"}
    ]
    summary["sanity"]["ridge_alpha_at_edge"] = [
        {"model": name, "target": PRIMARY, "tap": "lstm1", "probe": "ridge", "edge": "high",
         "alpha": 1e7, "alpha_limit": None},
        {"model": name, "target": PRIMARY, "tap": "lstm2", "probe": "ridge", "edge": "high",
         "alpha": 1e7, "alpha_limit": "mean"},
        {"model": name, "target": PRIMARY, "tap": "lstm3", "probe": "ridge", "edge": "low",
         "alpha": 1e-2, "alpha_limit": "least squares"},
        {"model": name, "target": PRIMARY, "tap": "lstm3", "probe": "conditional", "edge": "low",
         "alpha": 1e-2, "alpha_limit": "least squares"},
    ]  # fmt: skip
    text = build_claims(typed(summary))["health"]
    assert r"Неудачных подгонок (разд.~\ref{sec:method}) 1 (из них 1 --- коэффициент" in text
    assert r"\model{" + name + r"}/\texttt{lstm1}/mlp" in text
    assert "Перекрёстная проверка гребневой регрессии выбрала сильнейшую регуляризацию в 1 " in text
    assert "и слабейшую в 2 подгонках (решение методом наименьших квадратов" in text
    summary["sanity"].update(failed_fits=[], ridge_alpha_at_edge=[])
    text = build_claims(typed(summary))["health"]
    assert "Неудачных подгонок" in text and text.endswith("нет.") and "краю" not in text


def test_a_random_leader_is_named_as_random() -> None:
    summary = load_fixture()
    comparison = summary["comparisons"][PRIMARY]
    random_models = [n for n in comparison["ranking"] if not summary["models"][n]["pretrained"]]
    assert random_models, "the fixture should hold a random-initialised studied model"
    comparison["embedding"]["best_model"] = random_models[0]
    assert "(случайные веса)" in build_claims(typed(summary))["headline"]


def test_interventions_are_stated_as_estimates() -> None:
    summary = load_fixture()
    assert summary["interventions"] is not None, "the fixture should hold the interventions"
    text = build_claims(typed(summary))["interventions"]
    leader = summary["comparisons"][PRIMARY]["best_model"]
    slopes = summary["interventions"]["models"][leader]["slopes"]["best"]
    for kind in ("rate", "pause"):
        slope = slopes[kind]
        assert f"{slope['value']:.2f}".replace(".", ",") in text
    # Slopes are not among the study's tested questions: no verdict, however narrow.
    assert "причинн" not in text and "(1 --- полностью, 0 --- никак)" in text
    assert "исходных записях" in text  # the fixture's corpus is synthetic, not natural speech
    summary["interventions"] = None
    assert build_claims(typed(summary))["interventions"] is None


def test_russian_numerals_agree() -> None:
    assert [f"{n} {speakers_phrase(n)}" for n in (1, 3, 8, 11, 21, 24, 112)] == [
        "1 тестовый диктор", "3 тестовых диктора", "8 тестовых дикторов",
        "11 тестовых дикторов", "21 тестовый диктор", "24 тестовых диктора",
        "112 тестовых дикторов",
    ]  # fmt: skip


def test_a_table_corpus_is_named_and_described_by_its_config_not_as_librispeech() -> None:
    summary = load_fixture()
    summary["run"].update(
        corpus_kind="table",
        synthetic_speech=False,
        corpus_name="RuReads_2",
        corpus_description="записи чтения русских текстов, 16 кГц",
    )
    run = Run.model_validate(summary["run"])
    statement, short = str(corpus_statement(run)), str(corpus_short(run))
    assert statement == (
        r"Все результаты получены на корпусе RuReads\_2. "
        "Записи чтения русских текстов, 16 кГц."
    )
    assert short == r"Эксперименты проведены на корпусе RuReads\_2."
    run = run.model_copy(update={"corpus_description": None})
    assert str(corpus_statement(run)) == r"Все результаты получены на корпусе RuReads\_2."
    run = run.model_copy(update={"corpus_kind": "librispeech", "corpus_name": None})
    assert "LibriSpeech~\\cite{librispeech}" in str(corpus_statement(run))
