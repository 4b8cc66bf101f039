"""A throw-away single-node SLURM cluster on this machine, for tests that need a real scheduler.

Debian's `slurm-wlm` and `munge` (installed here when missing and apt is available) run from a
private directory: its own munge key and socket, a generated slurm.conf on free ports, state and
logs, so nothing under /etc is touched and a system-wide SLURM, if any, is left alone. Clients
find this cluster through the environment in `SlurmCluster.env` (SLURM_CONF).

Accounting is disabled, as on many small clusters, so job status comes from squeue alone; that
is why MinJobAge is high: finished jobs stay visible to squeue long enough to be seen completing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DEBIAN_PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scancel", "srun", "scontrol")
PARTITION = "debug"
MIN_JOB_AGE_S = 600


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the test cluster; the message says why."""


def _missing_programs() -> list[str]:
    return [p for p in (*DAEMONS, *CLIENTS) if shutil.which(p) is None]


def unavailable_reason() -> str | None:
    """Why a cluster cannot be started here, or None when it can (perhaps after apt-get)."""
    if os.uname().sysname != "Linux":
        return "the test cluster needs Linux"
    if os.geteuid() != 0:
        return "starting SLURM daemons needs root (run the tests as root)"
    if _missing_programs() and shutil.which("apt-get") is None:
        return f"SLURM is not installed ({', '.join(_missing_programs())} missing) and no apt-get"
    return None


def install_packages() -> None:
    """Install slurm-wlm and munge with apt-get when any of their programs is missing."""
    if not _missing_programs():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Another apt-get may hold the dpkg lock (e.g. bin/setup running in parallel): wait for it.
    apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]
    for args in (["update"], ["install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES]):
        done = subprocess.run([*apt, *args], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SlurmUnavailable(f"apt-get {args[0]} failed:\n{done.stderr[-2000:]}")
    if _missing_programs():
        raise SlurmUnavailable(f"still missing after apt-get: {', '.join(_missing_programs())}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _memory_mb() -> int:
    meminfo = Path("/proc/meminfo").read_text()
    total_kb = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE).group(1))  # type: ignore[union-attr]
    # Leave room for the OS and the test process itself.
    return int(total_kb / 1024 * 0.9)


def slurm_conf(root: Path, node: str, cpus: int, memory_mb: int, ports: tuple[int, int]) -> str:
    """The slurm.conf of a one-node cluster whose state, logs and munge socket live under root."""
    ctld_port, slurmd_port = ports
    return f"""\
ClusterName=rateprobe-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
MinJobAge={MIN_JOB_AGE_S}
ReturnToService=2
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class SlurmCluster:
    """A running one-node cluster; `env` is the environment its clients (sbatch...) need."""

    root: Path
    node: str
    cpus: int
    memory_mb: int
    env: dict[str, str] = field(default_factory=dict)
    _daemons: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    def run(self, *command: str) -> str:
        """Run a SLURM client against this cluster and return its stdout."""
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def _client_shims(self) -> Path:
        """A folder of wrappers that point SLURM's clients at this cluster.

        SLURM_CONF alone is not enough: Snakemake's jobstep executor clears SLURM_* variables
        before its nested srun, which then looks for /etc/slurm/slurm.conf.
        """
        shims = self.root / "bin"
        shims.mkdir(exist_ok=True)
        for client in (*CLIENTS, "sacct"):
            real = shutil.which(client)
            if real is None:
                continue
            shim = shims / client
            shim.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{real}" "$@"\n')
            shim.chmod(0o755)
        return shims

    def _spawn(self, name: str, *command: str) -> None:
        log = (self.root / f"{name}.out").open("wb")
        process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self._daemons.append(process)

    def start(self, timeout_s: float = 60.0) -> None:
        """Start munged, slurmctld and slurmd; return once the node is idle."""
        munge_dir = self.root / "munge"
        for sub in ("munge", "state", "spool"):
            (self.root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        key = munge_dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        ports = (_free_port(), _free_port())
        self.conf.write_text(slurm_conf(self.root, self.node, self.cpus, self.memory_mb, ports))
        self.env = {
            **os.environ,
            "SLURM_CONF": str(self.conf),
            "PATH": f"{self._client_shims()}{os.pathsep}{os.environ.get('PATH', '')}",
        }

        # munged refuses a world-writable /tmp ancestor without --force; the key is ours alone.
        self._spawn(
            "munged",
            "munged", "--foreground", "--force",
            f"--socket={munge_dir}/munge.socket",
            f"--key-file={key}",
            f"--pid-file={munge_dir}/munged.pid",
            f"--log-file={munge_dir}/munged.log",
            f"--seed-file={munge_dir}/munged.seed",
        )  # fmt: skip
        self._wait_for(lambda: (munge_dir / "munge.socket").exists(), "munged socket", timeout_s)
        self._spawn("slurmctld", "slurmctld", "-D", "-i", "-f", str(self.conf))
        self._spawn("slurmd", "slurmd", "-D", "-N", self.node, "-f", str(self.conf))
        self._wait_for(self._node_idle, f"node {self.node} idle in sinfo", timeout_s)

    def _node_idle(self) -> bool:
        try:
            states = self.run("sinfo", "--noheader", "--Node", "--format=%t").split()
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return states == ["idle"]

    def _wait_for(self, ready: Callable[[], bool], what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [p for p in self._daemons if p.poll() is not None]
            if dead:
                break
            time.sleep(0.5)
        logs = "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
            for log in sorted(self.root.glob("*.out")) + sorted(self.root.glob("*.log"))
        )
        self.stop()
        raise SlurmUnavailable(f"timed out waiting for {what}; daemon output:\n{logs}")

    def stop(self) -> None:
        """Cancel what is still queued or running, then stop the daemons this object started."""
        if self._daemons and all(p.poll() is None for p in self._daemons):
            # Fails only when the controller is already gone, and then nothing runs anyway.
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.run("scancel", "--full", f"--partition={PARTITION}")
        for process in reversed(self._daemons):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self._daemons):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._daemons.clear()

    @property
    def running(self) -> bool:
        return bool(self._daemons) and all(p.poll() is None for p in self._daemons)


def start_cluster(root: Path | None = None) -> SlurmCluster:
    """Install SLURM if needed and start a one-node cluster of this machine's CPUs and memory."""
    reason = unavailable_reason()
    if reason:
        raise SlurmUnavailable(reason)
    install_packages()
    root = root or Path(tempfile.mkdtemp(prefix="rateprobe-slurm-"))
    cluster = SlurmCluster(
        root=root,
        node=socket.gethostname().split(".")[0],
        cpus=len(os.sched_getaffinity(0)),
        memory_mb=_memory_mb(),
    )
    cluster.start()
    return cluster
