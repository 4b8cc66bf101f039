"""Shared by the encoder and activation tests: official reference code, test signals.

The official WeSpeaker package (`wespeaker-unofficial==0.0.2`, installed by `bin/setup --test`
into .test-extras/) imports torchaudio and much else in its __init__, and torchaudio cannot be
installed beside this project's torch. So the files the tests need are loaded straight from
.test-extras/ under stand-in parent packages, and whatever else they import is stood in by
modules that offer only the names they import:

- the models (`models/samresnet.py`, `models/campplus.py`, `models/resnet.py`,
  `models/ecapa_tdnn.py`, `models/pooling_layers.py`), which need only torch;
- the inference entry point `cli/speaker.py` (`Speaker`, what `wespeaker --task embedding`
  runs), for its model loading, feature call and embedding; its fbank comes from torchaudio's
  `compliance/kaldi.py` (pure torch; found in .test-extras/ when torchaudio's wheel was unpacked
  there without dependencies) or else from the step-by-step Kaldi reference below.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

TEST_EXTRAS = Path(__file__).resolve().parents[1] / ".test-extras"
OFFICIAL_WESPEAKER = TEST_EXTRAS / "wespeaker"
OFFICIAL_MODELS = OFFICIAL_WESPEAKER / "models"
TORCHAUDIO_KALDI = TEST_EXTRAS / "torchaudio" / "compliance" / "kaldi.py"
SHARED = Path(__file__).resolve().parents[2] / "shared"
LIBRISPEECH_SAMPLE = SHARED / "librispeech-sample" / "LibriSpeech"

needs_official_wespeaker = pytest.mark.skipif(
    not OFFICIAL_MODELS.is_dir(),
    reason=f"official WeSpeaker code not installed at {OFFICIAL_MODELS} (bin/setup --test)",
)


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """Largest absolute difference over the reference's largest magnitude."""
    return float((ours - reference).abs().max() / reference.abs().max())


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _stand_in(name: str, **attributes: Any) -> ModuleType:
    module = types.ModuleType(name)
    vars(module).update(attributes)
    return module


@contextlib.contextmanager
def _modules(stand_ins: list[ModuleType], loaded: tuple[str, ...]) -> Iterator[None]:
    """Install stand-in modules (each also an attribute of its parent) for the duration of a
    load; afterwards sys.modules is as before, without them and without the `loaded` names."""
    names = [m.__name__ for m in stand_ins]
    saved = {name: sys.modules.get(name) for name in (*names, *loaded)}
    by_name = dict(zip(names, stand_ins, strict=True))
    for name, module in by_name.items():
        parent, _, child = name.rpartition(".")
        if parent in by_name:
            setattr(by_name[parent], child, module)
        sys.modules[name] = module
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_official_model_module(name: str) -> ModuleType:
    """The official wespeaker/models/<name>.py (samresnet, campplus, ...); parents are
    stand-ins so no __init__ runs."""
    models = _stand_in("wespeaker.models")
    loaded = ("wespeaker.models.pooling_layers", f"wespeaker.models.{name}")
    with _modules([_stand_in("wespeaker"), models], loaded):
        models.pooling_layers = _load(loaded[0], OFFICIAL_MODELS / "pooling_layers.py")
        return _load(loaded[1], OFFICIAL_MODELS / f"{name}.py")


def load_official_samresnet() -> ModuleType:
    return load_official_model_module("samresnet")


def load_torchaudio_kaldi() -> ModuleType | None:
    """torchaudio's own compliance/kaldi.py, or None where it was not unpacked.

    Its fbank needs only torch; the `import torchaudio` at its top gets a stand-in.
    """
    if not TORCHAUDIO_KALDI.is_file():
        return None
    with _modules([_stand_in("torchaudio")], ("torchaudio.compliance.kaldi",)):
        return _load("torchaudio.compliance.kaldi", TORCHAUDIO_KALDI)


