"""Speed of the single-pass extraction and of GE2E's windows, printed with command and machine.

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
   the default tap list, for each architecture of --archs (all by default), in float32 and
   (all but Resemblyzer, which runs in float32) in each lower precision of --precisions
   (autocast; activations.precision): the speed ratio and the smallest cosine between an
   utterance's float32 and lower-precision embeddings. On a CPU the real-time factor is CPU
   time over the threads (what a job with its own cores would take; a shared machine's wall
   time is also printed). These rows go to the table the workflow sizes its extraction jobs
   from (--table, default bench/extraction_rtf.csv; rows of other devices, precisions or
   architectures are kept).
4. the cost of computing Resemblyzer's GE2E embedding as its `embed_utterance` does (1.6 s
   windows every 0.77 s, all taps pooled over the windows) against one pass over each whole
   utterance (packed batches, as before the windows): real-time factor of both, same taps.
5. CPU fast paths (extraction_fastpaths.py) for each architecture of --archs against today's
   path, --repeats interleaved runs each: channels-last memory format, torch.compile, oneDNN
   off, 1 thread, and two 1-thread jobs at once vs one 2-thread job; seconds per audio second,
   ratio to today's path, and the largest relative difference of the pooled taps.

Each measurement runs in a fresh process, so peak memory is its own, after an untimed run over
the shortest utterance, so one-time initialisation is not timed. Wall time and CPU time (all
threads) are both printed: on a shared machine the CPU time is the steadier of the two.

    .venv/bin/python bench/bench_extraction.py [--threads 2] [--original-utterances 100]
        [--device cpu|cuda] [--precisions bfloat16] [--sections 1 2 3 4]
        [--repeats 3] [--options today channels_last ...]
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
from extraction_fastpaths import OPTIONS, fast_paths
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from rateprobe.activations import FLOAT32_ARCHS, extract_taps, plan_batches, resolve_device
from rateprobe.audio import read_audio
from rateprobe.config import DEFAULTS
from rateprobe.encoders import ARCHITECTURES, SpeakerEncoder, compute_features, random_encoder
from rateprobe.encoders.resemblyzer import (
    PARTIAL_FRAMES,
    ResemblyzerEncoder,
    partial_starts,
)
from rateprobe.encoders.taps import PoolingRecorder, length_mask
from rateprobe.frontend import HOP_SAMPLES, SAMPLE_RATE, resemblyzer_mel
from rateprobe.sharding import RTF_TABLE, ExtractionSpeed, read_speed_table, write_speed_table

STATISTICS = ("mean", "std")
GE2E_REPEATS = 5  # a GE2E run takes well under a second: the fastest of several is steadier
WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven",
    "singing", "birds", "watch", "from", "an", "old", "oak", "tree", "near", "the", "quiet",
    "river", "and", "children", "count", "boats", "drifting", "slowly", "past",
)  # fmt: skip


def original_tap_list(encoder: SpeakerEncoder) -> list[str]:
    return [n for n in encoder.tap_names(("relu1", "simam")) if n != "embedding"]


def extraction_taps(kind: str, encoder: SpeakerEncoder) -> list[str]:
    """The taps a pipeline extraction of this kind captures: the original list, none, or the
    default list (for GE2E: over its windows, as the pipeline computes it)."""
    if kind == "single_pass":
        return original_tap_list(encoder)
    if kind == "bare":
        return []
    assert kind == "default_taps", kind
    return encoder.tap_names()


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


def whole_utterance_ge2e(
    encoder: ResemblyzerEncoder, waveforms: list[np.ndarray], batch_seconds: float
) -> None:
    """GE2E without windows: each utterance's whole mel spectrogram through the network once
    (packed batches), every tap pooled, the embedding from the final hidden state."""
    durations = [len(w) / SAMPLE_RATE for w in waveforms]
    for batch in plan_batches(durations, batch_seconds):
        mels = [torch.from_numpy(resemblyzer_mel(waveforms[i])) for i in batch]
        lengths = torch.tensor([len(mel) for mel in mels])
        padded = pad_sequence(mels, batch_first=True)
        mask = length_mask(lengths, padded.shape[1])
        recorder = PoolingRecorder(encoder.tap_names(), STATISTICS)
        sequence = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        for index, lstm in enumerate((encoder.lstm1, encoder.lstm2, encoder.lstm3), start=1):
            sequence, (hidden, _) = lstm(sequence)
            frames, _ = pad_packed_sequence(sequence, batch_first=True)
            recorder.record(f"lstm{index}", frames.transpose(1, 2), mask)
        embedding = nn.functional.normalize(torch.relu(encoder.linear(hidden[-1])), dim=1)
        recorder.record("embedding", embedding, None)


def window_frame_ratio(lengths: list[int]) -> float:
    """Frames the GE2E windows hold over frames of the whole utterances."""
    windowed = sum(len(partial_starts(n)) * PARTIAL_FRAMES for n in lengths)
    return windowed / sum(n // HOP_SAMPLES + 1 for n in lengths)


def run(
    kind: str,
    encoder: SpeakerEncoder,
    waveforms: list[np.ndarray],
    batch_seconds: float,
    device: str = "cpu",
    precision: str = "float32",
) -> dict[str, np.ndarray] | None:
    """One extraction of this kind over the waveforms; the pipeline's kinds return their taps."""
    if kind == "ge2e_whole":
        assert isinstance(encoder, ResemblyzerEncoder)
        with torch.inference_mode():
            whole_utterance_ge2e(encoder, waveforms, batch_seconds)
    elif kind == "original":
        taps = original_tap_list(encoder)
        with torch.inference_mode():
            for waveform in waveforms:
                features = torch.from_numpy(compute_features(encoder, waveform))[None]
                lengths = torch.tensor([features.shape[1]])
                for tap in taps:
                    encoder(features, lengths, PoolingRecorder([tap], STATISTICS))
    else:
        durations = [len(w) / SAMPLE_RATE for w in waveforms]
        taps = extraction_taps(kind, encoder)
        return extract_taps(
            encoder,
            waveforms.__getitem__,
            durations,
            taps,
            STATISTICS,
            batch_seconds,
            torch.device(device),
            precision,
        )
    return None


