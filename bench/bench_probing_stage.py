"""Time the whole probing stage of one model at the full study's size, as the workflow runs it.

`rateprobe.probing.run.probe_model` (the `probe_model` rule's one call) reads activation files
of every tap of SimAM-ResNet100 (bench_probes.taps: the stem, 49 blocks, the attentive
statistics pooling's output of 10,240 dimensions and the embedding; 52 taps, 30,848 dimensions)
for the utterances of LibriSpeech train-clean-100 / dev-clean / test-clean (28,539 / 2,703 /
2,620 from 251 / 40 / 40 speakers), and fits everything the stage fits with the default
settings: the nuisance baselines, per tap two standardisations, ridge with its K-fold penalty
search (targets and the control task), the conditional probes, the MLP probes of all taps
batched, and the speaker-bootstrap metrics of every fit; then it writes its table, JSON and
predictions.

The data are synthetic: utterance lengths and speaking rates drawn like LibriSpeech's, each
tap noise plus a planted direction of CPS. The MLP probes train exactly `--epochs` epochs
(patience beyond them): early stopping depends on the data, so the stage is timed at a fixed
number of epochs, 30 by default. Each part's wall time is taken by wrapping the library
functions the stage calls (ridge and the conditional probes also per tap width), and the peak
memory of the process, which writes its inputs in a child process first. The activation files
(about 4.2 GB at full size) go to a scratch folder, removed afterwards. A run at the full size
writes its numbers, command and machine to bench/probing_stage.json, which
bench/estimate_full_study.py reads. Usage:

    .venv/bin/python bench/bench_probing_stage.py [--scale 1.0] [--epochs 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import torch
from bench_probes import (
    ARCH,
    DEV_SPEAKERS,
    SPLIT_SIZES,
    TEST_SPEAKERS,
    TRAIN_SPEAKERS,
    machine,
    taps,
)
from estimate_full_study import PROBING_RECORD

from rateprobe.config import DEFAULTS
from rateprobe.conventions import SPLITS
from rateprobe.probing import run

SPEAKERS = {"train": TRAIN_SPEAKERS, "dev": DEV_SPEAKERS, "test": TEST_SPEAKERS}
# The library functions the stage calls whose wall time is reported apart (none calls
# another through probing.run, so the parts do not overlap).
MLP_PART = "MLP probes (+ their taps read, standardised)"
PARTS = {
    MLP_PART: "fit_mlps",
    "ridge and conditional probes (penalty search)": "fit_ridge_and_conditional",
    "bootstrap metrics": "regression_metrics",
}
# Parts whose first argument is one tap's standardised features per split.
PARTS_BY_WIDTH = ("ridge and conditional probes (penalty search)",)


def write_manifests(root: Path, sizes: dict[str, int], seed: int) -> dict[str, Path]:
    """Manifests with LibriSpeech-like lengths (mean ~12 s) and speaking rates per speaker."""
    rng = np.random.default_rng(seed)
    paths, first_speaker = {}, 1000
    for split in SPLITS:
        n, n_speakers = sizes[split], SPEAKERS[split]
        index = rng.integers(0, n_speakers, size=n)
        speaker, habit = first_speaker + index, rng.normal(14.0, 1.5, size=n_speakers)[index]
        first_speaker += n_speakers
        duration = rng.uniform(2.0, 24.0, size=n)
        n_chars = np.maximum(1, np.round((habit + rng.normal(0, 2, size=n)) * duration))
        voiced = duration * rng.uniform(0.7, 0.95, size=n)
        frame = pd.DataFrame(
            {
                "utt_id": [f"{s}-1-{i:06d}" for i, s in enumerate(speaker)],
                "speaker_id": speaker.astype(str),
                "chapter_id": "1",
                "sex": np.where(speaker % 2 == 0, "F", "M"),
                "path": "unused.flac",
                "text": "",
                "n_chars": n_chars.astype(int),
                "duration_s": duration,
                "cps": n_chars / duration,
                "voiced_duration_s": voiced,
                "articulation_rate": n_chars / voiced,
            }
        ).sort_values("utt_id")
        paths[split] = root / f"{split}.csv"
        frame.to_csv(paths[split], index=False)
    return paths


def write_activations(root: Path, manifests: dict[str, Path], seed: int) -> dict[str, Path]:
    """Each split's activation file: every tap noise plus a direction of the utterance's CPS."""
    rng = np.random.default_rng(seed)
    all_taps = taps()
    names = [name for name, _ in all_taps]
    directions = [rng.normal(size=dim).astype(np.float32) for _, dim in all_taps]
    paths = {}
    for split, manifest in manifests.items():
        frame = pd.read_csv(manifest, dtype={"utt_id": str})
        cps = ((frame["cps"] - 14.0) / 3.0).to_numpy(dtype=np.float32)
        arrays: dict[str, Any] = {
            "utt_id": frame["utt_id"].to_numpy(dtype=str),
            "layer_names": np.array(names),
            "meta_json": np.array(json.dumps({"model": "bench", "arch": ARCH})),
        }
        for name, direction in zip(names, directions, strict=True):
            noise = rng.standard_normal((len(frame), len(direction)), dtype=np.float32)
            arrays[f"tap/{name}"] = noise + 0.5 * np.outer(cps, direction)
        paths[split] = root / f"{split}.npz"
        np.savez(paths[split], **arrays)
    return paths


def write_inputs(root: Path, sizes: dict[str, int]) -> tuple[dict[str, Path], dict[str, Path]]:
    """The manifests' and activation files' paths per split, once written."""
    manifests = write_manifests(root, sizes, seed=0)
    return manifests, write_activations(root, manifests, seed=1)


def timed_parts(
    wall: defaultdict[str, float], wall_by_width: defaultdict[tuple[str, int], float]
) -> ExitStack:
    """Wrap the library functions of PARTS (where probing.run calls them) to add up their
    wall time, and that of those in PARTS_BY_WIDTH per width of the tap they fit."""
    stack = ExitStack()
    for part, name in PARTS.items():
        original: Callable[..., Any] = getattr(run, name)

        def clocked(*args: Any, _part: str = part, _f: Any = original, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                seconds = time.perf_counter() - start
                wall[_part] += seconds
                if _part in PARTS_BY_WIDTH:
                    wall_by_width[_part, args[0]["train"].shape[1]] += seconds

        stack.enter_context(mock.patch.object(run, name, clocked))
    return stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of utterances")
    parser.add_argument("--epochs", type=int, default=30, help="MLP epochs, all trained")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine())
    load = os.getloadavg()
    print(f"torch {torch.__version__}, numpy {np.__version__}, threads {args.threads}, load "
          f"average before: {load}")  # fmt: skip
    sizes = {split: max(60, round(n * args.scale)) for split, n in SPLIT_SIZES.items()}
    probes = DEFAULTS["probes"]
    mlp = {**probes["mlp"], "max_epochs": args.epochs, "patience": args.epochs + 1}
    cfg = {"seed": 0, "probes": {**probes, "mlp": mlp}}
    print(f"sizes {sizes}; {len(taps())} taps; targets {probes['targets']}; MLP {mlp}")
    with tempfile.TemporaryDirectory(prefix="bench-probing-stage-") as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        # In a child process, so that this process's peak memory is the probing stage's.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
            manifests, activations = child.submit(write_inputs, root, sizes).result()
        print(f"synthetic inputs written in {time.perf_counter() - start:.0f} s", flush=True)
        wall: defaultdict[str, float] = defaultdict(float)
        wall_by_width: defaultdict[tuple[str, int], float] = defaultdict(float)
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        with timed_parts(wall, wall_by_width):
            run.probe_model(
                "bench", activations, manifests, cfg, root / "table.csv", root / "result.json",
                root / "predictions.npz", threads=args.threads,
            )  # fmt: skip
        total, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    print(f"PROBING STAGE, one model: wall {total:.0f} s ({total / 60:.1f} min), CPU {cpu:.0f} s")
    for part, seconds in wall.items():
        print(f"  {part:46s} {seconds:7.1f} s wall ({seconds / total:.0%})")
    rest = total - sum(wall.values())
    print(f"  {'the rest (taps read, standardised; outputs)':46s} {rest:7.1f} s wall "
          f"({rest / total:.0%})")  # fmt: skip
    widest = max(width for _, width in wall_by_width)
    widest_wall = {part: round(wall_by_width[part, widest], 1) for part in PARTS_BY_WIDTH}
    print(f"  of them on the widest tap ({widest} dimensions): {widest_wall} s")
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak memory (resident) of the probing stage: {peak_gib:.1f} GiB")
    if args.scale != 1.0:
        print("  (not the full size: --scale", args.scale, ")")
        return
    record = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "machine": machine(),
        "torch": torch.__version__,
        "threads": args.threads,
        "mlp_epochs": args.epochs,
        "sizes": sizes,
        "taps": len(taps()),
        "tap_dims": sum(width for _, width in taps()),
        "wall_s": round(total, 1),
        "cpu_s": round(cpu, 1),
        "load_average_before": [round(x, 2) for x in load],
        # The part that scales with the training utterances (estimate_full_study uses it).
        "mlp_wall_s": round(wall[MLP_PART], 1),
        "parts_wall_s": {part: round(seconds, 1) for part, seconds in wall.items()},
        "widest_tap": {"dims": widest, "parts_wall_s": widest_wall},
        "peak_rss_gib": round(peak_gib, 1),
    }
    PROBING_RECORD.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {PROBING_RECORD}")


if __name__ == "__main__":
    main()
