"""How an encoder hands its intermediate activations out during its one forward pass.

Encoders call `recorder.record(name, activation, time_mask)` at every tap point whose name the
recorder `wants`; nothing is kept unless asked for, so a forward pass with no recorder is the bare
network. `time_mask` marks the real (unpadded) frames of each utterance of a padded batch.
"""

from __future__ import annotations

from typing import Protocol

import torch

POOLING_STATISTICS = ("mean", "std")


def length_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, frames) bool, True on the first lengths[b] frames of utterance b."""
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


class TapRecorder(Protocol):
    def wants(self, name: str) -> bool: ...

    def record(self, name: str, activation: torch.Tensor, time_mask: torch.Tensor | None) -> None:
        """activation: (B, C, F, T), (B, C, T) or (B, D); time_mask: (B, T) bool or None."""
        ...


def masked_time_statistics(
    activation: torch.Tensor, time_mask: torch.Tensor, statistics: tuple[str, ...]
) -> torch.Tensor:
    """(B, C * len(statistics)) statistics over the real frames of a (B, C[, F], T) activation.

    A 2-D map is averaged over frequency first. The standard deviation is the population one
    (divided by the number of frames), computed around the masked mean.
    """
    if activation.dim() == 4:
        activation = activation.mean(dim=2)
    weights = time_mask.to(activation.dtype).unsqueeze(1)
    frames = weights.sum(dim=2)
    mean = (activation * weights).sum(dim=2) / frames
    pooled = []
    for statistic in statistics:
        if statistic == "mean":
            pooled.append(mean)
        elif statistic == "std":
            spread = ((activation - mean.unsqueeze(2)) * weights).square().sum(dim=2)
            pooled.append((spread / frames).sqrt())
        else:
            raise ValueError(f"unknown pooling statistic '{statistic}' (use {POOLING_STATISTICS})")
    return torch.cat(pooled, dim=1)


class PoolingRecorder:
    """Pools every wanted tap to one vector per utterance as soon as the network produces it.

    Frame-level taps become their time statistics; vector taps (pooling output, embedding) are
    kept as they are. Pooled vectors of each batch are collected on the CPU in float32.
    """

    def __init__(self, names: list[str], statistics: tuple[str, ...] = POOLING_STATISTICS):
        self.names = set(names)
        self.statistics = statistics
        self.pooled: dict[str, torch.Tensor] = {}

    def wants(self, name: str) -> bool:
        return name in self.names

    def record(self, name: str, activation: torch.Tensor, time_mask: torch.Tensor | None) -> None:
        if time_mask is None:
            vector = activation
        else:
            # In float32 also under a lower-precision autocast: sums over thousands of frames
            # in bfloat16 (8 significant bits) would swamp the differences the probes read.
            vector = masked_time_statistics(activation.float(), time_mask, self.statistics)
        self.pooled[name] = vector.detach().float().cpu()
