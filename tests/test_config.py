"""An invalid configuration stops before any work, with a message that names the key."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from rateprobe.config import ConfigError, exact_alternatives, resolve_config, result_settings
from rateprobe.config_schema import check_config_file, check_schema, coerce_command_line_strings

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    config = copy.deepcopy(DEFAULT)
    edit(config)
    return config


def librispeech_splits(splits: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda c: c["corpus"].update(kind="librispeech", splits=splits)


SCHEMA_ERRORS = {
    "unknown top-level key": (lambda c: c.update(sedd=1), "sedd"),
    "unknown nested key": (lambda c: c["corpus"]["synthetic"].update(utterances=3), "utterances"),
    "wrong type": (lambda c: c.update(vad={"aggressiveness": "high"}), "aggressiveness"),
    "wrong type of a flag": (lambda c: c["corpus"].update(download="yes"), "download"),
    "empty split": (librispeech_splits({"train": [], "dev": ["dev-clean"]}), "train"),
    "out of range": (lambda c: c["corpus"]["synthetic"].update(max_wpm=900), "max_wpm"),
    "path in a model name": (lambda c: c["models"][0].update(name="a/b"), "name"),
    "negative label bound": (lambda c: c.update(labels={"min_cps": -1}), "min_cps"),
    "LaTeX in a model card": (
        lambda c: c["models"][2].update(model_card="https://x/}\\input{y}"),
        "model_card",
    ),
    "wheel source without its hash": (lambda c: c["models"][2]["source"].pop("sha256"), "source"),
}


@pytest.mark.parametrize("case", SCHEMA_ERRORS, ids=list(SCHEMA_ERRORS))
def test_schema_rejects_and_names_the_key(case: str) -> None:
    edit, key = SCHEMA_ERRORS[case]
    config = changed(edit)
    with pytest.raises(WorkflowError, match=key):
        validate(config, str(SCHEMA))
    with pytest.raises(ConfigError, match=rf"config key '[\w.]*{key}'"):
        check_schema(config, SCHEMA)


# numpy's and torch's generators refuse a negative seed only inside a job, after other work.
NEGATIVE_SEEDS = {
    "global": (lambda c: c.update(seed=-1), "seed"),
    "carving": (
        lambda c: c["corpus"].update(
            kind="librispeech", carve_by_speaker={"subsets": ["dev-clean"], "seed": -1}
        ),
        "corpus.carve_by_speaker.seed",
    ),
    "bootstrap": (lambda c: c.update(probes={"bootstrap": {"seed": -1}}), "probes.bootstrap.seed"),
    "MLP": (lambda c: c.update(probes={"mlp": {"seeds": [0, 1, -2]}}), "probes.mlp.seeds.2"),
    "t-SNE": (lambda c: c.update(analysis={"tsne": {"seed": -5}}), "analysis.tsne.seed"),
    "seeds of a random model": (lambda c: c["models"][1].update(seeds=[0, -1]), "models.1.seeds.1"),
    "seed of a random model": (
        lambda c: c["models"][1].pop("seeds") and c["models"][1].update(seed=-3), "models.1.seed"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", NEGATIVE_SEEDS, ids=list(NEGATIVE_SEEDS))
def test_a_negative_seed_is_refused_naming_its_key(case: str) -> None:
    edit, key = NEGATIVE_SEEDS[case]
    with pytest.raises(WorkflowError, match="less than the minimum of 0"):
        validate(changed(edit), str(SCHEMA))
    with pytest.raises(ConfigError, match=rf"config key '{re.escape(key)}': -\d+ is less than"):
        check_schema(changed(edit), SCHEMA)


def test_the_default_config_and_the_sample_config_are_valid() -> None:
    sample = yaml.safe_load((REPO / "config" / "librispeech-sample.yaml").read_text())
    for config in (DEFAULT, changed(lambda c: c["corpus"].update(sample["corpus"]))):
        validate(copy.deepcopy(config), str(SCHEMA))
        check_schema(config, SCHEMA)
        resolved = resolve_config(config)
    assert resolved["corpus"]["carve_by_speaker"]["subsets"] == ["train-clean-100"]
    assert resolved["corpus"]["splits"] is None  # carving wins over the default's split sizes


def test_carving_some_splits_reads_the_others_from_splits() -> None:
    # Over the default's synthetic split sizes, as config/librispeech-laptop.yaml is laid.
    carve = {"subsets": ["dev-clean"], "fractions": {"train": 0.75, "dev": 0.25}}
    config = changed(lambda c: c["corpus"].update(
        kind="librispeech", splits={**c["corpus"]["splits"], "test": ["test-clean"]},
        carve_by_speaker=carve))  # fmt: skip
    check_schema(config, SCHEMA)
    corpus = resolve_config(config)["corpus"]
    assert corpus["carve_by_speaker"]["fractions"] == {"train": 0.75, "dev": 0.25}
    assert corpus["splits"] == {"test": ["test-clean"]}  # the train/dev sizes are not read
    assert corpus["max_utterances_per_speaker"] is None


def test_extraction_threads_are_a_runtime_setting_with_a_default() -> None:
    resolved = resolve_config(changed(lambda c: c.update(activations={"threads": 4})))
    assert resolved["activations"]["threads"] == 4
    assert resolve_config(copy.deepcopy(DEFAULT))["activations"]["threads"] == 1
    assert "threads" not in result_settings(resolved)["activations"]  # reruns nothing
    with pytest.raises(ConfigError, match=r"activations.threads"):
        check_schema(changed(lambda c: c.update(activations={"threads": 0})), SCHEMA)


RESOLVE_ERRORS = {
    "librispeech split missing": (
        librispeech_splits({"train": ["a"], "dev": ["b"]}), "corpus.splits.test"
    ),
    "too few synthetic speakers": (
        lambda c: c["corpus"]["splits"].update(dev=1), "corpus.splits.dev"
    ),
    "fractions not summing to one": (
        lambda c: c["corpus"].update(kind="librispeech", carve_by_speaker={
            "subsets": ["dev-clean"], "fractions": {"train": 0.5, "dev": 0.2, "test": 0.2}}),
        "corpus.carve_by_speaker.fractions",
    ),
    "a split neither carved nor listed": (
        lambda c: c["corpus"].update(kind="librispeech", splits={"train": 36}, carve_by_speaker={
            "subsets": ["dev-clean"], "fractions": {"train": 0.75, "dev": 0.25}}),
        "corpus.splits.test",
    ),
    "a listed split reading the carved pool": (
        lambda c: c["corpus"].update(kind="librispeech", splits={"test": ["dev-clean"]},
            carve_by_speaker={"subsets": ["dev-clean"], "fractions": {"train": 0.7, "dev": 0.3}}),
        "corpus.splits",
    ),
    "carving LibriSpeech without subsets": (
        lambda c: c["corpus"].update(kind="librispeech", carve_by_speaker={"seed": 1}),
        "corpus.carve_by_speaker.subsets",
    ),
    "table corpus without its table": (
        lambda c: c["corpus"].update(kind="table", name="Мой корпус"), "corpus.table"
    ),
    "table corpus without a name": (
        lambda c: c["corpus"].update(kind="table", table="utterances.csv"), "corpus.name"
    ),
    "empty rate range": (
        lambda c: c["corpus"]["synthetic"].update(min_wpm=200, max_wpm=150),
        "corpus.synthetic.min_wpm",
    ),
    # Labels are the whole utterance's rate: cropped audio would not be what they describe.
    "audio crop": (lambda c: c.update(activations={"max_seconds": 2.0}), "activations.max_seconds"),
    "seeds on a pretrained model": (
        lambda c: c["models"][0].update(seeds=[0, 1]), r"models\[0\] \(resemblyzer\).seeds"
    ),
    "model named .": (lambda c: c["models"][0].update(name="."), r"models\[0\] \(\.\)\.name"),
    "model named ..": (
        lambda c: c["models"][0].update(name=".."), r"models\[0\] \(\.\.\)\.name"
    ),
    "label bounds reversed": (
        lambda c: c.update(labels={"min_cps": 50, "max_cps": 40}), "labels.min_cps"
    ),
    "empty duration range": (
        lambda c: c.update(labels={"min_duration_s": 60}), "labels.min_duration_s"
    ),
    "control naming nothing": (
        lambda c: c["models"][0].update(control="nobody"), r"models\[0\] \(resemblyzer\).control"
    ),
    "wheel model without arch": (
        lambda c: c["models"][2].pop("arch"), r"models\[4\] \(campplus\).arch"
    ),
    "model_args the arch does not take": (
        lambda c: c["models"][2].update(model_args={"in_planes": 32}),
        r"models\[4\] \(campplus\).model_args",
    ),
    "fbank frontend for GE2E": (
        lambda c: c["models"][0].update(frontend="wespeaker_fbank"),
        r"models\[0\] \(resemblyzer\).frontend",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", RESOLVE_ERRORS, ids=list(RESOLVE_ERRORS))
def test_resolve_config_names_the_key(case: str) -> None:
    edit, key = RESOLVE_ERRORS[case]
    config = changed(edit)
    check_schema(config, SCHEMA)  # schema-valid: only the kind-specific checks catch it
    with pytest.raises(ConfigError, match=rf"config key '{key}'"):
        resolve_config(config)


def test_a_table_corpus_ignores_the_default_splits_and_carves_with_the_defaults() -> None:
    config = changed(lambda c: c.update(seed=7))
    config["corpus"].update(kind="table", table="my/utterances.tsv", name="RuReads")
    check_schema(config, SCHEMA)
    corpus = resolve_config(config)["corpus"]
    assert corpus["splits"] is None  # config.yaml's synthetic speaker counts do not apply
    assert corpus["carve_by_speaker"] == {
        "fractions": {"train": 0.6, "dev": 0.2, "test": 0.2},
        "seed": 7,
    }


TARGET_TYPOS = {
    "probes.targets": (
        lambda c: c.update(probes={"targets": ["cps", "cpss"]}),
        "unknown manifest column(s) 'cpss'; valid: n_chars, duration_s, cps, voiced_duration_s, "
        "articulation_rate",
    ),
    "analysis.classification.targets": (
        lambda c: c.update(analysis={"classification": {"targets": ["sex", "gender"]}}),
        "unknown classification target(s) 'gender'; valid: sex, cps_tercile",
    ),
}


@pytest.mark.parametrize("key", TARGET_TYPOS)
def test_a_target_typo_stops_at_config_resolution_listing_the_valid_ones(key: str) -> None:
    edit, problem = TARGET_TYPOS[key]
    config = changed(edit)
    check_schema(config, SCHEMA)
    with pytest.raises(ConfigError, match=re.escape(f"config key '{key}': {problem}")):
        resolve_config(config)


def test_a_seeded_random_model_becomes_a_band_of_controls() -> None:
    resolved = resolve_config(DEFAULT)
    names = [m["name"] for m in resolved["models"]]
    controls = [f"resemblyzer_random_s{seed}" for seed in (0, 1, 2)]
    campplus_controls = [f"campplus_random_s{seed}" for seed in (0, 1, 2)]
    assert names == ["resemblyzer", *controls, "campplus", *campplus_controls]
    by_name = {m["name"]: m for m in resolved["models"]}
    assert by_name["resemblyzer"]["controls"] == controls
    assert by_name["campplus"]["controls"] == campplus_controls
    assert [by_name[t]["seed"] for t in controls] == [0, 1, 2]
    assert all("seeds" not in m for m in resolved["models"])
    # A seeded entry passes its other settings to every control it becomes.
    assert {by_name[t]["frontend"] for t in campplus_controls} == {"threed_speaker_fbank"}
    assert by_name["campplus_random_s2"]["controls"] == []


def test_the_demo_can_decide_comparisons() -> None:
    resolved = resolve_config(DEFAULT)
    assert resolved["corpus"]["splits"]["test"] >= resolved["probes"]["min_test_speakers"]
    assert resolved["corpus"]["synthetic"]["utterances_per_speaker"] >= 2


def test_snakemake_stops_before_any_work(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(SNAKEMAKE), "-n", "--cores", "1", "results/manifests/test.csv",
         "--config", "on_bad_input=sometimes", "corpus_kind=synthetic"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "config key 'on_bad_input'" in output and "config key 'corpus_kind'" in output
    assert "Building DAG" not in output and "Job stats" not in output


def test_a_slash_in_a_model_name_is_refused_without_the_schema_too() -> None:
    with pytest.raises(ConfigError, match=r"models\[0\] \(a/b\)\.name"):
        resolve_config(changed(lambda c: c["models"][0].update(name="a/b")))


def test_model_names_are_literal_in_wildcard_constraints(tmp_path: Path) -> None:
    assert re.fullmatch(exact_alternatives(["a.b", "c+"]), "a.b")
    assert not re.fullmatch(exact_alternatives(["a.b", "c+"]), "aXb")
    assert not re.fullmatch(exact_alternatives(["a.b", "c+"]), "ccc")
    models = tmp_path / "models.yaml"
    models.write_text("models: [{name: a.b, source: random, arch: resemblyzer}]\n")

    def dry_run(target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SNAKEMAKE), "-n", "--cores", "1", target, "--configfile", str(models)],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    assert dry_run("results/activations/a.b/test.npz").returncode == 0
    wrong = dry_run("results/activations/aXb/test.npz")
    assert wrong.returncode != 0 and "MissingRuleException" in wrong.stdout + wrong.stderr


def test_values_nested_in_command_line_config_get_the_schema_types() -> None:
    # What Snakemake 9 hands over for --config 'probes={"threads": 2, ...}' 'vad={...}'
    given = {
        "seed": 3,
        "probes": {"threads": "2", "mlp": {"seeds": ["0", "1", "2"], "lr": "1e-3"}},
        "vad": {"frame_ms": "20"},
        "activations": {"simam_taps": "true", "max_seconds": "null"},
        "paper": {"title": "2024", "neurips_sty": "null"},
        "extra_models": [{"name": "x", "source": "random", "arch": "resemblyzer", "seed": "1"}],
        "corpus": {"splits": {"test": "30"}},
    }
    schema = yaml.safe_load(SCHEMA.read_text())
    coerced = coerce_command_line_strings(given, schema)
    assert coerced["probes"] == {"threads": 2, "mlp": {"seeds": [0, 1, 2], "lr": 0.001}}
    assert coerced["vad"]["frame_ms"] == 20
    assert coerced["activations"] == {"simam_taps": True, "max_seconds": None}
    assert coerced["paper"] == {"title": "2024", "neurips_sty": None}  # a title stays text
    assert coerced["extra_models"][0]["seed"] == 1 and coerced["extra_models"][0]["name"] == "x"
    assert coerced["corpus"]["splits"]["test"] == 30  # oneOf: integer or list of names
    wrong = coerce_command_line_strings({"probes": {"threads": "many"}}, schema)
    assert wrong["probes"]["threads"] == "many"  # left for the schema to reject


@pytest.mark.parametrize("word", ["no", "off", "yes", "on", "No"])
def test_yes_no_on_off_given_as_text_are_not_taken_for_a_flag(word: str) -> None:
    # A quoted "no" in a file, or any value nested in --config, reaches the coercion as text.
    schema = yaml.safe_load(SCHEMA.read_text())
    config = changed(lambda c: c["corpus"].update(download=word))
    coerced = coerce_command_line_strings(config, schema)
    assert coerced["corpus"]["download"] == word
    with pytest.raises(ConfigError, match=rf"config key 'corpus.download': '{word}' is not of"):
        check_schema(coerced, SCHEMA)


DUPLICATED_SECTION = """\
corpus:
  kind: librispeech
  root: /data/librispeech
  splits: {train: [train-clean-100], dev: [dev-clean], test: [test-clean]}
