"""Expected cost of activation extraction for a LibriSpeech configuration (the full study).

Extraction dominates the study's cost: every model runs over every utterance of every split.
Its time is audio length x real-time factor (RTF), read from the table that the extraction
benchmark writes (bench/extraction_rtf.csv, one row per architecture, device and precision,
with the machine and command that measured it); the workflow sizes its jobs from the same
table. Printed: the total CPU and GPU hours, and the jobs the workflow would submit (one per
shard of activations.shard_seconds of audio) with the wall time and memory each asks for; then
the probing stage's hours, from the full-size measurement bench/bench_probing_stage.py wrote
to bench/probing_stage.json (one job per model). The other stages (manifests, figures, paper)
take minutes and are not counted.

GPU time comes from the table's `cuda` rows when a GPU was benchmarked. Otherwise it is
estimated from each architecture's floating-point operations per second of audio (counted here
with PyTorch's FlopCounterMode on a random-initialised encoder) at an *assumed* sustained
throughput (`--gpu-tflops`), plus the host's share (extraction decodes the audio and computes
the fbank on one CPU core, serially with the forward pass, at a real-time factor measured here
on the LibriSpeech sample in ../shared, or on synthetic noise without decoding); the output says
so.

    .venv/bin/python bench/bench_extraction.py --sections 3    # optional: re-measure the table
    .venv/bin/python bench/estimate_full_study.py [--configfile config/librispeech.yaml]
        [--table bench/extraction_rtf.csv] [--gpu-tflops 20]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from rateprobe.config import merge_config, resolve_config
from rateprobe.conventions import SPLITS
from rateprobe.sharding import (
    RTF_TABLE,
    ExtractionSpeed,
    JobRequest,
    extraction_speed,
    job_request,
    measured_speed,
    model_arch,
    read_speed_table,
    sizing_precision,
)

REPO = Path(__file__).resolve().parents[1]
# bench/bench_probing_stage.py's full-size measurement of one model's probing stage.
PROBING_RECORD = REPO / "bench" / "probing_stage.json"

# Hours of audio, speakers and utterances per LibriSpeech subset (Panayotov et al., 2015,
# table 1; utterances as distributed).
SUBSETS = {
    "dev-clean": (5.4, 40, 2703),
    "dev-other": (5.3, 33, 2864),
    "test-clean": (5.4, 40, 2620),
    "test-other": (5.1, 33, 2939),
    "train-clean-100": (100.6, 251, 28539),
    "train-clean-360": (363.6, 921, 104014),
    "train-other-500": (496.7, 1166, 148688),
}


def kept_share(subsets: list[str], per_speaker: int | None) -> float:
    """The share of the subsets' audio that corpus.max_utterances_per_speaker keeps, as if every
    speaker had the subsets' mean number of utterances of the mean length."""
    if per_speaker is None:
        return 1.0
    speakers = sum(SUBSETS[s][1] for s in subsets)
    utterances = sum(SUBSETS[s][2] for s in subsets)
    return min(1.0, per_speaker * speakers / utterances)


def study_from_config(
    configfile: Path,
) -> tuple[dict[str, tuple[str, float]], Counter[str], dict[str, Any]]:
    """Audio to extract per job input (each split, and the test split's intervention variants:
    every rate factor plus the padded copy, each the length of its source or near it), as
    (description, hours), the number of models per architecture (seeded controls expanded), and
    the resolved `activations:` settings."""
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    config = resolve_config(merge_config(base, yaml.safe_load(configfile.read_text()) or {}))
    corpus = config["corpus"]
    if corpus["kind"] != "librispeech":
        raise SystemExit(f"{configfile}: corpus.kind is {corpus['kind']}, not librispeech")
    carve = corpus.get("carve_by_speaker") or {"subsets": [], "fractions": {}}
    # Carving splits the pool's speakers by these fractions; each carved split gets about that
    # share of its audio. The other splits read their subsets whole.
    shares = {split: 1.0 for split in corpus.get("splits") or {}}
    shares.update(carve["fractions"])
    splits = {
        split: list(carve["subsets"]) if split in carve["fractions"] else corpus["splits"][split]
        for split in shares
    }
    unknown = sorted({s for subsets in splits.values() for s in subsets} - set(SUBSETS))
    if unknown:
        raise SystemExit(f"unknown LibriSpeech subsets {unknown} (known: {sorted(SUBSETS)})")
    per_speaker = corpus["max_utterances_per_speaker"]
    capped = f", at most {per_speaker} utterances per speaker (about)" if per_speaker else ""
    inputs = {
        split: (
            ", ".join(subsets)
            + (f" x {shares[split]:g} of its speakers" if split in carve["fractions"] else "")
            + capped,
            shares[split] * sum(SUBSETS[s][0] for s in subsets) * kept_share(subsets, per_speaker),
        )
        for split, subsets in sorted(splits.items(), key=lambda item: SPLITS.index(item[0]))
    }
    interventions = config["interventions"]
    if interventions["enabled"] and "test" in inputs:
        variants = len(interventions["rate_factors"]) + (1 if interventions["pad_seconds"] else 0)
        sources = interventions["utterances_per_speaker"]
        if sources is None:
            bound, share = "every test utterance", 1.0
        else:
            # Of the test utterances kept, `sources` per speaker.
            kept = min(filter(None, (sources, per_speaker)))
            bound = f"{sources} test utterance(s) per speaker (about)"
            share = kept_share(splits["test"], kept) / kept_share(splits["test"], per_speaker)
        inputs["interventions"] = (
            f"{variants} variants, {bound}",
            variants * inputs["test"][1] * share,
        )
    archs: Counter[str] = Counter()
    for model in config["models"]:
        arch = model_arch(model)
        if arch is None:
            raise SystemExit(
                f"cannot tell the architecture of model '{model['name']}': give it arch:"
            )
        archs[arch] += 1
    return inputs, archs, config["activations"]


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


