"""Speaker encoders by configuration entry: pretrained, from a checkpoint, or random controls.

Every encoder is a `SpeakerEncoder` (base.py): `arch`, `frontend` (the name of its acoustic
frontend in FRONTENDS), `embedding_method` (how its final embedding is computed, in one line),
`tap_names(inner)` and `forward(features, lengths, recorder)`; see `taps.py` for how the taps
come out of the single forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rateprobe import frontend
from rateprobe.conventions import ARCH_MODEL_ARGS
from rateprobe.encoders.base import SpeakerEncoder
from rateprobe.encoders.campplus import CAMPPlus
from rateprobe.encoders.checkpoints import (
    WESPEAKER_CLASSES,
    CheckpointError,
    check_state_dict,
    declared_checkpoint,
    read_state_dict,
    read_wespeaker_checkpoint,
)
from rateprobe.encoders.ecapa_tdnn import ECAPA_CHANNELS, ECAPATDNN
from rateprobe.encoders.resemblyzer import (
    PARTIALS_FRONTEND,
    ResemblyzerEncoder,
    packaged_weights_path,
    partial_mels,
)
from rateprobe.encoders.resnet import ResNet34
from rateprobe.encoders.samresnet import BLOCKS_PER_STAGE, SimAMResNet

FRONTENDS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "wespeaker_fbank": (frontend.wespeaker_fbank, frontend.WESPEAKER_FRONTEND),
    "threed_speaker_fbank": (frontend.threed_speaker_fbank, frontend.THREED_SPEAKER_FRONTEND),
    "resemblyzer_partials": (partial_mels, PARTIALS_FRONTEND),
}


# arch -> its constructor; the arguments each takes are conventions.ARCH_MODEL_ARGS.
ARCHITECTURES: dict[str, Callable[..., SpeakerEncoder]] = {
    **{arch: partial(SimAMResNet, arch) for arch in BLOCKS_PER_STAGE},
    "resnet34": ResNet34,
    **{arch: partial(ECAPATDNN, arch) for arch in ECAPA_CHANNELS},
    "campplus": CAMPPlus,
}
# dropout only acts in training: a WeSpeaker config.yaml may give it, the encoder needs none.
TRAINING_ONLY_ARGS = {"dropout"}
# The argument that sets the number of fbank bins the network reads: feat_dim, but
# acoustic_dim for SimAM-ResNet.
FEATURE_DIM_ARG = {arch: "feat_dim" for arch in ARCHITECTURES} | {
    arch: "acoustic_dim" for arch in BLOCKS_PER_STAGE
}


def build_encoder(arch: str, **model_args: Any) -> SpeakerEncoder:
    """An encoder of architecture `arch` with PyTorch's default (random) initialisation."""
    if arch == "resemblyzer":
        return ResemblyzerEncoder()
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{arch}' (known: {sorted(ARCHITECTURES)})")
    return ARCHITECTURES[arch](**model_args)


def random_encoder(arch: str, seed: int, **model_args: Any) -> SpeakerEncoder:
    """A seeded random initialisation; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_encoder(arch, **model_args)


def _checked_model_args(arch: str, model_args: dict[str, Any], origin: str) -> dict[str, Any]:
    """The constructor arguments of `arch` among `model_args`, refusing unknown ones and a
    feature dimension other than the fbank frontend's."""
    allowed = ARCH_MODEL_ARGS[arch]
    unknown = set(model_args) - allowed - TRAINING_ONLY_ARGS
    if unknown:
        raise CheckpointError(
            f"{origin}: model_args has keys {sorted(unknown)} that {arch} does not take "
            f"(it takes {sorted(allowed)})"
        )
    kept = {k: v for k, v in model_args.items() if k in allowed}
    bins = kept.get(FEATURE_DIM_ARG[arch], frontend.WESPEAKER_MEL_BINS)
    if bins != frontend.WESPEAKER_MEL_BINS:
        raise CheckpointError(
            f"{origin}: {FEATURE_DIM_ARG[arch]} {bins} differs from the "
            f"{frontend.WESPEAKER_MEL_BINS}-bin fbank frontend"
        )
    return kept


