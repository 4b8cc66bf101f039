"""Figures: every listed PDF is drawn, vector, with Russian labels; layer axes stay readable."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fake_study import run_fake_study

from rateprobe.conventions import ANALYSES, figure_files
from rateprobe.figures import make_figures, stage_ticks
from rateprobe.summary import write_summary


def resnet100_taps() -> list[str]:
    blocks = {"layer1": 6, "layer2": 16, "layer3": 24, "layer4": 3}
    inner = [f"{stage}.{i}" for stage, n in blocks.items() for i in range(n)]
    return ["stem", *inner, "pool", "embedding"]


def test_stage_ticks_label_only_stage_boundaries() -> None:
    positions, labels = stage_ticks(resnet100_taps())
    assert labels == ["stem", "layer1", "layer2", "layer3", "layer4", "pool", "embedding"]
    assert positions == [0, 1, 7, 23, 47, 50, 51]
    assert stage_ticks(["lstm1", "lstm2", "lstm3", "embedding"])[1] == [
        "lstm1",
        "lstm2",
        "lstm3",
        "embedding",
    ]


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("study")
    study = run_fake_study(root)
    write_summary(
        study["cfg"],
        study["manifests"],
        study["bad_reports"],
        study["models"],
        root / "summary.json",
    )
    make_figures(
        root / "summary.json",
        {
            name: paths["analyses"][ANALYSES.index("tsne")]
            for name, paths in study["models"].items()
        },
        {name: paths["predictions"] for name, paths in study["models"].items()},
        study["manifests"],
        root / "figures",
    )
    return root / "figures", study


def test_every_listed_figure_is_a_pdf(figures: tuple[Path, dict]) -> None:
    out, study = figures
    files = figure_files(study["cfg"]["probes"]["targets"])
    assert sorted(p.name for p in out.iterdir()) == sorted(files.values())
    for name in files.values():
        assert (out / name).read_bytes().startswith(b"%PDF")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_figures_are_vector_with_russian_text(figures: tuple[Path, dict]) -> None:
    out, _ = figures
    text = subprocess.run(
        ["pdftotext", str(out / "layer_curves_cps.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "R² на тесте" in text
    assert "случайные двойники" in text
    assert "предсказание средним" in text  # the mean-predictor baseline is drawn
