"""WeSpeaker's ResNet34 (`voxceleb_resnet34`, `voxceleb_resnet34_LM`), for padded batches.

Parameter names and shapes are those of WeSpeaker's `ResNet34` (`conv1`, `bn1`, `layer1` ...
`layer4` with `shortcut` projections, `seg_1`, and with `two_emb_layer` also `seg_bn_1` and
`seg_2`), so an official `avg_model.pt` loads strictly; its classification head (`projection.*`)
is not part of the encoder. Only the configuration of WeSpeaker's ResNet34 recipes is built:
temporal statistics pooling (TSTP: mean and unbiased standard deviation); any other
`pooling_func` is refused. The official `seg_bn_1` and `seg_2` are identities without
`two_emb_layer`; here they are simply absent, which leaves the state dict the same. The official
forward returns a pair (the first embedding layer's output, or 0, and the embedding); this one
returns the embedding, the pair's last element, which is what WeSpeaker's inference keeps.

Batching utterances of different lengths: the original pools over the whole time axis, so the
padded frames of a batch would enter the statistics of every shorter utterance, and a
convolution next to them would read what BatchNorm makes of them. Here the padded frames are
zeroed before every convolution (so each sees the zero border the utterance sees alone; the
stride-2 stages keep ceil(T / 2) real frames, tracked per utterance) and left out of the pooling
statistics.

Tap names (network order): `stem` (after the first convolution, BatchNorm and ReLU), every
residual block's output `layer1.0` ... `layer4.2`, `pool` (mean and standard deviation of every
channel x frequency row of `layer4.2`), with `two_emb_layer` `first_embedding` (the first
embedding layer's output, WeSpeaker's `embed_a`), and `embedding` (what WeSpeaker's
`Speaker.extract_embedding` returns: the last embedding layer's output).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from rateprobe.encoders.base import SpeakerEncoder
from rateprobe.encoders.masking import Frames, masked_statistics
from rateprobe.encoders.samresnet import ResNetTrunk
from rateprobe.encoders.taps import TapRecorder

RESNET34_BLOCKS = (3, 4, 6, 3)
# WeSpeaker's ResNet34() does not expose the width; its ResNet class defaults to 32 channels.
RESNET34_CHANNELS = 32
FREQUENCY_DOWNSAMPLING = 8  # three stride-2 stages


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a (projected when the shape changes) shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int | tuple[int, int]) -> None:
        # stride (2, 1) halves frequency only, as CAM++'s front does; 2 halves time too.
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(
        self, x: torch.Tensor, frames: Frames, name: str, recorder: TapRecorder | None
    ) -> torch.Tensor:
        """x: zero on padded frames at the input resolution; frames: the output resolution."""
        out = frames.zero_padding_(torch.relu(self.bn1(self.conv1(x))))
        out = frames.zero_padding_(torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x)))
        if recorder is not None and recorder.wants(name):
            recorder.record(name, out, frames.mask)
        return out


class ResNet34(ResNetTrunk, SpeakerEncoder):
    """ResNet34 trunk + temporal statistics pooling + one or two linear embedding layers."""

    arch = "resnet34"
    frontend = "wespeaker_fbank"
    embedding_method: ClassVar[dict[str, Any]] = {
        "kind": "whole_utterance",
        "reference": "WeSpeaker Speaker.extract_embedding",
        "description": (
            "linear embedding layer (with two_emb_layer the second of two) over the mean and "
            "standard deviation of the last residual stage over the whole utterance (no "
            "windows, no VAD), as WeSpeaker's Speaker.extract_embedding"
        ),
    }

    def __init__(
        self,
        feat_dim: int = 80,
        embed_dim: int = 256,
        pooling_func: str = "TSTP",
        two_emb_layer: bool = False,
    ) -> None:
        if pooling_func != "TSTP":
            raise ValueError(
                f"ResNet34 is built with pooling_func TSTP only (WeSpeaker's ResNet34 "
                f"recipes), not {pooling_func!r}"
            )
        super().__init__(RESNET34_CHANNELS, RESNET34_BLOCKS, BasicBlock)
        last_stage_channels = RESNET34_CHANNELS * 2 ** (len(RESNET34_BLOCKS) - 1)
        pooled_dim = 2 * last_stage_channels * (feat_dim // FREQUENCY_DOWNSAMPLING)
        self.seg_1 = nn.Linear(pooled_dim, embed_dim)
        self.two_emb_layer = two_emb_layer
        if two_emb_layer:
            self.seg_bn_1 = nn.BatchNorm1d(embed_dim, affine=False)
            self.seg_2 = nn.Linear(embed_dim, embed_dim)

    def tap_names(self, inner: tuple[str, ...] = ()) -> list[str]:
        """Tap names in network order; ResNet34 has no taps inside its blocks."""
        if inner:
            raise ValueError(f"ResNet34 has no inner taps (asked for {list(inner)})")
        blocks = [name for name, _ in self.residual_blocks()]
        first_embedding = ["first_embedding"] if self.two_emb_layer else []
        return ["stem", *blocks, "pool", *first_embedding, "embedding"]

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor, recorder: TapRecorder | None = None
    ) -> torch.Tensor:
        """features: (B, T, feat_dim) fbank, zero-padded after lengths[b] frames."""
        x, frames = self.frame_level(features.transpose(1, 2).unsqueeze(1), lengths, recorder)
        # TSTP pools every channel x frequency row of the map alike.
        pooled = masked_statistics(x.flatten(1, 2), frames)
        if recorder is not None and recorder.wants("pool"):
            recorder.record("pool", pooled, None)
        embedding = self.seg_1(pooled)
        if self.two_emb_layer:
            if recorder is not None and recorder.wants("first_embedding"):
                recorder.record("first_embedding", embedding, None)
            embedding = self.seg_2(self.seg_bn_1(torch.relu(embedding)))
        if recorder is not None and recorder.wants("embedding"):
            recorder.record("embedding", embedding, None)
        return embedding
