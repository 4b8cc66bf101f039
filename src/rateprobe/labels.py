"""Speech-rate labels and the per-split manifests (results/manifests/{split}.csv).

cps = alphanumeric characters of the transcript (letters and digits of any script: Cyrillic
text counts its letters as English text does) / decoded audio duration. The articulation rate
divides by the speech-active time instead, which a WebRTC voice-activity detector measures
offline, so that pauses do not count as slow speech.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from rateprobe.audio import TARGET_RATE, AudioError, read_audio
from rateprobe.conventions import MANIFEST_COLUMNS as COLUMNS
from rateprobe.corpus.librispeech import InputProblem, Utterance, read_speaker_sex, scan_subsets
from rateprobe.corpus.splits import split_source, spread_per_speaker
from rateprobe.corpus.table import scan_table
from rateprobe.io import write_json, write_text

NO_SPEECH = "no speech detected"
IMPLAUSIBLE_DURATION = "implausible duration"
IMPLAUSIBLE_RATE = "implausible speech rate"

log = logging.getLogger(__name__)


class BadInputError(ValueError):
    """Input files that cannot be labelled; the message lists every one of them."""

    def __init__(self, split: str, problems: Sequence[InputProblem]) -> None:
        lines = "\n".join(f"  {p.path}: {p.problem}" for p in problems)
        super().__init__(
            f"split '{split}': {len(problems)} bad input file(s) (on_bad_input: fail; set "
            f"on_bad_input: skip to drop and count them):\n{lines}"
        )
        self.problems = list(problems)


@dataclass(frozen=True)
class VadSettings:
    aggressiveness: int = 2
    frame_ms: int = 30


@dataclass(frozen=True)
class LabelBounds:
    """What a read utterance plausibly is (config `labels:`); outside it, audio and transcript
    do not belong together (a clip cut short, a wrong transcript), and the label is no rate."""

    min_duration_s: float
    max_duration_s: float
    min_cps: float
    max_cps: float

    def problem(self, row: Mapping[str, Any]) -> InputProblem | None:
        """The implausibility of one manifest row, or None."""
        duration, cps = row["duration_s"], row["cps"]
        if not self.min_duration_s <= duration <= self.max_duration_s:
            return InputProblem(
                row["path"],
                IMPLAUSIBLE_DURATION,
                f"{duration:.3g} s (CPS {cps:.3g}), outside labels.min_duration_s.."
                f"max_duration_s = {self.min_duration_s:g}..{self.max_duration_s:g} s",
            )
        if not self.min_cps <= cps <= self.max_cps:
            return InputProblem(
                row["path"],
                IMPLAUSIBLE_RATE,
                f"CPS {cps:.3g} ({row['n_chars']} characters in {duration:.3g} s), outside "
                f"labels.min_cps..max_cps = {self.min_cps:g}..{self.max_cps:g}",
            )
        return None


def count_chars(text: str) -> int:
    """Letters and digits of any script (str.isalnum is Unicode-aware): not punctuation, spaces
    or the apostrophes LibriSpeech keeps."""
    return sum(ch.isalnum() for ch in text)


def voiced_duration(samples: np.ndarray, vad: VadSettings) -> float:
    """Seconds of 16 kHz audio in frames that WebRTC VAD classifies as speech."""
    with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        import webrtcvad

    detector = webrtcvad.Vad(vad.aggressiveness)
    frame = TARGET_RATE * vad.frame_ms // 1000
    pcm = (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2")
    n_frames = len(pcm) // frame
    voiced = sum(
        detector.is_speech(pcm[i * frame : (i + 1) * frame].tobytes(), TARGET_RATE)
        for i in range(n_frames)
    )
    return voiced * vad.frame_ms / 1000


def label_utterance(utt: Utterance, vad: VadSettings) -> dict[str, Any]:
    """The manifest row of one utterance, without `sex`; raises AudioError on bad audio."""
    audio = read_audio(utt.path)
    voiced = voiced_duration(audio.samples, vad)
    if voiced == 0:
        raise AudioError(
            utt.path, NO_SPEECH, f"the VAD found no speech in {audio.duration_s:.2f} s"
        )
    n_chars = count_chars(utt.text)
    return {
        "utt_id": utt.utt_id,
        "speaker_id": utt.speaker_id,
        "chapter_id": utt.chapter_id,
        "path": str(utt.path),
        "text": utt.text,
        "n_chars": n_chars,
        "duration_s": audio.duration_s,
        "cps": n_chars / audio.duration_s,
        "voiced_duration_s": voiced,
        "articulation_rate": n_chars / voiced,
        "conversions": audio.conversions,
    }


def _label_or_problem(utt: Utterance, vad: VadSettings) -> dict[str, Any] | InputProblem:
    try:
        return label_utterance(utt, vad)
    except AudioError as err:
        # Where the utterance is listed (a transcript's or a table's line) leads to the fix.
        detail = "; ".join(filter(None, [err.detail, utt.where and f"listed at {utt.where}"]))
        return InputProblem(err.path, err.kind, detail)


def label_utterances(
    utterances: Sequence[Utterance], vad: VadSettings, workers: int = 1, desc: str = "labels"
) -> Iterable[dict[str, Any] | InputProblem]:
    work = partial(_label_or_problem, vad=vad)
    if workers <= 1:
        yield from tqdm(map(work, utterances), total=len(utterances), desc=desc, unit="utt")
        return
    with ProcessPoolExecutor(workers) as pool:
        results = pool.map(work, utterances, chunksize=16)
        yield from tqdm(results, total=len(utterances), desc=desc, unit="utt")


def split_utterances(
    corpus: Mapping[str, Any], split: str
) -> tuple[list[Utterance], list[InputProblem], dict[str, str]]:
    """One split's utterances, the problems of the files it reads, and speaker id -> sex."""
    source = split_source(corpus, split)
    if corpus["kind"] == "table":
        return scan_table(corpus["table"], split, source.speakers or frozenset())
    utterances, problems = scan_subsets(corpus["root"], source.subsets, source.speakers)
    utterances = spread_per_speaker(utterances, corpus.get("max_utterances_per_speaker"))
    return utterances, problems, read_speaker_sex(corpus["root"])


