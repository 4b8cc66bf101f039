"""The Overleaf round trip, against a local bare git repository standing in for Overleaf."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from paper_support import PAPER_CFG, REPO, load_fixture, normalised_text, render_project
from study_workspace import copy_repository, planned_jobs, workspace_env

from rateprobe.conventions import (
    OVERLEAF_PUSHED_SUMMARY,
    PAPER_PERSON_BIBLIOGRAPHY,
    SUMMARY,
    person_text_file,
)
from rateprobe.paper import diff, latex
from rateprobe.paper.overleaf_git import TOKEN_ENV, GitCommand, OverleafSyncError
from rateprobe.paper.overleaf_sync import (
    FORCE_ENV,
    KEPT_ASIDE,
    MANIFEST,
    OwnershipConflict,
    PersonFilesDiverged,
    pipeline_files,
    push_configured,
    push_project,
    sha256,
)
from rateprobe.paper.person import initial_text, person_files
from rateprobe.paper.render import render_paper

BRANCH = "master"
PERSON = ["-c", "user.name=Person", "-c", "user.email=person@example.org"]
INTRODUCTION_END = person_text_file("introduction", "end")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "overleaf.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return bare


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture summary's paper, rendered once; tests copy it before changing it."""
    return render_project(load_fixture(), tmp_path_factory.mktemp("rendered"))


@pytest.fixture
def paper_dir(rendered: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(rendered, tmp_path / "paper"))


def person_clone(remote: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "-b", BRANCH, str(remote), str(where)], check=True)
    return where


def person_commits(clone: Path, message: str) -> None:
    git(clone, "add", "-A")
    git(clone, *PERSON, "commit", "-q", "-m", message)
    git(clone, "push", "-q", "origin", BRANCH)


def remote_file(remote: Path, name: str) -> bytes:
    done = subprocess.run(
        ["git", "show", f"{BRANCH}:{name}"], cwd=remote, capture_output=True, check=True
    )
    return done.stdout


def remote_files(remote: Path) -> set[str]:
    return set(git(remote, "ls-tree", "-r", "--name-only", BRANCH).splitlines())


def rerender_with_changed_template(
    rendered: Path, paper_dir: Path, workdir: Path, sentence: str
) -> None:
    """Render the fixture into paper_dir again, with one sentence appended to the conclusion's
    template (the figures are those drawn beside the `rendered` paper)."""
    templates = Path(shutil.copytree(REPO / "paper" / "templates", workdir / "templates"))
    conclusion = templates / "conclusion.tex.j2"
    conclusion.write_text(conclusion.read_text(encoding="utf-8") + sentence, encoding="utf-8")
    summary_path = workdir / "summary.json"
    summary_path.write_text(json.dumps(load_fixture()), encoding="utf-8")
    render_paper(
        summary_path,
        rendered.parent / "figures",
        templates,
        paper_dir,
        copy.deepcopy(PAPER_CFG),
        today=dt.date(2025, 11, 22),
    )


def test_first_push_into_an_empty_remote(paper_dir: Path, remote: Path) -> None:
    result = push_project(paper_dir, PAPER_CFG, str(remote))

    files = pipeline_files(paper_dir, PAPER_CFG)
    assert result.commit == git(remote, "rev-parse", BRANCH)
    assert result.kept_aside == [] and result.removed == [] and result.pulled == []
    assert result.uploaded == sorted(person_files())
    assert remote_files(remote) == {*files, MANIFEST, *person_files()}
    assert not set(person_files()) & set(files)
    for name in person_files():
        assert remote_file(remote, name) == initial_text(name).encode()
    assert {"main.tex", "generated/numbers.tex", "references.bib"} <= set(files)
    assert any(name.startswith("figures/") for name in files)
    manifest = json.loads(remote_file(remote, MANIFEST))
    assert manifest["pipeline_owned"] == {name: sha256(data) for name, data in files.items()}
    assert remote_file(remote, "main.tex") == (paper_dir / "main.tex").read_bytes()


def test_first_push_into_a_new_project_keeps_its_files_aside(
    paper_dir: Path, remote: Path, tmp_path: Path
) -> None:
    clone = tmp_path / "new-project"
    subprocess.run(["git", "init", "-q", "-b", BRANCH, str(clone)], check=True)
    (clone / "main.tex").write_text("\\documentclass{article}\n% Overleaf's sample\n")
    git(clone, "remote", "add", "origin", str(remote))
    person_commits(clone, "new Overleaf project")

    result = push_project(paper_dir, PAPER_CFG, str(remote))

    assert result.kept_aside == ["main.tex"]
    assert remote_file(remote, f"{KEPT_ASIDE}/main.tex").endswith(b"% Overleaf's sample\n")
    assert remote_file(remote, "main.tex") == (paper_dir / "main.tex").read_bytes()


