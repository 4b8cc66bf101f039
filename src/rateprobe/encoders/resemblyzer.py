"""Resemblyzer's GE2E speaker encoder, its embedding computed as `embed_utterance` computes it.

The network is Resemblyzer's `VoiceEncoder`: an LSTM of three 256-unit layers over 40-bin mel
frames, then linear + ReLU + L2 normalisation of the last layer's final hidden state. The three
layers are separate modules here so that each layer's output sequence can be tapped; the
pretrained weights are read from the `pretrained.pt` the PyPI package ships, so nothing is
downloaded.

GE2E was trained on 1.6 s partial utterances, and the embedding its authors publish and verify
speakers with is `VoiceEncoder.embed_utterance`: the network is run on 1.6 s windows (160 mel
frames) that start every 77 frames (1.3 windows per second, 52 % overlap), the waveform is
zero-padded to the end of the last window, a last window less than 75 % covered by audio is
dropped unless it is the only one, and the L2-normalised mean of the windows' embeddings is the
utterance's embedding. This module does exactly that, with the package's defaults, on the
waveform as read: `embed_utterance` itself changes nothing in the waveform's level, and the
package's separate `preprocess_wav` (volume normalisation to -30 dBFS and VAD trimming of
pauses) is not applied, because pauses are part of the speech rate under study.

The frontend (`partial_mels`) hands the encoder every window of an utterance one after another;
the encoder runs all windows of a batch in one pass, and each LSTM tap is pooled over every frame
of every window of its utterance, so the taps and the embedding come from the same pass over the
same windows.

Tap names: `lstm1`, `lstm2`, `lstm3` (frame sequences), `embedding`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rateprobe.encoders.base import SpeakerEncoder
from rateprobe.encoders.taps import TapRecorder, length_mask
from rateprobe.frontend import (
    HOP_SAMPLES,
    RESEMBLYZER_MEL_BINS,
    SAMPLE_RATE,
    resemblyzer_mel,
)

HIDDEN = 256
EMBEDDING = 256
# GE2E loss parameters stored beside the network; inference does not use them.
TRAINING_ONLY_KEYS = {"similarity_weight", "similarity_bias"}

# embed_utterance's defaults: 1.6 s windows, `rate` windows per second, `min_coverage`.
PARTIAL_FRAMES = 160
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75
PARTIAL_STEP = round(SAMPLE_RATE / PARTIALS_PER_SECOND / HOP_SAMPLES)  # 77 frames

PARTIALS_FRONTEND = (
    "mel power spectrogram 40 bins (slaney), 25/10 ms hann, centred, of the waveform as read "
    "(no volume normalisation, no VAD); 1.6 s windows every 0.77 s"
)


def packaged_weights_path() -> Path:
    """The pretrained.pt inside the installed resemblyzer package (found without importing it)."""
    from importlib.util import find_spec

    spec = find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the resemblyzer package is not installed (pip install resemblyzer)"
        )
    path = Path(spec.origin).parent / "pretrained.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: resemblyzer's pretrained weights are missing")
    return path


def partial_starts(n_samples: int) -> list[int]:
    """First mel frame of each 1.6 s window of an n_samples waveform, as embed_utterance.

    Windows follow every PARTIAL_STEP frames until one reaches past the last frame; that last
    window is zero-padded, and dropped when the audio covers less than MIN_COVERAGE of it,
    unless it is the only one.
    """
    frames = n_samples // HOP_SAMPLES + 1  # centred frames
    starts = [0]
    while starts[-1] + PARTIAL_FRAMES <= frames:
        starts.append(starts[-1] + PARTIAL_STEP)
    covered = (n_samples - starts[-1] * HOP_SAMPLES) / (PARTIAL_FRAMES * HOP_SAMPLES)
    if covered < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def partial_mels(waveform: np.ndarray) -> np.ndarray:
    """(windows * 160, 40): the mel frames of each 1.6 s window, one window after another.

    As embed_utterance, the spectrogram is taken of the waveform zero-padded to the end of the
    last window, so the frames at the end of the audio see the same zeros they see there.
    """
    starts = partial_starts(len(waveform))
    padding = (starts[-1] + PARTIAL_FRAMES) * HOP_SAMPLES - len(waveform)
    mel = resemblyzer_mel(np.pad(waveform, (0, max(0, padding))))
    return np.concatenate([mel[start : start + PARTIAL_FRAMES] for start in starts])


def _by_utterance(per_window: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(B, W, ...) from the (windows, ...) rows of the real windows; padding windows are zero."""
    grouped = per_window.new_zeros((*real.shape, *per_window.shape[1:]))
    grouped[real] = per_window
    return grouped


