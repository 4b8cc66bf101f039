"""Push the paper project into an Overleaf project through its git bridge (or any git remote).

The pushed project holds the same files as paper/overleaf.zip, so the remote compiles on its own.
Ownership is written down in the project, in MANIFEST: the pipeline owns the files it lists
(main.tex, generated/*.tex, figures, bibliography, styles, latexmkrc) with their SHA-256 at the
last push; a person owns every other file. A push rewrites and removes only pipeline-owned
files. When one of them changed on the remote since the last push (or a file a person added
holds a name the pipeline now wants), the push stops and names the files; `force` overwrites
them. The first push into a project that already has files (a new Overleaf project comes with a
sample main.tex) moves each file whose name the pipeline needs into KEPT_ASIDE, so nothing is lost.

The person-owned files main.tex inputs (rateprobe.paper.person: own/<section>-start.tex,
-end.tex, own/references.bib) live in both places, paper/own/ and the remote, and MANIFEST
records their SHA-256 at the last push. A push brings the copy that changed since then to the
other side: an edit on Overleaf is pulled into paper/own/, an edit in paper/own/ (or a file the
remote lacks) is pushed. Only when both copies changed, differently, does the push stop, since
keeping either would lose the other's text; `force` does not choose for the person.

The git side, credentials included, is rateprobe.paper.overleaf_git.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rateprobe.conventions import PAPER_PERSON_DIR
from rateprobe.io import write_bytes
from rateprobe.paper.overleaf import latexmkrc, project_files
from rateprobe.paper.overleaf_git import (
    GitCommand,
    OverleafSyncError,
    checkout_branch,
    commit_staged,
)
from rateprobe.paper.person import ensure_person_files, initial_text, person_files

LOG = logging.getLogger(__name__)
MANIFEST = "rateprobe-manifest.json"
FORCE_ENV = "RATEPROBE_OVERLEAF_FORCE"
DEFAULT_BRANCH = "master"  # the only branch Overleaf's git bridge serves
KEPT_ASIDE = "before-rateprobe"
OWNERSHIP_NOTE = [
    "Written by rateprobe at each push. The pipeline owns the files listed under",
    "pipeline_owned (with their SHA-256 at the last push) and rewrites them at every push.",
    "Every other file is yours: rateprobe never changes or deletes it. Write your text in",
    f"{PAPER_PERSON_DIR}/<section>-start.tex and -end.tex (main.tex inputs them at the start",
    f"and the end of each section) and your citations in {PAPER_PERSON_DIR}/references.bib;",
    "each push copies them into the paper/own/ folder of the pipeline (person_files: their",
    "SHA-256 at the last push). If you edit a pipeline-owned file here, the next push stops",
    f"and names it; pushing with {FORCE_ENV}=1 overwrites your edit.",
]


class OwnershipConflict(OverleafSyncError):
    """Pipeline-owned files were changed on the remote since the last push."""

    def __init__(self, remote: str, problems: Mapping[str, str]) -> None:
        listed = "\n".join(f"  {path}: {why}" for path, why in sorted(problems.items()))
        super().__init__(
            f"not pushing to {remote}: these files changed there since the last push\n{listed}\n"
            f"Move your edits into the files under {PAPER_PERSON_DIR}/ or a file of your own, "
            f"or push with {FORCE_ENV}=1 to overwrite them."
        )
        self.problems = dict(problems)


class PersonFilesDiverged(OverleafSyncError):
    """A person-owned file changed both in paper/own/ and on the remote since the last push."""

    def __init__(self, remote: str, paper_dir: Path, names: list[str]) -> None:
        listed = "\n".join(f"  {name}" for name in names)
        super().__init__(
            f"not pushing to {remote}: these files of yours changed both in {paper_dir} and "
            f"there since the last push\n{listed}\nGive both copies the same content (the text "
            "you keep), then push again."
        )
        self.names = names


@dataclass(frozen=True)
class PushResult:
    """What a push did; `commit` is None when the remote was already up to date. `pulled` are
    the person-owned files copied from the remote into paper_dir, `uploaded` those copied from
    paper_dir to the remote."""

    commit: str | None
    written: list[str]
    removed: list[str]
    overwritten: list[str]
    kept_aside: list[str]
    pulled: list[str]
    uploaded: list[str]


@dataclass(frozen=True)
class PersonSync:
    """Which copy of each person-owned file wins: project path -> content."""

    pull: dict[str, bytes]
    upload: dict[str, bytes]
    diverged: list[str]

    def synced(self, local: Mapping[str, bytes]) -> dict[str, bytes]:
        """Every person-owned file as both sides hold it once the push is done."""
        return {**local, **self.pull}


def force_requested(environ: Mapping[str, str]) -> bool:
    return environ.get(FORCE_ENV, "").strip().lower() in {"1", "true", "yes"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pipeline_files(paper_dir: Path, paper_cfg: dict[str, Any]) -> dict[str, bytes]:
    """Project path -> content of every file the pipeline owns (the zip's file set)."""
    files = {
        name.as_posix(): (paper_dir / name).read_bytes()
        for name in project_files(paper_dir, paper_cfg)
    }
    rc = latexmkrc(paper_cfg["engine"])
    if rc is not None:
        files["latexmkrc"] = rc.encode("utf-8")
    return files


def _digests(manifest: Mapping[str, Any], key: str) -> dict[str, str]:
    owned = manifest[key]
    if not isinstance(owned, dict):
        raise TypeError(f"{key} is not an object")
    return {str(name): str(digest) for name, digest in owned.items()}


def _last_push(checkout: Path, force: bool) -> tuple[dict[str, str] | None, dict[str, str]]:
    """Pipeline-owned path -> SHA-256 at the last push (None before the first push), and the
    same of the person-owned files (empty before the first push that carried them)."""
    path = checkout / MANIFEST
    if not path.is_file():
        return None, {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        person = _digests(manifest, "person_files") if "person_files" in manifest else {}
        return _digests(manifest, "pipeline_owned"), person
    except (ValueError, KeyError, TypeError) as err:
        if force:
            return {}, {}
        raise OverleafSyncError(
            f"the remote's {MANIFEST} is unreadable ({err}): restore it, or push with "
            f"{FORCE_ENV}=1 to treat every file the pipeline writes as new"
        ) from err


def _current_digest(checkout: Path, name: str) -> str | None:
    path = checkout / name
    return sha256(path.read_bytes()) if path.is_file() else None


def ownership_conflicts(
    checkout: Path, last_push: Mapping[str, str], files: Mapping[str, bytes]
) -> dict[str, str]:
    """Path -> why pushing `files` would overwrite or remove something a person changed."""
    problems = {}
    for name, pushed in last_push.items():
        now = _current_digest(checkout, name)
        wanted = sha256(files[name]) if name in files else None
        if now in (pushed, wanted):
            continue
        problems[name] = (
            "deleted on the remote since the last push"
            if now is None
            else "edited on the remote since the last push"
        )
    for name, data in files.items():
        now = _current_digest(checkout, name)
        if name not in last_push and now is not None and now != sha256(data):
            problems[name] = "a file the pipeline did not write has this name"
    return problems


def person_sync(
    checkout: Path, local: Mapping[str, bytes], last_push: Mapping[str, str]
) -> PersonSync:
    """Decide, for each person-owned file, which copy changed since the last push. A local
    copy still as the pipeline created it counts as unchanged: it holds nothing to lose (a new
    checkout pulls the person's text). A file the remote lacks is pushed again: main.tex
    inputs it there."""
    pull, upload, diverged = {}, {}, []
    for name, mine in local.items():
        path = checkout / name
        theirs = path.read_bytes() if path.is_file() else None
        if theirs == mine:
            continue
        untouched = {last_push.get(name), sha256(initial_text(name).encode("utf-8"))}
        if theirs is None:
            upload[name] = mine
        elif sha256(mine) in untouched:
            pull[name] = theirs
        elif sha256(theirs) == last_push.get(name):
            upload[name] = mine
        else:
            diverged.append(name)
    return PersonSync(pull, upload, sorted(diverged))


def _manifest_text(files: Mapping[str, bytes], person: Mapping[str, bytes]) -> str:
    manifest = {
        "ownership": OWNERSHIP_NOTE,
        "person_owned": "every file not listed under pipeline_owned",
        "pipeline_owned": {name: sha256(data) for name, data in sorted(files.items())},
        "person_files": {name: sha256(data) for name, data in sorted(person.items())},
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def _settle_ownership(
    git: GitCommand,
    last_push: Mapping[str, str] | None,
    files: Mapping[str, bytes],
    force: bool,
) -> tuple[dict[str, str], list[str]]:
    """The pipeline-owned files a person changed on the remote, path -> why, which the push
    overwrites (only with `force`), and the names moved into KEPT_ASIDE: on the first push,
    every file of the remote whose name the pipeline needs."""
    checkout = git.workdir
    problems = ownership_conflicts(checkout, last_push or {}, files)
    kept_aside = sorted(problems) if last_push is None else []
    for name in kept_aside:
        aside = checkout / KEPT_ASIDE / name
        aside.parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).rename(aside)
        git("add", "--", f"{KEPT_ASIDE}/{name}")
    problems = {name: why for name, why in problems.items() if name not in kept_aside}
    if problems and not force:
        raise OwnershipConflict(git.remote, problems)
    return problems, kept_aside


def _stage(
    git: GitCommand,
    files: Mapping[str, bytes],
    removed: list[str],
    person: PersonSync,
    mine: Mapping[str, bytes],
) -> None:
    """Write the pipeline's files, the person's uploaded ones and MANIFEST into the checkout,
    remove the pipeline-owned files it no longer writes, and stage it all."""
    checkout = git.workdir
    for name in removed:
        (checkout / name).unlink(missing_ok=True)
    for name, data in {**files, **person.upload}.items():
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    manifest = _manifest_text(files, person.synced(mine))
    (checkout / MANIFEST).write_text(manifest, encoding="utf-8")
    git("add", "--", MANIFEST, *files, *person.upload)
    if removed:
        git("rm", "-q", "--cached", "--ignore-unmatch", "--", *removed)


def _commit_and_push(git: GitCommand, branch: str) -> str | None:
    """Commit what is staged and push it to the remote's branch; None when nothing changed."""
    if git("diff", "--cached", "--quiet", check=False).returncode == 0:
        LOG.info("%s (%s) is already up to date", git.remote, branch)
        return None
    commit = commit_staged(git, "rateprobe: update the generated paper")
    git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return commit


def _log_push(commit: str, result: PushResult, remote: str, branch: str) -> None:
    LOG.info(
        "pushed %s to %s (%s): %d pipeline-owned files, removed %s, overwrote %s, "
        "moved into %s/ %s; files of the person pulled %s, uploaded %s",
        commit[:12],
        remote,
        branch,
        len(result.written),
        result.removed or "none",
        result.overwritten or "none",
        KEPT_ASIDE,
        result.kept_aside or "none",
        result.pulled or "none",
        result.uploaded or "none",
    )


def push_project(
    paper_dir: Path,
    paper_cfg: dict[str, Any],
    remote: str,
    branch: str = DEFAULT_BRANCH,
    force: bool = False,
) -> PushResult:
    """Bring the remote's branch up to date with the rendered paper in paper_dir, and the
    person-owned files of both sides with each other."""
    paper_dir = Path(paper_dir)
    files = pipeline_files(paper_dir, paper_cfg)
    if MANIFEST in files:
        raise OverleafSyncError(f"{paper_dir} holds {MANIFEST}: the name is reserved")
    ensure_person_files(paper_dir)
    mine = {name: (paper_dir / name).read_bytes() for name in person_files()}
    with tempfile.TemporaryDirectory(prefix="rateprobe-overleaf-") as tmp:
        checkout = Path(tmp)
        git = GitCommand(checkout, remote)
        checkout_branch(git, branch)
        last_push, person_last_push = _last_push(checkout, force)
        overwritten, kept_aside = _settle_ownership(git, last_push, files, force)
        person = person_sync(checkout, mine, person_last_push)
        if person.diverged:
            raise PersonFilesDiverged(remote, paper_dir, person.diverged)
        removed = sorted(set(last_push or {}) - set(files))
        _stage(git, files, removed, person, mine)
        commit = _commit_and_push(git, branch)
        # only once the remote holds the push: a rejected push changes nothing here either
        for name, data in person.pull.items():
            write_bytes(paper_dir / name, data)
        result = PushResult(
            commit,
            sorted(files),
            removed,
            sorted(overwritten),
            kept_aside,
            sorted(person.pull),
            sorted(person.upload),
        )
        if commit is not None:
            _log_push(commit, result, remote, branch)
        return result


def configured_remote(overleaf_cfg: Mapping[str, Any]) -> str:
    """The remote of the config's `overleaf` section; fails naming the key when it is unset
    (the workflow asks before it plans the study the push would need)."""
    remote = overleaf_cfg.get("remote")
    if not remote:
        raise OverleafSyncError(
            "config key 'overleaf.remote' is null: set it to the git URL of the Overleaf "
            "project (README.md, Overleaf workflow)"
        )
    return str(remote)


def push_configured(
    paper_dir: Path,
    paper_cfg: dict[str, Any],
    overleaf_cfg: dict[str, Any],
    environ: Mapping[str, str],
    summary: Path,
    pushed_summary: Path,
) -> PushResult:
    """push_project with the config's `overleaf` section; FORCE_ENV in environ forces. Once
    the push is done, a copy of `summary` (the results the pushed paper was rendered from) is
    kept at `pushed_summary`, for the change report of the next push (rateprobe.paper.diff)."""
    result = push_project(
        paper_dir,
        paper_cfg,
        configured_remote(overleaf_cfg),
        overleaf_cfg["branch"],
        force_requested(environ),
    )
    write_bytes(pushed_summary, Path(summary).read_bytes())
    return result