seed: 1
corpus: {download: false}
"""


def test_a_key_given_twice_in_a_config_file_is_refused_naming_both_lines(tmp_path: Path) -> None:
    config_file = tmp_path / "twice.yaml"
    config_file.write_text(DUPLICATED_SECTION)
    message = f"{config_file}: key 'corpus' is given twice, on lines 1 and 6"
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config_file(config_file)
    config_file.write_text("probes:\n  threads: 1\n  bootstrap: {n: 10, n: 20}\n")
    with pytest.raises(
        ConfigError, match=re.escape(f"{config_file}: key 'n' is given twice, on lines 3 and 3")
    ):
        check_config_file(config_file)
    # a merge key (<<) is YAML's own way to repeat keys on purpose
    config_file.write_text("a: &base {x: 1}\nb: {<<: *base, x: 2}\n")
    check_config_file(config_file)


def test_snakemake_refuses_a_config_file_with_a_key_given_twice(tmp_path: Path) -> None:
    config_file = tmp_path / "twice.yaml"
    config_file.write_text(DUPLICATED_SECTION)
    run = subprocess.run(
        [str(SNAKEMAKE), "-n", "--cores", "1", "--configfile", str(config_file)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"{config_file}: key 'corpus' is given twice, on lines 1 and 6" in output
    assert "Building DAG" not in output


def test_extra_models_extend_the_models_list() -> None:
    added = yaml.safe_load((REPO / "config" / "add-samresnet100.yaml").read_text())
    config = changed(lambda c: c.update(added))
    check_schema(config, SCHEMA)
    resolved = resolve_config(config)
    names = [m["name"] for m in resolved["models"]]
    assert names[:-1] == [m["name"] for m in resolve_config(DEFAULT)["models"]]
    assert names[-1] == "samresnet100_random" and "extra_models" not in resolved


def test_snakemake_takes_nested_command_line_config_and_an_added_model() -> None:
    added = REPO / "config" / "add-samresnet100.yaml"
    run = subprocess.run(
        [str(SNAKEMAKE), "-n", "--cores", "1", "all_activations", "--configfile", str(added),
         "--config", 'probes={"threads": 2}', 'vad={"frame_ms": 20}'],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "results/activations/samresnet100_random/test.npz" in output
    assert "results/activations/resemblyzer/test.npz" in output