def measure(
    kind: str,
    arch: str,
    audio_file: str,
    threads: int,
    batch_seconds: float,
    limit: int,
    repeats: int,
    device: str,
    precision: str,
    queue,
) -> None:
    """Timings in this (fresh) process; puts (wall s, CPU s, utterances, peak RSS MiB).

    An untimed run over the shortest utterance first keeps one-time initialisation out of the
    timings (it is most of a sub-second GE2E run); of `repeats` timed runs the fastest counts.
    """
    torch.set_num_threads(threads)
    with np.load(audio_file) as archive:
        waveforms = [archive[key] for key in sorted(archive.files)][:limit]
    encoder = random_encoder(arch, seed=0).eval()
    run(kind, encoder, [min(waveforms, key=len)], batch_seconds, device, precision)
    timings = []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        taps = run(kind, encoder, waveforms, batch_seconds, device, precision)
        timings.append((time.perf_counter() - start, time.process_time() - start_cpu))
    embeddings = taps.get("embedding") if taps else None
    seconds, cpu_seconds = min(timings)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, cpu_seconds, len(waveforms), peak_mib, embeddings))


def run_measurement(
    kind: str,
    arch: str,
    audio_file: Path,
    threads: int,
    batch_seconds: float,
    limit: int,
    repeats: int = 1,
    device: str = "cpu",
    precision: str = "float32",
) -> tuple[float, float, int, float, np.ndarray | None]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=measure,
        args=(
            kind, arch, str(audio_file), threads, batch_seconds, limit, repeats, device,
            precision, queue,
        ),
    )  # fmt: skip
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


