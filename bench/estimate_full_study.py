"""Expected wall time of activation extraction for a LibriSpeech configuration (the full study).

Extraction dominates the study's cost: every model runs over every utterance of every split.
Its CPU time is audio length x real-time factor (RTF), with the RTFs that the extraction
benchmark (bench/bench_extraction.py) measured on a machine of `--rtf-cores` cores. The other
stages (manifests, probes, figures, paper) take minutes to a few hours and are not counted.

GPU time cannot be derived from a CPU benchmark. Unless measured GPU RTFs are given
(`--gpu-rtf`), it is estimated from each architecture's floating-point operations per second of
audio (counted here with PyTorch's FlopCounterMode on a random-initialised encoder) at an
*assumed* sustained throughput (`--gpu-tflops`); the output says so. On a GPU the host's share
counts too: extraction decodes the audio and computes the fbank on one CPU core, serially with
the forward pass, at a real-time factor measured here on the LibriSpeech sample in ../shared
(or on synthetic noise without decoding, when the sample is absent).

    .venv/bin/python bench/bench_extraction.py > bench.txt    # optional: re-measure the RTFs
    .venv/bin/python bench/estimate_full_study.py [--bench-output bench.txt]
        [--configfile config/librispeech.yaml] [--rtf samresnet34=0.16 samresnet100=0.48]
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from rateprobe.config import merge_config, resolve_config

REPO = Path(__file__).resolve().parents[1]

# Hours of audio per LibriSpeech subset (Panayotov et al., 2015, table 1).
SUBSET_HOURS = {
    "dev-clean": 5.4,
    "dev-other": 5.3,
    "test-clean": 5.4,
    "test-other": 5.1,
    "train-clean-100": 100.6,
    "train-clean-360": 363.6,
    "train-other-500": 496.7,
}
# Measured with random weights on a 4 s utterance on 2 CPU cores (DESIGN.md); superseded by
# --bench-output or --rtf.
MEASURED_RTF = {"samresnet34": 0.16, "samresnet100": 0.48}
MEASURED_RTF_CORES = 2
BENCH_RTF_LINE = re.compile(r"^\s*(\w+): real-time factor ([0-9.]+)", re.MULTILINE)
BENCH_THREADS = re.compile(r"^command:.*--threads[ =](\d+)", re.MULTILINE)


def _model_arch(model: dict[str, Any]) -> str:
    if "arch" in model:
        return str(model["arch"])
    if model["source"] == "resemblyzer":
        return "resemblyzer"
    # A WeSpeaker checkpoint's architecture is in its config.yaml, unknown before download;
    # the official file names carry it.
    text = f"{model['name']} {model['source']}".lower()
    for arch in ("samresnet100", "samresnet34"):
        if arch.removeprefix("sam") in text.replace("_", "").replace("-", ""):
            return arch
    raise SystemExit(
        f"cannot tell the architecture of model '{model['name']}': give it an arch: key"
    )


def study_from_config(configfile: Path) -> tuple[dict[str, tuple[str, float]], Counter[str]]:
    """Audio to extract per job input (each split, and the test split's intervention variants:
    every rate factor plus the padded copy, each the length of its source or near it), as
    (description, hours), and the number of models per architecture (seeded controls expanded)."""
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    config = resolve_config(merge_config(base, yaml.safe_load(configfile.read_text()) or {}))
    corpus = config["corpus"]
    if corpus["kind"] != "librispeech":
        raise SystemExit(f"{configfile}: corpus.kind is {corpus['kind']}, not librispeech")
    carve = corpus.get("carve_by_speaker")
    if carve:
        # Carving splits the pool's speakers by these fractions; each split gets about that
        # share of its audio.
        shares = dict(carve["fractions"])
        splits = {split: list(carve["subsets"]) for split in shares}
    else:
        shares = dict.fromkeys(corpus["splits"], 1.0)
        splits = {split: list(subsets) for split, subsets in corpus["splits"].items()}
    unknown = sorted({s for subsets in splits.values() for s in subsets} - set(SUBSET_HOURS))
    if unknown:
        raise SystemExit(f"unknown LibriSpeech subsets {unknown} (known: {sorted(SUBSET_HOURS)})")
    inputs = {
        split: (
            ", ".join(subsets) + (f" x {shares[split]:g} of its speakers" if carve else ""),
            shares[split] * sum(SUBSET_HOURS[s] for s in subsets),
        )
        for split, subsets in splits.items()
    }
    interventions = config["interventions"]
    if interventions["enabled"] and "test" in inputs:
        variants = len(interventions["rate_factors"]) + (1 if interventions["pad_seconds"] else 0)
        bound = (
            "every test utterance"
            if interventions["utterances_per_speaker"] is None
            else ("at most: every test utterance")
        )
        inputs["interventions"] = (f"{variants} variants, {bound}", variants * inputs["test"][1])
    return inputs, Counter(_model_arch(model) for model in config["models"])


def gflop_per_audio_second(arch: str) -> float:
    """Forward-pass GFLOP per second of audio, counted on a random-initialised encoder."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from rateprobe.encoders import random_encoder

    seconds, frames_per_second, mel_bins = 4, 100, 80
    encoder = random_encoder(arch, seed=0).eval()
    features = torch.zeros(1, seconds * frames_per_second, mel_bins)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        encoder(features, torch.tensor([seconds * frames_per_second]))
    return counter.get_total_flops() / seconds / 1e9


