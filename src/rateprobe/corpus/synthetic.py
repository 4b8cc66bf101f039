"""The embedded synthetic corpus: espeak-ng speech written in the LibriSpeech layout.

Each synthetic speaker is an espeak-ng English voice (accent) with a voice variant (which sets
the formants, pitch contour and voice quality) and a base pitch; speakers are balanced by sex
within every split and no speaker appears in two splits. Every utterance draws its own speaking
rate (words per minute) and pause between words, and its text comes from the project's sentence
generator. Everything is drawn from seeded generators keyed by (seed, speaker, utterance), so
the corpus is identical for a given configuration however synthesis is scheduled.

The subsets are named synthetic-train, synthetic-dev and synthetic-test, so that the LibriSpeech
reader handles this corpus exactly like the real one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from tqdm import tqdm

from rateprobe.audio import TARGET_RATE, write_flac
from rateprobe.conventions import SPLITS
from rateprobe.corpus.librispeech import corpus_dir
from rateprobe.corpus.sentences import make_sentence
from rateprobe.corpus.splits import synthetic_subset
from rateprobe.io import current_umask, remove_leftovers, write_json
from rateprobe.system_tools import require_program

ESPEAK = "espeak-ng"
ESPEAK_RATE = 22050
# espeak-ng's built-in English voices (accents); the MBROLA ones need extra packages.
ACCENTS = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)  # fmt: skip
# Human-sounding variants only (no whisper, robot or novelty voices), by the sex they model.
VARIANTS = {
    "F": (
        "f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "aunty", "belinda", "linda",
        "steph", "steph2", "steph3", "anika", "grandma",
    ),
    "M": (
        "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "adam", "Alex", "Andy", "antonio",
        "benjamin", "caleb", "david", "ed", "edward", "john", "max", "Michael", "paul", "robert",
    ),
}  # fmt: skip
PITCH_RANGE = (25, 75)  # espeak-ng -p, 0..99
WORD_GAP_RANGE = (0, 12)  # espeak-ng -g, in 10 ms units at the default speed
WORDS_PER_SENTENCE = (6, 12)
FIRST_SPEAKER_ID = 1001
OWNER_TAG = ".rateprobe-synthetic"
PARTIAL_TREE_PREFIX = ".LibriSpeech.partial-"  # the tree being built, beside its final place


@dataclass(frozen=True)
class SyntheticSpeaker:
    speaker_id: str
    chapter_id: str
    sex: str
    accent: str
    variant: str
    pitch: int
    split: str

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}"


@dataclass(frozen=True)
class PlannedUtterance:
    utt_id: str
    speaker: SyntheticSpeaker
    text: str
    wpm: int
    word_gap: int

    @property
    def relative_path(self) -> Path:
        s = self.speaker
        return Path(synthetic_subset(s.split), s.speaker_id, s.chapter_id, f"{self.utt_id}.flac")


def design_speakers(speakers_per_split: Mapping[str, int], seed: int) -> list[SyntheticSpeaker]:
    """Distinct (accent, variant, pitch) speakers, balanced by sex within each split."""
    rng = np.random.default_rng([seed, 0])
    pools = {}
    for sex, variants in VARIANTS.items():
        combos = [(a, v) for a in ACCENTS for v in variants]
        pools[sex] = [combos[i] for i in rng.permutation(len(combos))]
    speakers: list[SyntheticSpeaker] = []
    taken = {"F": 0, "M": 0}
    for split in SPLITS:
        count = speakers_per_split[split]
        # Alternate which sex gets the odd speaker so the whole corpus stays balanced too.
        first = "F" if len(speakers) % 2 == 0 else "M"
        sexes = [first if i % 2 == 0 else ("M" if first == "F" else "F") for i in range(count)]
        for sex in sexes:
            if taken[sex] >= len(pools[sex]):
                raise ValueError(
                    f"corpus.splits: at most {len(pools[sex])} synthetic speakers per sex exist"
                )
            accent, variant = pools[sex][taken[sex]]
            taken[sex] += 1
            number = FIRST_SPEAKER_ID + len(speakers)
            pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
            speakers.append(
                SyntheticSpeaker(str(number), str(number * 10), sex, accent, variant, pitch, split)
            )
    return speakers


def plan_utterances(
    speakers: Sequence[SyntheticSpeaker],
    utterances_per_speaker: int,
    min_wpm: float,
    max_wpm: float,
    seed: int,
) -> list[PlannedUtterance]:
    plans = []
    for index, speaker in enumerate(speakers):
        for number in range(utterances_per_speaker):
            rng = np.random.default_rng([seed, 1, index, number])
            plans.append(
                PlannedUtterance(
                    utt_id=f"{speaker.speaker_id}-{speaker.chapter_id}-{number:04d}",
                    speaker=speaker,
                    text=make_sentence(rng, *WORDS_PER_SENTENCE),
                    wpm=round(rng.uniform(min_wpm, max_wpm)),
                    word_gap=int(rng.integers(WORD_GAP_RANGE[0], WORD_GAP_RANGE[1] + 1)),
                )
            )
    return plans


def espeak_command(plan: PlannedUtterance, wav_path: Path) -> list[str]:
    return [
        ESPEAK, "-v", plan.speaker.voice, "-s", str(plan.wpm), "-g", str(plan.word_gap),
        "-p", str(plan.speaker.pitch), "-w", str(wav_path), plan.text.lower(),
    ]  # fmt: skip


def synthesize_utterance(plan: PlannedUtterance, corpus_root: Path) -> int:
    """Write one 16 kHz mono FLAC; return its number of samples."""
    target = corpus_root / plan.relative_path
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "speech.wav"
        run = subprocess.run(espeak_command(plan, wav), capture_output=True, text=True)
        if run.returncode != 0 or not wav.is_file():
            raise RuntimeError(f"espeak-ng failed for {plan.utt_id}: {run.stderr.strip()}")
        samples, rate = sf.read(wav, dtype="float32")
    if rate != ESPEAK_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz audio, expected {ESPEAK_RATE} Hz")
    speech = np.clip(resample_poly(samples, 320, 441), -1.0, 1.0)  # 22050 Hz -> 16000 Hz
    write_flac(target, speech)
    return len(speech)


def _write_layout_files(
    tree: Path,
    speakers: Sequence[SyntheticSpeaker],
    plans: Sequence[PlannedUtterance],
    n_samples: Mapping[str, int],
) -> None:
    by_chapter: dict[Path, list[PlannedUtterance]] = {}
    for plan in plans:
        by_chapter.setdefault(plan.relative_path.parent, []).append(plan)
    for chapter, members in by_chapter.items():
        speaker = members[0].speaker
        lines = [f"{p.utt_id} {p.text}\n" for p in sorted(members, key=lambda p: p.utt_id)]
        name = f"{speaker.speaker_id}-{speaker.chapter_id}.trans.txt"
        (tree / chapter / name).write_text("".join(lines), encoding="utf-8")
    minutes = {s.speaker_id: 0.0 for s in speakers}
    for plan in plans:
        minutes[plan.speaker.speaker_id] += n_samples[plan.utt_id] / TARGET_RATE / 60
    table = [
        "; Synthetic speakers of the rateprobe embedded corpus (espeak-ng), LibriSpeech format\n",
        ";ID  |SEX| SUBSET           |MINUTES| NAME\n",
    ]
    for s in speakers:
        table.append(
            f"{s.speaker_id:<5}| {s.sex} | {synthetic_subset(s.split):<16} | "
            f"{minutes[s.speaker_id]:5.2f} | espeak-ng {s.voice} pitch {s.pitch}\n"
        )
    (tree / "SPEAKERS.TXT").write_text("".join(table), encoding="utf-8")
    (tree / OWNER_TAG).write_text("written by rateprobe.corpus.synthetic\n", encoding="utf-8")


def _check_replaceable(final: Path) -> None:
    if final.exists() and not (final / OWNER_TAG).is_file():
        raise FileExistsError(
            f"{final} exists and was not written by the synthetic generator; "
            "refusing to replace it (point corpus.root at another folder)"
        )


def _replace_tree(tree: Path, final: Path) -> None:
    _check_replaceable(final)
    if final.exists():
        shutil.rmtree(final)
    tree.rename(final)


def synthesize_corpus(
    corpus: Mapping[str, Any], seed: int, report_path: str | Path, workers: int = 1
) -> dict[str, Any]:
    """Synthesise the whole corpus under corpus.root and write a JSON report of it.

    `corpus` is that section of the resolved configuration. The tree is built beside the target
    and swapped in only when complete, so an interrupted run never leaves a half-written corpus
    that looks finished.
    """
    require_program(ESPEAK, "the synthetic corpus")
    synthetic = corpus["synthetic"]
    speakers = design_speakers(corpus["splits"], seed)
    plans = plan_utterances(
        speakers,
        synthetic["utterances_per_speaker"],
        synthetic["min_wpm"],
        synthetic["max_wpm"],
        seed,
    )
    final = corpus_dir(corpus["root"])
    _check_replaceable(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final.parent, f"{PARTIAL_TREE_PREFIX}*")
    started = time.perf_counter()
    tree = Path(tempfile.mkdtemp(dir=final.parent, prefix=PARTIAL_TREE_PREFIX))
    try:
        with ProcessPoolExecutor(max(1, workers)) as pool:
            written = pool.map(synthesize_utterance, plans, [tree] * len(plans), chunksize=8)
            counts = list(tqdm(written, total=len(plans), desc="espeak-ng", unit="utt"))
        n_samples = {p.utt_id: n for p, n in zip(plans, counts, strict=True)}
        _write_layout_files(tree, speakers, plans, n_samples)
        tree.chmod(0o777 & ~current_umask())
        _replace_tree(tree, final)
    except BaseException:
        shutil.rmtree(tree, ignore_errors=True)
        raise
    total_s = sum(n_samples.values()) / TARGET_RATE
    report = {
        "root": str(final),
        "seed": seed,
        "settings": dict(synthetic),
        "speakers": [asdict(s) for s in speakers],
        "utterances": len(plans),
        "audio_hours": total_s / 3600,
        "synthesis_seconds": time.perf_counter() - started,
        "workers": workers,
    }
    write_json(report_path, report)
    return report
