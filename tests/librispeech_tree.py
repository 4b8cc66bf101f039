"""Builders of small LibriSpeech-layout trees for the corpus and label tests."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000


def speech_like(seconds: float, rate: int = RATE, f0: float = 120.0) -> np.ndarray:
    """A voiced-sounding harmonic complex gated at a syllable rate, which WebRTC VAD accepts."""
    t = np.arange(int(seconds * rate)) / rate
    harmonics = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 30))
    syllables = (np.sin(2 * np.pi * 4 * t) > 0).astype(float)
    return (0.3 * harmonics / np.abs(harmonics).max() * syllables).astype(np.float32)


def write_chapter(
    root: Path,
    subset: str,
    speaker: str,
    chapter: str,
    texts: Mapping[int, str],
    seconds: float = 1.0,
) -> list[Path]:
    """Audio and a transcript for each utterance number; returns the audio paths."""
    folder = root / "LibriSpeech" / subset / speaker / chapter
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    lines = []
    for number, text in sorted(texts.items()):
        utt_id = f"{speaker}-{chapter}-{number:04d}"
        path = folder / f"{utt_id}.flac"
        sf.write(path, speech_like(seconds), RATE, format="FLAC", subtype="PCM_16")
        paths.append(path)
        lines.append(f"{utt_id} {text}\n")
    (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines))
    return paths


def write_speakers_table(root: Path, sexes: Mapping[str, str]) -> None:
    rows = [";ID  |SEX| SUBSET           |MINUTES| NAME\n"]
    rows += [
        f"{spk:<5}| {sex} | dev-clean        | 10.00 | Reader {spk}\n" for spk, sex in sexes.items()
    ]
    (root / "LibriSpeech" / "SPEAKERS.TXT").write_text("".join(rows))


def write_zero_sample_flac(path: Path) -> None:
    """A valid FLAC header (STREAMINFO) that declares no samples and holds no audio frames."""
    fields = (RATE << 44) | (0 << 41) | (15 << 36)  # rate, channels - 1, bits - 1, 0 samples
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + fields.to_bytes(8, "big")
    info += hashlib.md5(b"").digest()
    path.write_bytes(b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info)


def without_read_override() -> list[str] | None:
    """A command prefix under which a file of mode 000 cannot be read, or None where none can
    be made: root reads every file, so as root its capabilities to override file permissions
    are dropped (setpriv, from util-linux); other users need none."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    dropped = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={dropped}", f"--bounding-set={dropped}"]
