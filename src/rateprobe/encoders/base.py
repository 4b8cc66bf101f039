"""What every encoder offers the extraction: its frontend, its taps, one forward pass."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from rateprobe.encoders.taps import TapRecorder


class SpeakerEncoder(nn.Module):
    arch: str  # architecture name as in the config (`arch:`)
    frontend: str  # key of rateprobe.encoders.FRONTENDS
    # How the final embedding is computed, as its authors compute it: `kind` (windowed_mean or
    # whole_utterance, with window_s and step_s for windows), `reference` (the authors' code)
    # and one English `description`. Stored with the activations and printed in the paper, so
    # it must say what forward() really does.
    embedding_method: ClassVar[dict[str, Any]]
    # Optional taps inside blocks that tap_names(inner) may ask for (SimAM-ResNet: relu1, simam).
    inner_taps: ClassVar[tuple[str, ...]] = ()

    def tap_names(self, inner: tuple[str, ...] = ()) -> list[str]:
        """Tap names in network order; `inner` asks for optional taps inside blocks."""
        raise NotImplementedError

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor, recorder: TapRecorder | None = None
    ) -> torch.Tensor:
        """(B, T, dims) padded features and real lengths -> (B, embedding) embeddings."""
        raise NotImplementedError
