"""LaTeX-safe text: escaping of data strings and Russian number formatting.

Everything the templates print passes through here. A `Latex` string is trusted markup
(produced by this module or by the claim phrasing); any other string is data and is escaped.
Numbers are written the Russian way: decimal comma (`0,41`), intervals `[0,33; 0,48]`,
thin-space thousand groups from five digits on (`28\\,539`), a typographic minus.

Every number formatter can report what it printed to a recorder (`recording`), so that the
paper's numbers can also be written out as LaTeX macros (rateprobe.paper.numbers) printing
exactly the same text.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, Concatenate, ParamSpec

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
MISSING = "---"
MINUS = r"\textminus{}"


class Latex(str):
    """A string that is already valid LaTeX and must not be escaped again."""

    __slots__ = ()


# Called with (formatter name, the value it was given, the text it printed).
Recorder = Callable[[str, Any, "Latex"], None]
_RECORDER: ContextVar[Recorder | None] = ContextVar("rateprobe_latex_recorder", default=None)
_P = ParamSpec("_P")


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    """Report every number formatted inside the block to `recorder`."""
    token = _RECORDER.set(recorder)
    try:
        yield
    finally:
        _RECORDER.reset(token)


def _recorded(fmt: Callable[Concatenate[Any, _P], Latex]) -> Callable[Concatenate[Any, _P], Latex]:
    """Report the outermost formatter call only: percent() calling number() prints once."""

    @functools.wraps(fmt)
    def formatted(value: Any, *args: _P.args, **kwargs: _P.kwargs) -> Latex:
        recorder = _RECORDER.get()
        if recorder is None:
            return fmt(value, *args, **kwargs)
        token = _RECORDER.set(None)
        try:
            text = fmt(value, *args, **kwargs)
        finally:
            _RECORDER.reset(token)
        recorder(fmt.__name__, value, text)
        return text

    return formatted


def escape(text: object) -> Latex:
    """Escape a data string for LaTeX text mode (a `Latex` string passes unchanged)."""
    if isinstance(text, Latex):
        return text
    if not isinstance(text, str):
        raise TypeError(f"escape() takes a string, got {type(text).__name__}: {text!r}")
    return Latex("".join(_ESCAPES.get(ch, ch) for ch in text))


def join(parts: Sequence[object], sep: str = ", ", last: str = " и ") -> Latex:
    """Join data strings (escaped) as a Russian enumeration: `a, b и c`."""
    escaped = [escape(p) for p in parts]
    if len(escaped) <= 1:
        return Latex("".join(escaped))
    return Latex(sep.join(escaped[:-1]) + last + escaped[-1])


def sentence(clause: Latex) -> Latex:
    """A clause as a sentence: capital first letter, final full stop."""
    text = str(clause).rstrip()
    if not text:
        return Latex(text)
    return Latex(text[:1].upper() + text[1:] + ("" if text.endswith(".") else "."))


def _group_thousands(digits: str) -> str:
    if len(digits) < 5:  # Russian convention: 1000 stays unbroken, 10 000 is grouped
        return digits
    groups = []
    while digits:
        groups.append(digits[-3:])
        digits = digits[:-3]
    return r"\,".join(reversed(groups))


@_recorded
def number(value: float | int | None, digits: int = 2) -> Latex:
    """`0.4123 -> 0,41`; `-0.1 -> −0,10`; `None -> ---`; integers keep no decimals."""
    if value is None:
        return Latex(MISSING)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"number() takes a number, got {type(value).__name__}: {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"number() got a non-finite value {value!r}")
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    if text.lstrip("-").strip("0.") == "":  # -0.00 is printed as 0,00
        text = text.lstrip("-")
    sign = MINUS if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return Latex(sign + _group_thousands(whole) + ("," + frac if frac else ""))


@_recorded
def compact(value: float | int | None) -> Latex:
    """As many decimals as the magnitude needs: `0.01 -> 0,01`, `1e4 -> 10 000`."""
    if value is None or value == 0:
        return number(value, 0)
    digits = max(0, -math.floor(math.log10(abs(value))))
    return number(float(value), digits)


@_recorded
def integer(value: int | None) -> Latex:
    """An integer count with Russian thousand groups."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"integer() takes an int, got {type(value).__name__}: {value!r}")
    return number(value)


@_recorded
def percent(fraction: float | None, digits: int = 1) -> Latex:
    """A fraction as a percentage: `0.0412 -> 4,1\\,\\%`."""
    if fraction is None:
        return Latex(MISSING)
    return Latex(number(100.0 * fraction, digits) + r"\,\%")


@_recorded
def percent_value(fraction: float | None, digits: int = 1) -> Latex:
    """A fraction as a bare percentage number (the % sign sits in the column head)."""
    return Latex(MISSING) if fraction is None else number(100.0 * fraction, digits)


@_recorded
def percent_interval(bounds: Sequence[float | None] | None, digits: int = 1) -> Latex:
    return interval(bounds, digits, scale=100.0)


@_recorded
def interval(bounds: Sequence[float | None] | None, digits: int = 2, scale: float = 1.0) -> Latex:
    """`[0.33, 0.48] -> [0,33; 0,48]` (the semicolon keeps decimal commas readable)."""
    if bounds is None or any(b is None for b in bounds):
        return Latex(MISSING)
    low, high = bounds
    assert low is not None and high is not None
    return Latex(f"[{number(scale * low, digits)}; {number(scale * high, digits)}]")


@_recorded
def millions(value: int | None, digits: int = 2) -> Latex:
    """A parameter count in millions: `6634048 -> 6,63`."""
    return Latex(MISSING) if value is None else number(value / 1e6, digits)
