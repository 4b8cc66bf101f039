"""Whole-workflow builds in a scratch copy of the repository, on the tiny study of
tests/fixtures/small_study.yaml, and what Snakemake would run next (its dry-run job table)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SMALL_STUDY = REPO / "tests" / "fixtures" / "small_study.yaml"
# Rules without an action: they only name targets, and never run as jobs.
TARGET_RULES = {"all", "manifests", "all_activations"}
JOB_STATS_ROW = re.compile(r"^(\w+)\s+(\d+)$")


def copy_repository(destination: Path) -> Path:
    """Copy the repository's files (tracked and new, not git-ignored ones) to destination."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is listed too
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def workspace_env(workdir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that makes Snakemake and its jobs import the copy's own rateprobe.

    The project is installed in editable mode from REPO, so without this a copy would run
    whatever REPO/src holds at the time of each job.
    """
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir / "src"), env.get("PYTHONPATH")]))
    return env


def run_snakemake(
    workdir: Path,
    *args: str,
    configfiles: tuple[Path, ...] = (),
    env: dict[str, str] | None = None,
    timeout_s: float = 900,
) -> str:
    """Run Snakemake in workdir on the small study (plus configfiles); return its log."""
    command = [str(SNAKEMAKE), *args, "--configfile", str(SMALL_STUDY), *map(str, configfiles)]
    done = subprocess.run(
        command,
        cwd=workdir,
        env=workspace_env(workdir, env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed in {workdir}:\n{log[-6000:]}"
    return log


def planned_jobs(workdir: Path, *targets: str, configfiles: tuple[Path, ...] = ()) -> Counter[str]:
    """Jobs per rule that Snakemake would run for targets now (empty: nothing to do)."""
    # the targets come first: --quiet takes every word after it that names a part to quiet
    log = run_snakemake(workdir, *targets, "--dry-run", "--quiet", "rules", configfiles=configfiles)
    if "Nothing to be done" in log:
        return Counter()
    table = log[log.index("Job stats:") :].splitlines()
    jobs: Counter[str] = Counter()
    for line in table[3:]:
        row = JOB_STATS_ROW.match(line.strip())
        if row is None or row.group(1) == "total":
            break
        jobs[row.group(1)] = int(row.group(2))
    return jobs


def differing_outputs(first: Path, second: Path, patterns: tuple[str, ...]) -> list[str]:
    """Files matching patterns under first that are absent from second or differ in bytes."""
    names = sorted({p.relative_to(first) for pattern in patterns for p in first.glob(pattern)})
    assert names, f"no outputs match {patterns} under {first}"
    return [
        str(name)
        for name in names
        if not (second / name).is_file()
        or (first / name).read_bytes() != (second / name).read_bytes()
    ]