def test_push_after_a_template_change_updates_and_keeps_the_persons_files(
    paper_dir: Path, remote: Path, tmp_path: Path, rendered: Path
) -> None:
    first = push_project(paper_dir, PAPER_CFG, str(remote))
    clone = person_clone(remote, tmp_path / "person")
    (clone / "notes.tex").write_text("Мои заметки.\n", encoding="utf-8")
    (clone / INTRODUCTION_END).write_text("Мой абзац.\n", encoding="utf-8")
    person_commits(clone, "my own prose")

    rerender_with_changed_template(rendered, paper_dir, tmp_path, "Новая фраза шаблона.\n")
    second = push_project(paper_dir, PAPER_CFG, str(remote))

    assert second.commit not in (None, first.commit) and second.uploaded == []
    assert second.pulled == [INTRODUCTION_END] and second.overwritten == []
    assert remote_file(remote, "generated/conclusion.tex").endswith(
        "Новая фраза шаблона.\n".encode()
    )
    assert remote_file(remote, "notes.tex") == "Мои заметки.\n".encode()
    assert remote_file(remote, INTRODUCTION_END) == "Мой абзац.\n".encode()
    # pulled into the pipeline's copy, where the next build compiles it
    assert (paper_dir / INTRODUCTION_END).read_text(encoding="utf-8") == "Мой абзац.\n"
    manifest = json.loads(remote_file(remote, MANIFEST))
    assert manifest["person_files"][INTRODUCTION_END] == sha256("Мой абзац.\n".encode())
    # the person's commit is an ancestor: the push built on it, it did not replace it
    assert git(remote, "log", "--format=%an", BRANCH).splitlines() == [
        git(remote, "log", "-1", "--format=%an", second.commit or ""),
        "Person",
        git(remote, "log", "-1", "--format=%an", first.commit or ""),
    ]


def test_push_of_unchanged_results_makes_no_commit(paper_dir: Path, remote: Path) -> None:
    first = push_project(paper_dir, PAPER_CFG, str(remote))
    again = push_project(paper_dir, PAPER_CFG, str(remote))
    assert again.commit is None
    assert git(remote, "rev-parse", BRANCH) == first.commit


def test_a_figure_the_pipeline_no_longer_draws_is_removed(paper_dir: Path, remote: Path) -> None:
    push_project(paper_dir, PAPER_CFG, str(remote))
    dropped = sorted((paper_dir / "figures").glob("*.pdf"))[0]
    dropped.unlink()
    result = push_project(paper_dir, PAPER_CFG, str(remote))
    name = f"figures/{dropped.name}"
    assert result.removed == [name]
    assert name not in remote_files(remote) and INTRODUCTION_END in remote_files(remote)
    assert name not in json.loads(remote_file(remote, MANIFEST))["pipeline_owned"]


def test_an_edit_of_a_pipeline_file_stops_the_push_and_force_overwrites_it(
    paper_dir: Path, remote: Path, tmp_path: Path, rendered: Path
) -> None:
    push_project(paper_dir, PAPER_CFG, str(remote))
    clone = person_clone(remote, tmp_path / "person")
    edited = clone / "generated" / "abstract.tex"
    edited.write_text(edited.read_text(encoding="utf-8") + "Правка в Overleaf.\n", "utf-8")
    (clone / "figures" / "cca.pdf").unlink()
    person_commits(clone, "edit the generated abstract")
    before = git(remote, "rev-parse", BRANCH)

    rerender_with_changed_template(rendered, paper_dir, tmp_path, "Новая фраза шаблона.\n")
    with pytest.raises(OwnershipConflict) as caught:
        push_project(paper_dir, PAPER_CFG, str(remote))

    assert caught.value.problems == {
        "generated/abstract.tex": "edited on the remote since the last push",
        "figures/cca.pdf": "deleted on the remote since the last push",
    }
    assert "generated/abstract.tex" in str(caught.value) and FORCE_ENV in str(caught.value)
    assert git(remote, "rev-parse", BRANCH) == before

    summary = tmp_path / "summary.json"  # rerender_with_changed_template wrote it
    forced = push_configured(
        paper_dir,
        PAPER_CFG,
        {"remote": str(remote), "branch": BRANCH},
        {FORCE_ENV: "1"},
        summary,
        tmp_path / "pushed.json",
    )
    assert forced.overwritten == ["figures/cca.pdf", "generated/abstract.tex"]
    generated = paper_dir / "generated" / "abstract.tex"
    assert remote_file(remote, "generated/abstract.tex") == generated.read_bytes()
    assert "figures/cca.pdf" in remote_files(remote)


