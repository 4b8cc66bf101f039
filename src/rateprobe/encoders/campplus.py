"""CAM++ (Wang et al., Interspeech 2023) as WeSpeaker's `CAMPPlus`, for padded batches.

Parameter names and shapes are those of WeSpeaker's `CAMPPlus` (`head.*`, `xvector.tdnn.*`,
`xvector.block1.tdnnd1.*` ... `xvector.transit3.*`, `xvector.out_nonlinear.*`, `xvector.dense.*`),
which are also those of 3D-Speaker's original, so both WeSpeaker's `avg_model.pt` and 3D-Speaker's
published state dicts load strictly. Only the configuration both use is built: BatchNorm-ReLU
nonlinearities and temporal statistics pooling (TSTP: mean and unbiased standard deviation).

The network: a 2-D convolutional front (`head`, FCM) that downsamples frequency 8x and keeps the
time resolution, a strided TDNN layer that halves time, three densely connected TDNN blocks whose
layers each gate their output by context-aware masking (CAM: a sigmoid of the utterance mean plus
the mean of its 100-frame segment), a transit layer after each block, statistics pooling and a
linear embedding layer followed by a BatchNorm without affine parameters.

Batching utterances of different lengths: the original computes over the whole time axis, so the
padded frames of a batch would enter the CAM means, the segment means and the pooling of every
shorter utterance. Here the padded frames are zeroed before every convolution wider than one frame
(every other operation is frame-wise and cannot carry padding into real frames), and excluded from
the utterance mean, the segment means (a segment cut short by the utterance's end is averaged over
its real frames, as `avg_pool1d(ceil_mode=True)` averages it alone) and the pooling statistics.

Tap names (network order): `head` (the FCM output as the (C x F, T) sequence the TDNN reads),
`tdnn`, `block1`, `transit1`, `block2`, `transit2`, `block3`, `transit3`, `out_nonlinear`, `pool`
(mean and standard deviation) and `embedding` (after its BatchNorm, as WeSpeaker returns it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rateprobe.encoders.base import SpeakerEncoder
from rateprobe.encoders.masking import Frames, masked_statistics
from rateprobe.encoders.resnet import BasicBlock
from rateprobe.encoders.taps import TapRecorder

FCM_CHANNELS = 32
FCM_BLOCKS = (2, 2)
TDNN_CHANNELS = 128
TDNN_KERNEL = 5
GROWTH_RATE = 32
BOTTLENECK_FACTOR = 4
# (layers, dilation) of the three dense blocks; every CAM layer's kernel is 3 frames wide.
DENSE_BLOCKS = ((12, 1), (24, 2), (16, 2))
CAM_KERNEL = 3
CAM_REDUCTION = 2
CAM_SEGMENT_FRAMES = 100


class BatchNormReLU(nn.Module):
    """WeSpeaker's `get_nonlinear('batchnorm-relu')` (the BatchNorm is its `batchnorm` child);
    with relu=False and affine=False its `get_nonlinear('batchnorm_')`."""

    def __init__(self, channels: int, relu: bool = True, affine: bool = True) -> None:
        super().__init__()
        self.batchnorm = nn.BatchNorm1d(channels, affine=affine)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.batchnorm(x)
        return torch.relu(x) if self.relu else x


class FCM(nn.Module):
    """The 2-D front: (B, 1, F, T) -> (B, C x F / 8, T)."""

    def __init__(self, feat_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, FCM_CHANNELS, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(FCM_CHANNELS)
        for index, n_blocks in enumerate(FCM_BLOCKS, start=1):
            blocks = [
                BasicBlock(FCM_CHANNELS, FCM_CHANNELS, (2, 1) if b == 0 else 1)
                for b in range(n_blocks)
            ]
            self.add_module(f"layer{index}", nn.Sequential(*blocks))
        self.conv2 = nn.Conv2d(FCM_CHANNELS, FCM_CHANNELS, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(FCM_CHANNELS)
        self.out_channels = FCM_CHANNELS * (feat_dim // 8)

    def forward(self, x: torch.Tensor, frames: Frames) -> torch.Tensor:
        out = frames.zero_padding_(torch.relu(self.bn1(self.conv1(x))))
        for index in range(1, len(FCM_BLOCKS) + 1):
            for block in getattr(self, f"layer{index}"):
                out = block(out, frames, f"head.layer{index}", None)  # no taps inside
        out = frames.zero_padding_(torch.relu(self.bn2(self.conv2(out))))
        return out.reshape(out.shape[0], -1, out.shape[-1])


def pointwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A 1-frame convolution of (B, C, T) as the matrix product it is: on CPUs oneDNN's
    convolution took about three times the time of the product (bench/bench_extraction.py)."""
    out = torch.matmul(conv.weight[:, :, 0], x)
    return out if conv.bias is None else out + conv.bias[:, None]


