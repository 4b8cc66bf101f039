"""The workflow through `--profile slurm` on a real one-node SLURM cluster (tests/slurm_cluster.py).

Each test reads back from SLURM itself (squeue keeps finished jobs for MinJobAge seconds) which
jobs ran, for which rule and with which resources, so a local run cannot pass for a cluster run.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from slurm_cluster import SlurmCluster
from study_workspace import (
    REPO,
    SMALL_STUDY,
    SNAKEMAKE,
    TARGET_RULES,
    copy_repository,
    differing_outputs,
    planned_jobs,
    workspace_env,
)

SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")
LOCAL_PAPER_RULES = ("paper_render", "paper_pdf", "paper_overleaf")

pytestmark = pytest.mark.slurm


@dataclass(frozen=True)
class SlurmJob:
    job_id: str
    state: str
    rule: str
    cpus: int
    memory: str
    time_limit: str


def run_with_profile(
    workdir: Path, profile: str, max_threads: int, *args: str, env: dict[str, str]
) -> str:
    """Run Snakemake with a SLURM profile in workdir; return its log."""
    command = [
        str(SNAKEMAKE),
        "--profile", profile,
        # The test node has few cores; rules that ask for more would never be scheduled.
        "--max-threads", str(max_threads),
        # Poll soon: test jobs take seconds, not hours.
        "--slurm-init-seconds-before-status-checks", "3",
        *args,
    ]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=workdir,
        env=workspace_env(workdir, env),
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"snakemake failed in {workdir}:\n{log[-6000:]}"
    return log


def jobs_known_to_slurm(cluster: SlurmCluster, job_ids: list[str]) -> list[SlurmJob]:
    """What squeue records about the given jobs; the plugin puts `rule_<name>...` in comments."""
    rows = cluster.run(
        "squeue", "--states=all", "--noheader", f"--jobs={','.join(job_ids)}",
        "--format=%i|%T|%k|%C|%m|%l",
    ).splitlines()  # fmt: skip
    jobs = []
    for row in rows:
        job_id, state, comment, cpus, memory, time_limit = row.split("|")
        rule = re.sub(r"_wildcards_.*", "", comment).removeprefix("rule_")
        jobs.append(SlurmJob(job_id, state, rule, int(cpus), memory, time_limit))
    return jobs


TOY_SNAKEFILE = """\
rule all:
    input: "b.txt"

rule a:
    output: "a.txt"
    shell: "echo $SLURM_JOB_ID > {output}"

rule b:
    input: "a.txt"
    output: "b.txt"
    threads: 64
    shell: "cat {input} > {output}; echo $SLURM_JOB_ID $SLURM_CPUS_PER_TASK >> {output}"
"""


def test_toy_workflow_runs_through_sbatch_with_the_profile(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    (tmp_path / "Snakefile").write_text(textwrap.dedent(TOY_SNAKEFILE))

    log = run_with_profile(
        tmp_path, str(REPO / "slurm"), slurm_cluster.cpus, "b.txt", env=slurm_cluster.env
    )

    submitted = SUBMITTED.findall(log)
    assert len(submitted) == 2, log
    jobs = {job.rule: job for job in jobs_known_to_slurm(slurm_cluster, submitted)}
    assert set(jobs) == {"a", "b"}
    assert {job.state for job in jobs.values()} == {"COMPLETED"}
    # The profile's default resources reached sbatch.
    assert {job.memory for job in jobs.values()} == {"4000M"}
    assert {job.time_limit for job in jobs.values()} == {"1:00:00"}
    # Threads are capped by --max-threads and become --cpus-per-task.
    assert jobs["b"].cpus == slurm_cluster.cpus
    # Each output was written inside its own SLURM job.
    a_line, b_line = (tmp_path / "b.txt").read_text().splitlines()
    assert a_line == jobs["a"].job_id
    assert b_line.split() == [jobs["b"].job_id, str(slurm_cluster.cpus)]


# Everything the small study computes, as files whose bytes must not depend on where jobs ran.
STUDY_OUTPUTS = (
    "results/manifests/*",
    "results/activations/*/*.npz",
    "results/probes/*.csv",
    "results/probes/*.json",
    "results/analysis/*/*.json",
    "results/summary.json",
    "paper/main.tex",
    "paper/generated/*.tex",
)


@pytest.mark.slow
def test_small_study_through_slurm_matches_the_local_build(
    slurm_cluster: SlurmCluster, small_study: Path, tmp_path: Path
) -> None:
    workdir = copy_repository(tmp_path / "repository")
    plan = planned_jobs(workdir, "all") - Counter(dict.fromkeys(TARGET_RULES, 1))
    # The extraction shards are planned once the manifests (checkpoints) exist, so the dry run
    # cannot list them; each of the small study's audio sets (splits, variants) is one shard.
    plan["extract_activations"] = plan["gather_activations"]
    # The paper's rules are local (compute nodes rarely have TeX): they run beside Snakemake.
    for rule in LOCAL_PAPER_RULES:
        del plan[rule]
    jobs_to_run = plan.total()

    # The README's command, typed as is from the repository root; one thread per job as in the
    # local build (see the small_study fixture).
    log = run_with_profile(
        workdir, "slurm", 1, "all", "--configfile", str(SMALL_STUDY), env=slurm_cluster.env
    )

    submitted = SUBMITTED.findall(log)
    assert len(submitted) == jobs_to_run, log[-6000:]
    jobs = jobs_known_to_slurm(slurm_cluster, submitted)
    assert {job.state for job in jobs} == {"COMPLETED"}
    assert Counter(job.rule for job in jobs) == plan
    assert (workdir / "paper" / "main.pdf").stat().st_size > 0
    assert differing_outputs(small_study, workdir, STUDY_OUTPUTS) == []
