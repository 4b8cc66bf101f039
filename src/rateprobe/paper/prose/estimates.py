"""How the paper states an estimate and a tested claim: R² and ΔR² with their intervals, the
Holm-adjusted p, and why a comparison stays undecided.

`testing` is the run's record of its tests (summary.json's `run.claims`): whether the test set
is large enough to test anything (`decidable`), its speakers and the size of the Holm family.
"""

from __future__ import annotations

from rateprobe.conventions import headline_target
from rateprobe.decisions import DESCRIPTIVE
from rateprobe.paper.glossary import plural, speakers_phrase
from rateprobe.paper.latex import Latex, compact, integer, interval, join, number
from rateprobe.results.contract import ClaimSettings, Run, Summary
from rateprobe.results.model_entry import ModelEntry
from rateprobe.results.records import Decision, RegressionMetrics, Target


def primary_target(run: Run) -> Target:
    """The target the abstract and conclusion lead with: CPS when studied, else the first."""
    headline = headline_target(list(run.targets))
    return next(target for target in run.targets if target == headline)


def studied_models(summary: Summary) -> dict[str, ModelEntry]:
    """The models the text discusses one by one (the controls enter through their model's
    control sentence and the tables)."""
    return {name: summary.models[name] for name in summary.studied_models}


def r2_with_ci(entry: RegressionMetrics) -> Latex:
    """`$R^2 = 0,41$ [0,33; 0,48]`; a null R² is stated as not computable."""
    if entry.r2 is None:
        return Latex(r"$R^2$ не вычисляется")
    return Latex(rf"$R^2 = {{}}${number(entry.r2)} {interval(entry.r2_ci)}")


def tested(decision: Decision | None) -> bool:
    """Whether a decision belongs to a corrected family (a claim the paper tests)."""
    return decision is not None and decision.family != DESCRIPTIVE


def p_holm(decision: Decision) -> Latex:
    r"""`$p_{\mathrm{Holm}} = 0,003$` of a tested claim."""
    return Latex(rf"$p_{{\mathrm{{Holm}}}} = {{}}${compact(decision.p_holm)}")


def delta_r2(decision: Decision | None) -> Latex:
    r"""`$\Delta R^2 = 0,12$ [0,05; 0,19]` of a paired comparison, with the Holm-adjusted p of
    a tested claim beside its interval (a run too small to test has none)."""
    if decision is None or decision.delta is None:
        return Latex(r"$\Delta R^2$ не вычисляется")
    text = rf"$\Delta R^2 = {{}}${number(decision.delta)} {interval(decision.delta_ci)}"
    if tested(decision) and decision.p_holm is not None:
        text += rf", {p_holm(decision)}"
    return Latex(text)


def decidable(testing: ClaimSettings) -> bool:
    return testing.decidable


def too_few_speakers(testing: ClaimSettings) -> Latex:
    """Why no comparison is decided: too few test speakers for the bootstrap to hold."""
    n = testing.n_test_speakers
    return Latex(
        rf"{integer(n)} {speakers_phrase(n)} --- меньше порога "
        rf"{integer(testing.min_test_speakers)}, при котором бутстреп-интервалы по дикторам "
        "сохраняют заявленное покрытие"
    )


def count_of(n: int, one: str, few: str, many: str) -> Latex:
    """`5 утверждений`: a count with its noun in the agreeing form."""
    return Latex(f"{integer(n)} {plural(n, one, few, many)}")


def undecided_why(testing: ClaimSettings) -> Latex:
    """Why a tested claim with an interval off zero may still be undecided."""
    claims = count_of(
        testing.family_size,
        "проверяемое утверждение",
        "проверяемых утверждения",
        "проверяемых утверждений",
    )
    return Latex(rf"поправка Холма на {claims}")


def clauses(parts: list[Latex]) -> Latex:
    """Clauses of one sentence, joined by semicolons."""
    return join(parts, sep="; ", last="; ")
