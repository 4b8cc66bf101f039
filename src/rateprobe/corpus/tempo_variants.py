"""Tempo variants for the rate interventions: test utterances made again at other speaking
rates, and their labels.

Probing is correlational: a probe that reads CPS off a layer may be reading anything that
co-varies with it across speakers and sentences. Here only the rate of the same utterance
changes, so whatever moves in the representation moved because of the rate.

Per source utterance (a test utterance, `utterances_per_speaker` of them per test speaker) and
per corpus kind:

- synthetic (the espeak-ng corpus): the utterance's own plan (voice, pitch, text, word gap),
  rebuilt from the synthesis report, is synthesised again
  - `rate`: at `factor` times its words per minute (espeak-ng -s), every other setting kept;
  - `pause`: with `factor` more word-gap units (espeak-ng -g, 10 ms at the default speed)
    between words, the speed kept: CPS falls while the words themselves are unchanged.
  espeak-ng's speed is not exactly proportional to -s: on the demo's test utterances CPS changed
  by 0.977x the requested factor on average at 0.8 (range 0.92-1.05) and by 1.035x at 1.25
  (0.97-1.12), since -s also scales the pauses and not every segment alike. The labels are
  measured on the new audio, so the analyses use the true CPS, never the requested factor.
  espeak-ng clamps -s to 80-450 wpm, so a source qualifies only when every rate variant lies
  inside that range. The VAD counts part of a lengthened word gap as speech (its 30 ms frames
  straddle the gap's edges): +10 units lowered the measured articulation rate by about 11 %.
- librispeech and table (recorded speech):
  - `stretch`: pitch-preserving time-scale modification by `factor` (duration / factor);
  - `pad`: `factor` seconds of silence, half before and half after the speech: duration grows
    and CPS falls while the articulation rate (characters per VAD-voiced second) stays.
    Digital silence would hand the encoders a cue no recording has (log-mel features of exact
    zeros), so the padding is the recording's own background: noise shaped to the spectrum and
    level of its quietest 5 % of 30 ms frames (`background_noise`; exact zeros for audio whose
    quietest frames are).

Time-scale modification uses Rubber Band (`rubberband` from Debian's rubberband-cli; bin/setup
installs it) with its R3 ("finer") engine. It is actively maintained, widely used (Audacity,
Ardour, ffmpeg's rubberband filter), phase-vocoder based with transient and phase-coherence
handling, and its R3 engine is its best-quality mode; on this machine it stretches a 3 s
utterance in under 0.1 s and hits the requested duration to the sample. The PyPI alternatives
were weaker: audiotsm's last release (0.1.2) dates from 2018, and pytsmod 0.3.8 declares
Python < 3.13, which would pin the project's interpreter.

Output: the variants' audio (16 kHz FLAC) under the audio root, and a manifest with the columns
of a split's manifest (labels computed by `rateprobe.labels` from the new audio) plus
`source_utt_id`, `intervention` and `factor`, one row per variant, sorted by utt_id. A variant's
utt_id is `<source>~<intervention><factor>`, e.g. `1049-10490-0000~rate1.25`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from rateprobe.audio import TARGET_RATE, read_audio, write_flac
from rateprobe.corpus.librispeech import Utterance
from rateprobe.corpus.synthetic import (
    ESPEAK,
    PlannedUtterance,
    SyntheticSpeaker,
    plan_utterances,
    synthesize_utterance,
)
from rateprobe.io import write_text
from rateprobe.labels import COLUMNS, VadSettings, label_utterance
from rateprobe.system_tools import require_program

RATE, PAUSE, STRETCH, PAD = "rate", "pause", "stretch", "pad"
CORPUS_KINDS = ("synthetic", "librispeech", "table")
EXTRA_COLUMNS = ("source_utt_id", "intervention", "factor")
MANIFEST_COLUMNS = (*COLUMNS, *EXTRA_COLUMNS)
ESPEAK_SPEED_RANGE = (80, 450)  # espeak-ng clamps -s to this range (wpm)
RUBBERBAND = "rubberband"
NOISE_QUANTILE = 0.05
NOISE_FRAME_S = 0.03

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VariantJob:
    """One variant to make: its source's manifest row, the intervention, and where its audio
    goes (`root` / `relative_path`). `plan` is the re-synthesis plan (synthetic kinds only);
    `seed` keys the padding noise."""

    source: Mapping[str, Any]
    intervention: str
    factor: float
    root: Path
    relative_path: Path
    plan: PlannedUtterance | None = None
    seed: int = 0

    @property
    def utt_id(self) -> str:
        return variant_id(str(self.source["utt_id"]), self.intervention, self.factor)

    @property
    def path(self) -> Path:
        return self.root / self.relative_path


def variant_id(source_utt_id: str, intervention: str, factor: float) -> str:
    return f"{source_utt_id}~{intervention}{factor:g}"


def synthetic_test_plans(report: Mapping[str, Any]) -> dict[str, PlannedUtterance]:
    """The test utterances' plans, rebuilt from the synthesis report (rateprobe.corpus.synthetic
    writes it with the speakers in corpus order, the generator settings and the seed, which is
    everything `plan_utterances` draws from)."""
    speakers = [SyntheticSpeaker(**speaker) for speaker in report["speakers"]]
    settings = report["settings"]
    plans = plan_utterances(
        speakers,
        settings["utterances_per_speaker"],
        settings["min_wpm"],
        settings["max_wpm"],
        report["seed"],
    )
    return {plan.utt_id: plan for plan in plans if plan.speaker.split == "test"}


def rate_variant(plan: PlannedUtterance, factor: float) -> PlannedUtterance:
    """The same plan at `factor` times its speed (rounded to whole wpm, as espeak-ng takes)."""
    utt_id = variant_id(plan.utt_id, RATE, factor)
    return dataclasses.replace(plan, utt_id=utt_id, wpm=round(plan.wpm * factor))


def pause_variant(plan: PlannedUtterance, gap: int) -> PlannedUtterance:
    """The same plan with `gap` more word-gap units between words."""
    utt_id = variant_id(plan.utt_id, PAUSE, gap)
    return dataclasses.replace(plan, utt_id=utt_id, word_gap=plan.word_gap + gap)


def espeak_can_make(plan: PlannedUtterance, rate_factors: Sequence[float]) -> bool:
    """Whether every rate variant lies within espeak-ng's speed range (it clamps outside)."""
    low, high = ESPEAK_SPEED_RANGE
    return all(low <= round(plan.wpm * factor) <= high for factor in rate_factors)


