"""Benchmark the probes at the full study's size, on random features.

Sizes: LibriSpeech train-clean-100 / dev-clean / test-clean (28,539 / 2,703 / 2,620 utterances)
and every block tap of SimAM-ResNet100 with mean+std pooling: the stem (64 channels), 6 blocks
of 64, 16 of 128, 24 of 256 and 3 of 512 channels, each pooled to twice its channels.

Ridge (standardisation, one decomposition, every alpha of config.yaml scored on dev, test
predictions and their speaker-bootstrap metrics) runs on every tap; target: <= 5 min on
2 cores. The MLP probes (3 seeds x 2 targets, as configured) are timed per epoch on one tap of
each width and extrapolated to all taps. Usage:

    .venv/bin/python bench/bench_probes.py [--threads 2] [--mlp-epochs 2] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from rateprobe.features import Standardiser, gram_eigen
from rateprobe.metrics import SpeakerBootstrap, regression_metrics, speaker_bootstrap
from rateprobe.probing.mlp import MLPSettings, fit_mlp
from rateprobe.probing.ridge import fit_ridge

SPLIT_SIZES = {"train": 28_539, "dev": 2_703, "test": 2_620}
TEST_SPEAKERS = 40
RESNET100_BLOCKS = {"stem": (1, 64), "layer1": (6, 64), "layer2": (16, 128),
                    "layer3": (24, 256), "layer4": (3, 512)}  # fmt: skip
N_TARGETS = 2


def taps() -> list[tuple[str, int]]:
    """(name, pooled dim) of every block tap, mean+std pooling doubling the channels."""
    out = []
    for stage, (n_blocks, channels) in RESNET100_BLOCKS.items():
        for block in range(n_blocks):
            out.append((stage if stage == "stem" else f"{stage}.{block}", 2 * channels))
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} | {cpu} | {os.cpu_count()} logical CPUs | {platform.platform()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mlp-epochs", type=int, default=2, help="epochs timed per MLP tap")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of utterances")
    parser.add_argument("--probes", nargs="+", choices=["ridge", "mlp"], default=["ridge", "mlp"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    probes = cfg["probes"]

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine())
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, threads {args.threads} "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
    )
    sizes = {split: max(50, round(n * args.scale)) for split, n in SPLIT_SIZES.items()}
    all_taps = taps()
    print(
        f"sizes {sizes}; {len(all_taps)} taps, {sum(d for _, d in all_taps)} dims in all; "
        f"{len(probes['ridge_alphas'])} alphas; {N_TARGETS} targets"
    )

    rng = np.random.default_rng(0)
    y = {split: rng.normal(12.0, 2.0, size=(n, N_TARGETS)) for split, n in sizes.items()}
    speakers = rng.integers(0, TEST_SPEAKERS, size=sizes["test"]).astype(str)
    boot = speaker_bootstrap(speakers, probes["bootstrap"]["n"], probes["bootstrap"]["seed"])

    def features(dim: int) -> dict[str, np.ndarray]:
        return {s: rng.standard_normal((n, dim), dtype=np.float32) for s, n in sizes.items()}

    if "ridge" in args.probes:
        bench_ridge(all_taps, features, y, boot, probes["ridge_alphas"])
    if "mlp" in args.probes:
        bench_mlp(all_taps, features, y, probes, args.mlp_epochs, sizes["train"])


Features = Callable[[int], dict[str, np.ndarray]]


def bench_ridge(
    all_taps: list[tuple[str, int]],
    features: Features,
    y: dict[str, np.ndarray],
    boot: SpeakerBootstrap,
    alphas: list[float],
) -> None:
    ridge_seconds = 0.0
    metric_seconds = 0.0
    for name, dim in all_taps:
        raw = features(dim)
        start = time.perf_counter()
        standardiser = Standardiser.fit(raw["train"])
        x = {split: standardiser.transform(raw[split]) for split in raw}
        fit = fit_ridge(
            gram_eigen(x["train"], y["train"]),
            x["dev"],
            y["dev"],
            x["test"],
            alphas,
        )
        ridge_seconds += time.perf_counter() - start
        start = time.perf_counter()
        for t in range(N_TARGETS):
            regression_metrics(y["test"][:, t], fit.test_predictions[t], boot)
        metric_seconds += time.perf_counter() - start
        print(f"  ridge {name:9s} dim {dim:5d}: {ridge_seconds:7.1f} s so far", flush=True)
    print(
        f"RIDGE with alpha search, all {len(all_taps)} taps: {ridge_seconds:.1f} s "
        f"({ridge_seconds / 60:.2f} min; target <= 5 min)"
    )
    print(
        f"speaker-bootstrap metrics ({boot.counts.shape[0]} resamples), all taps: "
        f"{metric_seconds:.1f} s"
    )


def bench_mlp(
    all_taps: list[tuple[str, int]],
    features: Features,
    y: dict[str, np.ndarray],
    probes: dict[str, Any],
    timed_epochs: int,
    n_train: int,
) -> None:
    settings = MLPSettings.from_config(
        {**probes["mlp"], "max_epochs": timed_epochs, "patience": timed_epochs + 1}
    )
    # One untimed fit first: torch's one-off start-up cost is not a probe's.
    warm = {split: values[:64] for split, values in features(8).items()}
    fit_mlp(warm["train"], y["train"][:64], warm["dev"], y["dev"][:64], warm["test"], settings)
    epoch_seconds: dict[int, float] = {}
    for dim in sorted({d for _, d in all_taps}):
        raw = features(dim)
        standardiser = Standardiser.fit(raw["train"])
        x = {split: standardiser.transform(raw[split]) for split in raw}
        start = time.perf_counter()
        fit_mlp(x["train"], y["train"], x["dev"], y["dev"], x["test"], settings)
        epoch_seconds[dim] = (time.perf_counter() - start) / timed_epochs
        print(
            f"  mlp dim {dim:5d}: {epoch_seconds[dim]:.2f} s per epoch "
            f"({len(settings.seeds)} seeds x {N_TARGETS} targets)",
            flush=True,
        )
    per_epoch_all = sum(epoch_seconds[d] for _, d in all_taps)
    steps = -(-n_train // settings.batch_size)
    max_epochs, patience = probes["mlp"]["max_epochs"], probes["mlp"]["patience"]
    print(f"MLP, one epoch of every tap: {per_epoch_all:.0f} s; {steps} steps per epoch")
    for epochs in (patience + 10, 2 * patience + 20, max_epochs):
        print(f"MLP, all taps at {epochs} epochs: {per_epoch_all * epochs / 3600:.2f} h")


if __name__ == "__main__":
    main()
