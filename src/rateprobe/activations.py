"""Per-layer activations of one encoder on one split, all taps from a single forward pass.

Every utterance of the manifest goes through the encoder once (in length-bucketed batches); each
tap is pooled to one vector per utterance as soon as the network produces it (see
`encoders.taps`), so no frame-level activation is ever stored. The utterances are cut into shards of
whole batches (`rateprobe.sharding.plan_shards`), each extracted by a job of its own
(`extract_shard`); `gather_shards` joins them into one `results/activations/{model}/{split}.npz`
in the format of docs/interfaces.md, the same bytes whatever the shard size. Every file is
written atomically: an interrupted job leaves no file, and loses at most the shard it was
working on.

Compute precision (`activations.precision`): float32, or a bfloat16 / float16 autocast around the
forward pass; the pooled statistics are always computed and kept in float32.

Storage precision (`activations.dtype`): float16 keeps 11 significant bits, a relative rounding
error of at most 2**-11 (4.9e-4) for magnitudes between 6.1e-5 and 65504; smaller magnitudes lose
relative precision (absolute error below 3e-8), and a tap with a larger magnitude is kept in
float32 (named under `float32_taps` in the file's metadata). docs/activations.md gives the
measured errors.
"""

from __future__ import annotations

import contextlib
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
from rateprobe.sharding import manifest_durations, plan_batches, plan_shards

FLOAT16_MAX = float(np.finfo(np.float16).max)
MANIFEST_COLUMNS = ("utt_id", "path", "duration_s")
# CPU flags of the instructions that compute bfloat16 natively (AVX-512 BF16, AMX).
NATIVE_BFLOAT16_FLAGS = {"avx512_bf16", "amx_bf16"}
AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
# Always computed in float32: GE2E costs under 1 % of real time, so a lower precision saves
# nothing, and oneDNN has no bfloat16 LSTM on CPUs without AVX-512 BF16 (its autocast forward
# stopped with "could not create a primitive descriptor" on the development machine).
FLOAT32_ARCHS = {"resemblyzer"}

log = logging.getLogger(__name__)


