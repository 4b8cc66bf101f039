"""The prose of the run's own checks: which probe fits failed, and whether the pretrained
weights were loaded right (verification EER against the random copies and the published EER).
"""

from __future__ import annotations

from rateprobe.paper.glossary import plural
from rateprobe.paper.latex import Latex, escape, join, number, percent, percent_interval
from rateprobe.paper.prose.estimates import decidable, too_few_speakers
from rateprobe.paper.prose.vocabulary import model_ref, tap_ref
from rateprobe.results.contract import FailedFit, Run, Sanity, SanityEdgeChoice
from rateprobe.results.model_entry import ModelEntry, ReferenceEer

EER_MISSING_REASONS = {
    "no test speaker has two utterances": "ни у одного тестового диктора нет двух высказываний",
    "the test split has a single speaker": "в тестовой выборке один диктор",
}

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
# Failed fits listed by name; the rest are counted.
LISTED_FAILED_FITS = 6


def sanity_warning(sanity: Sanity) -> Latex | None:
    """The body's warning when a pretrained model tells speakers apart worse than its random
    copies (the appendix holds the rest of the loading check)."""
    broken = sanity.broken_pretrained_models
    if not broken:
        return None
    return Latex(
        r"\textbf{Предупреждение:} у предобученных моделей "
        rf"{join([model_ref(m) for m in broken])} EER значимо выше, чем у их случайно "
        "инициализированных копий. Вероятно, чекпойнт повреждён или загружен неверно; "
        "выводы об этих моделях ненадёжны."
    )


def sanity_sentence(sanity: Sanity, models: dict[str, ModelEntry], run: Run) -> Latex:
    """Whether the pretrained models tell speakers apart better than their random copies (the
    loading check, its own Holm family), and whether their EER is plausible."""
    unconfirmed = sanity.unconfirmed_pretrained_models
    warning = sanity_warning(sanity)
    parts: list[str] = [warning] if warning else []
    if unconfirmed:
        why = (
            too_few_speakers(run.claims)
            if not decidable(run.claims)
            else Latex("разность EER с копиями не установлена")
        )
        parts.append(
            rf"Что предобученные модели {join([model_ref(m) for m in unconfirmed])} различают "
            rf"дикторов лучше случайно инициализированных копий, не подтверждено ({why})."
        )
    for name in sanity.implausible_eer_models:
        parts.append(
            implausible_eer_sentence(
                name, models[name], sanity.implausible_eer_factor, run.synthetic_speech
            )
        )
    checked = [
        name
        for name, model in models.items()
        if model.pretrained and model.beats_controls_eer is True
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


def published_eer(name: str, model: ModelEntry) -> ReferenceEer:
    """The published EER a model failed the plausibility check against."""
    if model.reference_eer is None:
        raise ValueError(f"the summary finds the EER of {name} implausible, but has no reference")
    return model.reference_eer


def implausible_eer_sentence(
    name: str, model: ModelEntry, factor: float, synthetic_speech: bool
) -> Latex:
    """A failed plausibility check: the EER more than `factor` times the published one."""
    reference = published_eer(name, model)
    check = "выводы об этой модели требуют проверки её весов и фронтенда."
    domain = (
        f" На синтетической речи часть разрыва может быть сдвигом домена, но {check}"
        if synthetic_speech
        else f" {check[0].upper()}{check[1:]}"
    )
    return Latex(
        rf"EER {model_ref(name)} ({percent(model.eer)}, "
        rf"{percent_interval(model.eer_ci)}~\%) более чем в "
        rf"{number(factor, 0)} раз выше опубликованного "
        rf"{percent(reference.eer)} ({escape(reference.source)}).{domain}"
    )


def verification_available(studied: dict[str, ModelEntry]) -> bool:
    """Whether any studied model has a test EER (speakers with two utterances exist)."""
    return any(model.eer is not None for model in studied.values())


def eer_missing_reason(studied: dict[str, ModelEntry]) -> Latex:
    """Why no EER was computed, in Russian (the summary records it in English)."""
    reason = next(iter(studied.values())).eer_reason
    if reason not in EER_MISSING_REASONS:
        return Latex("EER не вычисляется")
    return Latex(EER_MISSING_REASONS[reason])


def _failed_fits_sentence(failed: list[FailedFit], edges: list[SanityEdgeChoice]) -> str:
    """How many probe fits failed, the first of them by name, and how many of them are a
    ridge penalty left at the edge of its widened grid."""
    if not failed:
        return r"Неудачных подгонок (разд.~\ref{sec:method}) нет."
    listed = join(
        [
            Latex(rf"{model_ref(f.model)}/{tap_ref(f.tap)}/{escape(f.probe)}")
            for f in failed[:LISTED_FAILED_FITS]
        ]
    )
    more = (
        rf" и ещё {number(len(failed) - LISTED_FAILED_FITS)}"
        if len(failed) > LISTED_FAILED_FITS
        else ""
    )
    unresolved = sum(e.alpha_limit is None for e in edges)
    at_edge = (
        rf" (из них {number(unresolved)} --- коэффициент гребневой регрессии на краю сетки "
        "и после её расширения)"
        if unresolved
        else ""
    )
    return (
        rf"Неудачных подгонок (разд.~\ref{{sec:method}}) {number(len(failed))}{at_edge}: "
        rf"{listed}{more}; они не ранжируются и не входят в выводы."
    )


def health_sentence(sanity: Sanity) -> Latex:
    """Which probe fits failed numerically (a ridge penalty left at an end of its widened grid
    is one of them), and where ridge's cross-validation chose to predict the mean."""
    edges = sanity.ridge_alpha_at_edge
    text = _failed_fits_sentence(sanity.failed_fits, edges)
    limits = []
    for limit, chosen in LIMIT_PHRASES.items():
        n = sum(e.alpha_limit == limit for e in edges)
        if n:
            fits = f"{number(n)} {plural(n, 'подгонке', 'подгонках', 'подгонках')}"
            limits.append(chosen.format(fits=fits))
    if limits:
        text += rf" Перекрёстная проверка гребневой регрессии выбрала {join(limits)}."
    return Latex(text)
