"""Which utterances each extraction job handles, and what each job asks of a cluster.

A (model, split) is extracted in shards. The utterances are sorted longest first and batched
(`plan_batches`, as one extraction job always did), and the batches, in that order, are dealt
out to ceil(audio / `activations.shard_seconds`) shards of about equal audio. Every batch is the
same whatever the shard size, and so are the numbers: the gathered shards are the bytes of one
job over the whole split. The number of shards depends on the manifest and shard_seconds only,
so changing batch_seconds changes no job's inputs. Each shard job's wall time and memory come
from its audio duration and the real-time factor (RTF) and peak memory that
bench/bench_extraction.py measured for its architecture on its device (bench/extraction_rtf.csv).

The rules call this while Snakemake builds the job graph, on a cluster's login node and for
`snakemake -n`: it imports neither torch nor pandas.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

# The measured extraction speed per architecture, device and compute precision.
RTF_TABLE = Path("bench") / "extraction_rtf.csv"
RTF_COLUMNS = (
    "arch",
    "device",
    "precision",
    "threads",
    "batch_seconds",
    "rtf",
    "peak_mib",
    "basis",
    "machine",
    "command",
)
# A job's request is its expected time times this, plus model loading and start-up: shared
# nodes, slower CPUs than the benchmark's and file systems under load must not kill a job.
RUNTIME_SAFETY = 2.0
STARTUP_MINUTES = 5
MEMORY_SAFETY = 1.5
MEMORY_BASE_MB = 1000


@dataclass(frozen=True)
class ExtractionSpeed:
    """One row of the RTF table: seconds of wall time per second of audio, peak resident MiB."""

    arch: str
    device: str
    precision: str
    threads: int
    batch_seconds: float
    rtf: float
    peak_mib: float
    basis: str
    machine: str
    command: str


@dataclass(frozen=True)
class JobRequest:
    runtime_minutes: int
    mem_mb: int


def plan_batches(durations: Sequence[float], batch_seconds: float) -> list[list[int]]:
    """Group utterance indices of similar length, longest first.

    A batch holds at most batch_seconds of padded audio (batch size x its longest utterance);
    an utterance longer than that forms a batch of its own. A batch closes when the next
    utterance would overfill it, which depends on its first (longest) utterance only, so the
    batches of any run of whole consecutive batches, planned again, are the same batches.
    """
    order = sorted(range(len(durations)), key=lambda i: durations[i], reverse=True)
    batches: list[list[int]] = []
    for index in order:
        current = batches[-1] if batches else None
        # sorted longest first, so the batch's first utterance is its longest
        if current and (len(current) + 1) * durations[current[0]] <= batch_seconds:
            current.append(index)
        else:
            batches.append([index])
    return batches


def plan_shards(
    durations: Sequence[float], batch_seconds: float, shard_seconds: float
) -> list[list[int]]:
    """Row indices of each shard, longest utterance first.

    ceil(audio / shard_seconds) shards of about equal audio (at most shard_seconds, give or
    take one batch): each batch of `plan_batches` goes to the shard its middle falls into.
    Raises ValueError when a shard would get no batch, which only a batch longer than half a
    shard can cause.
    """
    if not durations:
        return []  # the extraction jobs name the empty manifest
    batches = plan_batches(durations, batch_seconds)
    total = sum(durations)
    count = max(1, math.ceil(total / shard_seconds))
    width = total / count
    shards: list[list[int]] = [[] for _ in range(count)]
    start = 0.0
    for batch in batches:
        seconds = sum(durations[i] for i in batch)
        middle = start + seconds / 2
        shards[min(count - 1, int(middle / width))].extend(batch)
        start += seconds
    empty = [index for index, shard in enumerate(shards) if not shard]
    if empty:
        longest = max(sum(durations[i] for i in batch) for batch in batches)
        raise ValueError(
            f"activations.shard_seconds {shard_seconds:g} leaves shards {empty} of {count} "
            f"empty: a batch holds up to {longest:.0f} s of audio; raise shard_seconds to at "
            "least twice that"
        )
    return shards


def manifest_durations(manifest: str | Path) -> list[float]:
    """The `duration_s` column of a manifest, in row order."""
    manifest = Path(manifest)
    stat = manifest.stat()
    return list(_cached_durations(manifest.resolve(), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=32)
def _cached_durations(manifest: Path, _mtime_ns: int, _size: int) -> tuple[float, ...]:
    # Every shard job of a split asks for its durations while the job graph is built: read the
    # file once per version of it.
    with manifest.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if "duration_s" not in (reader.fieldnames or []):
            raise ValueError(f"{manifest}: manifest has no duration_s column")
        return tuple(float(row["duration_s"]) for row in reader)


def shard_audio_seconds(
    manifest: str | Path, batch_seconds: float, shard_seconds: float
) -> list[float]:
    """Audio seconds of each shard of a manifest (one entry per shard)."""
    manifest = Path(manifest)
    stat = manifest.stat()
    version = (manifest.resolve(), stat.st_mtime_ns, stat.st_size)
    return list(_cached_shard_seconds(*version, batch_seconds, shard_seconds))


@lru_cache(maxsize=32)
def _cached_shard_seconds(
    manifest: Path, mtime_ns: int, size: int, batch_seconds: float, shard_seconds: float
) -> tuple[float, ...]:
    # The shard list, and each shard job's runtime and memory, ask for the same plan while the
    # job graph is built: plan each version of a manifest once.
    durations = _cached_durations(manifest, mtime_ns, size)
    shards = plan_shards(durations, batch_seconds, shard_seconds)
    return tuple(sum(durations[i] for i in shard) for shard in shards)


def read_speed_table(path: str | Path) -> list[ExtractionSpeed]:
    path = Path(path)
    with path.open(newline="") as handle:
        reader = csv.DictReader(row for row in handle if not row.startswith("#"))
        missing = [c for c in RTF_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: RTF table lacks columns {missing}")
        return [
            ExtractionSpeed(
                arch=row["arch"],
                device=row["device"],
                precision=row["precision"],
                threads=int(row["threads"]),
                batch_seconds=float(row["batch_seconds"]),
                rtf=float(row["rtf"]),
                peak_mib=float(row["peak_mib"]),
                basis=row["basis"],
                machine=row["machine"],
                command=row["command"],
            )
            for row in reader
        ]


def write_speed_table(path: str | Path, rows: list[ExtractionSpeed]) -> None:
    """Write the table sorted by (arch, device, precision), one row per such triple."""
    from rateprobe.io import write_atomic  # numpy, which io imports, is not needed to read

    by_key = {(r.arch, r.device, r.precision): r for r in rows}

    def write(handle: Any) -> None:
        lines = [",".join(RTF_COLUMNS)]
        for key in sorted(by_key):
            row = by_key[key]
            # `:g`: a whole number is written as read (8, not 8.0), so kept rows stay as they were
            values = [
                f"{value:g}" if isinstance(value, float) else str(value)
                for value in (getattr(row, column) for column in RTF_COLUMNS)
            ]
            lines.append(",".join(_csv_field(value) for value in values))
        handle.write(("\n".join(lines) + "\n").encode())

    write_atomic(path, write)


def _csv_field(value: str) -> str:
    if any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def sizing_device(device: str) -> str:
    """The device a job is sized for: CUDA only when asked for by name. `auto` is sized for
    the CPU, the slower of the two, since the node a job will land on is unknown beforehand."""
    return "cuda" if device == "cuda" else "cpu"


def sizing_precision(precision: str, device: str) -> str:
    """The precision a job is sized for. `auto` on a CPU is sized as float32: whether the node
    computes bfloat16 natively is unknown beforehand, and float32 is the slower there."""
    if precision != "auto":
        return precision
    return "float16" if device == "cuda" else "float32"


# Name fragments of WeSpeaker's published files -> architecture, most specific first.
ARCH_NAME_FRAGMENTS = (
    ("samresnet100", "samresnet100"),
    ("samresnet34", "samresnet34"),
    ("resnet34", "resnet34"),
    ("ecapa1024", "ecapa_c1024"),
    ("ecapac1024", "ecapa_c1024"),
    ("ecapa", "ecapa_c512"),
    ("cam++", "campplus"),
    ("campplus", "campplus"),
)


def model_arch(model: dict[str, Any]) -> str | None:
    """A models: entry's architecture: its `arch`, or what an official WeSpeaker file name
    says (its config.yaml is unread before download); None when neither tells."""
    if model.get("arch"):
        return str(model["arch"])
    if model["source"] == "resemblyzer":
        return "resemblyzer"
    text = f"{model['name']} {model['source']}".lower().replace("_", "").replace("-", "")
    return next((arch for fragment, arch in ARCH_NAME_FRAGMENTS if fragment in text), None)


def measured_speed(
    table: list[ExtractionSpeed], arch: str | None, device: str, precision: str
) -> ExtractionSpeed | None:
    """The table's row for this job, or None where the table has none. An unknown
    architecture gets the slowest row of the device; a precision not measured gets the
    device's float32 row."""
    rows = [r for r in table if r.device == device]
    if arch is None:
        return max(rows, key=lambda r: r.rtf, default=None)
    for wanted in (precision, "float32"):
        for row in rows:
            if row.arch == arch and row.precision == wanted:
                return row
    return None


