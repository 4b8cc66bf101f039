"""Render the paper's LaTeX from results/summary.json and the jinja2 templates.

The summary is read through its contract (rateprobe.results.contract): a summary.json that breaks
it stops the render naming the file and the keys. The templates see the typed summary, use
LaTeX-safe delimiters (`((* block *))`, `((( variable )))`, `((= comment =))`, explained in
docs/paper-templates.md) and StrictUndefined, so a name the summary lacks stops the render.
Every value a template prints passes through `_finalize`: data strings are LaTeX-escaped,
trusted markup (`Latex`) passes, and a bare number is refused, so that each number goes through
one of the Russian formatting filters.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from rateprobe.conventions import (
    FIGURE_RULE,
    FIGURE_SCRIPT,
    PAPER_NUMBERS,
    PAPER_PERSON_BIBLIOGRAPHY,
    PAPER_PERSON_PLACES,
    figure_width_in,
    person_text_file,
)
from rateprobe.io import write_bytes, write_text
from rateprobe.paper import latex
from rateprobe.paper.contents import paper_contents
from rateprobe.paper.numbers import PrintedNumbers, numbers_tex, track, tracked_length
from rateprobe.paper.prose import build_claims
from rateprobe.paper.prose.methodology import embedding_methods
from rateprobe.paper.prose.vocabulary import arch_name, model_ref, target_name
from rateprobe.results.contract import Build, Summary, read_summary

_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./-]+$")
POOLING_NAMES = {"mean": "среднее", "std": "стандартное отклонение"}
SECTIONS = ("abstract", "introduction", "methodology", "experiments", "conclusion", "appendix")
PROJECT_STYLE = "rateprobe-neurips.sty"
# docs/summary.md: every interval in summary.json is a 95% speaker-bootstrap interval.
CI_LEVEL_PERCENT = 95
# The task the paper answers allows an abstract of at most this many words.
MAX_ABSTRACT_WORDS = 300
_LATEX_COMMAND = re.compile(r"\\cite\{[^}]*\}|\\[A-Za-z]+\*?|\\.|[{}$~]")
# The PDF's keywords (hyperref's pdfkeywords): what the paper is about, in its language.
KEYWORDS = ("кодировщики дикторов", "темп речи", "пробинг", "послойный анализ", "CPS")
_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


class PaperRenderError(RuntimeError):
    """The paper cannot be rendered; the message names the file or the key."""


def _finalize(value: object) -> object:
    if isinstance(value, latex.Latex):
        return value
    if isinstance(value, str):
        return latex.escape(value)
    raise jinja2.TemplateError(
        f"a template prints {value!r} ({type(value).__name__}) directly; numbers must go "
        "through a formatting filter (num, count, pct, ci, mln) and nothing else but text "
        "may be printed"
    )


def file_path(path: str) -> latex.Latex:
    """A file name for \\includegraphics or \\usepackage: printed verbatim, so it must be plain."""
    if not _SAFE_PATH.match(path):
        raise PaperRenderError(
            f"file path {path!r} has characters LaTeX cannot take verbatim; "
            "use letters, digits, '_', '.', '/', '-'"
        )
    return latex.Latex(path)


_SAFE_URL = re.compile(r"^https?://[^\s{}\\%#]+$")


def url(address: str) -> latex.Latex:
    """A URL as \\url prints it: verbatim, so braces, backslashes, % and # are refused."""
    if not _SAFE_URL.match(address):
        raise PaperRenderError(
            f"{address!r} cannot be printed as a URL: it must start with http(s):// and hold no "
            "spaces, braces, backslashes, % or #"
        )
    return latex.Latex(rf"\url{{{address}}}")


def russian_date(day: dt.date) -> latex.Latex:
    return latex.Latex(f"{day.day} {_MONTHS[day.month - 1]} {day.year}~г.")


def abstract_words(tex: str) -> int:
    """Words of a rendered LaTeX text: commands, citations and bare punctuation do not count."""
    tokens = _LATEX_COMMAND.sub(" ", tex).split()
    return sum(1 for token in tokens if re.search(r"\w", token))


