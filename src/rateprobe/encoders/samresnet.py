"""WeSpeaker's SimAM-ResNet34/100 with attentive statistics pooling, for padded batches.

Parameter names and shapes are those of WeSpeaker's `SimAM_ResNet34_ASP` / `SimAM_ResNet100_ASP`
(`front.*`, `pooling.attention.*`, `bottleneck.*`), so an official `avg_model.pt` loads strictly;
its classification head (`projection.*`) is not part of the encoder.

Batching utterances of different lengths needs care that the original code never needed: SimAM
normalises each channel over the whole (frequency x time) map and the pooling over all frames, so
the padded frames of a batch would leak into the statistics of every shorter utterance. Here the
padded frames are zeroed before every convolution (so each utterance sees the same zero border it
sees alone), excluded from SimAM's mean and variance, and given zero attention weight in the
pooling. A batch therefore gives each utterance the output it gets on its own.

Tap names (network order): `stem`; per residual block `layerL.B.relu1` (after the first ReLU),
`layerL.B.simam` (after SimAM), `layerL.B` (block output); `pool`; `embedding`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from rateprobe.encoders.base import SpeakerEncoder
from rateprobe.encoders.masking import Frames
from rateprobe.encoders.taps import TapRecorder

BLOCKS_PER_STAGE = {"samresnet34": (3, 4, 6, 3), "samresnet100": (6, 16, 24, 3)}
INNER_TAPS = ("relu1", "simam")
SIMAM_LAMBDA = 1e-4
ATTENTION_HIDDEN = 128
STD_FLOOR = 1e-5


def masked_simam(x: torch.Tensor, frames: Frames) -> torch.Tensor:
    """SimAM attention of a (B, C, F, T) map, statistics over real frames only.

    Zeroing the padded frames of the input and of the squared deviations (in place: the output
    on padded frames is discarded anyway) makes plain sums the real frames' sums; without
    padding this is the official computation step for step.
    """
    x = frames.zero_padding_(x)
    real = (frames.lengths * x.shape[2]).to(x.dtype)[:, None, None, None]
    mean = x.sum(dim=(2, 3), keepdim=True) / real
    deviation = frames.zero_padding_((x - mean).square())
    variance = deviation.sum(dim=(2, 3), keepdim=True) / (real - 1)
    energy_inverse = deviation / (4 * (variance + SIMAM_LAMBDA)) + 0.5
    return x * torch.sigmoid(energy_inverse)


class SimAMBasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.stride = stride
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(
        self, x: torch.Tensor, frames: Frames, name: str, recorder: TapRecorder | None
    ) -> torch.Tensor:
        """x: zero on padded frames at the input resolution; frames: the output resolution."""
        out = frames.zero_padding_(torch.relu(self.bn1(self.conv1(x))))
        if recorder is not None and recorder.wants(f"{name}.relu1"):
            recorder.record(f"{name}.relu1", out, frames.mask)
        out = masked_simam(self.bn2(self.conv2(out)), frames)
        if recorder is not None and recorder.wants(f"{name}.simam"):
            recorder.record(f"{name}.simam", out, frames.mask)
        out = frames.zero_padding_(torch.relu(out + self.downsample(x)))
        if recorder is not None and recorder.wants(name):
            recorder.record(name, out, frames.mask)
        return out


# (in_planes, planes, stride) -> a residual block taking (x, frames, tap name, recorder)
ResidualBlockFactory = Callable[[int, int, int], nn.Module]


class ResNetTrunk(nn.Module):
    """The trunk of WeSpeaker's ResNets, under their names: a 3x3 stem (`conv1`, `bn1`) and
    residual stages `layer1`, `layer2`, ...; stage s has in_planes * 2**(s-1) channels and every
    stage after the first starts with a stride-2 block.

    It has no forward: SimAM-ResNet holds it as `front`, while WeSpeaker's plain ResNet keeps
    these parameters at its top level and so subclasses it; both call `frame_level`.
    """

    def __init__(
        self, in_planes: int, blocks_per_stage: tuple[int, ...], block: ResidualBlockFactory
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, in_planes, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(in_planes)
        channels = in_planes
        for stage, n_blocks in enumerate(blocks_per_stage, start=1):
            planes = in_planes * 2 ** (stage - 1)
            blocks = []
            for index in range(n_blocks):
                blocks.append(block(channels, planes, 2 if stage > 1 and index == 0 else 1))
                channels = planes
            self.add_module(f"layer{stage}", nn.Sequential(*blocks))
        self.n_stages = len(blocks_per_stage)

    def residual_blocks(self) -> list[tuple[str, nn.Module]]:
        """(tap name `layerS.B`, block) of every residual block, in network order."""
        return [
            (f"layer{stage}.{index}", block)
            for stage in range(1, self.n_stages + 1)
            for index, block in enumerate(getattr(self, f"layer{stage}").children())
        ]

    def frame_level(
        self, x: torch.Tensor, lengths: torch.Tensor, recorder: TapRecorder | None
    ) -> tuple[torch.Tensor, Frames]:
        """x: (B, 1, F, T) zero-padded; returns the last map and its real frames."""
        frames = Frames.of(lengths, x.shape[3])
        x = frames.zero_padding_(torch.relu(self.bn1(self.conv1(x))))
        if recorder is not None and recorder.wants("stem"):
            recorder.record("stem", x, frames.mask)
        for name, block in self.residual_blocks():
            if block.stride == 2:
                frames = frames.halved()
            x = block(x, frames, name, recorder)
        return x, frames


class AttentiveStatisticsPooling(nn.Module):
    """Attention-weighted mean and standard deviation over time of every (channel, frequency)."""

    def __init__(self, in_planes: int, acoustic_dim: int) -> None:
        super().__init__()
        features = in_planes * 8 * (acoustic_dim // 8)
        # Same layer indices as the official Sequential (its softmax, index 4, is in forward).
        self.attention = nn.Sequential(
            nn.Conv1d(features, ATTENTION_HIDDEN, kernel_size=1),
            nn.ReLU(),
            nn.BatchNorm1d(ATTENTION_HIDDEN),
            nn.Conv1d(ATTENTION_HIDDEN, features, kernel_size=1),
        )
        self.out_dim = 2 * features

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1, x.shape[-1])
        logits = self.attention(x).masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(logits, dim=2)
        mean = (x * weights).sum(dim=2)
        second_moment = (x.square() * weights).sum(dim=2)
        std = (second_moment - mean.square()).clamp(min=STD_FLOOR).sqrt()
        return torch.cat([mean, std], dim=1)


class SimAMResNet(SpeakerEncoder):
    """SimAM-ResNet + attentive statistics pooling + linear embedding layer."""

    frontend = "wespeaker_fbank"
    inner_taps = INNER_TAPS
    embedding_method: ClassVar[dict[str, Any]] = {
        "kind": "whole_utterance",
        "reference": "WeSpeaker Speaker.extract_embedding",
        "description": (
            "linear layer over attentive statistics pooling of the whole utterance (no windows, "
            "no VAD), as WeSpeaker's Speaker.extract_embedding; frontend: Kaldi fbank, 80 bins, "
            "25/10 ms Hamming, dither 0, int16 scale, utterance mean removed (CMN)"
        ),
    }

    def __init__(
        self, arch: str, in_planes: int = 64, embed_dim: int = 256, acoustic_dim: int = 80
    ) -> None:
        super().__init__()
        if arch not in BLOCKS_PER_STAGE:
            raise ValueError(f"unknown SimAM-ResNet '{arch}' (known: {sorted(BLOCKS_PER_STAGE)})")
        self.arch = arch
        self.acoustic_dim = acoustic_dim
        self.front = ResNetTrunk(in_planes, BLOCKS_PER_STAGE[arch], SimAMBasicBlock)
        self.pooling = AttentiveStatisticsPooling(in_planes, acoustic_dim)
        self.bottleneck = nn.Linear(self.pooling.out_dim, embed_dim)

    def tap_names(self, inner: tuple[str, ...] = ()) -> list[str]:
        """Tap names in network order; `inner` adds taps inside blocks ('relu1', 'simam')."""
        unknown = set(inner) - set(INNER_TAPS)
        if unknown:
            raise ValueError(f"unknown inner taps {sorted(unknown)} (known: {INNER_TAPS})")
        names = ["stem"]
        for block, _ in self.front.residual_blocks():
            names += [f"{block}.{tap}" for tap in INNER_TAPS if tap in inner] + [block]
        return [*names, "pool", "embedding"]

    def forward(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        recorder: TapRecorder | None = None,
    ) -> torch.Tensor:
        """features: (B, T, acoustic_dim) fbank, zero-padded after lengths[b] frames."""
        x = features.transpose(1, 2).unsqueeze(1)
        x, frames = self.front.frame_level(x, lengths, recorder)
        pooled = self.pooling(x, frames.mask)
        if recorder is not None and recorder.wants("pool"):
            recorder.record("pool", pooled, None)
        embedding = self.bottleneck(pooled)
        if recorder is not None and recorder.wants("embedding"):
            recorder.record("embedding", embedding, None)
        return embedding
