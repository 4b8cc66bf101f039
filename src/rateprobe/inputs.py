"""Reading manifests and pooled activations for probing, with the checks a probe relies on.

File formats: docs/interfaces.md. Every probe fits on train, selects on dev and reports on
test, so the three splits must share no speaker (`assert_speaker_disjoint`), and the rows of
an activation file must be the manifest's utterances in the manifest's order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rateprobe.bootstrap import SpeakerBootstrap, speaker_bootstrap
from rateprobe.conventions import EMBEDDING_TAP


class SplitLeakError(ValueError):
    """Two splits share a speaker: held-out numbers would not be held out."""


class ProbeInputError(ValueError):
    """An input file is missing something a probe needs; the message names the file."""


def read_manifest(path: str | Path) -> pd.DataFrame:
    """A manifest with ids as strings (speaker 19 and '19' must be the same speaker)."""
    frame = pd.read_csv(
        path,
        dtype={"utt_id": str, "speaker_id": str, "chapter_id": str, "sex": str},
        keep_default_na=False,
        na_values={"cps": [""], "articulation_rate": [""]},
    )
    for column in ("utt_id", "speaker_id"):
        if column not in frame.columns:
            raise ProbeInputError(f"{path}: manifest has no column '{column}'")
    frame.attrs["path"] = str(path)
    return frame


def read_manifests(paths: Mapping[str, str | Path]) -> dict[str, pd.DataFrame]:
    """Each split's manifest, checked to share no speaker with another."""
    manifests = {split: read_manifest(path) for split, path in paths.items()}
    assert_speaker_disjoint(manifests)
    return manifests


def bootstrap_of_test_speakers(
    manifests: Mapping[str, pd.DataFrame], settings: Mapping[str, Any]
) -> SpeakerBootstrap:
    """The speaker resamples of the test split (probes.bootstrap) that every interval of the
    study uses, so that any two numbers can be compared paired."""
    speakers = manifests["test"]["speaker_id"].to_numpy(dtype=str)
    return speaker_bootstrap(speakers, int(settings["n"]), int(settings["seed"]))


def assert_speaker_disjoint(manifests: Mapping[str, pd.DataFrame]) -> None:
    """Raise SplitLeakError naming the splits and speakers when any two splits share one."""
    speakers = {split: set(frame["speaker_id"]) for split, frame in manifests.items()}
    names = list(speakers)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = sorted(speakers[first] & speakers[second])
            if shared:
                shown = ", ".join(shared[:10]) + (" ..." if len(shared) > 10 else "")
                raise SplitLeakError(
                    f"splits '{first}' and '{second}' share {len(shared)} speaker(s): {shown}"
                )


def target_matrix(frame: pd.DataFrame, targets: list[str]) -> np.ndarray:
    """Targets (n, n_targets) as float64; names the manifest and column of any gap."""
    path = frame.attrs.get("path", "manifest")
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise ProbeInputError(f"{path}: no target column(s) {missing} (probes.targets)")
    values = frame[targets].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ProbeInputError(
            f"{path}: {int(bad.sum())} non-finite target value(s), first: utterance "
            f"{frame['utt_id'].iloc[row]} column '{targets[col]}'"
        )
    return values


@dataclass
class SplitActivations:
    """One split's activation file, read lazily one tap at a time."""

    path: Path
    archive: Any  # numpy NpzFile
    layer_names: list[str]
    meta: dict[str, Any]

    def tap(self, name: str) -> np.ndarray:
        key = f"tap/{name}"
        if key not in self.archive.files:
            raise ProbeInputError(f"{self.path}: no array '{key}'")
        values = np.asarray(self.archive[key], dtype=np.float64)
        if not np.isfinite(values).all():
            raise ProbeInputError(f"{self.path}: tap '{name}' holds non-finite values")
        return values


@contextmanager
def open_activations(
    paths: Mapping[str, str | Path], manifests: Mapping[str, pd.DataFrame]
) -> Iterator[dict[str, SplitActivations]]:
    """Open each split's .npz, checking rows against the manifest and taps across splits."""
    opened: dict[str, SplitActivations] = {}
    try:
        for split, path in paths.items():
            path = Path(path)
            archive = np.load(path, allow_pickle=False)
            opened[split] = _checked(path, archive, manifests[split])
        first = next(iter(opened.values()))
        for acts in opened.values():
            if acts.layer_names != first.layer_names:
                raise ProbeInputError(
                    f"{acts.path}: taps {acts.layer_names} differ from {first.path}'s "
                    f"{first.layer_names}"
                )
        yield opened
    finally:
        for acts in opened.values():
            acts.archive.close()


def _checked(path: Path, archive: Any, manifest: pd.DataFrame) -> SplitActivations:
    for key in ("utt_id", "layer_names", "meta_json"):
        if key not in archive.files:
            archive.close()
            raise ProbeInputError(f"{path}: no array '{key}' (see docs/interfaces.md)")
    utt_ids = archive["utt_id"].astype(str)
    expected = manifest["utt_id"].to_numpy(dtype=str)
    if len(utt_ids) != len(expected) or not np.array_equal(utt_ids, expected):
        archive.close()
        raise ProbeInputError(
            f"{path}: rows ({len(utt_ids)} utterances) are not the utterances of "
            f"{manifest.attrs.get('path', 'the manifest')} ({len(expected)}) in manifest order"
        )
    layer_names = [str(n) for n in archive["layer_names"]]
    if not layer_names or layer_names[-1] != EMBEDDING_TAP:
        archive.close()
        raise ProbeInputError(f"{path}: the last tap must be '{EMBEDDING_TAP}', got {layer_names}")
    meta = json.loads(str(archive["meta_json"]))
    return SplitActivations(path=path, archive=archive, layer_names=layer_names, meta=meta)
