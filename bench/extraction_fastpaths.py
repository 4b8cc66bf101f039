"""Section 5 of bench_extraction.py: CPU fast paths of the extraction against today's path.

Every option runs the pipeline's extraction (`extract_taps`, default taps, float32) of a random
encoder (seed 0) in a fresh process, after an untimed run over the shortest utterance; the
options of one architecture alternate, repetition by repetition, so a shared machine's load
falls on all of them alike, and the median of the repetitions counts.

- `today`: the pipeline's path, 2 intra-op threads (the rule's `activations.threads`).
- `channels_last`: the encoder's 4-D weights (and so its 2-D maps) in channels-last memory
  format; only for architectures with 2-D convolutions.
- `compile`: `torch.compile` (inductor) of the encoder's forward; its compile time (the untimed
  run plus the first pass's recompilations for new shapes) is printed apart, and the steady
  state is a second pass over the same audio.
- `mkldnn_off`: `torch.backends.mkldnn.enabled = False` (ATen's own kernels instead of oneDNN).
- `threads1`: one job with 1 thread.
- `jobs2x1`: two jobs with 1 thread each at once, each over one of two shards of the audio
  (planned as the workflow plans shards), against one 2-thread job over all of it: the
  throughput of the whole extraction on two cores.

Per option: seconds per audio second as CPU time over the threads the option uses and as wall
time, the ratio of today's to the option's (above 1: faster), and the largest relative
difference of the pooled taps from today's: max over taps of max|a - b| / max|b| (b: today's
values of that tap over all utterances and dimensions).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rateprobe.activations import extract_taps
from rateprobe.encoders import random_encoder
from rateprobe.frontend import SAMPLE_RATE
from rateprobe.sharding import plan_shards

TAP_STATISTICS = ("mean", "std")
OPTIONS = ("today", "channels_last", "compile", "mkldnn_off", "threads1", "jobs2x1")
OPTION_THREADS = {"threads1": 1, "jobs2x1": 1}
TINY = 1e-30


def has_2d_convolutions(encoder: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in encoder.modules())


def prepared_encoder(arch: str, option: str) -> torch.nn.Module:
    """A random encoder of `arch` set up as `option` runs it."""
    encoder = random_encoder(arch, seed=0).eval()
    torch.backends.mkldnn.enabled = option != "mkldnn_off"
    if option == "channels_last":
        encoder = encoder.to(memory_format=torch.channels_last)
    elif option == "compile":
        encoder.compile()
    return encoder


def extraction(
    encoder: torch.nn.Module, waveforms: list[np.ndarray], batch_seconds: float
) -> dict[str, np.ndarray]:
    durations = [len(w) / SAMPLE_RATE for w in waveforms]
    return extract_taps(
        encoder,  # type: ignore[arg-type]
        waveforms.__getitem__,
        durations,
        encoder.tap_names(),
        TAP_STATISTICS,
        batch_seconds,
        torch.device("cpu"),
    )


def timed_pass(
    encoder: torch.nn.Module, waveforms: list[np.ndarray], batch_seconds: float
) -> tuple[float, float, dict[str, np.ndarray]]:
    start, start_cpu = time.perf_counter(), time.process_time()
    taps = extraction(encoder, waveforms, batch_seconds)
    return time.perf_counter() - start, time.process_time() - start_cpu, taps


def measure_option(
    arch: str,
    option: str,
    audio_file: str,
    rows: list[int],
    batch_seconds: float,
    barrier: Any,
    queue: Any,
) -> None:
    """In a fresh process: puts {wall, cpu, compile_s, taps} or {error}."""
    try:
        torch.set_num_threads(OPTION_THREADS.get(option, 2))
        with np.load(audio_file) as archive:
            every = [archive[key] for key in sorted(archive.files)]
        waveforms = [every[i] for i in rows]
        encoder = prepared_encoder(arch, option)
        start = time.perf_counter()
        extraction(encoder, [min(waveforms, key=len)], batch_seconds)
        warm_up = time.perf_counter() - start
        if barrier is not None:
            barrier.wait()
        wall, cpu, taps = timed_pass(encoder, waveforms, batch_seconds)
        compile_s = None
        if option == "compile":
            first_wall = wall
            wall, cpu, taps = timed_pass(encoder, waveforms, batch_seconds)
            compile_s = warm_up + first_wall - wall
        queue.put({"wall": wall, "cpu": cpu, "compile_s": compile_s, "taps": taps})
    except Exception as error:  # reported, not raised: one option's failure is a result
        lines = traceback.format_exception_only(type(error), error)
        queue.put({"error": " ".join(line.strip() for line in lines)[:400]})


def run_option(
    arch: str, option: str, audio_file: Path, durations: list[float], batch_seconds: float
) -> dict[str, Any]:
    """One measurement of `option`; jobs2x1 runs its two shards at once and joins them."""
    context = multiprocessing.get_context("spawn")
    if option == "jobs2x1":
        shards = plan_shards(durations, batch_seconds, sum(durations) / 2)
    else:
        shards = [list(range(len(durations)))]
    barrier = context.Barrier(len(shards)) if len(shards) > 1 else None
    queues = [context.Queue() for _ in shards]
    processes = [
        context.Process(
            target=measure_option,
            args=(arch, option, str(audio_file), rows, batch_seconds, barrier, queue),
        )
        for rows, queue in zip(shards, queues, strict=True)
    ]
    for process in processes:
        process.start()
    results = [queue.get() for queue in queues]
    for process in processes:
        process.join()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        return {"error": errors[0]}
    taps = {}
    for name in results[0]["taps"]:
        joined = np.empty((len(durations), results[0]["taps"][name].shape[1]), np.float32)
        for rows, result in zip(shards, results, strict=True):
            joined[rows] = result["taps"][name]
        taps[name] = joined
    return {
        "wall": max(r["wall"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
        "compile_s": results[0]["compile_s"],
        "taps": taps,
    }


def largest_relative_difference(
    taps: dict[str, np.ndarray], reference: dict[str, np.ndarray]
) -> tuple[float, str]:
    """max over taps of max|a - b| / max|b|, and the tap where it is largest."""
    worst, worst_tap = 0.0, ""
    for name, values in reference.items():
        scale = max(float(np.abs(values).max()), TINY)
        difference = float(np.abs(taps[name] - values).max()) / scale
        if difference >= worst:
            worst, worst_tap = difference, name
    return worst, worst_tap


def options_of(arch: str, chosen: list[str]) -> list[str]:
    """today and the chosen options that apply to `arch`."""
    two_d = has_2d_convolutions(random_encoder(arch, seed=0))
    return ["today"] + [o for o in chosen if o != "today" and (o != "channels_last" or two_d)]


def fast_paths(
    archs: list[str],
    chosen: list[str],
    audio_file: Path,
    durations: list[float],
    batch_seconds: float,
    repeats: int,
) -> list[dict[str, Any]]:
    """Prints and returns one row per (arch, option): medians of `repeats` interleaved runs."""
    audio = sum(durations)
    rows = []
    for arch in archs:
        options = options_of(arch, chosen)
        runs: dict[str, list[dict[str, Any]]] = {o: [] for o in options}
        for _ in range(repeats):
            for option in options:
                runs[option].append(run_option(arch, option, audio_file, durations, batch_seconds))
        reference = runs["today"][0]["taps"]
        today = {key: statistics.median(r[key] for r in runs["today"]) for key in ("wall", "cpu")}
        for option in options:
            rows.append(summarise(arch, option, runs[option], today, reference, audio))
    return rows


def summarise(
    arch: str,
    option: str,
    runs: list[dict[str, Any]],
    today: dict[str, float],
    reference: dict[str, np.ndarray],
    audio: float,
) -> dict[str, Any]:
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        print(f"  {arch:13s} {option:13s} FAILED: {errors[0]}")
        return {"arch": arch, "option": option, "error": errors[0]}
    threads = 1 if option == "threads1" else 2  # jobs2x1: two 1-thread jobs
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    difference, tap = max(largest_relative_difference(r["taps"], reference) for r in runs)
    row = {
        "arch": arch,
        "option": option,
        "cpu_rtf": cpu / threads / audio,
        "wall_rtf": wall / audio,
        "cpu_ratio": (today["cpu"] / 2) / (cpu / threads),
        "wall_ratio": today["wall"] / wall,
        "difference": difference,
        "tap": tap,
        "compile_s": runs[0]["compile_s"],
    }
    walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
    compiled = "" if row["compile_s"] is None else f", compile {row['compile_s']:.1f} s"
    print(
        f"  {arch:13s} {option:13s} CPU/threads {row['cpu_rtf']:.4f} s/s "
        f"(x{row['cpu_ratio']:.2f}), wall {row['wall_rtf']:.4f} s/s (x{row['wall_ratio']:.2f}), "
        f"taps max rel diff {difference:.1e} ({tap}){compiled}; "
        f"wall runs {walls} s"
    )
    return row
