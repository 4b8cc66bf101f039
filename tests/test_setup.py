"""bin/setup without root sets up Python all the same; stages stop on a missing program.

bin/setup runs in a copy of the repository with every outside program it calls replaced by a
shim that records its arguments: dpkg-query reports every package missing, `id -u` answers the
uid under test, sudo refuses, apt-get and the virtual environment's python install nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from rateprobe.corpus.synthetic import synthesize_corpus
from rateprobe.corpus.tempo_variants import time_stretch
from rateprobe.system_tools import DEBIAN_PACKAGE, MissingProgramError, require_program

REPO = Path(__file__).resolve().parents[1]

SHIMS = {
    "dpkg-query": "exit 1",
    "id": 'echo "$FAKE_UID"',
    "sudo": "exit 1",
    "apt-get": 'echo "apt-get $*" >>"$CALLS"',
    # `python -m venv DIR` makes DIR/bin/python the recording shim; all else is the real one.
    "python": """if [[ "$1 $2" == "-m venv" ]]; then
  mkdir -p "$3/bin" && cp "$SHIM_DIR/venv-python" "$3/bin/python"
else exec "$REAL_PYTHON" "$@"; fi""",
    # No torch yet, so setup installs it; every pip install only records its arguments.
    "venv-python": """echo "venv-python $*" >>"$CALLS"
[[ "$1" != "-c" ]]""",
}


NOBODY = 65534


def _setup(
    workspace: Path, uid: int, *args: str, as_user: bool = False
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the repository's bin/setup in a copy under the shims; (its result, the calls).

    `as_user`: really run as `uid` (needs root), with the real `id` and `sudo`.
    """
    repo, shims = workspace / "repo", workspace / "shims"
    if not repo.exists():
        (repo / "bin").mkdir(parents=True)
        shutil.copy2(REPO / "bin" / "setup", repo / "bin" / "setup")
        shutil.copy2(REPO / "pyproject.toml", repo / "pyproject.toml")
        shims.mkdir()
        for name, body in SHIMS.items():
            if as_user and name in ("id", "sudo"):
                continue
            (shims / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
            (shims / name).chmod(0o755)
    calls = workspace / "calls.txt"
    calls.write_text("")
    command = ["bash", str(repo / "bin" / "setup"), *args]
    if as_user:
        for path in (workspace, *workspace.rglob("*")):
            os.chown(path, uid, uid)
        command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command]
    env = {
        "PATH": f"{shims}:/usr/bin:/bin",
        "HOME": str(workspace),
        "FAKE_UID": str(uid),
        "CALLS": str(calls),
        "SHIM_DIR": str(shims),
        "REAL_PYTHON": "/usr/bin/python3" if as_user else sys.executable,
        "PYTHON": str(shims / "python"),
    }
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return result, calls.read_text()


def test_without_root_setup_lists_missing_packages_by_stage_and_installs_python(
    tmp_path: Path,
) -> None:
    result, calls = _setup(tmp_path, 1000)

    assert result.returncode == 0, result.stderr
    assert "apt-get" not in calls
    log = result.stderr
    assert "the demo corpus (config.yaml) and its rate interventions: espeak-ng" in log
    assert "the rate interventions on LibriSpeech: rubberband-cli" in log
    assert "the paper PDF (rule paper_pdf, run where Snakemake runs): latexmk texlive" in log
    install_line = next(line for line in log.splitlines() if "apt-get install" in line)
    assert all(package in install_line.split() for package in DEBIAN_PACKAGE.values())
    assert "poppler-utils" not in log and "slurm-wlm" not in log  # the tests' only
    assert "venv-python -m pip install -q torch==2.13.0" in calls
    assert "venv-python -m pip install -q -e ." in calls
    assert (tmp_path / "repo" / ".venv" / ".rateprobe-installed").read_text().endswith(" plain\n")
    assert log.rstrip().endswith("ready, except the stages above that need missing Debian packages")


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None or not Path("/usr/bin/python3").exists(),
    reason="running as another user needs root, setpriv and /usr/bin/python3",
)
def test_as_a_real_user_without_sudo_setup_installs_python_and_no_debian_package() -> None:
    workspace = Path(tempfile.mkdtemp(prefix="rateprobe-setup-"))  # outside root's 0700 tmp
    try:
        workspace.chmod(0o755)
        result, calls = _setup(workspace, NOBODY, as_user=True)
    finally:
        shutil.rmtree(workspace)

    assert result.returncode == 0, result.stderr
    assert "not root and no passwordless sudo" in result.stderr
    assert "apt-get" not in calls
    assert "venv-python -m pip install -q -e ." in calls


def test_a_second_run_without_root_installs_nothing_again(tmp_path: Path) -> None:
    _setup(tmp_path, 1000)
    result, calls = _setup(tmp_path, 1000)

    assert result.returncode == 0, result.stderr
    assert "pip install" not in calls
    assert "espeak-ng" in result.stderr  # still listed: nothing installed it


def test_as_root_setup_installs_the_missing_packages_with_the_test_ones(tmp_path: Path) -> None:
    result, calls = _setup(tmp_path, 0, "--test")

    assert result.returncode == 0, result.stderr
    install = next(line for line in calls.splitlines() if " install " in line).split()
    assert install[:2] == ["apt-get", "install"]
    for package in ("espeak-ng", "rubberband-cli", "latexmk", "poppler-utils", "slurm-wlm"):
        assert package in install
    assert "venv-python -m pip install -q -e .[dev]" in calls
    assert result.stderr.rstrip().endswith("[setup] ready")


def test_a_missing_program_names_its_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")

    with pytest.raises(MissingProgramError) as raised:
        require_program("rubberband", "time-stretching")

    assert str(raised.value) == (
        "missing rubberband: install Debian package rubberband-cli (bin/setup lists it); "
        "time-stretching needs it"
    )


def test_the_synthetic_corpus_stops_before_any_work_without_espeak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")

    with pytest.raises(MissingProgramError, match="install Debian package espeak-ng"):
        synthesize_corpus({}, seed=0, report_path=tmp_path / "report.json")

    assert os.listdir(tmp_path) == []


def test_time_stretching_stops_naming_rubberband_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")

    with pytest.raises(MissingProgramError, match="install Debian package rubberband-cli"):
        time_stretch(np.zeros(16000, dtype=np.float32), 1.25)
