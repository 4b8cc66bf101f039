"""Resemblyzer's GE2E speaker encoder (3-layer LSTM + linear projection), tap by tap.

The network is Resemblyzer's `VoiceEncoder`: an LSTM of three 256-unit layers over 40-bin mel
frames, then linear + ReLU + L2 normalisation of the last layer's final hidden state. The three
layers are separate modules here so that each layer's output sequence can be tapped; the
pretrained weights are read from the `pretrained.pt` the PyPI package ships, so nothing is
downloaded. Padded batches are packed, so every utterance is run over exactly its own frames.

The embedding is VoiceEncoder's forward pass over the whole utterance (as for any input length),
not `embed_utterance`'s average over overlapping 1.6 s windows: one vector per pass keeps the
taps and the embedding from one and the same run.

Tap names: `lstm1`, `lstm2`, `lstm3` (frame sequences), `embedding`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rateprobe.encoders.base import SpeakerEncoder
from rateprobe.encoders.taps import TapRecorder

MEL_BINS = 40
HIDDEN = 256
EMBEDDING = 256
LAYERS = 3
# GE2E loss parameters stored beside the network; inference does not use them.
TRAINING_ONLY_KEYS = {"similarity_weight", "similarity_bias"}


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


class ResemblyzerEncoder(SpeakerEncoder):
    arch = "resemblyzer"
    frontend = "resemblyzer_mel"

    def __init__(self) -> None:
        super().__init__()
        self.lstm1 = nn.LSTM(MEL_BINS, HIDDEN, batch_first=True)
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
        """features: (B, T, 40) mel frames, padded after lengths[b] frames."""
        frames = features.shape[1]
        mask = torch.arange(frames, device=features.device)[None, :] < lengths[:, None]
        sequence = pack_padded_sequence(
            features, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        for index, lstm in enumerate((self.lstm1, self.lstm2, self.lstm3), start=1):
            sequence, (hidden, _) = lstm(sequence)
            name = f"lstm{index}"
            if recorder is not None and recorder.wants(name):
                padded, _ = pad_packed_sequence(sequence, batch_first=True, total_length=frames)
                recorder.record(name, padded.transpose(1, 2), mask)
        embedding = nn.functional.normalize(torch.relu(self.linear(hidden[-1])), dim=1)
        if recorder is not None and recorder.wants("embedding"):
            recorder.record("embedding", embedding, None)
        return embedding
