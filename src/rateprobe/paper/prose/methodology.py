"""The prose of the method: the corpus the results come from, the studied architectures and
how each computes its embedding (the introduction and the abstract name the corpus and the
architectures too)."""

from __future__ import annotations

from rateprobe.paper.latex import Latex, escape, join, number, sentence
from rateprobe.paper.prose.vocabulary import arch_name, cited_arch
from rateprobe.results.contract import BadInput, Run
from rateprobe.results.model_entry import EmbeddingMethod, ModelEntry

SYNTHETIC_CORPUS = (
    "Все результаты получены на \\emph{синтетическом} корпусе: английские предложения, "
    "составленные генератором по образцу прозы аудиокниг, озвучены движком "
    "espeak-ng~\\cite{espeakng} разными голосами, с заданным для каждого высказывания "
    "темпом. Это демонстрационный прогон конвейера; выводы о живой речи из него делать "
    "нельзя."
)
SYNTHETIC_CORPUS_SHORT = (
    "Демонстрационный прогон выполнен на синтетической речи (espeak-ng), поэтому его "
    "числа иллюстрируют метод, а не свойства живой речи."
)


def corpus_statement(run: Run) -> Latex:
    """Where every result comes from; a synthetic corpus is said to prove nothing about speech."""
    if run.synthetic_speech:
        return Latex(SYNTHETIC_CORPUS)
    if run.corpus_kind == "librispeech":
        return Latex(
            "Все результаты получены на записях чтения корпуса LibriSpeech~\\cite{librispeech}."
        )
    statement = Latex(f"Все результаты получены на корпусе {corpus_name(run)}.")
    description = run.corpus_description
    return Latex(f"{statement} {sentence(escape(description))}") if description else statement


def corpus_name(run: Run) -> Latex:
    """The name of a corpus the configuration names (a table), else its kind."""
    return escape(run.corpus_name or run.corpus_kind)


def corpus_short(run: Run) -> Latex:
    """The abstract's one sentence on the corpus."""
    if run.synthetic_speech:
        return Latex(SYNTHETIC_CORPUS_SHORT)
    if run.corpus_kind == "librispeech":
        return Latex("Эксперименты проведены на корпусе LibriSpeech.")
    return Latex(f"Эксперименты проведены на корпусе {corpus_name(run)}.")


def bad_input_sentence(bad_input: BadInput) -> Latex:
    """The files data preparation skipped (summary.json's `corpus.bad_input`), by problem."""
    skipped = bad_input.skipped_total
    if not skipped:
        return Latex("Повреждённых или непригодных файлов при подготовке данных не встретилось.")
    reasons = join(
        [rf"{escape(problem)}: {number(n)}" for problem, n in sorted(bad_input.by_problem.items())]
    )
    return Latex(
        rf"При подготовке данных пропущены непригодные файлы (всего {number(skipped)}; "
        rf"{reasons}); они исключены из всех выборок."
    )


def studied_architectures(studied: dict[str, ModelEntry]) -> Latex:
    """The studied models' architectures, each once and cited: `CAM++~\\cite{campplus} и ...`."""
    archs = dict.fromkeys(model.arch for model in studied.values())
    return join([cited_arch(arch) for arch in archs])


def embedding_method_phrase(method: EmbeddingMethod) -> Latex:
    """How an encoder family's embedding is computed, from the summary's record of it (its
    reference may name several implementations, separated by semicolons)."""
    reference = join(
        [Latex(rf"\texttt{{{escape(name)}}}") for name in method.reference.split("; ")]
    )
    if method.kind == "windowed_mean":
        return Latex(
            rf"L2-нормированное среднее эмбеддингов окон по {number(method.window_s, 1)}~с "
            rf"с шагом {number(method.step_s)}~с, как {reference}"
        )
    return Latex(rf"пулинг по всему высказыванию за один проход, как {reference}")


def embedding_methods(models: dict[str, ModelEntry]) -> Latex:
    """One clause per architecture: how its final embedding is computed."""
    phrases: dict[str, Latex] = {}
    for model in models.values():
        method = model.embedding_method
        if method and model.arch not in phrases:
            phrases[model.arch] = Latex(
                rf"{arch_name(model.arch)} --- {embedding_method_phrase(method)}"
            )
    return join(list(phrases.values()), sep="; ", last="; ")