def kaldi_log_mel(samples: np.ndarray) -> np.ndarray:
    """Kaldi's 80-bin log-mel fbank of int16-scale samples, step by step in float64.

    As torchaudio's kaldi.fbank with the arguments WeSpeaker passes: whole 25 ms frames every
    10 ms, DC removed, pre-emphasis 0.97, Hamming window, 512-point power spectrum, 80
    triangular filters on Kaldi's mel scale 1127 ln(1 + f/700) from 20 Hz to Nyquist, natural
    log floored at float32 epsilon. No mean removal.
    """
    samples = samples.astype(np.float64)
    n_frames = 1 + (len(samples) - 400) // 160
    frames = np.stack([samples[i * 160 : i * 160 + 400] for i in range(n_frames)])
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = np.concatenate([frames[:, :1] * 0.03, frames[:, 1:] - 0.97 * frames[:, :-1]], axis=1)
    frames = frames * (0.54 - 0.46 * np.cos(2 * np.pi * np.arange(400) / 399))
    power = np.abs(np.fft.rfft(frames, n=512, axis=1)) ** 2

    def mel(hz: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log(1.0 + hz / 700.0)

    edges = np.linspace(mel(np.array(20.0)), mel(np.array(8000.0)), 82)
    bin_mel = mel(np.arange(256) * 16000 / 512)
    filters = np.zeros((80, 257))
    for m in range(80):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        rising = (bin_mel - left) / (centre - left)
        falling = (right - bin_mel) / (right - centre)
        inside = (bin_mel > left) & (bin_mel < right)
        filters[m, :256] = np.where(inside, np.where(bin_mel <= centre, rising, falling), 0.0)
    return np.log(np.maximum(power @ filters.T, np.finfo(np.float32).eps))


def kaldi_reference_module() -> ModuleType:
    """A stand-in for torchaudio.compliance.kaldi whose fbank is `kaldi_log_mel`.

    It accepts only the arguments that reference implements, so a call with any other argument
    or value fails instead of silently computing something else.
    """

    def fbank(
        waveform: torch.Tensor,
        *,
        num_mel_bins: int,
        frame_length: float,
        frame_shift: float,
        sample_frequency: float,
        window_type: str,
        dither: float = 0.0,  # torchaudio's default
    ) -> torch.Tensor:
        arguments = (num_mel_bins, frame_length, frame_shift, sample_frequency, window_type)
        assert arguments == (80, 25, 10, 16000, "hamming") and dither == 0.0, arguments
        return torch.from_numpy(kaldi_log_mel(waveform[0].numpy())).float()

    return _stand_in("torchaudio.compliance.kaldi", fbank=fbank)


def load_official_speaker(kaldi: ModuleType) -> type:
    """WeSpeaker's `Speaker` (cli/speaker.py) with `kaldi` as torchaudio.compliance.kaldi.

    Stood in: what it imports for VAD, diarization, downloads and command-line parsing (unused
    by embedding extraction without VAD), `set_seed` (seeding the global generators changes
    nothing in eval mode and would disturb other tests), and `get_speaker_model`, which finds
    the SimAM-ResNet classes in the official samresnet module, as the real one does.
    """
    samresnet = load_official_samresnet()
    stand_ins = [
        _stand_in(
            "silero_vad", load_silero_vad=lambda: None, read_audio=None, get_speech_timestamps=None
        ),
        _stand_in("torchaudio"),
        _stand_in("torchaudio.compliance"),
        kaldi,
        _stand_in("kaldiio"),
        _stand_in("wespeaker"),
        _stand_in("wespeaker.cli"),
        _stand_in("wespeaker.cli.hub", Hub=types.SimpleNamespace(Assets={})),
        _stand_in("wespeaker.cli.utils", get_args=None),
        _stand_in("wespeaker.models"),
        _stand_in(
            "wespeaker.models.speaker_model",
            get_speaker_model=lambda name: getattr(samresnet, name),
        ),
        _stand_in("wespeaker.utils"),
        _stand_in("wespeaker.utils.utils", set_seed=lambda: None),
        _stand_in("wespeaker.diar"),
        _stand_in("wespeaker.diar.umap_clusterer", cluster=None),
        _stand_in("wespeaker.diar.extract_emb", subsegment=None),
        _stand_in("wespeaker.diar.make_rttm", merge_segments=None),
        _stand_in("wespeaker.frontend", frontend_class_dict={}),
    ]
    loaded = ("wespeaker.utils.checkpoint", "wespeaker.cli.speaker")
    with _modules(stand_ins, loaded):
        _load(loaded[0], OFFICIAL_WESPEAKER / "utils" / "checkpoint.py")
        return _load(loaded[1], OFFICIAL_WESPEAKER / "cli" / "speaker.py").Speaker


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
                if module.affine:
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
