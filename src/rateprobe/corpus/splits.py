"""Which subsets and speakers make up each of the train/dev/test splits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rateprobe.conventions import SPLITS
from rateprobe.corpus.download import completion_marker
from rateprobe.corpus.librispeech import (
    AUDIO_SUFFIX,
    TRANSCRIPT_SUFFIX,
    chapter_folders,
    corpus_dir,
    subset_speakers,
)


@dataclass(frozen=True)
class SplitSource:
    subsets: tuple[str, ...]
    speakers: frozenset[str] | None  # None: every speaker of the subsets


def synthetic_subset(split: str) -> str:
    return f"synthetic-{split}"


def carve_speakers(
    speakers: Sequence[str], fractions: Mapping[str, float], seed: int
) -> dict[str, list[str]]:
    """Seeded, speaker-disjoint partition of `speakers` by the split fractions.

    Each split gets round(fraction * n) speakers (test takes the remainder) and at least one.
    """
    pool = sorted(set(speakers))
    if len(pool) < len(SPLITS):
        raise ValueError(f"carving train/dev/test needs at least 3 speakers, found {len(pool)}")
    order = [pool[i] for i in np.random.default_rng(seed).permutation(len(pool))]
    n_train = max(1, round(fractions["train"] * len(pool)))
    n_dev = max(1, round(fractions["dev"] * len(pool)))
    n_train = min(n_train, len(pool) - 2)
    n_dev = min(n_dev, len(pool) - n_train - 1)
    return {
        "train": sorted(order[:n_train]),
        "dev": sorted(order[n_train : n_train + n_dev]),
        "test": sorted(order[n_train + n_dev :]),
    }


def split_source(corpus: Mapping[str, Any], split: str) -> SplitSource:
    """Subsets (and speakers, when carved) of one split, from the resolved corpus config."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}', expected one of {SPLITS}")
    if corpus["kind"] == "synthetic":
        return SplitSource((synthetic_subset(split),), None)
    carve = corpus.get("carve_by_speaker")
    if not carve:
        return SplitSource(tuple(corpus["splits"][split]), None)
    root = Path(corpus["root"])
    pool = [s for subset in carve["subsets"] for s in subset_speakers(root, subset)]
    carved = carve_speakers(pool, carve["fractions"], carve["seed"])
    return SplitSource(tuple(carve["subsets"]), frozenset(carved[split]))


def required_subsets(corpus: Mapping[str, Any]) -> list[str]:
    """Every LibriSpeech subset the configuration reads, in first-use order."""
    if corpus["kind"] == "synthetic":
        return [synthetic_subset(split) for split in SPLITS]
    if corpus.get("carve_by_speaker"):
        names = list(corpus["carve_by_speaker"]["subsets"])
    else:
        names = [s for split in SPLITS for s in corpus["splits"][split]]
    return list(dict.fromkeys(names))


def check_corpus_present(corpus: Mapping[str, Any]) -> None:
    """Raise FileNotFoundError naming the folder when a LibriSpeech corpus that is not to be
    downloaded is absent, before any planning: otherwise the planner would take manifests
    left by another corpus as up to date."""
    if corpus["kind"] == "librispeech" and not corpus.get("download"):
        for subset in required_subsets(corpus):
            subset_speakers(corpus["root"], subset)


def split_inputs(corpus: Mapping[str, Any], split: str) -> list[str]:
    """The files a split's manifest depends on, for the workflow to track.

    synthetic: the generator's report; downloaded LibriSpeech: the completion markers of the
    subsets it reads; an existing extraction: its chapter folders (their time stamps change when
    audio files come or go), transcripts, audio files (one replaced in place has a newer time
    stamp) and SPEAKERS.TXT. A carved split depends on the whole pool, since which speakers it
    gets depends on all of them. Synthetic and downloaded audio are the workflow's own outputs:
    their generator and the MD5 check vouch for them.
    """
    root = Path(corpus["root"])
    if corpus["kind"] == "synthetic":
        return [str(synthetic_report(root))]
    carve = corpus.get("carve_by_speaker")
    subsets = list(carve["subsets"]) if carve else list(corpus["splits"][split])
    if corpus.get("download"):
        return [str(completion_marker(root, subset)) for subset in subsets]
    for subset in subsets:
        subset_speakers(root, subset)  # fails early, naming a missing subset
    chapters, _ = chapter_folders(root, subsets)  # the manifest reports the others
    transcripts = [c / f"{c.parent.name}-{c.name}{TRANSCRIPT_SUFFIX}" for c in chapters]
    audio = [path for chapter in chapters for path in sorted(chapter.glob(f"*{AUDIO_SUFFIX}"))]
    speakers_table = corpus_dir(root) / "SPEAKERS.TXT"
    extra = [speakers_table] if speakers_table.is_file() else []
    present = [t for t in transcripts if t.is_file()]
    return [str(p) for p in [*chapters, *present, *audio, *extra]]


def synthetic_report(root: str | Path) -> Path:
    return Path(root) / "synthetic.json"
