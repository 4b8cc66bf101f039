"""Rules that need the internet or TeX run where Snakemake runs, not on compute nodes."""

from __future__ import annotations

import os
from pathlib import Path

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

    assert {"download_subset", "fetch_model"} <= local
    assert {"paper_render", "paper_pdf", "paper_overleaf"} <= local
    assert "extract_activations" not in local
