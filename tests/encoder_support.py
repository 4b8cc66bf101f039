"""Shared by the encoder and activation tests: the official WeSpeaker model, test signals.

The official package (`wespeaker-unofficial==0.0.2`, installed by `bin/setup --test` into
.test-extras/) imports torchaudio in its __init__; the model file itself only needs torch and its
sibling pooling_layers. Both are loaded straight from their files under stand-in parent packages.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

OFFICIAL_MODELS = Path(__file__).resolve().parents[1] / ".test-extras" / "wespeaker" / "models"
SHARED = Path(__file__).resolve().parents[2] / "shared"
LIBRISPEECH_SAMPLE = SHARED / "librispeech-sample" / "LibriSpeech"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_official_samresnet() -> ModuleType:
    """The official samresnet module; parents are stand-ins so no __init__ runs."""
    saved = {k: sys.modules.get(k) for k in ("wespeaker", "wespeaker.models")}
    package = types.ModuleType("wespeaker")
    models = types.ModuleType("wespeaker.models")
    package.models = models  # type: ignore[attr-defined]
    sys.modules["wespeaker"], sys.modules["wespeaker.models"] = package, models
    try:
        pooling = _load("wespeaker.models.pooling_layers", OFFICIAL_MODELS / "pooling_layers.py")
        models.pooling_layers = pooling  # type: ignore[attr-defined]
        return _load("wespeaker.models.samresnet", OFFICIAL_MODELS / "samresnet.py")
    finally:
        for key in ("wespeaker.models.pooling_layers", "wespeaker.models.samresnet"):
            sys.modules.pop(key, None)
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module


def librispeech_sample_files() -> list[Path]:
    return sorted(LIBRISPEECH_SAMPLE.rglob("*.flac"))


def randomise_batchnorm(model: nn.Module, seed: int) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters.

    With PyTorch's defaults a BatchNorm in eval mode is the identity, which would hide both a
    wrong layer order and padded frames leaking through a bias.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                size = module.num_features
                module.running_mean.copy_(0.2 * torch.randn(size, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
                module.weight.copy_(0.5 + torch.rand(size, generator=generator))
                module.bias.copy_(0.2 * torch.randn(size, generator=generator))


def speech_like_waveform(seconds: float, seed: int) -> np.ndarray:
    """Harmonic bursts with a moving pitch and noise: varied spectra and loudness over time."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    pitch = 120 + 60 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t)
    phase = 2 * np.pi * np.cumsum(pitch) / 16000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t) ** 2
    signal = 0.1 * envelope * voiced + 0.01 * rng.standard_normal(len(t))
    return signal.astype(np.float32)


class RawRecorder:
    """Keeps every tap's full activation (for comparisons with the official model)."""

    def __init__(self) -> None:
        self.activations: dict[str, torch.Tensor] = {}

    def wants(self, name: str) -> bool:
        return True

    def record(self, name: str, activation: torch.Tensor, time_mask: torch.Tensor | None) -> None:
        self.activations[name] = activation.detach().clone()
