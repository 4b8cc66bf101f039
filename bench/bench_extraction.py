"""Speed of the single-pass extraction (SimAM-ResNet), printed with the command and machine.

On the same utterances (the first 100 of results/manifests/{test,dev,train}.csv when they exist,
otherwise 100 short espeak-ng utterances made here), at a fixed number of threads:

1. this extraction vs the original approach, both capturing the original tap list (the stem;
   per residual block: after the first ReLU, after SimAM, the block output; the pooling). The
   original handles one utterance at a time and re-runs the whole network from its input
   features once per tap, keeping that one tap (fbank is computed once per utterance, in its
   favour). Its time is proportional to the audio it processes, so it can be timed on the first
   --original-utterances and scaled by total audio / their audio; the output says when it was.
2. this extraction vs the bare forward pass plus fbank, same batches, no taps.
3. real-time factor and peak memory (resident set of a fresh process) of the extraction with
   the default tap list, for SimAM-ResNet34 and SimAM-ResNet100.

Each measurement runs in a fresh process, so peak memory is its own. Wall time and CPU time
(all threads) are both printed: on a shared machine the CPU time is the steadier of the two.

    .venv/bin/python bench/bench_extraction.py [--threads 2] [--original-utterances 100]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rateprobe.activations import extract_taps
from rateprobe.audio import read_audio
from rateprobe.config import DEFAULTS
from rateprobe.encoders import SpeakerEncoder, compute_features, random_encoder
from rateprobe.encoders.taps import PoolingRecorder
from rateprobe.frontend import SAMPLE_RATE

STATISTICS = ("mean", "std")
WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven",
    "singing", "birds", "watch", "from", "an", "old", "oak", "tree", "near", "the", "quiet",
    "river", "and", "children", "count", "boats", "drifting", "slowly", "past",
)  # fmt: skip


def original_tap_list(encoder: SpeakerEncoder) -> list[str]:
    return [n for n in encoder.tap_names(("relu1", "simam")) if n != "embedding"]


def manifest_utterances(count: int) -> list[Path] | None:
    paths: list[Path] = []
    for split in ("test", "dev", "train"):
        manifest = Path("results/manifests") / f"{split}.csv"
        if manifest.is_file():
            paths += [Path(p) for p in pd.read_csv(manifest, dtype=str)["path"]]
    return paths[:count] if len(paths) >= count else None


def espeak_utterances(count: int, folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        words = rng.choice(WORDS, size=int(rng.integers(6, 13)))
        path = folder / f"{index:03d}.wav"
        speed = str(int(rng.integers(120, 300)))
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", speed, "-w", str(path), " ".join(words)],
            check=True,
        )
        paths.append(path)
    return paths


def measure(
    kind: str, arch: str, audio_file: str, threads: int, batch_seconds: float, limit: int, queue
) -> None:
    """One timing in this (fresh) process; puts (wall s, CPU s, utterances, peak RSS MiB)."""
    torch.set_num_threads(threads)
    with np.load(audio_file) as archive:
        waveforms = [archive[key] for key in sorted(archive.files)][:limit]
    durations = [len(w) / SAMPLE_RATE for w in waveforms]
    encoder = random_encoder(arch, seed=0).eval()
    device = torch.device("cpu")
    start, start_cpu = time.perf_counter(), time.process_time()
    if kind == "original":
        taps = original_tap_list(encoder)
        with torch.inference_mode():
            for waveform in waveforms:
                features = torch.from_numpy(compute_features(encoder, waveform))[None]
                lengths = torch.tensor([features.shape[1]])
                for tap in taps:
                    encoder(features, lengths, PoolingRecorder([tap], STATISTICS))
    else:
        taps = {
            "single_pass": original_tap_list(encoder),
            "bare": [],
            "default_taps": encoder.tap_names(),
        }[kind]
        extract_taps(
            encoder, waveforms.__getitem__, durations, taps, STATISTICS, batch_seconds, device
        )
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, cpu_seconds, len(waveforms), peak_mib))


def run_measurement(
    kind: str, arch: str, audio_file: Path, threads: int, batch_seconds: float, limit: int
) -> tuple[float, float, int, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=measure, args=(kind, arch, str(audio_file), threads, batch_seconds, limit, queue)
    )
    process.start()
    result = queue.get()
    process.join()
    return result


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {multiprocessing.cpu_count()} cores visible, load average {load}; "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--batch-seconds", type=float, default=DEFAULTS["activations"]["batch_seconds"]
    )
    parser.add_argument(
        "--original-utterances",
        type=int,
        default=None,
        help="time the original approach on this many of the utterances and scale up "
        "(default: all of them)",
    )
    args = parser.parse_args()
    original_count = min(args.original_utterances or args.utterances, args.utterances)

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine())
    with tempfile.TemporaryDirectory() as scratch:
        paths = manifest_utterances(args.utterances)
        source = "results/manifests (test, dev, train order)"
        if paths is None:
            paths = espeak_utterances(args.utterances, Path(scratch))
            source = "espeak-ng utterances generated by this script (no manifests found)"
        waveforms = {f"{i:04d}": read_audio(p).samples for i, p in enumerate(paths)}
        audio_file = Path(scratch) / "audio.npz"
        np.savez(audio_file, **waveforms)
        total_seconds = sum(len(w) for w in waveforms.values()) / SAMPLE_RATE
        print(
            f"audio: {len(paths)} utterances from {source}, {total_seconds:.1f} s in all; "
            f"{args.threads} threads, batches of <= {args.batch_seconds:g} s padded audio"
        )

        def timed(kind: str, arch: str, limit: int) -> tuple[float, float, float]:
            wall, cpu, count, peak = run_measurement(
                kind, arch, audio_file, args.threads, args.batch_seconds, limit
            )
            print(
                f"  {arch:13s} {kind:13s} {count:4d} utterances: wall {wall:8.1f} s, "
                f"CPU {cpu:8.1f} s, peak {peak:6.0f} MiB"
            )
            return wall, cpu, peak

        taps = len(original_tap_list(random_encoder("samresnet34", 0)))
        print(f"\n(1) same {taps} taps, SimAM-ResNet34: single pass vs original approach")
        single, single_cpu, _ = timed("single_pass", "samresnet34", args.utterances)
        original, original_cpu, _ = timed("original", "samresnet34", original_count)
        lengths = [len(w) for w in waveforms.values()]
        scale = sum(lengths) / sum(lengths[:original_count])
        if original_count < len(lengths):
            print(
                f"  original timed on the first {original_count} utterances, "
                f"scaled by their share of the audio (x{scale:.2f})"
            )
        print(
            f"  speed-up: {original * scale / single:.1f}x wall, "
            f"{original_cpu * scale / single_cpu:.1f}x CPU (target >= 30x)"
        )

        print("\n(2) SimAM-ResNet34: single pass with taps vs bare forward + fbank, no taps")
        bare, bare_cpu, _ = timed("bare", "samresnet34", args.utterances)
        print(
            f"  overhead of the taps: {100 * (single / bare - 1):+.1f}% wall, "
            f"{100 * (single_cpu / bare_cpu - 1):+.1f}% CPU (target <= 15%)"
        )

        print("\n(3) default taps (stem, blocks, pool, embedding): real-time factor, peak memory")
        for arch in ("samresnet34", "samresnet100"):
            seconds, _, peak = timed("default_taps", arch, args.utterances)
            print(f"  {arch}: real-time factor {seconds / total_seconds:.3f}, peak {peak:.0f} MiB")


if __name__ == "__main__":
    main()