def cpu_computes_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has bfloat16 arithmetic in hardware (else PyTorch emulates it)."""
    if not cpuinfo.is_file():
        return False
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return bool(NATIVE_BFLOAT16_FLAGS & set(line.split(":", 1)[1].split()))
    return False


def resolve_precision(setting: str, device: torch.device) -> str:
    """'auto' is float16 on CUDA, bfloat16 on a CPU that computes it natively, else float32."""
    if setting != "auto":
        return setting
    if device.type == "cuda":
        return "float16"
    return "bfloat16" if cpu_computes_bfloat16() else "float32"


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The forward pass's compute precision: no autocast for float32."""
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])


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
    precision: str = "float32",
    progress: str | None = None,
) -> dict[str, np.ndarray]:
    """{tap: (n_utterances, dim)} float32 pooled activations, rows in the order of `durations`.

    `load_waveform(i)` returns utterance i as 16 kHz float samples; `durations` (seconds) only
    steer the batching. `precision` is the forward pass's (float32, bfloat16, float16);
    `progress` is the progress bar's label (None: no bar).
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
            with autocast(precision, device):
                encoder(features, lengths, recorder)
            for name in tap_names:
                pooled = recorder.pooled[name].numpy()
                if name not in outputs:
                    outputs[name] = np.empty((len(durations), pooled.shape[1]), dtype=np.float32)
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


def _extract_rows(
    table: pd.DataFrame,
    durations: list[float],
    rows: list[int],
    encoder: SpeakerEncoder,
    model: dict[str, Any],
    settings: dict[str, Any],
    runtime: dict[str, Any],
    label: str,
) -> dict[str, np.ndarray]:
    """A shard's arrays: its rows' utt_ids, the tap names, the metadata every shard of the
    (model, split) shares, and each tap in float32 (storage precision is the gather's)."""
    inner = ("simam",) if settings["simam_taps"] and "simam" in encoder.inner_taps else ()
    tap_names = encoder.tap_names(inner)
    paths = table["path"].to_numpy()[rows]

    def load_waveform(index: int) -> np.ndarray:
        samples = read_audio(paths[index]).samples
        if len(samples) < 0.025 * SAMPLE_RATE:
            raise ValueError(
                f"{paths[index]}: {len(samples)} samples, shorter than one 25 ms frame"
            )
        return samples

    device = resolve_device(runtime["device"], "activations.device")
    precision = (
        "float32"
        if encoder.arch in FLOAT32_ARCHS
        else resolve_precision(settings["precision"], device)
    )
    # Whole utterances only: the labels describe the whole utterance (config refuses a crop).
    pooled = extract_taps(
        encoder,
        load_waveform,
        [durations[i] for i in rows],
        tap_names,
        tuple(settings["pooling"]),
        float(runtime["batch_seconds"]),
        device,
        precision,
        progress=label,
    )
    meta = {
        "model": model["name"],
        "arch": encoder.arch,
        "source": model["source"],
        "pooling": list(settings["pooling"]),
        "n_params": int(sum(p.numel() for p in encoder.parameters())),
        "frontend": frontend_description(encoder),
        "embedding_method": encoder.embedding_method,
        "precision": precision,
    }
    return {
        "utt_id": table["utt_id"].to_numpy(dtype=str)[rows],
        "layer_names": np.array(tap_names, dtype=str),
        "meta_json": np.array(json.dumps(meta)),
        **{f"tap/{name}": values for name, values in pooled.items()},
    }


def _gather(
    shards: Sequence[Any], names: Sequence[str], utt_ids: np.ndarray, dtype: str, output: Path
) -> dict[str, np.ndarray]:
    """One file's arrays, rows in manifest order and in storage precision, from its shards'
    arrays (mappings, each named for errors); together they must hold every row once."""
    first = shards[0]
    rows = np.concatenate([shard["row"] for shard in shards])
    if not np.array_equal(np.sort(rows), np.arange(len(utt_ids))) or not np.array_equal(
        np.concatenate([shard["utt_id"] for shard in shards]), utt_ids[rows]
    ):
        raise ValueError(
            f"{output}: the shards {names[0]} ... {names[-1]} do not hold each utterance of the "
            "manifest once (left from another manifest or shard plan? delete them)"
        )
    for shard, name in zip(shards, names, strict=True):
        for key in ("layer_names", "meta_json"):
            if not np.array_equal(shard[key], first[key]):
                raise ValueError(f"{name}: {key} differs from that of {names[0]}")
    taps, float32_taps = {}, []
    for tap in [str(n) for n in first["layer_names"]]:
        parts = [shard[f"tap/{tap}"] for shard in shards]
        values = np.empty((len(utt_ids), parts[0].shape[1]), dtype=np.float32)
        values[rows] = np.concatenate(parts)
        if dtype == "float16" and np.abs(values).max() > FLOAT16_MAX:
            log.warning("%s: tap %s exceeds the float16 range; stored as float32", output, tap)
            float32_taps.append(tap)
        else:
            values = values.astype(dtype)
        taps[f"tap/{tap}"] = values
    meta = {**json.loads(str(first["meta_json"])), "dtype": dtype, "float32_taps": float32_taps}
    return {
        "utt_id": utt_ids,
        "layer_names": first["layer_names"],
        "meta_json": np.array(json.dumps(meta)),
        **taps,
    }


def extract_shard(
    manifest: str | Path,
    model: dict[str, Any],
    shard: int,
    output: str | Path,
    settings: dict[str, Any],
    runtime: dict[str, Any],
    checkpoint: str | Path | Sequence[str | Path] | None = None,
    threads: int = 1,
) -> None:
    """Write shard number `shard` of the manifest's shard plan to `output`: its rows' manifest
    indices (`row`), utt_ids, the tap names, the metadata and every tap in float32.

    `model` is a resolved `models:` entry; `settings` holds the `activations:` settings that
    decide the numbers, `runtime` the others (`config.RUNTIME_ONLY`, read by
    `config.runtime_settings`); `checkpoint` is what the rule declared for a URL or
    path model (see `load_encoder`).
    """
    manifest = Path(manifest)
    table = _read_manifest(manifest)
    # Parsed as the rules parse them when they plan the shards, to the last bit.
    durations = manifest_durations(manifest)
    shards = plan_shards(durations, runtime["batch_seconds"], runtime["shard_seconds"])
    if not 0 <= shard < len(shards):
        raise ValueError(
            f"{manifest}: no shard {shard}; the manifest makes {len(shards)} shards of at most "
            f"{runtime['shard_seconds']} s of audio"
        )
    # More torch threads than usable CPUs make every thread wait on the others.
    torch.set_num_threads(max(1, min(threads, len(os.sched_getaffinity(0)))))
    encoder = load_encoder(model, checkpoint)
    rows = shards[shard]
    label = f"{model['name']} {manifest.stem} shard {shard + 1}/{len(shards)}"
    arrays = _extract_rows(table, durations, rows, encoder, model, settings, runtime, label)
    write_npz(output, {"row": np.array(rows, dtype=np.int64), **arrays})


def gather_shards(
    manifest: str | Path, shard_paths: Sequence[str | Path], output: str | Path, dtype: str
) -> None:
    """Join the shard files of a manifest into its activations file (storage `dtype`)."""
    manifest, output = Path(manifest), Path(output)
    utt_ids = _read_manifest(manifest)["utt_id"].to_numpy(dtype=str)
    with contextlib.ExitStack() as stack:
        shards = [stack.enter_context(np.load(path)) for path in shard_paths]
        arrays = _gather(shards, [str(p) for p in shard_paths], utt_ids, dtype, output)
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
