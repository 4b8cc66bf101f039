"""Every Snakemake command the user documentation shows works as written, as a dry run.

The commands are read out of README.md, config/README.md and slurm/README.md (their shell code
blocks and their inline code), so an edit of the docs is tested as it stands: a target placed
where an option reads it as a value, a configuration file renamed or a rule target gone fails
here. Every shipped configuration must appear in one of those commands, and every schema key in
config/README.md. The cost estimator's documented runs are checked against the output the
README quotes.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from study_workspace import SNAKEMAKE, copy_repository, workspace_env

REPO = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "config/README.md", "slurm/README.md")
SHARED = REPO.parent / "shared"
SNAKEMAKE_PROGRAMS = {"snakemake", ".venv/bin/snakemake"}
ESTIMATOR = "bench/estimate_full_study.py"
# Shell operators between the commands of one line (`a && b`, `a | b`).
OPERATORS = {"&&", "||", "|", ";"}
# Words that stand for something the reader fills in (`...`, `<name>`, `FILE`, an optional
# `[part]`): such a command is a pattern, not a command.
PLACEHOLDER = re.compile(r"\.\.\.|<[^>]*>|\bFILE\b|\[")
# Commands that need a finished build to mean anything, not a plan.
NOT_PLANS = {"--report", "--unlock"}


def fenced_blocks(text: str) -> Iterator[tuple[str, str]]:
    """(language, body) of each fenced code block."""
    for match in re.finditer(r"^ *```(\w*)\n(.*?)^ *```", text, re.S | re.M):
        yield match.group(1), match.group(2)


def shell_lines(doc: str) -> Iterator[str]:
    """Each command line of the doc: lines of its bash blocks (continuations joined) and its
    inline code."""
    text = (REPO / doc).read_text()
    for language, body in fenced_blocks(text):
        if language in ("bash", "sh"):
            yield from body.replace("\\\n", " ").splitlines()
    prose = re.sub(r"^ *```.*?^ *```", "", text, flags=re.S | re.M)
    yield from (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose))


def simple_commands(line: str) -> Iterator[list[str]]:
    """The words of each simple command on a shell line, comments and redirections dropped; the
    command an `sbatch --wrap=` runs counts as one of its own."""
    lexer = shlex.shlex(re.sub(r"\d?>&\d", " ", line), posix=True, punctuation_chars="&|;")
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # an unbalanced quote: prose, not a command
        return
    command: list[str] = []
    for word in [*words, ";"]:
        if word not in OPERATORS:
            command.append(word)
            continue
        if command:
            yield command
            for wrapped in (w.removeprefix("--wrap=") for w in command if w.startswith("--wrap=")):
                yield from simple_commands(wrapped)
        command = []


def documented(program: set[str]) -> list[tuple[str, dict[str, str], list[str]]]:
    """(doc, environment assignments, arguments) of every documented run of `program`."""
    runs = []
    for doc in DOCS:
        for line in shell_lines(doc):
            for words in simple_commands(line):
                env = {}
                while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                    name, _, value = words.pop(0).partition("=")
                    env[name] = value
                if words and words[0] in program:
                    runs.append((doc, env, words[1:]))
    return runs


def runnable(args: list[str]) -> bool:
    return not any(PLACEHOLDER.search(a) or a in NOT_PLANS for a in args)


def distinct(
    runs: list[tuple[str, dict[str, str], list[str]]],
) -> list[tuple[str, dict[str, str], list[str]]]:
    """The runs with a command shown twice kept once (where it is first shown)."""
    seen: dict[str, tuple[str, dict[str, str], list[str]]] = {}
    for doc, env, args in runs:
        seen.setdefault(repr((sorted(env.items()), args)), (doc, env, args))
    return list(seen.values())


SNAKEMAKE_RUNS = distinct([run for run in documented(SNAKEMAKE_PROGRAMS) if runnable(run[2])])


def configfiles(args: list[str]) -> list[str]:
    """The files a command gives --configfile (they run up to the next option)."""
    files: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--configfile":
            for value in args[i + 1 :]:
                if value.startswith("-"):
                    break
                files.append(value)
    return files


def user_files() -> dict[str, str]:
    """The example configurations the docs ask the user to write, by the file name their first
    comment gives (`# my-overleaf.yaml`)."""
    files = {}
    for doc in DOCS:
        for language, body in fenced_blocks((REPO / doc).read_text()):
            named = re.match(r"\s*# ([\w.-]+\.yaml)\b", body)
            if language == "yaml" and named:
                files[named.group(1)] = textwrap.dedent(body)
    return files


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository, with ../shared beside it where the repository has one, the
    docs' example files written, and a stand-in `apptainer` (a dry run asks only its version)."""
    root = tmp_path_factory.mktemp("documented")
    workdir = copy_repository(root / "repo")
    if SHARED.is_dir():
        (root / "shared").symlink_to(SHARED)
    for name, text in user_files().items():
        (workdir / name).write_text(text)
    stand_ins = root / "bin"
    stand_ins.mkdir()
    (stand_ins / "apptainer").write_text("#!/bin/sh\necho 'apptainer version 1.3.4'\n")
    (stand_ins / "apptainer").chmod(0o755)
    return workdir