def host_frontend_rtf() -> tuple[float, str]:
    """Seconds of one CPU core per second of audio to read and fbank it, and what was timed."""
    import time

    import numpy as np

    from rateprobe.audio import read_audio
    from rateprobe.frontend import wespeaker_fbank

    sample = REPO.parent / "shared" / "librispeech-sample" / "LibriSpeech"
    files = sorted(sample.rglob("*.flac"))
    if files:
        start = time.perf_counter()
        audio_s = 0.0
        for path in files:
            audio = read_audio(path)
            wespeaker_fbank(audio.samples)
            audio_s += audio.duration_s
        return (time.perf_counter() - start) / audio_s, f"decode + fbank of {len(files)} files"
    noise = np.random.default_rng(0).normal(0, 0.1, 16000 * 60).astype(np.float32)
    start = time.perf_counter()
    wespeaker_fbank(noise)
    return (time.perf_counter() - start) / 60, "fbank of 60 s of noise, decoding not counted"


def rtfs_from_bench(output: Path) -> tuple[dict[str, float], int]:
    """The real-time factors printed by bench/bench_extraction.py, and its thread count."""
    text = output.read_text()
    rtf = {arch: float(value) for arch, value in BENCH_RTF_LINE.findall(text)}
    if not rtf:
        raise SystemExit(f"{output}: no 'ARCH: real-time factor X' line from bench_extraction.py")
    threads = BENCH_THREADS.search(text)
    return rtf, int(threads.group(1)) if threads else MEASURED_RTF_CORES