def select_sources(
    test: pd.DataFrame, per_speaker: int | None, eligible: Callable[[str], bool]
) -> pd.DataFrame:
    """Per test speaker, the first `per_speaker` eligible utterances by utt_id (None: all
    eligible ones). A speaker without an eligible utterance contributes none (logged)."""
    chosen = []
    for speaker, rows in test.sort_values("utt_id").groupby("speaker_id", sort=True):
        usable = rows[[eligible(u) for u in rows["utt_id"]]]
        if usable.empty:
            log.warning("test speaker %s: no utterance can be made at every rate", speaker)
        chosen.append(usable if per_speaker is None else usable.head(per_speaker))
    return pd.concat(chosen, ignore_index=True)


def time_stretch(samples: np.ndarray, factor: float) -> np.ndarray:
    """Tempo times `factor` (duration / factor), pitch kept, with Rubber Band's R3 engine."""
    require_program(RUBBERBAND, "time-stretching real speech (rate interventions)")
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch) / "in.wav", Path(scratch) / "out.wav"
        sf.write(source, samples, TARGET_RATE, subtype="FLOAT")
        command = [RUBBERBAND, "--fine", "--quiet", "--tempo", repr(float(factor))]
        run = subprocess.run([*command, str(source), str(target)], capture_output=True, text=True)
        if run.returncode != 0 or not target.is_file():
            raise RuntimeError(f"rubberband failed: {run.stderr.strip()}")
        stretched, rate = sf.read(target, dtype="float32")
    if rate != TARGET_RATE:
        raise RuntimeError(f"rubberband wrote {rate} Hz audio, expected {TARGET_RATE} Hz")
    return np.asarray(stretched)