_WARNED: set[tuple[str | None, str, str]] = set()


def extraction_speed(
    table: list[ExtractionSpeed], arch: str | None, device: str, precision: str
) -> ExtractionSpeed:
    """The measured row for this job; without one, the architecture's CPU row, else the
    slowest row measured on the device (else on any device), labelled an estimate, with a
    warning (once) that names the command that measures it. Planning never stops for want of
    a measurement: a job sized on the slow side only asks its scheduler for more time than it
    needs."""
    measured = measured_speed(table, arch, device, precision)
    if measured is not None:
        return measured
    # The architecture's own CPU row (a GPU job is faster), else the device's slowest row.
    stand_in = measured_speed(table, arch, "cpu", "float32") if arch else None
    stand_in = stand_in or measured_speed(table, None, device, precision)
    stand_in = stand_in or max(table, key=lambda r: r.rtf)
    command = f"python bench/bench_extraction.py --device {device} --sections 3" + (
        f" --archs {arch}" if arch else ""
    )
    if (arch, device, precision) not in _WARNED:
        _WARNED.add((arch, device, precision))
        print(
            f"warning: {RTF_TABLE} has no row for {arch or 'this model'} on {device}; its jobs "
            f"are sized as {stand_in.arch} on {stand_in.device} (RTF {stand_in.rtf:g}), an "
            f"estimate. Measure it with `{command}`.",
            file=sys.stderr,
        )
    return replace(
        stand_in,
        arch=arch or stand_in.arch,
        device=device,
        precision=precision,
        basis=f"ESTIMATE: no measured row; sized as {stand_in.arch} on {stand_in.device}",
        command=command,
    )


def job_request(speed: ExtractionSpeed, audio_seconds: float, max_minutes: float) -> JobRequest:
    """Wall time and memory for extracting audio_seconds of audio at this speed.

    Raises ValueError when the request exceeds max_minutes (activations.max_job_minutes).
    """
    expected_minutes = audio_seconds * speed.rtf / 60
    runtime = math.ceil(STARTUP_MINUTES + RUNTIME_SAFETY * expected_minutes)
    if runtime > max_minutes:
        raise ValueError(
            f"a shard of {audio_seconds:.0f} s of audio takes about {expected_minutes:.0f} min "
            f"for {speed.arch} on {speed.device} ({speed.precision}, RTF {speed.rtf:g} from "
            f"{RTF_TABLE}); with the margin it asks {runtime} min, over "
            f"activations.max_job_minutes ({max_minutes:g}): lower activations.shard_seconds"
        )
    # Memory follows the batch (activations.batch_seconds), not the shard: the pooled vectors
    # of a shard are a few MB.
    mem_mb = math.ceil(MEMORY_BASE_MB + MEMORY_SAFETY * speed.peak_mib)
    return JobRequest(runtime_minutes=runtime, mem_mb=mem_mb)
