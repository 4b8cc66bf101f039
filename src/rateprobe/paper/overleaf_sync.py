"""Push the paper project into an Overleaf project through its git bridge (or any git remote).

The pushed project holds the same files as paper/overleaf.zip, so the remote compiles on its own.
Ownership is written down in the project, in MANIFEST: the pipeline owns the files it lists
(main.tex, generated/*.tex, figures, bibliography, styles, latexmkrc) with their SHA-256 at the
last push; a person owns every other file, among them PAPER_PROSE, which the first push creates
and no push touches again. A push rewrites and removes only pipeline-owned files. When one of
them changed on the remote since the last push (or a file a person added holds a name the
pipeline now wants), the push stops and names the files; `force` overwrites them. The first push
into a project that already has files (a new Overleaf project comes with a sample main.tex)
moves each file whose name the pipeline needs into KEPT_ASIDE, so nothing is lost.

Credentials never come from the configuration: git's own credential helper answers, or, when
TOKEN_ENV is set, a one-off helper hands git that token (Overleaf's git bridge takes the user
name `git` and a git authentication token as the password); the token never appears in a
command line or in the remote URL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rateprobe.conventions import PAPER_PROSE
from rateprobe.paper.overleaf import latexmkrc, project_files

LOG = logging.getLogger(__name__)
MANIFEST = "rateprobe-manifest.json"
TOKEN_ENV = "OVERLEAF_GIT_TOKEN"
FORCE_ENV = "RATEPROBE_OVERLEAF_FORCE"
DEFAULT_BRANCH = "master"  # the only branch Overleaf's git bridge serves
KEPT_ASIDE = "before-rateprobe"
FALLBACK_IDENTITY = ("rateprobe", "rateprobe@localhost")
_TOKEN_HELPER = f'!f() {{ echo username=git; echo "password=${TOKEN_ENV}"; }}; f'
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
OWNERSHIP_NOTE = [
    "Written by rateprobe at each push. The pipeline owns the files listed under",
    "pipeline_owned (with their SHA-256 at the last push) and rewrites them at every push.",
    "Every other file is yours: rateprobe never changes or deletes it. Write your prose in",
    f"{PAPER_PROSE} (main.tex inputs it) or in files you add and input from there.",
    "If you edit a pipeline-owned file here, the next push stops and names it; pushing with",
    f"{FORCE_ENV}=1 overwrites your edit.",
]
PROSE_TEMPLATE = f"""\
% Your own text. rateprobe created this file once and never changes it again.
% main.tex inputs it after the experiments section; add \\section{{...}} and paragraphs here.
% Cite results through the macros of generated/numbers.tex (every number the paper prints,
% named after its key in summary.json), e.g. \\rpCorpusSplitsTestNSpeakers.
% Guard each claim your text relies on: \\rpAssertClaim{{<claim key>}} stops the build when the
% new results no longer decide it true (\\rpAssertClaim[false]{{...}} expects false).
% Ownership of every file of this project: {MANIFEST}.
"""


class OverleafSyncError(RuntimeError):
    """The push cannot proceed; the message says why and names the remote or the file."""


class OwnershipConflict(OverleafSyncError):
    """Pipeline-owned files were changed on the remote since the last push."""

    def __init__(self, remote: str, problems: Mapping[str, str]) -> None:
        listed = "\n".join(f"  {path}: {why}" for path, why in sorted(problems.items()))
        super().__init__(
            f"not pushing to {remote}: these files changed there since the last push\n{listed}\n"
            f"Move your edits into {PAPER_PROSE} or a file of your own, or push with "
            f"{FORCE_ENV}=1 to overwrite them."
        )
        self.problems = dict(problems)


@dataclass(frozen=True)
class PushResult:
    """What a push did; `commit` is None when the remote was already up to date."""

    commit: str | None
    written: list[str]
    removed: list[str]
    overwritten: list[str]
    kept_aside: list[str]
    created_prose: bool


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


def _remote_argument(remote: str) -> str:
    """A local path made absolute (git resolves a relative one against the clone)."""
    if "://" in remote or _SCP_LIKE.match(remote):
        return remote
    return str(Path(remote).expanduser().resolve())


class GitCommand:
    """The git CLI in one working directory, with the token helper when TOKEN_ENV is set."""

    def __init__(self, workdir: Path, remote: str) -> None:
        self.workdir, self.remote = workdir, remote
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        self.options: list[str] = []
        if os.environ.get(TOKEN_ENV):
            # an empty helper first: the token, not a stored password, answers for this remote
            self.options = ["-c", "credential.helper=", "-c", f"credential.helper={_TOKEN_HELPER}"]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["git", *self.options, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if check and done.returncode != 0:
            raise OverleafSyncError(
                f"git {args[0]} failed for the Overleaf remote {self.remote}: "
                f"{(done.stderr or done.stdout).strip()}"
            )
        return done


def _checkout(git: GitCommand, branch: str) -> None:
    """Fetch the remote branch into git.workdir; an unborn branch when the remote lacks it."""
    git("init", "-q")
    git("remote", "add", "origin", _remote_argument(git.remote))
    if not git("ls-remote", "--heads", "origin", f"refs/heads/{branch}").stdout.strip():
        git("checkout", "-q", "--orphan", branch)
        return
    git("fetch", "-q", "origin", f"refs/heads/{branch}")
    git("checkout", "-q", "-B", branch, "FETCH_HEAD")


def _last_push(checkout: Path, force: bool) -> dict[str, str] | None:
    """Pipeline-owned path -> SHA-256 at the last push; None before the first push."""
    path = checkout / MANIFEST
    if not path.is_file():
        return None
    try:
        owned = json.loads(path.read_text(encoding="utf-8"))["pipeline_owned"]
        if not isinstance(owned, dict):
            raise TypeError("pipeline_owned is not an object")
        return {str(name): str(digest) for name, digest in owned.items()}
    except (ValueError, KeyError, TypeError) as err:
        if force:
            return {}
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


def _manifest_text(files: Mapping[str, bytes]) -> str:
    manifest = {
        "ownership": OWNERSHIP_NOTE,
        "person_owned": "every file not listed under pipeline_owned",
        "pipeline_owned": {name: sha256(data) for name, data in sorted(files.items())},
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def _commit(git: GitCommand, message: str) -> str:
    identity: list[str] = []
    if git("config", "user.email", check=False).returncode != 0:
        name, email = FALLBACK_IDENTITY
        identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    git(*identity, "commit", "-q", "-m", message)
    return git("rev-parse", "HEAD").stdout.strip()


def push_project(
    paper_dir: Path,
    paper_cfg: dict[str, Any],
    remote: str,
    branch: str = DEFAULT_BRANCH,
    force: bool = False,
) -> PushResult:
    """Bring the remote's branch up to date with the rendered paper in paper_dir."""
    files = pipeline_files(Path(paper_dir), paper_cfg)
    if MANIFEST in files or PAPER_PROSE in files:
        raise OverleafSyncError(f"{paper_dir} holds {MANIFEST} or {PAPER_PROSE}: names reserved")
    with tempfile.TemporaryDirectory(prefix="rateprobe-overleaf-") as tmp:
        checkout = Path(tmp)
        git = GitCommand(checkout, remote)
        _checkout(git, branch)
        last_push = _last_push(checkout, force)
        problems = ownership_conflicts(checkout, last_push or {}, files)
        kept_aside = sorted(problems) if last_push is None else []
        for name in kept_aside:
            aside = checkout / KEPT_ASIDE / name
            aside.parent.mkdir(parents=True, exist_ok=True)
            (checkout / name).rename(aside)
            git("add", "--", f"{KEPT_ASIDE}/{name}")
        problems = {name: why for name, why in problems.items() if name not in kept_aside}
        if problems and not force:
            raise OwnershipConflict(remote, problems)

        removed = sorted(set(last_push or {}) - set(files))
        for name in removed:
            (checkout / name).unlink(missing_ok=True)
        for name, data in files.items():
            target = checkout / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (checkout / MANIFEST).write_text(_manifest_text(files), encoding="utf-8")
        created_prose = last_push is None and not (checkout / PAPER_PROSE).exists()
        if created_prose:
            (checkout / PAPER_PROSE).write_text(PROSE_TEMPLATE, encoding="utf-8")

        git("add", "--", MANIFEST, *files, *([PAPER_PROSE] if created_prose else []))
        if removed:
            git("rm", "-q", "--cached", "--ignore-unmatch", "--", *removed)
        result = PushResult(
            None, sorted(files), removed, sorted(problems), kept_aside, created_prose
        )
        if git("diff", "--cached", "--quiet", check=False).returncode == 0:
            LOG.info("%s (%s) is already up to date", remote, branch)
            return result
        commit = _commit(git, "rateprobe: update the generated paper")
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        LOG.info(
            "pushed %s to %s (%s): %d pipeline-owned files, removed %s, overwrote %s, "
            "moved into %s/ %s%s",
            commit[:12],
            remote,
            branch,
            len(files),
            removed or "none",
            sorted(problems) or "none",
            KEPT_ASIDE,
            kept_aside or "none",
            f", created {PAPER_PROSE}" if created_prose else "",
        )
        return PushResult(
            commit, result.written, removed, result.overwritten, kept_aside, created_prose
        )


def push_configured(
    paper_dir: Path,
    paper_cfg: dict[str, Any],
    overleaf_cfg: dict[str, Any],
    environ: Mapping[str, str],
) -> PushResult:
    """push_project with the config's `overleaf` section; FORCE_ENV in environ forces."""
    remote = overleaf_cfg.get("remote")
    if not remote:
        raise OverleafSyncError(
            "config key 'overleaf.remote' is null: set it to the git URL of the Overleaf "
            "project (README.md, Overleaf workflow)"
        )
    return push_project(
        paper_dir, paper_cfg, remote, overleaf_cfg["branch"], force_requested(environ)
    )