def gpu_speed(
    table: list[ExtractionSpeed], arch: str, precision: str, tflops: float, host_rtf: float
) -> ExtractionSpeed:
    """The table's CUDA row for arch, else an estimate from FLOPs at an assumed throughput
    (host memory as on the CPU)."""
    measured = measured_speed(table, arch, "cuda", precision)
    if measured is not None:
        return measured
    cpu = extraction_speed(table, arch, "cpu", "float32")
    gflop = gflop_per_audio_second(arch)
    return ExtractionSpeed(
        arch, "cuda", precision, 1, cpu.batch_seconds,
        host_rtf + gflop / (tflops * 1e3), cpu.peak_mib,
        f"ESTIMATE: {gflop:.1f} GFLOP/audio-s at an ASSUMED {tflops:g} TFLOP/s "
        f"+ host frontend RTF {host_rtf:.4f}",
        "-", "-",
    )  # fmt: skip


def print_device(
    title: str,
    speeds: dict[str, ExtractionSpeed],
    inputs: dict[str, tuple[str, float]],
    models: Counter[str],
    activations: dict[str, Any],
) -> tuple[float, float]:
    """Expected hours per architecture and the jobs the workflow would submit; returns the
    expected total seconds and the expected seconds of the longest job."""
    print(f"\n{title}")
    audio_s = sum(hours for _, hours in inputs.values()) * 3600
    total = 0.0
    for arch, n in sorted(models.items()):
        speed = speeds[arch]
        one = audio_s * speed.rtf
        total += n * one
        print(
            f"  {arch:13s} RTF {speed.rtf:.4f} ({speed.precision}, {speed.basis}, "
            f"{speed.threads} threads): {_hours(one)} per model, x{n} = {_hours(n * one)}"
        )
    print(f"  expected total {_hours(total)}")
    shard_seconds, max_minutes = activations["shard_seconds"], activations["max_job_minutes"]
    print(
        f"  jobs (shards of <= {shard_seconds:g} s of audio; requests with the workflow's "
        f"margin, at most {max_minutes:g} min):"
    )
    largest, longest_s = JobRequest(0, 0), 0.0
    jobs, requested_h = 0, 0.0
    for name, (_, hours) in inputs.items():
        shards = max(1, math.ceil(hours * 3600 / shard_seconds))
        for arch, n in sorted(models.items()):
            request = job_request(speeds[arch], hours * 3600 / shards, max_minutes)
            jobs += n * shards
            requested_h += n * shards * request.runtime_minutes / 60
            longest_s = max(longest_s, hours * 3600 / shards * speeds[arch].rtf)
            largest = max(largest, request, key=lambda r: r.runtime_minutes)
            print(
                f"    {name:13s} {arch:13s} {n} models x {shards:3d} shards: "
                f"{request.runtime_minutes / 60:5.1f} h, {request.mem_mb} MB each"
            )
    print(
        f"  {jobs} jobs; requested {requested_h:,.0f} h in all; the longest asks "
        f"{largest.runtime_minutes / 60:.1f} h and is expected to take {longest_s / 3600:.1f} h"
    )
    return total, longest_s


