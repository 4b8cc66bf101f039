"""Splits must share no speaker: the probes refuse to run, and the summary to claim, if they do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fake_study import fake_activations, fake_manifests, probe_into, small_config

from rateprobe.inputs import SplitLeakError, assert_speaker_disjoint, read_manifest


def frames(**speakers: list[str]) -> dict[str, pd.DataFrame]:
    return {
        split: pd.DataFrame(
            {"utt_id": [f"{s}-1-{i}" for i, s in enumerate(ids)], "speaker_id": ids}
        )
        for split, ids in speakers.items()
    }


def test_disjoint_splits_pass() -> None:
    assert_speaker_disjoint(frames(train=["1", "2"], dev=["3"], test=["4", "5"]))


@pytest.mark.parametrize(
    ("speakers", "pair", "shared"),
    [
        ({"train": ["1", "2"], "dev": ["3"], "test": ["2"]}, ("train", "test"), "2"),
        ({"train": ["1"], "dev": ["7", "8"], "test": ["8"]}, ("dev", "test"), "8"),
        ({"train": ["1", "9"], "dev": ["9"], "test": ["4"]}, ("train", "dev"), "9"),
    ],
)
def test_shared_speaker_is_named(
    speakers: dict[str, list[str]], pair: tuple[str, str], shared: str
) -> None:
    with pytest.raises(SplitLeakError) as error:
        assert_speaker_disjoint(frames(**speakers))
    message = str(error.value)
    assert f"'{pair[0]}' and '{pair[1]}'" in message
    assert f"1 speaker(s): {shared}" in message


def test_speaker_ids_compare_as_strings(tmp_path: Path) -> None:
    # '0019' and '19' are different speakers; 19 read as a number must still equal '19'.
    path = tmp_path / "m.csv"
    pd.DataFrame({"utt_id": ["19-1-0"], "speaker_id": ["19"]}).to_csv(path, index=False)
    train = read_manifest(path)
    other = pd.DataFrame({"utt_id": ["x"], "speaker_id": ["19"]})
    with pytest.raises(SplitLeakError):
        assert_speaker_disjoint({"train": train, "test": other})


def test_probe_model_refuses_leaking_splits(tmp_path: Path) -> None:
    manifests = fake_manifests(tmp_path)
    activations = fake_activations(tmp_path, "m", manifests)
    test = pd.read_csv(manifests["test"], dtype=str)
    train_speaker = pd.read_csv(manifests["train"], dtype=str)["speaker_id"].iloc[0]
    test.loc[0, "speaker_id"] = train_speaker
    test.to_csv(manifests["test"], index=False)
    out = tmp_path / "out"
    with pytest.raises(
        SplitLeakError, match=f"'train' and 'test' share 1 speaker.*{train_speaker}"
    ):
        probe_into(out, "m", activations, manifests, small_config())
    assert not out.exists()