def smallest_cosine(exact: np.ndarray, low: np.ndarray) -> float:
    """The smallest cosine between rows of two (utterances, dim) embedding arrays."""
    norms = np.linalg.norm(exact, axis=1) * np.linalg.norm(low, axis=1)
    return float(((exact * low).sum(axis=1) / norms).min())


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
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="section 3")
    parser.add_argument(
        "--precisions",
        nargs="*",
        choices=("bfloat16", "float16"),
        default=["bfloat16"],
        help="lower precisions timed beside float32 in section 3",
    )
    parser.add_argument("--sections", nargs="+", type=int, default=[1, 2, 3, 4])
    parser.add_argument(
        "--archs",
        nargs="+",
        default=[*ARCHITECTURES, "resemblyzer"],
        help="architectures of sections 3 and 5",
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs, section 5")
    parser.add_argument(
        "--options", nargs="+", choices=OPTIONS, default=list(OPTIONS), help="section 5"
    )
    parser.add_argument(
        "--table", type=Path, default=RTF_TABLE, help="section 3 writes its rows here"
    )
    args = parser.parse_args()
    original_count = min(args.original_utterances or args.utterances, args.utterances)
    device = resolve_device(args.device, "--device").type
    command = shlex.join([sys.executable, *sys.argv])

    print("command:", command)
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
        lengths = [len(w) for w in waveforms.values()]
        print(
            f"audio: {len(paths)} utterances from {source}, {total_seconds:.1f} s in all; "
            f"{args.threads} threads, batches of <= {args.batch_seconds:g} s padded audio"
        )

        def timed(
            kind: str,
            arch: str,
            limit: int,
            repeats: int = 1,
            device: str = "cpu",
            precision: str = "float32",
        ) -> tuple[float, float, float, np.ndarray | None]:
            wall, cpu, count, peak, embeddings = run_measurement(
                kind, arch, audio_file, args.threads, args.batch_seconds, limit, repeats,
                device, precision,
            )  # fmt: skip
            print(
                f"  {arch:13s} {kind:13s} {precision:8s} {count:4d} utterances: "
                f"wall {wall:8.2f} s, CPU {cpu:8.2f} s, peak {peak:6.0f} MiB"
            )
            return wall, cpu, peak, embeddings

        if 1 in args.sections or 2 in args.sections:
            taps = len(original_tap_list(random_encoder("samresnet34", 0)))
            print(f"\n(1) same {taps} taps, SimAM-ResNet34: single pass vs original approach")
            single, single_cpu, _, _ = timed("single_pass", "samresnet34", args.utterances)
        if 1 in args.sections:
            original, original_cpu, _, _ = timed("original", "samresnet34", original_count)
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

        if 2 in args.sections:
            print("\n(2) SimAM-ResNet34: single pass with taps vs bare forward + fbank, no taps")
            bare, bare_cpu, _, _ = timed("bare", "samresnet34", args.utterances)
            print(
                f"  overhead of the taps: {100 * (single / bare - 1):+.1f}% wall, "
                f"{100 * (single_cpu / bare_cpu - 1):+.1f}% CPU (target <= 15%)"
            )

        if 3 in args.sections:
            print(
                "\n(3) default taps (stem, blocks, pool, embedding) on "
                f"{device}: real-time factor, peak memory, lower precision vs float32"
            )
            rows = read_speed_table(args.table) if args.table.is_file() else []
            load = os.getloadavg()[0]
            for arch in args.archs:
                exact = None
                lower = [] if arch in FLOAT32_ARCHS else args.precisions
                for precision in ("float32", *lower):
                    wall, cpu, peak, embeddings = timed(
                        "default_taps", arch, args.utterances, 1, device, precision
                    )
                    # On a CPU the table takes CPU time over the threads: the wall time of a
                    # job that has its cores to itself, which a shared machine cannot show.
                    seconds = cpu / args.threads if device == "cpu" else wall
                    rtf = seconds / total_seconds
                    print(
                        f"  {arch}: real-time factor {rtf:.4f} "
                        f"(wall: {wall / total_seconds:.4f}), peak {peak:.0f} MiB"
                    )
                    if exact is None:
                        exact, exact_seconds = embeddings, seconds
                    else:
                        assert embeddings is not None
                        print(
                            f"  {arch}: {precision} is {exact_seconds / seconds:.2f}x as fast "
                            f"as float32; smallest embedding cosine "
                            f"{smallest_cosine(exact, embeddings):.6f}"
                        )
                    basis = "measured: " + (
                        f"CPU time / {args.threads} threads" if device == "cpu" else "wall time"
                    )
                    rows.append(
                        ExtractionSpeed(
                            arch, device, precision, args.threads, args.batch_seconds,
                            round(rtf, 5), round(peak), f"{basis}, load average {load:.1f}",
                            machine(), command,
                        )
                    )  # fmt: skip
            write_speed_table(args.table, rows)
            print(f"  rows written to {args.table}")

        if 4 in args.sections:
            print(
                "\n(4) Resemblyzer GE2E, all taps: 1.6 s windows vs one pass per whole utterance "
                f"(fastest of {GE2E_REPEATS} runs)"
            )
            print(
                f"  the windows hold {window_frame_ratio(lengths):.2f}x the frames of the "
                "utterances"
            )
            windowed, windowed_cpu, _, _ = timed(
                "default_taps", "resemblyzer", args.utterances, GE2E_REPEATS
            )
            whole, whole_cpu, _, _ = timed(
                "ge2e_whole", "resemblyzer", args.utterances, GE2E_REPEATS
            )
            print(
                f"  real-time factor: windows {windowed / total_seconds:.4f}, "
                f"whole utterances {whole / total_seconds:.4f}; windows cost "
                f"{windowed / whole:.2f}x wall, {windowed_cpu / whole_cpu:.2f}x CPU"
            )

        if 5 in args.sections:
            print(
                f"\n(5) CPU fast paths vs today's path (default taps, float32), median of "
                f"{args.repeats} interleaved runs; ratio: today's time / the option's"
            )
            durations = [n / SAMPLE_RATE for n in lengths]
            fast_paths(
                args.archs, args.options, audio_file, durations, args.batch_seconds, args.repeats
            )
            print("  load average after:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
