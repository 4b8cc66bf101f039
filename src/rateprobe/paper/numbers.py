"""Every number the paper prints as a LaTeX macro, and every claim as a build-time assertion.

A person writing their own prose around the generated paper (on Overleaf, say) cites the
numbers through these macros, so the prose follows the results the way the generated text does.
The render tracks where each printed number comes from: `track` tags the summary's numbers with
their key path, and the formatters of rateprobe.paper.latex report what they printed, so a macro
prints exactly the text the paper prints, and only numbers the paper prints get one.

Macro names (TeX names hold letters only): `\\rp` followed by each key of the path in summary.json,
split into words at underscores and other non-letters, each word capitalised, and each digit
spelled out in English. `models.resemblyzer.embedding.cps.r2_ci` becomes
`\\rpModelsResemblyzerEmbeddingCpsRTwoCi`; list positions are digits too (`...LayersThree...`),
and the length of a list the paper counts is keyed `<list>.length` (`...TapsLength`).
A value the paper prints in two forms (a fraction as `0,04` and as `4,0 %`) gets one macro per
form, suffixed with the formatter's name (`...EerPct`, `...EerNum`).

Claims: every decision record in summary.json (a `Decision` of rateprobe.results.records, see
docs/summary.md) is a claim named by its dotted key path.
`\\rpAssertClaim{models.resemblyzer.layers.cps.best_minus_deepest}` prints nothing while the
results decide the claim true and stops the build naming the claim otherwise;
`\\rpAssertClaim[false]{...}` or `[undecided]` expects the other outcomes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from rateprobe.paper.latex import Latex
from rateprobe.results.contract import Summary
from rateprobe.results.records import Decision

KeyPath = tuple[str | int, ...]
DIGIT_WORDS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
MACRO_PREFIX = "rp"
DECISION_WORDS = {True: "true", False: "false", None: "undecided"}
_WORD = re.compile(r"[A-Za-z]+|[0-9]")


class TrackedFloat(float):
    """A float of summary.json that knows its key path."""

    summary_path: KeyPath


class TrackedInt(int):
    """An int of summary.json that knows its key path."""

    summary_path: KeyPath


class TrackedList(list[Any]):
    """A list of summary.json (a grid, the taps) that knows its key path."""

    summary_path: KeyPath


class TrackedTuple(tuple[Any, ...]):
    """An interval of summary.json that knows its key path."""

    summary_path: KeyPath


def _tagged(value: TrackedFloat | TrackedInt | TrackedList | TrackedTuple, path: KeyPath) -> Any:
    value.summary_path = path
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fields(record: BaseModel) -> dict[str, Any]:
    """A summary record's fields by name: the keys summary.json holds them under."""
    return {name: getattr(record, name) for name in type(record).model_fields}


def track(value: Any, path: KeyPath = ()) -> Any:
    """A copy of a summary (or of any part of it) whose numbers and number lists carry their
    key paths; records are copied without validation, which would drop the tags."""
    if isinstance(value, BaseModel):
        fields = {name: track(item, (*path, name)) for name, item in _fields(value).items()}
        return type(value).model_construct(value.model_fields_set, **fields)
    if isinstance(value, tuple):
        items = (track(item, (*path, index)) for index, item in enumerate(value))
        return _tagged(TrackedTuple(items), path)
    if isinstance(value, dict):
        return {key: track(item, (*path, key)) for key, item in value.items()}
    if isinstance(value, list):
        items = (track(item, (*path, index)) for index, item in enumerate(value))
        return _tagged(TrackedList(items), path)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return _tagged(TrackedInt(value), path)
    if isinstance(value, float):
        return _tagged(TrackedFloat(value), path)
    return value


def tracked_length(value: Any) -> int:
    """The `length` filter: the length of a summary list is a number of the summary too,
    keyed `<list>.length` (the paper prints how many taps or controls a model has)."""
    path = getattr(value, "summary_path", None)
    return len(value) if path is None else _tagged(TrackedInt(len(value)), (*path, "length"))


