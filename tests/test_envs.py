"""envs/rateprobe.yaml, the jobs' conda environment, provides what pyproject.toml requires."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ.
CONDA_NAMES = {"torch": "pytorch", "soundfile": "pysoundfile", "matplotlib": "matplotlib-base"}
# Needed by the Snakemake process that schedules jobs, not inside the jobs.
SCHEDULER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower()


def test_the_conda_environment_has_every_dependency_of_the_project() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs" / "rateprobe.yaml").read_text())
    conda = {_name(dep) for dep in env["dependencies"] if isinstance(dep, str)}
    pip = {
        _name(dep)
        for entry in env["dependencies"]
        if isinstance(entry, dict)
        for dep in entry["pip"]
    }

    required = {_name(dep) for dep in project["dependencies"]} - SCHEDULER_ONLY
    missing = sorted(d for d in required if CONDA_NAMES.get(d, d) not in conda and d not in pip)

    assert missing == []
    assert "python" in conda and "pip" in conda
