"""Speaker encoders by configuration entry: pretrained, from a checkpoint, or random controls.

Every encoder is a `SpeakerEncoder` (base.py): `arch`, `frontend` (the name of its acoustic
frontend in FRONTENDS), `embedding_method` (how its final embedding is computed, in one line),
`tap_names(inner)` and `forward(features, lengths, recorder)`; see `taps.py` for how the taps
come out of the single forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rateprobe import frontend
from rateprobe.encoders.base import SpeakerEncoder
from rateprobe.encoders.checkpoints import (
    CheckpointError,
    check_state_dict,
    declared_checkpoint,
    read_wespeaker_checkpoint,
)
from rateprobe.encoders.resemblyzer import (
    PARTIALS_FRONTEND,
    ResemblyzerEncoder,
    packaged_weights_path,
    partial_mels,
)
from rateprobe.encoders.samresnet import BLOCKS_PER_STAGE, SimAMResNet

FRONTENDS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "wespeaker_fbank": (frontend.wespeaker_fbank, frontend.WESPEAKER_FRONTEND),
    "resemblyzer_partials": (partial_mels, PARTIALS_FRONTEND),
}
# Constructor arguments of WeSpeaker's SimAM_ResNet*_ASP; dropout only acts in training.
WESPEAKER_MODEL_ARGS = {"in_planes", "embed_dim", "acoustic_dim", "dropout"}


def build_encoder(arch: str, **model_args: Any) -> SpeakerEncoder:
    """An encoder of architecture `arch` with PyTorch's default (random) initialisation."""
    if arch == "resemblyzer":
        return ResemblyzerEncoder()
    if arch in BLOCKS_PER_STAGE:
        return SimAMResNet(arch, **model_args)
    raise ValueError(f"unknown architecture '{arch}'")


def random_encoder(arch: str, seed: int) -> SpeakerEncoder:
    """A seeded random initialisation; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_encoder(arch)


def load_wespeaker_encoder(source: str | Path, expected_arch: str | None = None) -> SimAMResNet:
    """A SimAM-ResNet from an official folder or .zip; every backbone key must match."""
    arch, model_args, state = read_wespeaker_checkpoint(source)
    if expected_arch is not None and expected_arch != arch:
        raise CheckpointError(f"{source}: config says arch {expected_arch}, checkpoint is {arch}")
    unknown = set(model_args) - WESPEAKER_MODEL_ARGS
    if unknown:
        raise CheckpointError(
            f"{source}: config.yaml model_args has unknown keys {sorted(unknown)}"
        )
    model_args.pop("dropout", None)
    if model_args.get("acoustic_dim", frontend.WESPEAKER_MEL_BINS) != frontend.WESPEAKER_MEL_BINS:
        raise CheckpointError(
            f"{source}: acoustic_dim {model_args['acoustic_dim']} differs from the "
            f"{frontend.WESPEAKER_MEL_BINS}-bin fbank frontend"
        )
    encoder = SimAMResNet(arch, **model_args)
    expected = set(encoder.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: checkpoint does not match {arch}: {len(missing)} missing keys "
            f"{missing[:10]}, {len(unexpected)} unexpected keys {unexpected[:10]}"
        )
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{source}: tensor shapes do not match {arch}: {err}") from err
    return encoder


def load_encoder(
    model: dict[str, Any], checkpoint: str | Path | Sequence[str | Path] | None = None
) -> SpeakerEncoder:
    """The encoder of one resolved `models:` entry, in evaluation mode.

    A URL or path model is read from `checkpoint`: a model folder or .zip, or the files a rule
    declared as its input (`declared_checkpoint`); the other sources need none.
    """
    kind = model["source_kind"]
    encoder: SpeakerEncoder
    if kind == "random":
        encoder = random_encoder(model["arch"], int(model.get("seed", 0)))
    elif kind == "resemblyzer":
        encoder = ResemblyzerEncoder()
        path = packaged_weights_path()
        packaged = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(packaged, dict) or "model_state" not in packaged:
            raise CheckpointError(f"{path}: not Resemblyzer's weights (no model_state entry)")
        check_state_dict(packaged["model_state"], f"{path}: model_state")
        encoder.load_packaged_state(packaged["model_state"], str(path))
    elif kind in ("url", "path"):
        if checkpoint is None:
            raise CheckpointError(f"model '{model['name']}': no checkpoint given to read")
        if not isinstance(checkpoint, str | Path):
            checkpoint = declared_checkpoint(checkpoint)
        encoder = load_wespeaker_encoder(checkpoint, model.get("arch"))
    else:
        raise ValueError(f"model '{model['name']}': unknown source kind '{kind}'")
    return encoder.eval()


def compute_features(encoder: SpeakerEncoder, waveform: np.ndarray) -> np.ndarray:
    """(frames, dims) frontend features of one 16 kHz waveform for this encoder."""
    function, _ = FRONTENDS[encoder.frontend]
    return function(waveform)


def frontend_description(encoder: SpeakerEncoder) -> str:
    return FRONTENDS[encoder.frontend][1]