def test_a_persons_file_at_a_name_the_pipeline_now_needs_stops_the_push(
    paper_dir: Path, remote: Path, tmp_path: Path
) -> None:
    push_project(paper_dir, PAPER_CFG, str(remote))
    clone = person_clone(remote, tmp_path / "person")
    (clone / "generated" / "extra.tex").write_text("Моё.\n", encoding="utf-8")
    person_commits(clone, "my file under generated/")
    (paper_dir / "generated" / "extra.tex").write_text("Конвейер.\n", encoding="utf-8")

    with pytest.raises(OwnershipConflict, match=r"generated/extra\.tex"):
        push_project(paper_dir, PAPER_CFG, str(remote))


def test_a_persons_file_edited_here_survives_a_rebuild_and_is_pushed(
    paper_dir: Path, remote: Path, tmp_path: Path, rendered: Path
) -> None:
    push_project(paper_dir, PAPER_CFG, str(remote))
    mine = paper_dir / INTRODUCTION_END
    mine.write_text("Написано локально.\n", encoding="utf-8")

    rerender_with_changed_template(rendered, paper_dir, tmp_path, "Новая фраза шаблона.\n")
    pushed = push_project(paper_dir, PAPER_CFG, str(remote))

    assert mine.read_text(encoding="utf-8") == "Написано локально.\n"
    assert pushed.uploaded == [INTRODUCTION_END] and pushed.pulled == []
    assert remote_file(remote, INTRODUCTION_END) == "Написано локально.\n".encode()
    assert push_project(paper_dir, PAPER_CFG, str(remote)).commit is None


def test_a_persons_file_edited_on_both_sides_stops_the_push_and_force_does_not_choose(
    paper_dir: Path, remote: Path, tmp_path: Path
) -> None:
    push_project(paper_dir, PAPER_CFG, str(remote))
    clone = person_clone(remote, tmp_path / "person")
    (clone / INTRODUCTION_END).write_text("Написано в Overleaf.\n", encoding="utf-8")
    person_commits(clone, "my paragraph")
    before = git(remote, "rev-parse", BRANCH)
    (paper_dir / INTRODUCTION_END).write_text("Написано локально.\n", encoding="utf-8")

    for force in (False, True):
        with pytest.raises(PersonFilesDiverged, match=INTRODUCTION_END) as caught:
            push_project(paper_dir, PAPER_CFG, str(remote), force=force)
        assert not isinstance(caught.value, OwnershipConflict)

    assert git(remote, "rev-parse", BRANCH) == before
    assert (paper_dir / INTRODUCTION_END).read_text(encoding="utf-8") == "Написано локально.\n"
    # once both copies say the same, the push goes on
    (paper_dir / INTRODUCTION_END).write_text("Написано в Overleaf.\n", encoding="utf-8")
    assert push_project(paper_dir, PAPER_CFG, str(remote)).pulled == []


def test_a_new_checkout_pulls_the_persons_text_instead_of_pushing_its_empty_files(
    paper_dir: Path, remote: Path, tmp_path: Path, rendered: Path
) -> None:
    push_project(paper_dir, PAPER_CFG, str(remote))
    clone = person_clone(remote, tmp_path / "person")
    (clone / INTRODUCTION_END).write_text("Написано в Overleaf.\n", encoding="utf-8")
    person_commits(clone, "my paragraph")
    push_project(paper_dir, PAPER_CFG, str(remote))  # the manifest records the paragraph

    elsewhere = Path(shutil.copytree(rendered, tmp_path / "another-checkout"))
    assert (elsewhere / INTRODUCTION_END).read_text() == initial_text(INTRODUCTION_END)
    result = push_project(elsewhere, PAPER_CFG, str(remote))

    assert result.pulled == [INTRODUCTION_END] and result.uploaded == []
    assert remote_file(remote, INTRODUCTION_END) == "Написано в Overleaf.\n".encode()
    assert (elsewhere / INTRODUCTION_END).read_text(encoding="utf-8") == "Написано в Overleaf.\n"