def test_the_docs_show_commands_of_every_kind() -> None:
    # The parser found them: a change of the docs' format must not empty this test.
    shown = {" ".join(args) for _, _, args in SNAKEMAKE_RUNS}
    assert len(shown) >= 10, shown
    assert any("--profile" in args for _, _, args in SNAKEMAKE_RUNS)
    assert any(env for _, env, _ in SNAKEMAKE_RUNS)  # RATEPROBE_OVERLEAF_FORCE=1 ...
    assert any("--omit-from" in args for _, _, args in SNAKEMAKE_RUNS)  # inside sbatch --wrap


def test_every_shipped_configuration_is_run_by_a_documented_command() -> None:
    given = {f for _, _, args in SNAKEMAKE_RUNS for f in configfiles(args)}
    shipped = {str(p.relative_to(REPO)) for p in (REPO / "config").glob("*.yaml")}
    assert shipped - given == set()


@pytest.mark.parametrize(
    ("doc", "env", "args"),
    SNAKEMAKE_RUNS,
    ids=[f"{doc}: {' '.join(args)}" for doc, _, args in SNAKEMAKE_RUNS],
)
def test_a_documented_snakemake_command_plans(
    workspace: Path, doc: str, env: dict[str, str], args: list[str]
) -> None:
    files = configfiles(args)
    if "config/librispeech-sample.yaml" in files and not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    run_env = {**workspace_env(workspace), **env}
    run_env["PATH"] = f"{workspace.parent / 'bin'}{os.pathsep}{run_env['PATH']}"
    done = subprocess.run(
        [str(SNAKEMAKE), *args, "--dry-run"],
        cwd=workspace, env=run_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    log = done.stdout + done.stderr
    # An example file pointing at the reader's own corpus: the run must stop naming it.
    absent = absent_corpus_root(workspace, files)
    if absent:
        assert done.returncode != 0 and f"corpus.root {absent}" in log, log[-3000:]
        return
    assert done.returncode == 0, log[-3000:]
    assert "This was a dry-run" in log or "Nothing to be done" in log, log[-3000:]


def absent_corpus_root(workspace: Path, files: list[str]) -> str | None:
    """The corpus root a docs example file names where the reader's own corpus would be (not
    one the workflow downloads into)."""
    for name in files:
        corpus = (yaml.safe_load((workspace / name).read_text()) or {}).get("corpus", {})
        root = corpus.get("root")
        if root and not corpus.get("download") and not (workspace / root).exists():
            return str(corpus["root"])
    return None


def test_every_schema_key_is_described_in_config_readme() -> None:
    """Each key's name appears in code in the paragraph of its top-level section (the top-level
    keys under **Top level**), outside code blocks."""
    text = re.sub(
        r"^ *```.*?^ *```", "", (REPO / "config" / "README.md").read_text(), flags=re.S | re.M
    )
    sections: dict[str, str] = {}
    current = None
    for line in text[text.index("## Every key") :].splitlines():
        heading = re.match(r"\*\*(?:`(\w+)`|Top level)\*\*", line)
        if heading:
            current = heading.group(1) or ""
        if current is not None:
            sections[current] = sections.get(current, "") + line + "\n"
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    undescribed = []
    for path in schema_keys(schema, ()):
        if len(path) == 1:
            documented_here = path[0] in sections or path[0] in code_words(sections[""])
        else:
            documented_here = path[-1] in code_words(sections.get(path[0], ""))
        if not documented_here:
            undescribed.append(".".join(path))
    assert undescribed == []


def schema_keys(node: dict, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Every key path of the schema's mappings, split names (train/dev/test) left out: the docs
    name them once for all."""
    for name, child in node.get("properties", {}).items():
        if name in ("train", "dev", "test") and path[-1] in ("splits", "fractions"):
            continue
        yield (*path, name)
        yield from schema_keys(child, (*path, name))


def code_words(text: str) -> set[str]:
    return {w for span in re.findall(r"`([^`]+)`", text) for w in re.split(r"[\s.:=/,{}]+", span)}


ESTIMATOR_RUNS = [
    args
    for _, _, args in distinct(documented({"python", ".venv/bin/python"}))
    if args[:1] == [ESTIMATOR] and runnable(args)
]


def test_the_readme_quotes_a_documented_estimate() -> None:
    # The quote is found: a change of the docs' format must not leave it unchecked.
    assert any(quoted_output(" ".join(args)) for args in ESTIMATOR_RUNS)


@pytest.mark.slow
@pytest.mark.parametrize("args", ESTIMATOR_RUNS, ids=[" ".join(a) for a in ESTIMATOR_RUNS])
def test_a_documented_estimate_runs_and_prints_what_the_docs_quote(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=workspace_env(REPO),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for line in quoted_output(" ".join(args)):
        assert line in done.stdout.splitlines(), line


def quoted_output(command: str) -> list[str]:
    """The lines of the unlabelled code block the README shows right after the command (its
    quoted output), if any."""
    text = (REPO / "README.md").read_text()
    shown = re.search(r"\s+".join(map(re.escape, f".venv/bin/python {command}`".split())), text)
    if shown is None:
        return []
    block = re.match(r"[^`]{0,20}\n```\n(.*?)^```", text[shown.end() :], re.S | re.M)
    return block.group(1).splitlines() if block else []