def build_stamp_text(build: Build) -> dict[str, latex.Latex]:
    """The summary's build stamp for the first page (Russian) and the PDF metadata (ASCII)."""
    commit = build.commit
    dirty = bool(build.dirty)
    config_hash = latex.escape(build.config_hash)
    date = latex.escape(build.date)
    if commit is None:
        source = "код вне git-репозитория"
    else:
        source = rf"коммит \texttt{{{latex.escape(commit)}}}" + (
            " с незафиксированными изменениями" if dirty else ""
        )
    text = rf"Сборка: {source}, конфигурация \texttt{{{config_hash}}}, {date}."
    ascii_stamp = f"{commit or 'no-git'}{'-dirty' if dirty else ''} config {config_hash} {date}"
    return {"text": latex.Latex(text), "ascii": latex.escape(ascii_stamp)}


def _strict(fmt: Callable[..., latex.Latex]) -> Callable[..., latex.Latex]:
    """A formatting filter that reports a missing summary key as such, not as a bad type."""

    def checked(value: Any, *args: Any, **kwargs: Any) -> latex.Latex:
        if isinstance(value, jinja2.Undefined):
            str(value)  # StrictUndefined raises UndefinedError naming the key
        return fmt(value, *args, **kwargs)

    return checked


def make_environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        block_start_string="((*",
        block_end_string="*))",
        variable_start_string="(((",
        variable_end_string=")))",
        comment_start_string="((=",
        comment_end_string="=))",
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    formatters: dict[str, Callable[..., latex.Latex]] = {
        "num": latex.number,
        "compact": latex.compact,
        "count": latex.integer,
        "pct": latex.percent,
        "pct_value": latex.percent_value,
        "pct_ci": latex.percent_interval,
        "ci": latex.interval,
        "mln": latex.millions,
    }
    env.filters.update({name: _strict(fmt) for name, fmt in formatters.items()})
    env.filters.update(
        tex=latex.escape,
        join_ru=latex.join,
        model=model_ref,
        target=target_name,
        arch=arch_name,
        sentence=latex.sentence,
        path=file_path,
        url=url,
        length=tracked_length,
    )
    return env


def person_inputs() -> dict[str, dict[str, latex.Latex]]:
    """Section -> place (start, end) -> the \\input of the person's own text there."""
    return {
        section: {
            place: latex.Latex(rf"\input{{{person_text_file(section, place)}}}")
            for place in PAPER_PERSON_PLACES
        }
        for section in SECTIONS
    }


def _style_context(paper_cfg: dict[str, Any], paper_dir: Path) -> dict[str, Any]:
    style = paper_cfg["style"]
    # the paper's config section: rateprobe.config fills neurips_sty, a bare one may omit it
    official = paper_cfg.get("neurips_sty")
    if style == "neurips" and official:
        if not (paper_dir / official).is_file():
            raise PaperRenderError(
                f"config paper.neurips_sty names {official!r}, but {paper_dir / official} "
                "does not exist: place the official style file in paper/ or set it to null"
            )
        package = Path(official).stem
    else:
        package = Path(PROJECT_STYLE).stem
    # IEEEtran sets two columns: the paper's tables and figures span both
    starred = "*" if style == "ieee" else ""
    return {
        "style": style,
        "style_package": file_path(package),
        "engine": paper_cfg["engine"],
        "table_env": latex.Latex(f"table{starred}"),
        "figure_env": latex.Latex(f"figure{starred}"),
    }


def tsne_perplexities(summary: Summary) -> latex.Latex:
    """The perplexities t-SNE used: it lowers the configured one on few points, and a model
    with too few points to map has none (a dash, printed first)."""
    used = sorted(
        {m.tsne.perplexity for m in summary.models.values()},
        key=lambda perplexity: (perplexity is not None, perplexity),
    )
    return latex.join(
        [latex.number(p, 1) for p in used] or [latex.number(summary.run.tsne_perplexity, 1)]
    )


