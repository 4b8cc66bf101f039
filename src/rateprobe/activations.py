"""Per-layer activations of one encoder on one split, all taps from a single forward pass.

Every utterance of the manifest goes through the encoder once (in length-bucketed batches); each
tap is pooled to one vector per utterance as soon as the network produces it (see
`encoders.taps`), so no frame-level activation is ever stored. The result is one
`results/activations/{model}/{split}.npz` in the format of docs/interfaces.md, written atomically:
an interrupted run leaves no file, and a finished (model, split) pair is never recomputed.

Storage precision (`activations.dtype`): float16 keeps 11 significant bits, a relative rounding
error of at most 2**-11 (4.9e-4) for magnitudes between 6.1e-5 and 65504; smaller magnitudes lose
relative precision (absolute error below 3e-8), and a tap with a larger magnitude is kept in
float32 (named under `float32_taps` in the file's metadata). docs/activations.md gives the
measured errors.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from rateprobe.audio import read_audio
from rateprobe.devices import resolve_device
from rateprobe.encoders import SpeakerEncoder, compute_features, frontend_description, load_encoder
from rateprobe.encoders.taps import PoolingRecorder
from rateprobe.frontend import SAMPLE_RATE
from rateprobe.io import write_npz

FLOAT16_MAX = float(np.finfo(np.float16).max)
MANIFEST_COLUMNS = ("utt_id", "path", "duration_s")

log = logging.getLogger(__name__)


def plan_batches(durations: Sequence[float], batch_seconds: float) -> list[list[int]]:
    """Group utterance indices of similar length, longest first.

    A batch holds at most batch_seconds of padded audio (batch size x its longest utterance);
    an utterance longer than that forms a batch of its own.
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


def _pad(features: list[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(f) for f in features])
    padded = torch.zeros(len(features), int(lengths.max()), features[0].shape[1])
    for row, feature in enumerate(features):
        padded[row, : len(feature)] = torch.from_numpy(feature)
    return padded.to(device), lengths.to(device)


def extract_taps(
    encoder: SpeakerEncoder,
    load_waveform: Callable[[int], np.ndarray],
    durations: Sequence[float],
    tap_names: list[str],
    statistics: tuple[str, ...],
    batch_seconds: float,
    device: torch.device,
    dtype: np.dtype | type = np.float32,
    progress: str | None = None,
) -> dict[str, np.ndarray]:
    """{tap: (n_utterances, dim)} pooled activations, rows in the order of `durations`.

    `load_waveform(i)` returns utterance i as 16 kHz float samples; `durations` (seconds) only
    steer the batching. `progress` is the progress bar's label (None: no bar).
    """
    encoder = encoder.to(device).eval()
    outputs: dict[str, np.ndarray] = {}
    batches = plan_batches(durations, batch_seconds)
    with (
        tqdm(total=len(durations), unit="utt", desc=progress, disable=progress is None) as bar,
        torch.inference_mode(),
    ):
        for batch in batches:
            features, lengths = _pad(
                [compute_features(encoder, load_waveform(i)) for i in batch], device
            )
            recorder = PoolingRecorder(tap_names, statistics)
            encoder(features, lengths, recorder)
            for name in tap_names:
                pooled = recorder.pooled[name].numpy()
                if name not in outputs:
                    outputs[name] = np.empty((len(durations), pooled.shape[1]), dtype=dtype)
                if outputs[name].dtype == np.float16 and np.abs(pooled).max() > FLOAT16_MAX:
                    outputs[name] = outputs[name].astype(np.float32)
                outputs[name][batch] = pooled
            bar.update(len(batch))
    return {name: outputs[name] for name in tap_names}


def _read_manifest(manifest: Path) -> pd.DataFrame:
    table = pd.read_csv(manifest, dtype={"utt_id": str, "path": str}, keep_default_na=False)
    missing = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{manifest}: manifest lacks columns {missing}")
    if table.empty:
        raise ValueError(f"{manifest}: manifest has no utterances")
    return table


def extract_activations(
    manifest: str | Path,
    model: dict[str, Any],
    output: str | Path,
    settings: dict[str, Any],
    checkpoint: str | Path | None = None,
    threads: int = 1,
) -> None:
    """Write the pooled activations of every tap of `model` for every manifest row to `output`.

    `model` is a resolved `models:` entry, `settings` the resolved `activations:` section;
    `checkpoint` is where a URL or path model's files are (default: see `load_encoder`).
    """
    manifest, output = Path(manifest), Path(output)
    table = _read_manifest(manifest)
    # More torch threads than usable CPUs make every thread wait on the others.
    torch.set_num_threads(max(1, min(threads, len(os.sched_getaffinity(0)))))
    encoder = load_encoder(model, checkpoint)
    inner = ("simam",) if settings["simam_taps"] and encoder.arch != "resemblyzer" else ()
    tap_names = encoder.tap_names(inner)
    # Whole utterances only: the labels describe the whole utterance (config refuses a crop).
    durations = table["duration_s"].astype(float).to_numpy()

    def load_waveform(row: int) -> np.ndarray:
        path = table["path"].iloc[row]
        samples = read_audio(path).samples
        if len(samples) < 0.025 * SAMPLE_RATE:
            raise ValueError(f"{path}: {len(samples)} samples, shorter than one 25 ms frame")
        return samples

    pooled = extract_taps(
        encoder,
        load_waveform,
        list(durations),
        tap_names,
        tuple(settings["pooling"]),
        float(settings["batch_seconds"]),
        resolve_device(settings["device"], "activations.device"),
        np.dtype(settings["dtype"]),
        progress=f"{model['name']} {manifest.stem}",
    )
    float32_taps = [name for name, values in pooled.items() if values.dtype != settings["dtype"]]
    for name in float32_taps:
        log.warning("%s: tap %s exceeds the float16 range; stored as float32", output, name)
    meta = {
        "model": model["name"],
        "arch": encoder.arch,
        "source": model["source"],
        "pooling": list(settings["pooling"]),
        "n_params": int(sum(p.numel() for p in encoder.parameters())),
        "frontend": frontend_description(encoder),
        "embedding_method": encoder.embedding_method,
        "dtype": settings["dtype"],
        "float32_taps": float32_taps,
    }
    arrays = {
        "utt_id": table["utt_id"].to_numpy(dtype=str),
        "layer_names": np.array(tap_names, dtype=str),
        "meta_json": np.array(json.dumps(meta)),
        **{f"tap/{name}": values for name, values in pooled.items()},
    }
    write_npz(output, arrays)


@dataclass
class Activations:
    utt_ids: np.ndarray
    layer_names: list[str]
    meta: dict[str, Any]
    path: Path

    def tap(self, name: str) -> np.ndarray:
        """(n_utts, dim) float32 pooled activations of one tap, read on demand."""
        with np.load(self.path) as archive:
            return archive[f"tap/{name}"].astype(np.float32)


def read_activations(path: str | Path) -> Activations:
    """Open a results/activations/{model}/{split}.npz without loading its taps."""
    path = Path(path)
    with np.load(path) as archive:
        return Activations(
            utt_ids=archive["utt_id"],
            layer_names=[str(n) for n in archive["layer_names"]],
            meta=json.loads(str(archive["meta_json"])),
            path=path,
        )
