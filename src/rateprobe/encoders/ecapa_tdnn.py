"""ECAPA-TDNN (Desplanques et al., Interspeech 2020) as WeSpeaker's `ECAPA_TDNN_GLOB_c512` and
`ECAPA_TDNN_GLOB_c1024`, for padded batches.

Parameter names and shapes are those of WeSpeaker's `ECAPA_TDNN` with global-context attention
(`layer1.conv`, `layer2.se_res2block.0` ... `.3`, `conv`, `pool.linear1`, `pool.linear2`, `bn`,
`linear`, and with `emb_bn` also `bn2`), so an official `avg_model.pt` loads strictly; its
classification head (`projection.*`) is not part of the encoder. Only the pooling these classes
are trained with is built: attentive statistics pooling with global context (ASTP); any other
`pooling_func` is refused. WeSpeaker's `bn2` is an identity without `emb_bn`; here it is simply
absent, which leaves the state dict the same. The official forward returns a pair (the last
block's output and the embedding); this one returns the embedding, which is what WeSpeaker's
inference keeps.

The network: a 5-frame TDNN layer, three SE-Res2Net blocks (1x1 convolution, eight channel
groups of which seven pass through dilated 3-frame convolutions in a chain, 1x1 convolution,
squeeze-excitation from the utterance mean; dilations 2, 3, 4) each with a residual connection,
a 1x1 convolution over the three blocks' outputs, ReLU, attentive statistics pooling whose
attention also sees the utterance's mean and standard deviation, BatchNorm and a linear layer.

Batching utterances of different lengths: the original computes over the whole time axis, so the
padded frames of a batch would enter the squeeze-excitation means, the global context and the
pooling of every shorter utterance. Here the padded frames are zeroed before every convolution
wider than one frame (every other operation is frame-wise and cannot carry padding into real
frames), and excluded from the squeeze-excitation means, the global mean and standard deviation
and the attention's softmax.

Tap names (network order): `layer1` (the TDNN layer), `layer2`, `layer3`, `layer4` (each block's
output, after its residual sum), `conv` (the 1x1 convolution over the concatenated outputs of
layers 2-4, before the ReLU), `pool` (attentive mean and standard deviation, before the
BatchNorm) and `embedding` (the linear layer's output, after `bn2` with `emb_bn`, as WeSpeaker
returns it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from rateprobe.encoders.base import SpeakerEncoder
from rateprobe.encoders.masking import Frames, masked_statistics
from rateprobe.encoders.taps import TapRecorder

ECAPA_CHANNELS = {"ecapa_c512": 512, "ecapa_c1024": 1024}
TDNN_KERNEL = 5
BLOCK_DILATIONS = (2, 3, 4)
RES2_KERNEL = 3
RES2_SCALE = 8
SE_BOTTLENECK = 128
# WeSpeaker fixes the width of the multi-layer convolution whatever the channels.
CONV_CHANNELS = 1536
ATTENTION_BOTTLENECK = 128
ATTENTIVE_VARIANCE_FLOOR = 1e-7


class ConvReLUBatchNorm(nn.Module):
    """Convolution, ReLU, then BatchNorm: the official order."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(torch.relu(self.conv(x)))


class Res2DilatedConv(nn.Module):
    """Channel groups in a chain: group i (i >= 1) adds the previous group's output before its
    dilated convolution; the last group passes through unchanged."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.width = channels // RES2_SCALE
        convolved = RES2_SCALE - 1
        padding = (RES2_KERNEL - 1) // 2 * dilation
        self.convs = nn.ModuleList(
            nn.Conv1d(self.width, self.width, RES2_KERNEL, padding=padding, dilation=dilation)
            for _ in range(convolved)
        )
        self.bns = nn.ModuleList(nn.BatchNorm1d(self.width) for _ in range(convolved))

    def forward(self, x: torch.Tensor, frames: Frames) -> torch.Tensor:
        groups = torch.split(frames.zero_padding_(x), self.width, dim=1)
        outputs: list[torch.Tensor] = []
        for index, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            group = groups[0] if index == 0 else frames.zero_padding_(outputs[-1] + groups[index])
            outputs.append(bn(torch.relu(conv(group))))
        return torch.cat([*outputs, groups[-1]], dim=1)


def masked_mean(x: torch.Tensor, frames: Frames) -> torch.Tensor:
    """(B, C) mean over the real frames of a (B, C, T) map (its padded frames are zeroed)."""
    return frames.zero_padding_(x).sum(dim=2) / frames.lengths[:, None].to(x.dtype)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(channels, SE_BOTTLENECK)
        self.linear2 = nn.Linear(SE_BOTTLENECK, channels)

    def forward(self, x: torch.Tensor, frames: Frames) -> torch.Tensor:
        gates = torch.sigmoid(self.linear2(torch.relu(self.linear1(masked_mean(x, frames)))))
        return x * gates.unsqueeze(2)


class SERes2Block(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        # The official Sequential's indices; its children need the frames, so forward calls them.
        self.se_res2block = nn.Sequential(
            ConvReLUBatchNorm(channels, channels),
            Res2DilatedConv(channels, dilation),
            ConvReLUBatchNorm(channels, channels),
            SqueezeExcitation(channels),
        )

    def forward(self, x: torch.Tensor, frames: Frames) -> torch.Tensor:
        pointwise_in, res2, pointwise_out, squeeze_excitation = self.se_res2block
        return x + squeeze_excitation(pointwise_out(res2(pointwise_in(x), frames)), frames)


class GlobalContextAttentivePooling(nn.Module):
    """Attention-weighted mean and standard deviation over time; the attention of each frame
    sees the frame and the utterance's mean and standard deviation (TSTP's)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear1 = nn.Conv1d(3 * channels, ATTENTION_BOTTLENECK, kernel_size=1)
        self.linear2 = nn.Conv1d(ATTENTION_BOTTLENECK, channels, kernel_size=1)

    def forward(self, x: torch.Tensor, frames: Frames) -> torch.Tensor:
        context_mean, context_std = masked_statistics(x, frames).chunk(2, dim=1)
        context = [s.unsqueeze(2).expand_as(x) for s in (context_mean, context_std)]
        logits = self.linear2(torch.tanh(self.linear1(torch.cat([x, *context], dim=1))))
        weights = torch.softmax(logits.masked_fill(~frames.mask[:, None, :], float("-inf")), 2)
        mean = (x * weights).sum(dim=2)
        variance = (x.square() * weights).sum(dim=2) - mean.square()
        return torch.cat([mean, variance.clamp(min=ATTENTIVE_VARIANCE_FLOOR).sqrt()], dim=1)