def build_context(
    summary: Summary, paper_cfg: dict[str, Any], paper_dir: Path, today: dt.date
) -> dict[str, Any]:
    """Everything the templates see: the summary, the claims and the paper's settings."""
    author = paper_cfg["author"]
    # the paper's config section: rateprobe.config fills date, a bare one may omit it
    date_text = paper_cfg.get("date")
    run = summary.run
    return {
        "summary": summary,
        "run": run,
        "corpus": summary.corpus,
        "models": summary.models,
        "comparisons": summary.comparisons,
        "baselines": summary.baselines,
        "figures": summary.figures,
        "claims": build_claims(summary),
        "claims_run": run.claims,
        "scale_floor": run.probe_settings.scale_floor,
        "embedding_methods": embedding_methods(summary.models),
        "tsne_perplexity": tsne_perplexities(summary),
        # a pooling the paper has no Russian name for is printed as configured
        "pooling": latex.join([POOLING_NAMES.get(p, p) for p in run.pooling]),
        "ci_level": latex.integer(CI_LEVEL_PERCENT),
        "title": paper_cfg["title"],
        "keywords": list(KEYWORDS),
        "build_stamp": build_stamp_text(summary.build),
        "figure_source": {"script": latex.escape(FIGURE_SCRIPT), "rule": FIGURE_RULE},
        # minipage widths of the figures set side by side: the widths they are drawn at
        "figure_width": {key: latex.Latex(f"{figure_width_in(key)}in") for key in summary.figures},
        # the config's author: an unset part is printed empty
        "author": {key: author.get(key, "") for key in ("name", "affiliation", "email")},
        "date": latex.escape(date_text) if date_text else russian_date(today),
        # the files a person owns (rateprobe.paper.person): their text and bibliography
        "person": person_inputs(),
        "person_bibliography": file_path(
            Path(PAPER_PERSON_BIBLIOGRAPHY).with_suffix("").as_posix()
        ),
        **paper_contents(summary),
        **_style_context(paper_cfg, paper_dir),
    }


def copy_figures(summary: Summary, figures_dir: Path, paper_dir: Path) -> list[Path]:
    """Copy each figure named in the summary's `figures` from figures_dir into paper/."""
    copied = []
    for key, relative in sorted(summary.figures.items()):
        source = figures_dir / Path(relative).name
        if not source.is_file():
            raise PaperRenderError(
                f"summary.json figure {key!r} ({relative}) has no file {source}: "
                "run the figures stage first"
            )
        target = paper_dir / relative
        write_bytes(target, source.read_bytes())
        copied.append(target)
    return copied


def render_sources(
    summary: Summary,
    templates_dir: Path,
    paper_dir: Path,
    paper_cfg: dict[str, Any],
    today: dt.date,
    source: Path,
) -> tuple[dict[str, str], PrintedNumbers]:
    """The text of main.tex and of each generated section (by name relative to paper/), and
    the numbers of the summary they print. `source` names the summary in error messages."""
    env = make_environment(Path(templates_dir))
    try:
        context = build_context(track(summary), paper_cfg, paper_dir, today)
    except KeyError as err:
        raise PaperRenderError(f"{source} lacks the key {err} the paper needs") from err
    printed = PrintedNumbers()
    texts = {}
    with latex.recording(printed.record):
        for name in ("main", *(f"generated/{s}" for s in SECTIONS)):
            template_name = f"{Path(name).name}.tex.j2"
            try:
                texts[f"{name}.tex"] = env.get_template(template_name).render(context)
            except jinja2.UndefinedError as err:
                raise PaperRenderError(
                    f"template {templates_dir}/{template_name}: {err} (missing in {source}?)"
                ) from err
            except jinja2.TemplateError as err:
                raise PaperRenderError(f"template {templates_dir}/{template_name}: {err}") from err
    words = abstract_words(texts["generated/abstract.tex"])
    if words > MAX_ABSTRACT_WORDS:
        raise PaperRenderError(
            f"template {templates_dir}/abstract.tex.j2: the abstract has {words} words, more "
            f"than the {MAX_ABSTRACT_WORDS} allowed"
        )
    return texts, printed


def render_paper(
    summary_path: Path,
    figures_dir: Path,
    templates_dir: Path,
    paper_dir: Path,
    paper_cfg: dict[str, Any],
    today: dt.date | None = None,
) -> list[Path]:
    """Write paper/main.tex, paper/generated/<section>.tex, the number macros of
    paper/generated/numbers.tex and paper/figures/*; return them."""
    summary_path, paper_dir = Path(summary_path), Path(paper_dir)
    try:
        summary = read_summary(summary_path)
    except (OSError, json.JSONDecodeError) as err:
        raise PaperRenderError(f"cannot read {summary_path}: {err}") from err
    except ValueError as err:  # the message names the file and the keys that break the contract
        raise PaperRenderError(str(err)) from err
    texts, printed = render_sources(
        summary, Path(templates_dir), paper_dir, paper_cfg, today or dt.date.today(), summary_path
    )
    try:
        texts[PAPER_NUMBERS] = numbers_tex(printed, summary)
    except ValueError as err:
        raise PaperRenderError(f"{PAPER_NUMBERS} from {summary_path}: {err}") from err
    written = []
    for name, text in texts.items():
        target = paper_dir / name
        write_text(target, text)
        written.append(target)
    return written + copy_figures(summary, Path(figures_dir), paper_dir)