def print_probing(models: Counter[str], train_hours: float) -> None:
    """The probing stage's hours: one job per model, each taking the measured model's time
    (every tap of SimAM-ResNet100, the widest of the study's encoders), its MLP part scaled to
    this study's training audio (an epoch's cost follows the training utterances). Ridge and
    the conditional probes of the widest tap (the pooling output) decompose its d x d Gram
    matrices at the measured size, but the smaller n x n kernel where the training utterances
    are fewer than its dimensions: for a study of another size the estimate is a range, without
    and with that tap's measured time."""
    if not PROBING_RECORD.is_file():
        print(f"\nProbing: not measured ({PROBING_RECORD.name} is absent: run "
              "bench/bench_probing_stage.py)")  # fmt: skip
        return
    record = json.loads(PROBING_RECORD.read_text())
    measured_hours = SUBSETS["train-clean-100"][0]
    widest = record["widest_tap"]
    widest_s = sum(widest["parts_wall_s"].values())
    print(
        f"\nProbing ({PROBING_RECORD.relative_to(REPO)}: one model of {record['taps']} taps, "
        f"{record['tap_dims']:,} dimensions, {record['sizes']['train']:,} training utterances "
        f"({measured_hours} h), {record['mlp_epochs']} MLP epochs, {record['threads']} threads: "
        f"{record['wall_s'] / 60:.1f} min, of it the MLP probes {record['mlp_wall_s'] / 60:.1f} "
        f"min and ridge and the conditional probes of the widest tap ({widest['dims']:,} "
        f"dimensions) {widest_s / 60:.1f} min; peak memory {record['peak_rss_gib']} GiB; "
        f"measured on {record['machine']}):"
    )
    n_models = sum(models.values())
    rest_s = record["wall_s"] - record["mlp_wall_s"]
    if train_hours == measured_hours:
        minutes = record["wall_s"] / 60
        each = f"about {minutes:.1f} min = {_hours(n_models * minutes * 60).strip()}"
    else:
        mlp_s = record["mlp_wall_s"] * train_hours / measured_hours
        low, high = (rest_s - widest_s + mlp_s) / 60, (rest_s + mlp_s) / 60
        each = (
            f"{low:.1f}-{high:.1f} min = {_hours(n_models * low * 60).strip()} to "
            f"{_hours(n_models * high * 60).strip()} (the MLP's part scaled to this study; "
            "without and with the widest tap's ridge as measured)"
        )
    print(
        f"  this study trains on {train_hours:.1f} h of audio: {n_models} models x {each} on "
        f"one such machine, if the MLP probes train {record['mlp_epochs']} epochs (early "
        "stopping decides: probes.mlp.patience, max_epochs); narrower encoders take less"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configfile",
        type=Path,
        default=REPO / "config" / "librispeech.yaml",
        help="a LibriSpeech study configuration, merged over config.yaml",
    )
    parser.add_argument(
        "--table", type=Path, default=REPO / RTF_TABLE, help="written by bench_extraction.py"
    )
    parser.add_argument(
        "--gpu-tflops",
        type=float,
        default=20.0,
        help="assumed sustained GPU throughput where the table has no cuda row",
    )
    parser.add_argument(
        "--parallel-jobs",
        type=int,
        nargs="+",
        default=[1, 8, 32],
        help="CPU extraction jobs running at once",
    )
    args = parser.parse_args(argv)

    inputs, models, activations = study_from_config(args.configfile)
    table = read_speed_table(args.table)
    precision = sizing_precision(activations["precision"], "cpu")
    try:
        cpu = {arch: extraction_speed(table, arch, "cpu", precision) for arch in models}
    except LookupError as error:
        raise SystemExit(str(error)) from None
    host_rtf, timed = host_frontend_rtf()
    gpu_precision = sizing_precision(activations["precision"], "cuda")
    gpu = {
        arch: gpu_speed(table, arch, gpu_precision, args.gpu_tflops, host_rtf) for arch in models
    }

    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}")
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print(f"study: {args.configfile}; speeds: {args.table}")
    for name, (what, hours) in inputs.items():
        print(f"  {name:13s} {what}: {hours:.1f} h of audio")
    print(f"  models: {', '.join(f'{n} x {arch}' for arch, n in sorted(models.items()))}")
    print(f"  host frontend RTF {host_rtf:.4f} on 1 core ({timed})")

    cpu_s, cpu_longest_s = print_device("CPU:", cpu, inputs, models, activations)
    threads = max(speed.threads for speed in cpu.values())
    print(f"  = {cpu_s * threads / 3600:,.0f} core-hours at {threads} threads per job")
    # Shards are independent jobs, so throughput scales with jobs at once; the longest single
    # job bounds the wall time from below.
    for jobs in args.parallel_jobs:
        wall = max(cpu_s / jobs, cpu_longest_s)
        print(f"  {jobs:3d} jobs at once: {_hours(wall)}")
    print_device("One GPU:", gpu, inputs, models, activations)
    if any(speed.basis.startswith("ESTIMATE") for speed in gpu.values()):
        print("  (GPU not measured: run bench/bench_extraction.py --device cuda --sections 3)")
    print_probing(models, inputs["train"][1] if "train" in inputs else 0.0)


if __name__ == "__main__":
    main()