def quietest_frames(samples: np.ndarray) -> np.ndarray:
    """The NOISE_QUANTILE of NOISE_FRAME_S frames with the least energy (at least one)."""
    frame = round(NOISE_FRAME_S * TARGET_RATE)
    n_frames = len(samples) // frame
    if n_frames == 0:
        raise ValueError(f"{len(samples)} samples: shorter than one {NOISE_FRAME_S} s frame")
    frames = np.asarray(samples[: n_frames * frame], dtype=np.float64).reshape(n_frames, frame)
    keep = max(1, int(np.ceil(NOISE_QUANTILE * n_frames)))
    return frames[np.argsort(np.mean(frames**2, axis=1), kind="stable")[:keep]]


def background_noise(samples: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of stationary noise with the power spectrum and RMS of the recording's
    quietest frames (`quietest_frames`), i.e. of its own background.

    Gaussian white noise is shaped in the frequency domain by sqrt(P(f)), P the mean
    Hann-windowed power spectrum of those frames interpolated onto the noise's frequencies, and
    scaled to their RMS. White noise of the same RMS would not do: the VAD took it for speech
    (it counted up to 30 % of the padding as voiced on the LibriSpeech sample), while shaped
    noise kept the articulation rate within 3 % (mean ratio 0.997 over its 40 utterances).
    """
    frames = quietest_frames(samples)
    level = float(np.sqrt(np.mean(frames**2)))
    if n == 0 or level == 0.0:
        return np.zeros(n, dtype=np.float32)
    window = np.hanning(frames.shape[1])
    power = np.mean(np.abs(np.fft.rfft(frames * window, axis=1)) ** 2, axis=0)
    gain = np.sqrt(np.interp(np.fft.rfftfreq(n), np.fft.rfftfreq(frames.shape[1]), power))
    shaped = np.fft.irfft(np.fft.rfft(rng.normal(size=n)) * gain, n)
    rms = float(np.sqrt(np.mean(shaped**2)))
    return (shaped * (level / rms if rms > 0 else 0.0)).astype(np.float32)


def pad_silence(samples: np.ndarray, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """`seconds` of the recording's background noise, half before and half after `samples`."""
    before = round(seconds * TARGET_RATE / 2)
    pad = background_noise(samples, round(seconds * TARGET_RATE), rng)
    return np.concatenate([pad[:before], samples, pad[before:]])


def _write_flac(path: Path, samples: np.ndarray) -> None:
    write_flac(path, np.clip(samples, -1.0, 32767 / 32768))


def render(job: VariantJob) -> None:
    """Write the variant's audio to job.path."""
    if job.intervention in (RATE, PAUSE):
        if job.plan is None:
            raise ValueError(f"{job.utt_id}: a synthetic intervention needs the utterance's plan")
        synthesize_utterance(job.plan, job.root)
        return
    samples = read_audio(job.source["path"]).samples
    if job.intervention == STRETCH:
        _write_flac(job.path, time_stretch(samples, job.factor))
    elif job.intervention == PAD:
        rng = np.random.default_rng([job.seed, zlib.crc32(job.utt_id.encode())])
        _write_flac(job.path, pad_silence(samples, job.factor, rng))
    else:
        raise ValueError(f"unknown intervention {job.intervention!r}")


def make_variant(job: VariantJob, vad: VadSettings) -> dict[str, Any]:
    """Render one variant and return its manifest row, labelled from the new audio."""
    render(job)
    source = job.source
    utterance = Utterance(
        job.utt_id, str(source["speaker_id"]), str(source["chapter_id"]), job.path, source["text"]
    )
    row = label_utterance(utterance, vad)
    row.pop("conversions")
    return {
        **row,
        "sex": source["sex"],
        "source_utt_id": source["utt_id"],
        "intervention": job.intervention,
        "factor": job.factor,
    }


def plan_jobs(
    sources: pd.DataFrame,
    settings: Mapping[str, Any],
    kind: str,
    audio_root: Path,
    seed: int,
    plans: Mapping[str, PlannedUtterance] | None = None,
) -> list[VariantJob]:
    """Every variant of every source for corpus `kind` (synthetic needs the sources' plans)."""
    jobs = []
    for source in sources.to_dict("records"):
        if kind == "synthetic":
            if plans is None:
                raise ValueError("synthetic interventions need the synthesis plans")
            plan = plans[source["utt_id"]]
            made = [(RATE, f, rate_variant(plan, f)) for f in settings["rate_factors"]]
            made += [(PAUSE, g, pause_variant(plan, g)) for g in settings["pause_gaps"]]
            jobs += [
                VariantJob(source, name, factor, audio_root, p.relative_path, p)
                for name, factor, p in made
            ]
            continue
        folder = Path(str(source["speaker_id"]), str(source["chapter_id"]))
        sizes = [(STRETCH, f) for f in settings["rate_factors"]]
        sizes.append((PAD, settings["pad_seconds"]))
        for name, factor in sizes:
            relative = folder / f"{variant_id(source['utt_id'], name, factor)}.flac"
            jobs.append(VariantJob(source, name, float(factor), audio_root, relative, seed=seed))
    return jobs


def _checked_plans(
    test: pd.DataFrame, report_path: str | Path | None
) -> dict[str, PlannedUtterance]:
    """The test utterances' plans; fails when they do not describe the corpus on disk."""
    if report_path is None:
        raise ValueError("synthetic interventions need the synthesis report")
    plans = synthetic_test_plans(json.loads(Path(report_path).read_text(encoding="utf-8")))
    for utt_id, text in zip(test["utt_id"], test["text"], strict=True):
        if utt_id not in plans or plans[utt_id].text != text:
            raise ValueError(
                f"{report_path}: its plans do not reproduce test utterance {utt_id}; "
                "rebuild the synthetic corpus"
            )
    return plans


def build_interventions(
    test_manifest: str | Path,
    settings: Mapping[str, Any],
    kind: str,
    vad_settings: Mapping[str, Any],
    seed: int,
    out_manifest: str | Path,
    audio_root: str | Path,
    synthesis_report: str | Path | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """Make every variant of the chosen test utterances and write their manifest.

    `settings` is the resolved `interventions:` section, `kind` the corpus kind, `vad_settings`
    the `vad:` section; `synthesis_report` is the synthetic corpus's report (synthetic only).
    """
    if kind not in CORPUS_KINDS:
        raise ValueError(f"unknown corpus kind {kind!r}")
    test = pd.read_csv(
        test_manifest,
        dtype={"utt_id": str, "speaker_id": str, "chapter_id": str, "sex": str},
        keep_default_na=False,
    )
    if kind == "synthetic":
        require_program(ESPEAK, "re-synthesising the test utterances at other rates")
    plans = _checked_plans(test, synthesis_report) if kind == "synthetic" else None

    def eligible(utt_id: str) -> bool:
        return plans is None or espeak_can_make(plans[utt_id], settings["rate_factors"])

    sources = select_sources(test, settings["utterances_per_speaker"], eligible)
    jobs = plan_jobs(sources, settings, kind, Path(audio_root), seed, plans)
    rows = _run_jobs(jobs, VadSettings(**vad_settings), workers)
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    manifest = manifest.sort_values("utt_id", ignore_index=True)
    write_text(out_manifest, manifest.to_csv(index=False))
    return manifest


def _run_jobs(jobs: list[VariantJob], vad: VadSettings, workers: int) -> list[dict[str, Any]]:
    if workers <= 1:
        return [make_variant(job, vad) for job in tqdm(jobs, desc="interventions", unit="utt")]
    with ProcessPoolExecutor(workers) as pool:
        made = pool.map(make_variant, jobs, [vad] * len(jobs), chunksize=4)
        return list(tqdm(made, total=len(jobs), desc="interventions", unit="utt"))