class ECAPATDNN(SpeakerEncoder):
    """ECAPA-TDNN with global-context attentive statistics pooling + linear embedding layer."""

    frontend = "wespeaker_fbank"
    embedding_method: ClassVar[dict[str, Any]] = {
        "kind": "whole_utterance",
        "reference": "WeSpeaker Speaker.extract_embedding",
        "description": (
            "linear layer over the batch-normalised attentive mean and standard deviation of the "
            "multi-layer feature over the whole utterance (no windows, no VAD), as WeSpeaker's "
            "Speaker.extract_embedding"
        ),
    }

    def __init__(
        self,
        arch: str,
        feat_dim: int = 80,
        embed_dim: int = 192,
        pooling_func: str = "ASTP",
        emb_bn: bool = False,
    ) -> None:
        super().__init__()
        if arch not in ECAPA_CHANNELS:
            raise ValueError(f"unknown ECAPA-TDNN '{arch}' (known: {sorted(ECAPA_CHANNELS)})")
        if pooling_func != "ASTP":
            raise ValueError(
                f"ECAPA-TDNN is built with pooling_func ASTP only (WeSpeaker's GLOB ECAPA-TDNN "
                f"recipes), not {pooling_func!r}"
            )
        self.arch = arch
        channels = ECAPA_CHANNELS[arch]
        self.layer1 = ConvReLUBatchNorm(feat_dim, channels, TDNN_KERNEL)
        for index, dilation in enumerate(BLOCK_DILATIONS, start=2):
            self.add_module(f"layer{index}", SERes2Block(channels, dilation))
        self.conv = nn.Conv1d(len(BLOCK_DILATIONS) * channels, CONV_CHANNELS, kernel_size=1)
        self.pool = GlobalContextAttentivePooling(CONV_CHANNELS)
        self.bn = nn.BatchNorm1d(2 * CONV_CHANNELS)
        self.linear = nn.Linear(2 * CONV_CHANNELS, embed_dim)
        self.emb_bn = emb_bn
        if emb_bn:
            self.bn2 = nn.BatchNorm1d(embed_dim)

    def block_names(self) -> list[str]:
        return [f"layer{index}" for index in range(2, len(BLOCK_DILATIONS) + 2)]

    def tap_names(self, inner: tuple[str, ...] = ()) -> list[str]:
        """Tap names in network order; ECAPA-TDNN has no taps inside its blocks."""
        if inner:
            raise ValueError(f"ECAPA-TDNN has no inner taps (asked for {list(inner)})")
        return ["layer1", *self.block_names(), "conv", "pool", "embedding"]

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor, recorder: TapRecorder | None = None
    ) -> torch.Tensor:
        """features: (B, T, feat_dim) fbank, zero-padded after lengths[b] frames."""
        frames = Frames.of(lengths, features.shape[1])
        x = self.layer1(features.transpose(1, 2))
        if recorder is not None and recorder.wants("layer1"):
            recorder.record("layer1", x, frames.mask)
        block_outputs = []
        for name in self.block_names():
            x = getattr(self, name)(x, frames)
            if recorder is not None and recorder.wants(name):
                recorder.record(name, x, frames.mask)
            block_outputs.append(x)
        x = self.conv(torch.cat(block_outputs, dim=1))
        if recorder is not None and recorder.wants("conv"):
            recorder.record("conv", x, frames.mask)
        pooled = self.pool(torch.relu(x), frames)
        if recorder is not None and recorder.wants("pool"):
            recorder.record("pool", pooled, None)
        embedding = self.linear(self.bn(pooled))
        if self.emb_bn:
            embedding = self.bn2(embedding)
        if recorder is not None and recorder.wants("embedding"):
            recorder.record("embedding", embedding, None)
        return embedding
