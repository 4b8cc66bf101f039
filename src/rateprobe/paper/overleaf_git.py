"""The git side of the Overleaf sync (rateprobe.paper.overleaf_sync): the git CLI in a working
directory, fetching the remote's branch, committing.

Credentials never come from the configuration: git's own credential helper answers, or, when
TOKEN_ENV is set, a one-off helper hands git that token (Overleaf's git bridge takes the user
name `git` and a git authentication token as the password); the token never appears in a
command line or in the remote URL.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

TOKEN_ENV = "OVERLEAF_GIT_TOKEN"
FALLBACK_IDENTITY = ("rateprobe", "rateprobe@localhost")
_TOKEN_HELPER = f'!f() {{ echo username=git; echo "password=${TOKEN_ENV}"; }}; f'
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


class OverleafSyncError(RuntimeError):
    """The push cannot proceed; the message says why and names the remote or the file."""


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


def checkout_branch(git: GitCommand, branch: str) -> None:
    """Fetch the remote branch into git.workdir; an unborn branch when the remote lacks it."""
    git("init", "-q")
    git("remote", "add", "origin", _remote_argument(git.remote))
    if not git("ls-remote", "--heads", "origin", f"refs/heads/{branch}").stdout.strip():
        git("checkout", "-q", "--orphan", branch)
        return
    git("fetch", "-q", "origin", f"refs/heads/{branch}")
    git("checkout", "-q", "-B", branch, "FETCH_HEAD")


def commit_staged(git: GitCommand, message: str) -> str:
    """Commit what is staged (as git's configured identity, else FALLBACK_IDENTITY); its hash."""
    identity: list[str] = []
    if git("config", "user.email", check=False).returncode != 0:
        name, email = FALLBACK_IDENTITY
        identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    git(*identity, "commit", "-q", "-m", message)
    return git("rev-parse", "HEAD").stdout.strip()