def _pairs(values: list[str], what: str) -> dict[str, float]:
    pairs = {}
    for value in values:
        arch, sep, number = value.partition("=")
        if not sep:
            raise SystemExit(f"{what}: expected ARCH=NUMBER, got '{value}'")
        pairs[arch] = float(number)
    return pairs


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:8.1f} h" + (f" ({seconds / 86400:.1f} d)" if seconds > 86400 else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configfile",
        type=Path,
        default=REPO / "config" / "librispeech.yaml",
        help="a LibriSpeech study configuration, merged over config.yaml",
    )
    parser.add_argument(
        "--bench-output", type=Path, help="saved output of bench/bench_extraction.py"
    )
    parser.add_argument(
        "--rtf",
        nargs="+",
        default=[],
        metavar="ARCH=RTF",
        help="measured CPU real-time factors (default: the benchmark's)",
    )
    parser.add_argument(
        "--rtf-cores",
        type=int,
        help=f"CPU cores the RTFs were measured on (default {MEASURED_RTF_CORES})",
    )
    parser.add_argument(
        "--gpu-rtf",
        nargs="+",
        default=[],
        metavar="ARCH=RTF",
        help="measured real-time factors on one GPU",
    )
    parser.add_argument(
        "--gpu-tflops",
        type=float,
        default=20.0,
        help="assumed sustained GPU throughput when --gpu-rtf is not given",
    )
    parser.add_argument(
        "--parallel-jobs",
        type=int,
        nargs="+",
        default=[1, 8, 32],
        help="CPU jobs of --rtf-cores cores each running at once",
    )
    args = parser.parse_args(argv)

    inputs, models = study_from_config(args.configfile)
    rtf, rtf_cores = dict(MEASURED_RTF), MEASURED_RTF_CORES
    if args.bench_output:
        bench_rtf, rtf_cores = rtfs_from_bench(args.bench_output)
        rtf.update(bench_rtf)
    rtf.update(_pairs(args.rtf, "--rtf"))
    rtf_cores = args.rtf_cores or rtf_cores
    gpu_rtf = _pairs(args.gpu_rtf, "--gpu-rtf")
    missing = sorted(set(models) - set(rtf))
    if missing:
        raise SystemExit(f"no CPU real-time factor for {missing}: pass --rtf ARCH=RTF")
    audio_s = sum(hours for _, hours in inputs.values()) * 3600

    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}")
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print(f"study: {args.configfile}")
    for name, (what, hours) in inputs.items():
        print(f"  {name:5s} {what}: {hours:.1f} h of audio")
    print(f"  models: {', '.join(f'{n} x {arch}' for arch, n in sorted(models.items()))}")
    print(f"  extraction jobs: {sum(models.values()) * len(inputs)} (model x input)")

    print(f"\nCPU (RTF measured on {rtf_cores} cores):")
    cpu_s = 0.0
    for arch, n in sorted(models.items()):
        one = audio_s * rtf[arch]
        cpu_s += n * one
        print(
            f"  {arch:13s} RTF {rtf[arch]:.3f}: {_hours(one)} per model, x{n} = {_hours(n * one)}"
        )
    print(f"  total {_hours(cpu_s)} = {cpu_s * rtf_cores / 3600:,.0f} core-hours")
    # Jobs are independent (one per model and split), so throughput scales with jobs at once;
    # the longest single job bounds the wall time from below.
    longest = max(hours for _, hours in inputs.values()) * 3600
    longest_job = longest * max(rtf[arch] for arch in models)
    for jobs in args.parallel_jobs:
        wall = max(cpu_s / jobs, longest_job)
        print(f"  {jobs:3d} jobs of {rtf_cores} cores at once: {_hours(wall)}")

    print("\nOne GPU:")
    host_rtf, timed = host_frontend_rtf()
    host_s = sum(models.values()) * audio_s * host_rtf
    print(f"  host frontend RTF {host_rtf:.4f} on 1 core ({timed}): {_hours(host_s)} in all")
    gpu_s = host_s
    for arch, n in sorted(models.items()):
        if arch in gpu_rtf:
            one = audio_s * gpu_rtf[arch]
            basis = f"measured RTF {gpu_rtf[arch]:.4f}"
        else:
            gflop = gflop_per_audio_second(arch)
            one = audio_s * gflop / (args.gpu_tflops * 1e3)
            basis = f"{gflop:.1f} GFLOP/audio-s at an ASSUMED {args.gpu_tflops:g} TFLOP/s"
        gpu_s += n * one
        print(f"  {arch:13s} {basis}: {_hours(one)} per model, x{n} = {_hours(n * one)}")
    print(f"  total (host frontend + GPU forward, not overlapped) {_hours(gpu_s)}")
    if set(models) - set(gpu_rtf):
        print("  (GPU not measured: pass --gpu-rtf ARCH=RTF from bench/bench_extraction.py)")


if __name__ == "__main__":
    main()
