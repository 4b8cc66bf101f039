"""Reading speech audio as 16 kHz mono float32, with every problem named.

Encoders and the voice-activity detector all expect 16 kHz mono. Stereo files are downmixed and
other sample rates resampled (polyphase, by RESAMPLER), each with a logged warning and a note
that names the resampler (the manifest's bad-input report keeps it); files that cannot be
decoded in full raise AudioError with the problem spelt out, so the manifest stage can report or
skip them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from rateprobe.io import write_atomic

TARGET_RATE = 16000
RESAMPLER = "scipy.signal.resample_poly"
BLOCK_FRAMES = 1 << 16
# libsndfile reports this frame count when a FLAC header declares no total (0 = "unknown").
UNKNOWN_LENGTH = (1 << 63) - 1

log = logging.getLogger(__name__)


class AudioError(ValueError):
    """Audio that cannot be used: `kind` is the short category counted in reports."""

    def __init__(self, path: str | Path, kind: str, detail: str = "") -> None:
        self.path = str(path)
        self.kind = kind
        self.detail = detail
        self.problem = f"{kind}: {detail}" if detail else kind
        super().__init__(f"{path}: {self.problem}")


@dataclass
class Audio:
    samples: np.ndarray  # float32, mono, TARGET_RATE
    source_rate: int
    source_channels: int
    conversions: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / TARGET_RATE


def _decode(path: Path) -> tuple[np.ndarray, int]:
    if path.stat().st_size == 0:
        raise AudioError(path, "zero-length audio", "empty file (0 bytes)")
    try:
        handle = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(path, "unreadable audio", str(err)) from err
    with handle:
        declared = handle.frames
        blocks = []
        try:
            while True:
                block = handle.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                blocks.append(block)
        except (sf.LibsndfileError, RuntimeError) as err:
            decoded = sum(len(b) for b in blocks)
            if declared in (0, UNKNOWN_LENGTH) and decoded == 0:
                raise AudioError(path, "zero-length audio", "no samples") from err
            raise AudioError(
                path, "truncated audio", f"decoding stopped after {decoded} samples ({err})"
            ) from err
        rate = handle.samplerate
    data = np.concatenate(blocks) if blocks else np.zeros((0, handle.channels), np.float32)
    if len(data) == 0:
        raise AudioError(path, "zero-length audio", "no samples")
    if declared != UNKNOWN_LENGTH and len(data) < declared:
        raise AudioError(
            path, "truncated audio", f"header declares {declared} samples, decoded {len(data)}"
        )
    return data, rate


def read_audio(path: str | Path) -> Audio:
    """Decode a whole file to 16 kHz mono float32; raise AudioError naming the problem."""
    path = Path(path)
    data, rate = _decode(path)
    channels = data.shape[1]
    conversions = []
    samples = data.mean(axis=1) if channels > 1 else data[:, 0]
    if channels > 1:
        conversions.append(f"downmixed {channels} channels to mono")
    if rate != TARGET_RATE:
        common = gcd(rate, TARGET_RATE)
        samples = resample_poly(samples, TARGET_RATE // common, rate // common)
        conversions.append(f"resampled {rate} Hz to {TARGET_RATE} Hz ({RESAMPLER})")
    for note in conversions:
        log.warning("%s: %s", path, note)
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), rate, channels, conversions)


def write_flac(path: str | Path, samples: np.ndarray) -> None:
    """Write 16 kHz mono samples in [-1, 1) as a 16-bit FLAC, atomically."""
    write_atomic(
        path, lambda handle: sf.write(handle, samples, TARGET_RATE, format="FLAC", subtype="PCM_16")
    )