def dotted(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


def _words(text: str) -> str:
    return "".join(
        DIGIT_WORDS[int(word)] if word.isdigit() else word[:1].upper() + word[1:].lower()
        for word in _WORD.findall(text)
    )


def macro_name(path: KeyPath, form: str = "") -> str:
    """`("models", "resemblyzer", "embedding", "cps", "r2")` ->
    `rpModelsResemblyzerEmbeddingCpsRTwo`."""
    return MACRO_PREFIX + "".join(_words(str(part)) for part in path) + _words(form)


@dataclass(frozen=True)
class PrintedNumber:
    """One number as the paper prints it: its summary key path, formatter and text."""

    path: KeyPath
    formatter: str
    text: Latex


class PrintedNumbers:
    """A latex.Recorder collecting the numbers of summary.json a render prints."""

    def __init__(self) -> None:
        self.printed: dict[tuple[KeyPath, str], PrintedNumber] = {}
        self.untracked = 0  # numbers computed in code or templates, not read from the summary

    def record(self, formatter: str, value: Any, text: Latex) -> None:
        path = getattr(value, "summary_path", None)
        if path is None:
            self.untracked += 1
            return
        self.printed.setdefault((path, text), PrintedNumber(path, formatter, text))

    def macros(self) -> dict[str, PrintedNumber]:
        """Macro name -> printed number; fails naming the keys when two names collide."""
        forms: dict[KeyPath, list[PrintedNumber]] = defaultdict(list)
        for number in self.printed.values():
            forms[number.path].append(number)
        macros: dict[str, PrintedNumber] = {}
        for path, numbers in sorted(forms.items(), key=lambda item: dotted(item[0])):
            for number in numbers:
                name = macro_name(path, number.formatter if len(numbers) > 1 else "")
                if name in macros:
                    raise ValueError(
                        f"summary keys {dotted(macros[name].path)!r} ({macros[name].formatter}) "
                        f"and {dotted(path)!r} ({number.formatter}) both give the macro \\{name}"
                    )
                macros[name] = number
        return macros


def _decisions(node: Any, path: KeyPath) -> dict[str, bool | None]:
    found: dict[str, bool | None] = {}
    if isinstance(node, Decision):
        found[dotted(path)] = node.decided
    elif isinstance(node, BaseModel):
        for name, item in _fields(node).items():
            found.update(_decisions(item, (*path, name)))
    elif isinstance(node, dict):
        for key, item in node.items():
            found.update(_decisions(item, (*path, key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.update(_decisions(item, (*path, index)))
    return found


def claim_decisions(summary: Summary) -> dict[str, bool | None]:
    """Dotted key path -> `decided` of every decision record in the summary."""
    return _decisions(summary, ())


_ASSERT_CLAIM = r"""\makeatletter
% \rpAssertClaim[expected]{claim}: nothing while summary.json decides the claim as expected
% (true unless given: true, false or undecided); otherwise the build stops naming the claim.
\newcommand{\rpAssertClaim}[2][true]{%
  \@ifundefined{rp@claim@#2}{%
    \PackageError{rateprobe}{Unknown claim '#2'}{No decision of that key in summary.json:
      see the list of claims at the end of generated/numbers.tex.}}{%
    \edef\rp@expected{#1}\edef\rp@decided{\csname rp@claim@#2\endcsname}%
    \ifx\rp@expected\rp@decided\else
      \PackageError{rateprobe}{Claim '#2' no longer holds: summary.json now
        says \rp@decided, the text expects #1}{Rewrite the sentence that relies on it.}%
    \fi}}
"""


def numbers_tex(numbers: PrintedNumbers, summary: Summary) -> str:
    """The text of generated/numbers.tex: one macro per printed number, then the claims."""
    lines = [
        "% Written by rateprobe from results/summary.json; the pipeline owns this file.",
        "% Each macro prints a number exactly as the paper does; the comment names its key.",
        "% Naming rule and claim keys: rateprobe.paper.numbers (README: Overleaf workflow).",
    ]
    for name, number in numbers.macros().items():
        lines.append(f"\\newcommand{{\\{name}}}{{{number.text}}}% {dotted(number.path)}")
    lines.append(_ASSERT_CLAIM.rstrip("\n"))
    for key, decided in sorted(claim_decisions(summary).items()):
        lines.append(f"\\@namedef{{rp@claim@{key}}}{{{DECISION_WORDS[decided]}}}")
    lines.append("\\makeatother")
    return "\n".join(lines) + "\n"