class ResemblyzerEncoder(SpeakerEncoder):
    arch = "resemblyzer"
    frontend = "resemblyzer_partials"
    embedding_method: ClassVar[dict[str, Any]] = {
        "kind": "windowed_mean",
        "window_s": PARTIAL_FRAMES * HOP_SAMPLES / SAMPLE_RATE,
        "step_s": PARTIAL_STEP * HOP_SAMPLES / SAMPLE_RATE,
        "reference": "Resemblyzer VoiceEncoder.embed_utterance",
        "description": (
            "L2-normalised mean of the embeddings of 1.6 s partial utterances (a window every "
            "0.77 s, 52 % overlap, the last zero-padded), as Resemblyzer's "
            "VoiceEncoder.embed_utterance on the waveform as read (no preprocess_wav)"
        ),
    }

    def __init__(self) -> None:
        super().__init__()
        self.lstm1 = nn.LSTM(RESEMBLYZER_MEL_BINS, HIDDEN, batch_first=True)
        self.lstm2 = nn.LSTM(HIDDEN, HIDDEN, batch_first=True)
        self.lstm3 = nn.LSTM(HIDDEN, HIDDEN, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBEDDING)

    def tap_names(self, inner: tuple[str, ...] = ()) -> list[str]:
        if inner:
            raise ValueError(f"the Resemblyzer encoder has no inner taps (asked for {inner})")
        return ["lstm1", "lstm2", "lstm3", "embedding"]

    def load_packaged_state(self, checkpoint: dict[str, torch.Tensor], origin: str) -> None:
        """Load a VoiceEncoder state dict (keys lstm.*_l{k}, linear.*), every key accounted for."""
        renamed = {}
        for key, value in checkpoint.items():
            if key in TRAINING_ONLY_KEYS:
                continue
            if key.startswith("lstm.") and key[-3:-1] == "_l":
                layer = int(key[-1]) + 1
                renamed[f"lstm{layer}.{key[len('lstm.') : -1]}0"] = value
            else:
                renamed[key] = value
        expected = set(self.state_dict())
        missing, unexpected = sorted(expected - set(renamed)), sorted(set(renamed) - expected)
        if missing or unexpected:
            raise ValueError(
                f"{origin}: not a Resemblyzer VoiceEncoder state; "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        self.load_state_dict(renamed, strict=True)

    def forward(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        recorder: TapRecorder | None = None,
    ) -> torch.Tensor:
        """features: (B, T, 40) windows as `partial_mels` gives them, zero after lengths[b].

        Every window of the batch goes through the network at once (all are 160 frames long,
        so nothing needs packing); padding windows are left out.
        """
        batch, frames, bins = features.shape
        if frames % PARTIAL_FRAMES:
            raise ValueError(f"{frames} frames are not whole {PARTIAL_FRAMES}-frame windows")
        real = length_mask(lengths // PARTIAL_FRAMES, frames // PARTIAL_FRAMES)
        sequence = features.reshape(batch, -1, PARTIAL_FRAMES, bins)[real]
        for index, lstm in enumerate((self.lstm1, self.lstm2, self.lstm3), start=1):
            sequence, (hidden, _) = lstm(sequence)
            name = f"lstm{index}"
            if recorder is not None and recorder.wants(name):
                # Every frame of every window of an utterance, window after window.
                windows = _by_utterance(sequence, real).reshape(batch, frames, HIDDEN)
                recorder.record(name, windows.transpose(1, 2), length_mask(lengths, frames))
        partials = nn.functional.normalize(torch.relu(self.linear(hidden[-1])), dim=1)
        embedding = nn.functional.normalize(_by_utterance(partials, real).sum(dim=1), dim=1)
        if recorder is not None and recorder.wants("embedding"):
            recorder.record("embedding", embedding, None)
        return embedding