def load_state_strictly(
    arch: str, model_args: dict[str, Any], state: dict[str, Any], origin: str
) -> SpeakerEncoder:
    """An `arch` encoder holding `state`, every key and shape matching, or CheckpointError."""
    try:
        encoder = build_encoder(arch, **_checked_model_args(arch, model_args, origin))
    except ValueError as err:
        raise CheckpointError(f"{origin}: {err}") from err
    expected = set(encoder.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise CheckpointError(
            f"{origin}: checkpoint does not match {arch}: {len(missing)} missing keys "
            f"{missing[:10]}, {len(unexpected)} unexpected keys {unexpected[:10]}"
        )
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{origin}: tensor shapes do not match {arch}: {err}") from err
    return encoder


def load_wespeaker_encoder(source: str | Path, expected_arch: str | None = None) -> SpeakerEncoder:
    """An encoder from an official WeSpeaker folder or .zip; every backbone key must match."""
    arch, model_args, state = read_wespeaker_checkpoint(source)
    if expected_arch is not None and expected_arch != arch:
        raise CheckpointError(f"{source}: config says arch {expected_arch}, checkpoint is {arch}")
    wespeaker_class = next(name for name, known in WESPEAKER_CLASSES.items() if known == arch)
    origin = f"{source}: config.yaml (model {wespeaker_class})"
    return load_state_strictly(arch, model_args, state, origin)


def load_encoder(
    model: dict[str, Any], checkpoint: str | Path | Sequence[str | Path] | None = None
) -> SpeakerEncoder:
    """The encoder of one resolved `models:` entry, in evaluation mode.

    A URL or path model is read from `checkpoint`: a model folder or .zip, or the files a rule
    declared as its input (`declared_checkpoint`); a PyPI model from its fetched state dict; the
    other sources need none. `model_args` (constructor arguments) and `frontend` (another
    acoustic frontend, e.g. 3D-Speaker's for its CAM++) come from the entry.
    """
    kind = model["source_kind"]
    model_args = model.get("model_args") or {}
    encoder: SpeakerEncoder
    if kind == "random":
        encoder = random_encoder(model["arch"], int(model.get("seed", 0)), **model_args)
    elif kind == "resemblyzer":
        encoder = ResemblyzerEncoder()
        path = packaged_weights_path()
        packaged = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(packaged, dict) or "model_state" not in packaged:
            raise CheckpointError(f"{path}: not Resemblyzer's weights (no model_state entry)")
        check_state_dict(packaged["model_state"], f"{path}: model_state")
        encoder.load_packaged_state(packaged["model_state"], str(path))
    elif kind in ("url", "path", "pypi"):
        if checkpoint is None:
            raise CheckpointError(f"model '{model['name']}': no checkpoint given to read")
        if not isinstance(checkpoint, str | Path):
            checkpoint = declared_checkpoint(checkpoint)
        if kind == "pypi":
            # A plain state dict: its architecture and arguments come from the config entry.
            state = read_state_dict(checkpoint)
            encoder = load_state_strictly(model["arch"], model_args, state, str(checkpoint))
        else:
            encoder = load_wespeaker_encoder(checkpoint, model.get("arch"))
    else:
        raise ValueError(f"model '{model['name']}': unknown source kind '{kind}'")
    if model.get("frontend"):
        encoder.frontend = model["frontend"]
    return encoder.eval()


def compute_features(encoder: SpeakerEncoder, waveform: np.ndarray) -> np.ndarray:
    """(frames, dims) frontend features of one 16 kHz waveform for this encoder."""
    function, _ = FRONTENDS[encoder.frontend]
    return function(waveform)


def frontend_description(encoder: SpeakerEncoder) -> str:
    return FRONTENDS[encoder.frontend][1]
