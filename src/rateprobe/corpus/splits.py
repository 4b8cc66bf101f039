"""Which subsets and speakers make up each of the train/dev/test splits."""

from __future__ import annotations

import os
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
    Utterance,
    chapter_folders,
    corpus_dir,
    file_system_problem,
    subset_speakers,
)
from rateprobe.corpus.table import read_table, speakers_by_given_split, table_speakers
from rateprobe.fingerprint import FingerprintCache, combined_digest

# Marks a file state that is no fingerprint: the file cannot be opened.
UNUSABLE = "unusable: "


@dataclass(frozen=True)
class SplitSource:
    subsets: tuple[str, ...]  # none for a table corpus
    speakers: frozenset[str] | None  # None: every speaker of the subsets


def synthetic_subset(split: str) -> str:
    return f"synthetic-{split}"


def carve_speakers(
    speakers: Sequence[str], fractions: Mapping[str, float], seed: int
) -> dict[str, list[str]]:
    """Seeded, speaker-disjoint partition of `speakers` among the splits `fractions` names.

    Each named split, in train/dev/test order, gets round(fraction * n) speakers and at least
    one; the last one named takes the remainder.
    """
    named = [split for split in SPLITS if split in fractions]
    pool = sorted(set(speakers))
    if len(pool) < len(named):
        raise ValueError(
            f"carving {'/'.join(named)} needs at least {len(named)} speakers, found {len(pool)}"
        )
    order = [pool[i] for i in np.random.default_rng(seed).permutation(len(pool))]
    carved = {}
    start = 0
    for position, split in enumerate(named):
        splits_after = len(named) - position - 1
        if splits_after:
            wanted = max(1, round(fractions[split] * len(pool)))
            count = min(wanted, len(pool) - start - splits_after)
        else:
            count = len(pool) - start
        carved[split] = sorted(order[start : start + count])
        start += count
    return carved


def spread_per_speaker(utterances: Sequence[Utterance], limit: int | None) -> list[Utterance]:
    """At most `limit` utterances of each speaker, spread evenly over the speaker's utterances
    in utt_id order (so over its chapters, not the first chapter only); None keeps all.
    No seed: the choice depends on the corpus alone."""
    if limit is None:
        return list(utterances)
    by_speaker: dict[str, list[Utterance]] = {}
    for utterance in sorted(utterances, key=lambda u: u.utt_id):
        by_speaker.setdefault(utterance.speaker_id, []).append(utterance)
    kept = []
    for own in by_speaker.values():
        step = len(own) / limit
        kept += own if len(own) <= limit else [own[int(i * step)] for i in range(limit)]
    return sorted(kept, key=lambda u: u.utt_id)


def split_source(corpus: Mapping[str, Any], split: str) -> SplitSource:
    """Subsets (and speakers, when carved) of one split, from the resolved corpus config."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}', expected one of {SPLITS}")
    if corpus["kind"] == "synthetic":
        return SplitSource((synthetic_subset(split),), None)
    if corpus["kind"] == "table":
        return SplitSource((), frozenset(_table_split_speakers(corpus)[split]))
    carve = corpus.get("carve_by_speaker")
    if not carve or split not in carve["fractions"]:
        return SplitSource(tuple(corpus["splits"][split]), None)
    root = Path(corpus["root"])
    pool = [s for subset in carve["subsets"] for s in subset_speakers(root, subset)]
    carved = carve_speakers(pool, carve["fractions"], carve["seed"])
    return SplitSource(tuple(carve["subsets"]), frozenset(carved[split]))


def _table_split_speakers(corpus: Mapping[str, Any]) -> dict[str, list[str]]:
    """split -> speakers of a table corpus: its split column, or else carved by speaker."""
    rows = read_table(corpus["table"])
    if rows[0].split is not None:
        return speakers_by_given_split(corpus["table"], rows)
    carve = corpus["carve_by_speaker"]
    return carve_speakers(table_speakers(rows), carve["fractions"], carve["seed"])


def required_subsets(corpus: Mapping[str, Any]) -> list[str]:
    """Every LibriSpeech subset the configuration reads, in first-use order."""
    if corpus["kind"] == "synthetic":
        return [synthetic_subset(split) for split in SPLITS]
    names = [s for split in SPLITS for s in _subsets_read(corpus, split)]
    return list(dict.fromkeys(names))


def check_corpus_present(corpus: Mapping[str, Any]) -> None:
    """Raise FileNotFoundError naming the folder when a LibriSpeech corpus that is not to be
    downloaded is absent, before any planning: otherwise the planner would take manifests
    left by another corpus as up to date."""
    if corpus["kind"] == "librispeech" and not corpus.get("download"):
        for subset in required_subsets(corpus):
            subset_speakers(corpus["root"], subset)
    if corpus["kind"] == "table" and not Path(corpus["table"]).is_file():
        raise FileNotFoundError(
            f"'{corpus['table']}' is no file (relative paths start at {Path.cwd()})"
        )


@dataclass(frozen=True)
class ExtractionListing:
    """An extraction's chapter folders and, for each file a manifest reads there, its content
    fingerprint or UNUSABLE and what keeps it from being opened."""

    root: Path
    chapters: list[Path]
    states: dict[str, str]

    @property
    def readable(self) -> list[str]:
        return [path for path, state in self.states.items() if not state.startswith(UNUSABLE)]

    @property
    def digest(self) -> str:
        """Of the files' contents and places in the corpus, not of where the corpus lies."""
        return combined_digest(
            (os.path.relpath(path, self.root), state) for path, state in self.states.items()
        )


