"""Shared pytest fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_cluster import SlurmCluster, start_cluster, unavailable_reason
from study_workspace import copy_repository, run_snakemake


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A real one-node SLURM cluster of this machine, stopped after the session."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no test SLURM cluster: {reason}")
    cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def small_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository where Snakemake built the small study's paper locally.

    Tests may plan (dry-run) against it but must leave its files as they found them.
    """
    missing = [tool for tool in ("espeak-ng", "latexmk") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"building the paper needs {', '.join(missing)} (bin/setup installs them)")
    workdir = copy_repository(tmp_path_factory.mktemp("small-study"))
    # One thread per job: two jobs at a time on 2 cores, and results that a build elsewhere
    # (tests/test_slurm.py) can match bit for bit with the same thread count.
    run_snakemake(workdir, "--cores", "2", "--max-threads", "1", "all")
    return workdir
