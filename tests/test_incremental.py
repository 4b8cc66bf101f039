"""Incremental rebuilds: after a build, Snakemake plans exactly the jobs that a change affects.

Each test asks Snakemake for its plan (a dry run) on the built small study and compares the jobs
per rule with what the change should cause; nothing is rebuilt and every edit is undone.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from study_workspace import SMALL_STUDY, planned_jobs

pytestmark = pytest.mark.slow

PAPER_RULES = Counter({"paper_render": 1, "paper_pdf": 1, "paper_overleaf": 1, "all": 1})


@contextmanager
def edited(path: Path, addition: str) -> Iterator[None]:
    """Append text to a file for the duration; then restore its bytes and times."""
    original, times = path.read_bytes(), path.stat()
    path.write_bytes(original + addition.encode())
    try:
        yield
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


def test_a_second_run_after_a_build_plans_nothing(small_study: Path) -> None:
    assert planned_jobs(small_study, "all") == Counter()


def test_editing_a_template_replans_only_the_paper(small_study: Path) -> None:
    template = small_study / "paper" / "templates" / "conclusion.tex.j2"
    with edited(template, "\n% an edit that changes no number\n"):
        assert planned_jobs(small_study, "all") == PAPER_RULES
    assert planned_jobs(small_study, "all") == Counter()


def test_editing_a_library_module_reruns_every_stage_importing_it(small_study: Path) -> None:
    # probe_model imports rateprobe.probing.run, which imports ridge: a fix there re-probes
    # every model and reruns what reads the probes, but extracts nothing again.
    ridge = small_study / "src" / "rateprobe" / "probing" / "ridge.py"
    with edited(ridge, "\n# a fix that the probes must not miss\n"):
        plan = planned_jobs(small_study, "all")
    probes = {"probe_model": 2, "classification": 2, "intervention_analysis": 2}
    assert plan == Counter(probes | {"summary": 1, "figures": 1} | PAPER_RULES)
    assert planned_jobs(small_study, "all") == Counter()


def test_adding_a_model_plans_only_its_jobs(small_study: Path, tmp_path: Path) -> None:
    models = yaml.safe_load(SMALL_STUDY.read_text())["models"]
    added = {"name": "samresnet34_random", "source": "random", "arch": "samresnet34", "seed": 0}
    bigger = tmp_path / "one_more_model.yaml"
    # Keys in the order written: Snakemake compares params by their text, key order included.
    bigger.write_text(yaml.safe_dump({"models": [*models, added]}, sort_keys=False))

    plan = planned_jobs(small_study, "all", configfiles=(bigger,))

    # The new model's three splits, its probes and its reading of the existing intervention
    # audio (made once for all models); then everything that gathers all models.
    # The small study's splits and variants are one extraction shard each: four audio sets.
    own = {"extract_activations": 4, "gather_activations": 4, "probe_model": 1}
    own |= {"verification": 1, "tsne": 1, "classification": 1, "cca": 1}
    own |= {"intervention_analysis": 1}
    assert plan == Counter(own | {"summary": 1, "figures": 1} | PAPER_RULES)


def _settings_file(directory: Path, settings: dict) -> Path:
    path = directory / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_settings_that_cannot_change_a_result_rerun_nothing(
    small_study: Path, tmp_path: Path
) -> None:
    runtime = {"batch_seconds": 3, "device": "cpu", "shard_seconds": 3000, "max_job_minutes": 300}
    runtime_only = _settings_file(
        tmp_path, {"probes": {"threads": 2, "device": "cpu"}, "activations": runtime}
    )
    assert planned_jobs(small_study, "all", configfiles=(runtime_only,)) == Counter()
    # The check can fail: a setting that changes the numbers reruns every extraction.
    precision = _settings_file(tmp_path, {"activations": {"precision": "bfloat16"}})
    plan = planned_jobs(small_study, "all", configfiles=(precision,))
    # two models, each with three splits and the rate variants
    assert plan["gather_activations"] == 8 and plan["extract_activations"] == 8


def test_a_t_sne_setting_reruns_the_maps_and_what_prints_them(
    small_study: Path, tmp_path: Path
) -> None:
    perplexity = _settings_file(tmp_path, {"analysis": {"tsne": {"perplexity": 3}}})
    plan = planned_jobs(small_study, "all", configfiles=(perplexity,))
    assert plan == Counter({"tsne": 2, "summary": 1, "figures": 1} | PAPER_RULES)


def test_a_probe_setting_reruns_the_probes_not_the_extraction(
    small_study: Path, tmp_path: Path
) -> None:
    alphas = _settings_file(tmp_path, {"probes": {"ridge_alphas": [0.1, 1.0, 10.0]}})
    plan = planned_jobs(small_study, "all", configfiles=(alphas,))
    # Classifiers read the dev-chosen tap; the interventions read the chosen ridge alphas.
    probes = {"probe_model": 2, "classification": 2, "intervention_analysis": 2}
    assert plan == Counter(probes | {"summary": 1, "figures": 1} | PAPER_RULES)


def test_a_moved_checkout_reruns_nothing(small_study: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(small_study, moved, symlinks=True)  # copy2 keeps the time stamps
    assert planned_jobs(moved, "all") == Counter()
