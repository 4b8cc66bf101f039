"""The job graph itself: formatted rules, a clean lint, and a graph built without the heavy
libraries (a SLURM login node or `--lint`, `-n`, `--report` need neither torch nor matplotlib)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from study_workspace import copy_repository, workspace_env

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HEAVY = ("torch", "matplotlib", "sklearn")


def test_snakefile_and_rules_are_snakefmt_formatted() -> None:
    rules = sorted(str(p) for p in (REPO / "rules").glob("*.smk"))
    done = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "--diff", str(REPO / "Snakefile"), *rules],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_rules_take_every_data_path_from_the_conventions() -> None:
    # rateprobe.conventions is the one home of the files' names: a path spelled out in a rule
    # could drift from the library and the scripts that read the same file.
    spelled = re.compile(r"""["'](?:results|data|paper)/""")
    sources = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    found = [
        f"{source.name}:{number}: {line.strip()}"
        for source in sources
        for number, line in enumerate(source.read_text().splitlines(), 1)
        if spelled.search(line)
    ]
    assert found == []


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    return copy_repository(tmp_path / "repo")


def test_the_job_graph_is_built_without_torch_or_matplotlib(workspace: Path) -> None:
    blocked = workspace / "blocked-imports"
    for module in HEAVY:
        (blocked / module).mkdir(parents=True)
        (blocked / module / "__init__.py").write_text(
            f"raise ImportError('{module} imported while building the job graph')\n"
        )
    env = workspace_env(workspace)
    env["PYTHONPATH"] = f"{blocked}:{env['PYTHONPATH']}"
    for args in (["-n", "--quiet"], ["--lint"]):
        done = subprocess.run(
            [str(BIN / "snakemake"), *args], cwd=workspace, env=env, capture_output=True, text=True
        )
        log = done.stdout + done.stderr
        assert done.returncode == 0, log[-4000:]
        assert "imported while building" not in log
        if args == ["--lint"]:
            assert "Congratulations, your workflow is in a good condition!" in log, log[-4000:]


def test_an_absent_corpus_is_named_even_beside_another_corpus_results(workspace: Path) -> None:
    # Manifests of another corpus must not pass for this one's.
    for split in ("train", "dev", "test"):
        manifest = workspace / "results" / "manifests" / f"{split}.csv"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text("utt_id,speaker_id,path,text,n_chars,duration_s,cps\n")
    (workspace / "absent.yaml").write_text(
        "corpus:\n  kind: librispeech\n  root: no/such/corpus\n"
        "  carve_by_speaker: {subsets: [dev-clean]}\n"
    )
    done = subprocess.run(
        [str(BIN / "snakemake"), "-n", "--configfile", "absent.yaml"],
        cwd=workspace, env=workspace_env(workspace), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0
    assert "corpus.root no/such/corpus" in done.stdout + done.stderr
