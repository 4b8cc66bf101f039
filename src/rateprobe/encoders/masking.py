"""Which frames of a padded batch are real, and the statistics over them that the encoders share.

Every encoder here runs on padded batches and must give each utterance the output it gets alone:
padded frames are zeroed before every convolution wider than one frame and excluded from every
statistic over time. `Frames` tracks the real frames at each time resolution of a network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rateprobe.encoders.taps import length_mask

TSTP_VARIANCE_FLOOR = 1e-7


@dataclass
class Frames:
    """Which frames of a padded batch are real, at one time resolution of the network."""

    lengths: torch.Tensor  # (B,) real frames per utterance
    mask: torch.Tensor  # (B, frames) bool
    shortest: int  # frames before this index are real in every utterance

    @classmethod
    def of(cls, lengths: torch.Tensor, frames: int) -> Frames:
        return cls(lengths, length_mask(lengths, frames), int(lengths.min()))

    def halved(self) -> Frames:
        """After a stride-2 convolution (3x3 with padding 1, or 1x1): ceil(T / 2) frames."""
        halved = torch.div(self.lengths + 1, 2, rounding_mode="floor")
        return Frames.of(halved, (self.mask.shape[1] + 1) // 2)

    def zero_padding_(self, x: torch.Tensor) -> torch.Tensor:
        """Zero the padded frames of a (B, C, T) or (B, C, F, T) map in place (only the tail is
        touched)."""
        if self.shortest < x.shape[-1]:
            tail = self.mask[:, self.shortest :].to(x.dtype)
            x[..., self.shortest :] *= tail.view(len(tail), *[1] * (x.dim() - 2), -1)
        return x


def masked_statistics(x: torch.Tensor, frames: Frames) -> torch.Tensor:
    """TSTP over real frames: mean and sqrt(unbiased variance + 1e-7) per channel."""
    x = frames.zero_padding_(x)
    count = frames.lengths[:, None].to(x.dtype)
    mean = x.sum(dim=-1) / count
    deviation = frames.zero_padding_(x - mean[..., None])
    variance = deviation.square().sum(dim=-1) / (count - 1)
    return torch.cat([mean, (variance + TSTP_VARIANCE_FLOOR).sqrt()], dim=1)
