"""The build stamp: which code and which configuration computed a set of results, and when.

summary.json carries it as `build`, and the paper prints it on its first page and in the PDF's
metadata, so a PDF found on a shared drive leads back to the commit and the configuration.
The stamp describes the summary job: a paper re-rendered later from the same summary keeps it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

CONFIG_HASH_CHARS = 8


def config_hash(cfg: dict[str, Any]) -> str:
    """A short hash of the resolved configuration (key order does not matter)."""
    canonical = json.dumps(cfg, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:CONFIG_HASH_CHARS]


def _git(repo_dir: Path, *args: str) -> str | None:
    """The output of a git command in repo_dir; None outside a git checkout or without git."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=repo_dir, capture_output=True, text=True, check=False
        )
    except OSError:  # git is not installed
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def build_stamp(
    cfg: dict[str, Any], repo_dir: str | Path = ".", today: dt.date | None = None
) -> dict[str, Any]:
    """{commit, dirty, config_hash, date}: commit and dirty are null outside a git checkout
    (an unpacked archive); dirty is true when tracked files differ from the commit."""
    repo_dir = Path(repo_dir)
    commit = _git(repo_dir, "rev-parse", "--short=10", "HEAD")
    changes = _git(repo_dir, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "dirty": None if commit is None or changes is None else bool(changes),
        "config_hash": config_hash(cfg),
        "date": (today or dt.datetime.now(dt.UTC).date()).isoformat(),
    }
