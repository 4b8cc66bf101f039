"""What changed between two builds: run before pushing the paper to Overleaf.

    python -m rateprobe.paper.diff [old/summary.json [results/summary.json]]

Without arguments it compares the summary of the last Overleaf push (kept by `overleaf_push` at
OVERLEAF_PUSHED_SUMMARY) with the current results/summary.json.

Compares two summary.json files as the paper reads them: the numbers the paper prints (rendered
from the templates, so exactly those and as printed) that moved beyond their intervals, those
without an interval whose printed text changed, the claims (decision records) whose decision
flipped, and the claim sentences of rateprobe.paper.prose whose text changed. A number "moved
beyond its interval" when the new value lies outside the old build's 95% interval or the old
value outside the new one's. `--check` exits with status 1 when a number moved beyond its
interval, a number without one changed, or a claim flipped; claim sentences whose text changed
are listed, but alone they leave the status 0 (their numbers are counted above).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from rateprobe.config import DEFAULTS
from rateprobe.conventions import OVERLEAF_PUSHED_SUMMARY, SUMMARY
from rateprobe.paper.numbers import DECISION_WORDS, KeyPath, claim_decisions, dotted, macro_name
from rateprobe.paper.prose import build_claims
from rateprobe.paper.render import PaperRenderError, render_sources
from rateprobe.results.contract import Summary, read_summary

_ABSENT = object()
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True)
class NumberChange:
    """A printed number whose text changed; None where one build does not print it."""

    key: str
    macro: str
    old: str | None
    new: str | None
    interval: str | None  # the old build's interval as printed, when the number has one
    new_interval: str | None = None  # the new build's, likewise


@dataclass(frozen=True)
class ClaimFlip:
    key: str
    old: str  # true, false, undecided, or absent
    new: str


@dataclass(frozen=True)
class SentenceChange:
    key: str
    old: str | None
    new: str | None

    @property
    def wording(self) -> bool:
        """More than its numbers changed."""
        old, new = (_DIGITS.sub("#", text or "") for text in (self.old, self.new))
        return old != new


@dataclass
class BuildDiff:
    moved: list[NumberChange] = field(default_factory=list)
    without_interval: list[NumberChange] = field(default_factory=list)
    within_interval: int = 0
    flipped: list[ClaimFlip] = field(default_factory=list)
    sentences: list[SentenceChange] = field(default_factory=list)

    @property
    def notable(self) -> bool:
        return bool(self.moved or self.without_interval or self.flipped)


def _lookup(summary: Any, path: KeyPath) -> Any:
    """The value at a key path of the summary (a record's field, a key, a list position)."""
    for part in path:
        if isinstance(summary, BaseModel):
            summary = getattr(summary, str(part), _ABSENT)
            continue
        try:
            summary = summary[part]
        except (KeyError, IndexError, TypeError):
            return _ABSENT
    return summary


def _interval(summary: Summary, path: KeyPath) -> tuple[float, float] | None:
    """The interval beside a number (`m_ci` beside `m`), when it has one."""
    if not path or not isinstance(path[-1], str):
        return None
    bounds = _lookup(summary, (*path[:-1], f"{path[-1]}_ci"))
    if not isinstance(bounds, tuple) or len(bounds) != 2 or None in bounds:
        return None
    return float(bounds[0]), float(bounds[1])


def _outside(value: Any, bounds: tuple[float, float] | None) -> bool:
    if bounds is None or not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return not bounds[0] <= value <= bounds[1]


def printed_numbers(
    summary: Summary, templates_dir: Path, paper_cfg: dict[str, Any]
) -> dict[KeyPath, str]:
    """Key path -> the text the paper prints for it (forms joined by ` / `)."""
    _, printed = render_sources(
        summary, templates_dir, Path("paper"), paper_cfg, dt.date.today(), Path("summary.json")
    )
    texts: dict[KeyPath, list[str]] = {}
    for number in printed.printed.values():
        texts.setdefault(number.path, []).append(str(number.text))
    return {path: " / ".join(forms) for path, forms in texts.items()}


def _is_interval(path: KeyPath) -> bool:
    """An interval is reported with the number it belongs to."""
    return isinstance(path[-1], str) and path[-1].endswith("_ci")


def _sentences(claims: Any, path: tuple[str, ...] = ()) -> dict[str, str]:
    if isinstance(claims, dict):
        found: dict[str, str] = {}
        for key, item in claims.items():
            found.update(_sentences(item, (*path, str(key))))
        return found
    if isinstance(claims, list | tuple):
        return _sentences(dict(enumerate(claims)), path)
    return {".".join(path): str(claims)} if claims is not None else {}


def compare(
    old: Summary, new: Summary, templates_dir: Path, paper_cfg: dict[str, Any]
) -> BuildDiff:
    diff = BuildDiff()
    # key path -> printed text; `.get` gives None for a number one build does not print
    old_texts = printed_numbers(old, templates_dir, paper_cfg)
    new_texts = printed_numbers(new, templates_dir, paper_cfg)
    for path in sorted(old_texts.keys() | new_texts.keys(), key=dotted):
        before, after = old_texts.get(path), new_texts.get(path)
        if before == after or _is_interval(path):
            continue
        old_bounds, new_bounds = _interval(old, path), _interval(new, path)
        interval_key = (*path[:-1], f"{path[-1]}_ci")
        change = NumberChange(
            dotted(path),
            macro_name(path),
            before,
            after,
            _interval_text(old_texts.get(interval_key), old_bounds),
            _interval_text(new_texts.get(interval_key), new_bounds),
        )
        if old_bounds is None and new_bounds is None:
            diff.without_interval.append(change)
        elif _outside(_lookup(new, path), old_bounds) or _outside(_lookup(old, path), new_bounds):
            diff.moved.append(change)
        elif before is None or after is None:
            diff.without_interval.append(change)
        else:
            diff.within_interval += 1
    old_claims, new_claims = claim_decisions(old), claim_decisions(new)
    for key in sorted(old_claims.keys() | new_claims.keys()):
        before_word, after_word = (
            DECISION_WORDS[claims[key]] if key in claims else "absent"
            for claims in (old_claims, new_claims)
        )
        if before_word != after_word:
            diff.flipped.append(ClaimFlip(key, before_word, after_word))
    # sentence key -> text; `.get` gives None for a sentence one build does not print
    old_sentences, new_sentences = _sentences(build_claims(old)), _sentences(build_claims(new))
    for key in sorted(old_sentences.keys() | new_sentences.keys()):
        if old_sentences.get(key) != new_sentences.get(key):
            diff.sentences.append(
                SentenceChange(key, old_sentences.get(key), new_sentences.get(key))
            )
    diff.sentences.sort(key=lambda change: not change.wording)
    return diff


def _interval_text(printed: str | None, bounds: tuple[float, float] | None) -> str | None:
    if printed is None and bounds is not None:
        return f"[{bounds[0]:g}; {bounds[1]:g}] (not printed)"
    return printed


def _shown(text: str | None) -> str:
    return "(not printed)" if text is None else text


def report(diff: BuildDiff) -> str:
    lines = [f"Printed numbers that moved beyond their intervals: {len(diff.moved)}"]
    for change in diff.moved:
        lines.append(
            f"  {change.key} (\\{change.macro}): {_shown(change.old)} -> {_shown(change.new)}"
            f"; old interval {_shown(change.interval)}, new {_shown(change.new_interval)}"
        )
    lines.append(f"Printed numbers without an interval that changed: {len(diff.without_interval)}")
    for change in diff.without_interval:
        lines.append(
            f"  {change.key} (\\{change.macro}): {_shown(change.old)} -> {_shown(change.new)}"
        )
    lines.append(f"Printed numbers that changed within their intervals: {diff.within_interval}")
    lines.append(f"Claims whose decision flipped: {len(diff.flipped)}")
    lines += [f"  {flip.key}: {flip.old} -> {flip.new}" for flip in diff.flipped]
    lines.append(f"Sentences affected: {len(diff.sentences)}")
    for sentence in diff.sentences:
        kind = "wording" if sentence.wording else "numbers only"
        lines += [
            f"  {sentence.key} ({kind})",
            f"    old: {_shown(sentence.old)}",
            f"    new: {_shown(sentence.new)}",
        ]
    return "\n".join(lines) + "\n"


def _read(path: Path) -> Summary:
    try:
        return read_summary(path)
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"cannot read {path}: {err}") from err
    except ValueError as err:  # the message names the file and where it breaks the contract
        raise SystemExit(str(err)) from err


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rateprobe.paper.diff", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "old",
        type=Path,
        nargs="?",
        default=Path(OVERLEAF_PUSHED_SUMMARY),
        help=f"summary.json of the earlier build (default: {OVERLEAF_PUSHED_SUMMARY}, the one "
        "the paper was last pushed to Overleaf from)",
    )
    parser.add_argument(
        "new",
        type=Path,
        nargs="?",
        default=Path(SUMMARY),
        help=f"summary.json of the later build (default: {SUMMARY})",
    )
    parser.add_argument(
        "--templates", type=Path, default=Path("paper/templates"), help="the paper's templates"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a number moved beyond its interval, a number without one changed, or a "
        "claim flipped (a changed claim sentence alone: exit 0)",
    )
    args = parser.parse_args(argv)
    if args.old == Path(OVERLEAF_PUSHED_SUMMARY) and not args.old.exists():
        parser.exit(
            2,
            f"{args.old} does not exist: no overleaf_push has recorded a summary here yet; "
            "name the earlier summary.json\n",
        )
    try:
        diff = compare(_read(args.old), _read(args.new), args.templates, DEFAULTS["paper"])
    except PaperRenderError as error:
        # e.g. a summary written by an older rateprobe lacks a key the current paper prints
        parser.exit(2, f"cannot compare {args.old} with {args.new}: {error}\n")
    sys.stdout.write(report(diff))
    return 1 if args.check and diff.notable else 0


if __name__ == "__main__":
    raise SystemExit(main())