def masked_segment_means(x: torch.Tensor, frames: Frames, segment: int) -> torch.Tensor:
    """(B, C, segments): the mean of the real frames of each `segment`-frame segment.

    `x` must be zero on padded frames, so plain sums are sums over real frames.
    """
    total = x.shape[-1]
    n_segments = -(-total // segment)
    padded = F.pad(x, (0, n_segments * segment - total))
    sums = padded.reshape(*x.shape[:2], n_segments, segment).sum(dim=-1)
    real = F.pad(frames.mask, (0, n_segments * segment - total)).to(x.dtype)
    counts = real.reshape(len(real), n_segments, segment).sum(dim=-1).clamp(min=1)
    return sums / counts[:, None, :]


class CAMLayer(nn.Module):
    """A dilated TDNN output gated by context-aware masking.

    The context (utterance mean + segment mean) is the same on every frame of a segment, and
    the mask is a frame-wise function of it, so the mask is computed once per segment and then
    spread over its frames: the official code computes the same values on every frame.
    """

    def __init__(self, bn_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__()
        padding = (CAM_KERNEL - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(
            bn_channels, out_channels, CAM_KERNEL, padding=padding, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // CAM_REDUCTION, 1)
        self.linear2 = nn.Conv1d(bn_channels // CAM_REDUCTION, out_channels, 1)

    def forward(self, x: torch.Tensor, frames: Frames) -> torch.Tensor:
        x = frames.zero_padding_(x)
        utterance_mean = x.sum(dim=-1, keepdim=True) / frames.lengths[:, None, None].to(x.dtype)
        context = utterance_mean + masked_segment_means(x, frames, CAM_SEGMENT_FRAMES)
        mask = torch.sigmoid(pointwise(self.linear2, torch.relu(pointwise(self.linear1, context))))
        spread = mask.repeat_interleave(CAM_SEGMENT_FRAMES, dim=-1)[..., : x.shape[-1]]
        return self.linear_local(x) * spread


class CAMDenseTDNNLayer(nn.Module):
    def __init__(self, in_channels: int, dilation: int) -> None:
        super().__init__()
        bn_channels = BOTTLENECK_FACTOR * GROWTH_RATE
        self.nonlinear1 = BatchNormReLU(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = BatchNormReLU(bn_channels)
        self.cam_layer = CAMLayer(bn_channels, GROWTH_RATE, dilation)

    def forward(self, x: torch.Tensor, frames: Frames) -> torch.Tensor:
        bottleneck = pointwise(self.linear1, self.nonlinear1(x))
        return self.cam_layer(self.nonlinear2(bottleneck), frames)


class CAMDenseTDNNBlock(nn.ModuleList):
    """Each layer reads the concatenation of the block input and every earlier layer's output."""

    def __init__(self, n_layers: int, in_channels: int, dilation: int) -> None:
        super().__init__()
        for index in range(n_layers):
            layer = CAMDenseTDNNLayer(in_channels + index * GROWTH_RATE, dilation)
            self.add_module(f"tdnnd{index + 1}", layer)

    def forward(self, x: torch.Tensor, frames: Frames) -> torch.Tensor:
        for layer in self:
            x = torch.cat([x, layer(x, frames)], dim=1)
        return x


class TransitLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.nonlinear = BatchNormReLU(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pointwise(self.linear, self.nonlinear(x))


class TDNNLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(
            in_channels, out_channels, TDNN_KERNEL, stride=2, padding=TDNN_KERNEL // 2, bias=False
        )
        self.nonlinear = BatchNormReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class DenseLayer(nn.Module):
    """The embedding layer: linear, then a BatchNorm without affine parameters."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = BatchNormReLU(out_channels, relu=False, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class XVector(nn.Module):
    """WeSpeaker's `xvector` Sequential, with its children under the same names."""

    def __init__(self, in_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.tdnn = TDNNLayer(in_channels, TDNN_CHANNELS)
        channels = TDNN_CHANNELS
        for index, (n_layers, dilation) in enumerate(DENSE_BLOCKS, start=1):
            self.add_module(f"block{index}", CAMDenseTDNNBlock(n_layers, channels, dilation))
            channels += n_layers * GROWTH_RATE
            self.add_module(f"transit{index}", TransitLayer(channels, channels // 2))
            channels //= 2
        self.out_nonlinear = BatchNormReLU(channels)
        self.dense = DenseLayer(2 * channels, embed_dim)
        self.n_blocks = len(DENSE_BLOCKS)


def _record(
    recorder: TapRecorder | None, name: str, x: torch.Tensor, frames: Frames | None
) -> None:
    if recorder is not None and recorder.wants(name):
        recorder.record(name, x, None if frames is None else frames.mask)


class CAMPPlus(SpeakerEncoder):
    """CAM++: FCM front, TDNN, three CAM dense blocks, statistics pooling, embedding layer."""

    arch = "campplus"
    frontend = "wespeaker_fbank"
    embedding_method: ClassVar[dict[str, Any]] = {
        "kind": "whole_utterance",
        "reference": "WeSpeaker Speaker.extract_embedding; 3D-Speaker infer_sv.py",
        "description": (
            "embedding layer over the mean and standard deviation of the last TDNN layer over "
            "the whole utterance (no windows, no VAD), as WeSpeaker and 3D-Speaker compute it"
        ),
    }

    def __init__(self, feat_dim: int = 80, embed_dim: int = 512, pooling_func: str = "TSTP"):
        super().__init__()
        if pooling_func != "TSTP":
            raise ValueError(f"CAM++ is built with TSTP pooling only, not {pooling_func!r}")
        self.head = FCM(feat_dim)
        self.xvector = XVector(self.head.out_channels, embed_dim)

    def tap_names(self, inner: tuple[str, ...] = ()) -> list[str]:
        """Tap names in network order; CAM++ has no taps inside its blocks."""
        if inner:
            raise ValueError(f"CAM++ has no inner taps (asked for {list(inner)})")
        blocks = [
            f"{kind}{i}"
            for i in range(1, self.xvector.n_blocks + 1)
            for kind in ("block", "transit")
        ]
        return ["head", "tdnn", *blocks, "out_nonlinear", "pool", "embedding"]

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor, recorder: TapRecorder | None = None
    ) -> torch.Tensor:
        """features: (B, T, feat_dim) fbank, zero-padded after lengths[b] frames."""
        frames = Frames.of(lengths, features.shape[1])
        x = self.head(features.transpose(1, 2).unsqueeze(1), frames)
        _record(recorder, "head", x, frames)
        x = self.xvector.tdnn(x)
        frames = frames.halved()
        _record(recorder, "tdnn", x, frames)
        for index in range(1, self.xvector.n_blocks + 1):
            x = getattr(self.xvector, f"block{index}")(x, frames)
            _record(recorder, f"block{index}", x, frames)
            x = getattr(self.xvector, f"transit{index}")(x)
            _record(recorder, f"transit{index}", x, frames)
        x = self.xvector.out_nonlinear(x)
        _record(recorder, "out_nonlinear", x, frames)
        pooled = masked_statistics(x, frames)
        _record(recorder, "pool", pooled, None)
        embedding = self.xvector.dense(pooled)
        _record(recorder, "embedding", embedding, None)
        return embedding