def test_the_push_keeps_the_summary_that_the_change_report_reads(
    paper_dir: Path, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    pushed_from = load_fixture()
    Path(SUMMARY).parent.mkdir(parents=True)
    Path(SUMMARY).write_text(json.dumps(pushed_from), encoding="utf-8")
    templates = ["--templates", str(REPO / "paper" / "templates")]
    with pytest.raises(SystemExit, match="2"):
        diff.main(templates)  # nothing pushed yet
    assert "no overleaf_push has recorded a summary" in capsys.readouterr().err

    overleaf = {"remote": str(remote), "branch": BRANCH}
    push_configured(
        paper_dir, PAPER_CFG, overleaf, {}, Path(SUMMARY), Path(OVERLEAF_PUSHED_SUMMARY)
    )
    later = copy.deepcopy(pushed_from)
    later["corpus"]["splits"]["test"]["n_utterances"] += 4
    Path(SUMMARY).write_text(json.dumps(later), encoding="utf-8")

    assert json.loads(Path(OVERLEAF_PUSHED_SUMMARY).read_text(encoding="utf-8")) == pushed_from
    assert diff.main([*templates, "--check"]) == 1
    n_test = pushed_from["corpus"]["splits"]["test"]["n_utterances"]
    report = capsys.readouterr().out
    moved = f"corpus.splits.test.n_utterances (\\rpCorpusSplitsTestNUtterances): {n_test} ->"
    assert f"{moved} {n_test + 4}" in report


def test_the_push_needs_the_compiled_paper_and_a_remote_before_anything_is_planned(
    tmp_path: Path, remote: Path
) -> None:
    workspace = copy_repository(tmp_path / "repo")
    configured = tmp_path / "overleaf.yaml"
    configured.write_text(f"overleaf:\n  remote: {remote}\n  branch: {BRANCH}\n")

    jobs = planned_jobs(workspace, "overleaf_push", configfiles=(configured,))
    assert jobs["overleaf_push"] == 1 and jobs["paper_pdf"] == 1

    done = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "-n", "overleaf_push"],
        cwd=workspace, env=workspace_env(workspace), capture_output=True, text=True,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode != 0 and "config key 'overleaf.remote' is null" in log
    assert "Job stats" not in log  # stopped before the study was planned


def test_disabled_or_unreachable_remote_is_named(paper_dir: Path, tmp_path: Path) -> None:
    pushed = tmp_path / "pushed.json"
    with pytest.raises(OverleafSyncError, match=r"overleaf\.remote"):
        push_configured(
            paper_dir,
            PAPER_CFG,
            {"remote": None, "branch": BRANCH},
            {},
            tmp_path / "summary.json",
            pushed,
        )
    assert not pushed.exists()
    missing = tmp_path / "no-such-project.git"
    with pytest.raises(OverleafSyncError, match=str(missing)):
        push_project(paper_dir, PAPER_CFG, str(missing))


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="needs latexmk")
def test_the_remote_checkout_compiles_alone_with_the_persons_prose(
    paper_dir: Path, remote: Path, tmp_path: Path
) -> None:
    push_project(paper_dir, PAPER_CFG, str(remote))
    clone = person_clone(remote, tmp_path / "person")
    summary = load_fixture()
    r2 = summary["models"]["resemblyzer"]["embedding"]["cps"]["r2"]
    (clone / person_text_file("experiments", "end")).write_text(
        "\\section{Обсуждение}\n"
        "\\rpAssertClaim{models.resemblyzer.layers.cps.best.beyond_duration}\n"
        "\\rpAssertClaim[undecided]{models.resemblyzer.layers.cps.best_minus_deepest}\n"
        "Эмбеддинг даёт $R^2 = {}$\\rpModelsResemblyzerEmbeddingCpsRTwo~\\cite{mine2025}.\n",
        encoding="utf-8",
    )
    with (clone / PAPER_PERSON_BIBLIOGRAPHY).open("a", encoding="utf-8") as bib:
        bib.write("@misc{mine2025, author={Person}, title={Моя заметка}, year={2025}}\n")

    done = subprocess.run(
        ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=clone,
        capture_output=True,
        text=True,
        errors="replace",  # TeX logs Cyrillic in its own 8-bit encoding
    )

    assert done.returncode == 0, done.stdout[-3000:]
    text = normalised_text(clone / "main.pdf")
    assert "Эмбеддинг даёт" in text and latex.number(r2) in text.split("Эмбеддинг даёт")[1]
    assert "Моя заметка" in text


def test_the_token_reaches_git_through_a_credential_helper_not_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "olp_secret")
    git_cli = GitCommand(tmp_path, "https://git.overleaf.com/0123")
    assert all("olp_secret" not in option for option in git_cli.options)

    done = subprocess.run(
        ["git", *git_cli.options, "credential", "fill"],
        input="protocol=https\nhost=git.overleaf.com\n\n",
        env=git_cli.env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "username=git\n" in done.stdout and "password=olp_secret\n" in done.stdout
