"""Extraction jobs sized from the data: requests from the RTF table; the full study's dry run."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from study_workspace import REPO, SNAKEMAKE, copy_repository, workspace_env

from rateprobe.config import DEFAULTS, merge_config, resolve_config
from rateprobe.conventions import ARCH_MODEL_ARGS
from rateprobe.corpus.download import completion_marker
from rateprobe.sharding import (
    RTF_TABLE,
    ExtractionSpeed,
    extraction_speed,
    job_request,
    model_arch,
    plan_shards,
    read_speed_table,
    sizing_precision,
    write_speed_table,
)

# LibriSpeech subsets of the full study: utterances and hours (as published with the corpus).
FULL_STUDY_SPLITS = {"train": (28539, 100.6), "dev": (2703, 5.4), "test": (2620, 5.4)}
JOB = re.compile(
    r"^rule (\w+):\n(?:    .*\n)*?    wildcards: (.*)\n(?:    .*\n)*?    resources: (.*)\n", re.M
)


def speed(arch: str = "samresnet34", rtf: float = 0.2, peak: float = 1500.0) -> ExtractionSpeed:
    return ExtractionSpeed(arch, "cpu", "float32", 2, 8.0, rtf, peak, "measured", "m, x", "c")


def test_job_request_follows_the_audio_and_refuses_too_long_jobs() -> None:
    short, long = job_request(speed(), 600, 720), job_request(speed(), 6000, 720)
    assert short.runtime_minutes < long.runtime_minutes
    # twice the expected 20 min (6000 s x 0.2), plus start-up
    assert long.runtime_minutes == 45
    assert short.mem_mb == long.mem_mb >= 1500
    with pytest.raises(ValueError, match=r"max_job_minutes.*shard_seconds"):
        job_request(speed(), 6000, 30)


def test_speed_table_round_trip_and_lookup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [speed(), speed("samresnet100", 0.5), speed("resemblyzer", 0.01)]
    table = tmp_path / "rtf.csv"
    write_speed_table(table, rows)
    assert sorted(read_speed_table(table), key=lambda r: r.arch) == sorted(
        rows, key=lambda r: r.arch
    )
    assert extraction_speed(rows, "samresnet100", "cpu", "bfloat16").rtf == 0.5  # float32 row
    assert extraction_speed(rows, None, "cpu", "float32").arch == "samresnet100"  # slowest
    # No cuda row: sized as the slowest measured row, labelled an estimate, with a warning
    # that names the command that measures it; planning goes on.
    estimate = extraction_speed(rows, "samresnet34", "cuda", "float16")
    assert (estimate.arch, estimate.device, estimate.rtf) == ("samresnet34", "cuda", 0.2)
    assert estimate.basis.startswith("ESTIMATE") and "--device cuda" in estimate.command
    assert "--archs samresnet34" in capsys.readouterr().err
    assert extraction_speed(rows, "ecapa_c512", "cpu", "float32").rtf == 0.5
    assert sizing_precision("auto", "cpu") == "float32"
    assert sizing_precision("auto", "cuda") == "float16"


def test_the_committed_table_covers_every_architecture_on_the_cpu() -> None:
    rows = read_speed_table(REPO / RTF_TABLE)
    for arch in ARCH_MODEL_ARGS:  # every architecture a config may name
        row = extraction_speed(rows, arch, "cpu", "float32")
        assert row.arch == arch and row.basis.startswith("measured") and row.rtf > 0


def fake_full_study(workdir: Path, config: dict) -> dict[str, list[float]]:
    """Completion markers and manifests of the full study's splits, and the intervention
    variants' manifest, as if built (durations drawn to the subsets' sizes); returns them."""
    rng = np.random.default_rng(0)
    corpus = config["corpus"]
    for subsets in corpus["splits"].values():
        for subset in subsets:
            marker = workdir / completion_marker(corpus["root"], subset)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("{}")
    durations = {}
    for split, (count, hours) in FULL_STUDY_SPLITS.items():
        drawn = rng.uniform(2.0, 23.0, size=count)
        durations[split] = list(drawn * hours * 3600 / drawn.sum())
    factors = config["interventions"]["rate_factors"]
    durations["interventions"] = [d / f for f in factors for d in durations["test"]] + [
        d + 2 * config["interventions"]["pad_seconds"] for d in durations["test"]
    ]
    paths = {split: f"results/manifests/{split}.csv" for split in FULL_STUDY_SPLITS}
    paths["interventions"] = "results/interventions/manifest.csv"
    for split, path in paths.items():
        rows = pd.DataFrame(
            {
                "utt_id": [f"{split}-{i}" for i in range(len(durations[split]))],
                "path": "missing.flac",
                "duration_s": durations[split],
            }
        )
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        rows.to_csv(workdir / path, index=False)
        if split in FULL_STUDY_SPLITS:
            (workdir / path.replace(".csv", ".bad.json")).write_text(json.dumps({}))
    (workdir / "data" / "interventions").mkdir(parents=True)
    return durations


FULL_STUDY = REPO / "config" / "librispeech.yaml"


def full_study_config() -> dict:
    """config.yaml with config/librispeech.yaml merged over it, resolved."""
    return resolve_config(
        merge_config(
            yaml.safe_load((REPO / "config.yaml").read_text()),
            yaml.safe_load(FULL_STUDY.read_text()),
        )
    )


@pytest.mark.slow
def test_full_study_dry_run_asks_hours_per_shard(tmp_path: Path) -> None:
    config = full_study_config()
    workdir = copy_repository(tmp_path / "repository")
    durations = fake_full_study(workdir, config)
    models = [m["name"] for m in config["models"]]
    audio_sets = [*FULL_STUDY_SPLITS, "interventions"]
    targets = [f"results/activations/{m}/{a}.npz" for m in models for a in audio_sets]
    done = subprocess.run(
        [str(SNAKEMAKE), "-n", *targets, "--configfile", str(FULL_STUDY)],
        cwd=workdir, env=workspace_env(workdir), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    settings = {**DEFAULTS["activations"], **config["activations"]}
    shards = {
        split: len(plan_shards(d, settings["batch_seconds"], settings["shard_seconds"]))
        for split, d in durations.items()
    }
    jobs = JOB.findall(done.stdout)
    # One extraction job per shard of each audio set, the rate variants' as the splits'.
    per_audio = Counter(
        re.search(r"audio=([^,]+)", wildcards).group(1)
        for rule, wildcards, _ in jobs
        if rule == "extract_activations"
    )
    assert per_audio == {audio: len(models) * shards[audio] for audio in audio_sets}
    table = read_speed_table(REPO / RTF_TABLE)
    runtimes = []
    for rule, wildcards, resources in jobs:
        if not rule.startswith("extract_"):
            continue
        runtime = int(dict(re.findall(r"(\w+)=([^,]+)", resources))["runtime"])
        model = dict(re.findall(r"(\w+)=([^,]+)", wildcards))["model"]
        rtf = extraction_speed(
            table, model_arch(next(m for m in config["models"] if m["name"] == model)), "cpu",
            "float32",
        ).rtf  # fmt: skip
        # Hours, not days: each job asks at most the configured maximum, and what its shard
        # of about shard_seconds of audio takes at the table's speed, with the margin.
        assert runtime <= settings["max_job_minutes"]
        assert runtime >= settings["shard_seconds"] * rtf / 60 * 0.5
        runtimes.append(runtime)
    assert max(runtimes) > 30


def test_snakemake_refuses_shards_too_long_for_a_job() -> None:
    run = subprocess.run(
        [str(SNAKEMAKE), "-n", "--cores", "1", "results/manifests/test.csv",
         "--config", "activations={shard_seconds: 2000000, max_job_minutes: 600}"],
        cwd=REPO, env=workspace_env(REPO), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "activations.max_job_minutes" in output and "shard_seconds" in output
    assert "Job stats" not in output


@pytest.mark.parametrize(
    ("name", "source", "arch"),
    [
        ("voxblink2_samresnet34", "https://x/?version=voxblink2_samresnet34.zip", "samresnet34"),
        ("m", "https://x/?version=voxblink2_samresnet100_ft.zip", "samresnet100"),
        ("m", "https://x/?version=voxceleb_resnet34_LM.zip", "resnet34"),
        ("m", "/models/voxceleb_ECAPA1024", "ecapa_c1024"),
        ("m", "/models/voxceleb_ECAPA512_LM.zip", "ecapa_c512"),
        ("voxceleb_campplus", "/models/voxceleb_CAM++.zip", "campplus"),
        ("mine", "/models/model.zip", None),
    ],
)
def test_an_unread_checkpoint_is_sized_by_the_architecture_its_name_says(
    name: str, source: str, arch: str | None
) -> None:
    assert model_arch({"name": name, "source": source}) == arch


def test_extraction_jobs_take_the_configured_threads(tmp_path: Path) -> None:
    # --cores 8 with 4 threads each: two extraction jobs side by side, not one taking all 8.
    config = full_study_config()
    workdir = copy_repository(tmp_path / "repository")
    fake_full_study(workdir, config)
    targets = [
        "results/activations/samresnet34_random_s0/test.npz",
        "results/activations/samresnet34_random_s0/interventions.npz",
    ]
    done = subprocess.run(
        [str(SNAKEMAKE), "-n", "--cores", "8", *targets, "--configfile", str(FULL_STUDY),
         "--config", 'activations={"threads": 4}'],
        cwd=workdir, env=workspace_env(workdir), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    threads = re.findall(
        r"^rule extract_activations:\n(?:    .*\n)*?    wildcards: .*audio=(\w+).*\n"
        r"(?:    .*\n)*?    threads: (\d+)",
        done.stdout,
        re.M,
    )
    assert {audio for audio, _ in threads} == {"test", "interventions"}
    assert {count for _, count in threads} == {"4"}
