"""The names the rules and the scripts share (rateprobe.conventions)."""

from __future__ import annotations

from rateprobe.conventions import input_name, keyed_inputs


def test_a_script_takes_each_keyed_input_by_its_key() -> None:
    inputs = {
        input_name("manifests", "train"): "train.csv",
        input_name("manifests", "test"): "test.csv",
        input_name("table", "ecapa.v2"): "ecapa.v2.csv",
        input_name("tables", "other"): "other.csv",
        "summary": "summary.json",
    }
    assert keyed_inputs(inputs, "manifests") == {"train": "train.csv", "test": "test.csv"}
    # A role whose name begins another's takes only its own inputs.
    assert keyed_inputs(inputs, "table") == {"ecapa.v2": "ecapa.v2.csv"}
    assert keyed_inputs(inputs, "manifests") == {}
    assert inputs == {input_name("tables", "other"): "other.csv", "summary": "summary.json"}