class ExtractionFiles:
    """Lists the files of existing extractions with their fingerprints, once per root and
    subsets: a plan asks for each split's inputs and params, and carved splits read one pool."""

    def __init__(self, fingerprints: FingerprintCache | None = None) -> None:
        self.fingerprints = fingerprints or FingerprintCache()
        self.listings: dict[tuple[Path, tuple[str, ...]], ExtractionListing] = {}

    def listing(self, root: Path, subsets: Sequence[str]) -> ExtractionListing:
        key = (root, tuple(subsets))
        if key not in self.listings:
            chapters, files = _extraction_files(root, subsets)
            self.listings[key] = ExtractionListing(root, chapters, self._states(files))
            self.fingerprints.save()
        return self.listings[key]

    def table_listing(self, table: Path) -> ExtractionListing:
        """The table and the audio files its rows name (folders are not tracked: the table
        lists the files)."""
        key = (table, ())
        if key not in self.listings:
            files = [str(table), *dict.fromkeys(str(row.path) for row in read_table(table))]
            self.listings[key] = ExtractionListing(table.parent, [], self._states(files))
            self.fingerprints.save()
        return self.listings[key]

    def _states(self, files: list[str]) -> dict[str, str]:
        states = {}
        for path in files:
            try:
                states[path] = self.fingerprints.fingerprint(path)
            except OSError as error:
                states[path] = f"{UNUSABLE}{file_system_problem(Path(path), error).kind}"
        return states


def split_inputs(
    corpus: Mapping[str, Any], split: str, extraction: ExtractionFiles | None = None
) -> list[str]:
    """The files a split's manifest depends on, for the workflow to track.

    synthetic: the generator's report; downloaded LibriSpeech: the completion markers of the
    subsets it reads; an existing extraction: its chapter folders (their time stamps change when
    audio files come or go), transcripts, audio files and SPEAKERS.TXT; a table: the table and
    every audio file it names. Not those that cannot be opened (a broken link, a link loop, no
    read permission, a file a table names that is absent): Snakemake would stop on them while
    planning or recording the job, and the manifest job reports them as bad input.
    A carved split depends on the whole pool, since which speakers it gets depends on all of
    them (so does every split of a table). Synthetic and downloaded audio are the workflow's own
    outputs: their generator and the MD5 check vouch for them.
    """
    root = Path(corpus["root"])
    if corpus["kind"] == "synthetic":
        return [str(synthetic_report(root))]
    listing = _user_files(corpus, split, extraction)
    if listing is None:
        return [str(completion_marker(root, subset)) for subset in _subsets_read(corpus, split)]
    return [*map(str, listing.chapters), *listing.readable]


def manifest_corpus_settings(
    corpus: Mapping[str, Any], split: str, extraction: ExtractionFiles | None = None
) -> dict[str, Any]:
    """The corpus settings a split's manifest is built from, as the rule's params: for an
    existing extraction or a table with the content digest of its files, so that a file
    replaced with its old time stamp kept (cp -p, rsync -a) reruns the manifest. The other
    corpora's files are the workflow's own outputs and get no digest (their params stay those
    of earlier builds)."""
    keys = ("kind", "root", "splits", "carve_by_speaker")
    settings = {key: corpus.get(key) for key in keys}
    if corpus["kind"] == "table":
        settings["table"] = corpus["table"]
    # Only when set: the params of builds made before the key existed stay as they were.
    if corpus.get("max_utterances_per_speaker") is not None:
        settings["max_utterances_per_speaker"] = corpus["max_utterances_per_speaker"]
    listing = _user_files(corpus, split, extraction)
    if listing is not None:
        settings["content"] = listing.digest
    return settings


def _user_files(
    corpus: Mapping[str, Any], split: str, extraction: ExtractionFiles | None
) -> ExtractionListing | None:
    """The listing of the files a user's corpus (an extraction or a table) gives a split;
    None for the corpora the workflow makes itself (synthesised or downloaded)."""
    if corpus["kind"] == "table":
        return (extraction or ExtractionFiles()).table_listing(Path(corpus["table"]))
    if corpus["kind"] == "librispeech" and not corpus.get("download"):
        subsets = _subsets_read(corpus, split)
        return (extraction or ExtractionFiles()).listing(Path(corpus["root"]), subsets)
    return None


def _subsets_read(corpus: Mapping[str, Any], split: str) -> list[str]:
    carve = corpus.get("carve_by_speaker")
    if carve and split in carve["fractions"]:
        return list(carve["subsets"])
    return list(corpus["splits"][split])


def _extraction_files(root: Path, subsets: Sequence[str]) -> tuple[list[Path], list[str]]:
    """The chapter folders of an extraction's subsets and the files a manifest reads there
    (links to nothing included: they are bad input), listed with one directory read each."""
    for subset in subsets:
        subset_speakers(root, subset)  # fails early, naming a missing subset
    chapters, _ = chapter_folders(root, subsets)  # the manifest reports the others
    files = []
    for chapter in chapters:
        transcript = f"{chapter.parent.name}-{chapter.name}{TRANSCRIPT_SUFFIX}"
        with os.scandir(chapter) as entries:
            names = sorted(e.name for e in entries)
        files += [
            os.path.join(chapter, name)
            for name in names
            if name == transcript or name.endswith(AUDIO_SUFFIX)
        ]
    speakers_table = corpus_dir(root) / "SPEAKERS.TXT"
    if speakers_table.is_symlink() or speakers_table.exists():
        files.append(str(speakers_table))
    return chapters, files


def synthetic_report(root: str | Path) -> Path:
    return Path(root) / "synthetic.json"
