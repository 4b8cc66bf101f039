"""What every encoder offers the extraction: its frontend, its taps, one forward pass."""

from __future__ import annotations

import torch
from torch import nn

from rateprobe.encoders.taps import TapRecorder


class SpeakerEncoder(nn.Module):
    arch: str  # architecture name as in the config (`arch:`)
    frontend: str  # key of rateprobe.encoders.FRONTENDS

    def tap_names(self, inner: tuple[str, ...] = ()) -> list[str]:
        """Tap names in network order; `inner` asks for optional taps inside blocks."""
        raise NotImplementedError

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor, recorder: TapRecorder | None = None
    ) -> torch.Tensor:
        """(B, T, dims) padded features and real lengths -> (B, embedding) embeddings."""
        raise NotImplementedError