def corpus_place(corpus: Mapping[str, Any], split: str) -> str:
    """Where a split's utterances come from, as messages name it."""
    if corpus["kind"] == "table":
        return f"table {corpus['table']}"
    return f"subsets {split_source(corpus, split).subsets}"


def build_manifest(
    corpus: Mapping[str, Any],
    vad_settings: Mapping[str, Any],
    policy: str,
    split: str,
    manifest_path: str | Path,
    bad_path: str | Path,
    *,
    bounds: Mapping[str, Any],
    workers: int = 1,
) -> pd.DataFrame:
    """Label every utterance of one split and write its manifest and bad-input report.

    `corpus`, `vad_settings` and `bounds` are the sections `corpus`, `vad` and `labels` of the
    resolved configuration (rateprobe.config.resolve_config); `policy` is its on_bad_input.
    """
    if policy not in ("fail", "skip"):
        raise ValueError(f"on_bad_input must be 'fail' or 'skip', got {policy!r}")
    vad = VadSettings(**vad_settings)
    plausible = LabelBounds(**bounds)
    utterances, problems, sex = split_utterances(corpus, split)
    rows = []
    converted = []
    for result in label_utterances(utterances, vad, workers, desc=f"labels {split}"):
        if isinstance(result, InputProblem):
            problems.append(result)
            continue
        implausible = plausible.problem(result)
        if implausible is not None:
            problems.append(implausible)
            continue
        for note in result.pop("conversions"):
            converted.append({"path": result["path"], "conversion": note})
        rows.append({**result, "sex": sex.get(result["speaker_id"], "")})
    problems.sort(key=lambda p: p.path)
    if problems and policy == "fail":
        raise BadInputError(split, problems)
    for problem in problems:
        log.warning("skipping %s: %s", problem.path, problem.problem)
    if not rows:
        raise ValueError(f"split '{split}': no usable utterances in {corpus_place(corpus, split)}")
    manifest = pd.DataFrame(rows, columns=list(COLUMNS)).sort_values("utt_id", ignore_index=True)
    report = {
        "split": split,
        "policy": policy,
        "skipped": dict(sorted(Counter(p.kind for p in problems).items())),
        "files": [{"path": p.path, "problem": p.problem} for p in problems],
        "converted": converted,
    }
    write_json(bad_path, report)
    write_text(manifest_path, manifest.to_csv(index=False))
    return manifest
