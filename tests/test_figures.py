"""Figures: every listed PDF is drawn, vector, with Russian labels; layer axes stay readable."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from fake_study import run_fake_study
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from paper_support import REPO

import rateprobe.figures.distributions
import rateprobe.figures.layers
from rateprobe.conventions import (
    ANALYSES,
    FIGURE_RULE,
    FIGURE_SCRIPT,
    figure_files,
    figure_width_in,
)
from rateprobe.figures import make_figures
from rateprobe.figures.style import save, stage_ticks
from rateprobe.results.summarize import write_summary


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
    assert "случайные копии" in text
    assert "предсказание средним" in text  # the mean-predictor baseline is drawn


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_tick_labels_carry_the_decimal_comma(tmp_path: Path) -> None:
    fig, (plain, mathtext) = plt.subplots(1, 2)
    plain.plot([0.0, 1.0], [0.0, 0.5])
    mathtext.plot([0.0, 1.0], [0.0, 2e-5])  # an offset/scale label in mathtext
    save(fig, tmp_path / "ticks.pdf")
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "ticks.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    numbers = re.findall(r"\d+[.,]\d+", text)
    assert "0,5" in numbers and not [n for n in numbers if "." in n]


def test_no_two_legend_entries_share_a_style(
    figures: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out, _ = figures
    drawn: list = []
    monkeypatch.setattr(rateprobe.figures.layers, "save", lambda fig, path: drawn.append(fig))
    summary = json.loads((out.parent / "summary.json").read_text())
    rateprobe.figures.layers.layer_curves(summary, "cps", tmp_path / "layers.pdf")
    (legend,) = drawn[0].legends
    styles = [
        (to_hex(h.get_color()), h.get_linestyle(), h.get_marker())
        if isinstance(h, Line2D)
        else (to_hex(h.get_facecolor()), "filled", "")
        for h in legend.legend_handles
    ]
    assert len(styles) == len(set(styles)) >= 4


def test_the_histogram_legend_fits_its_narrow_figure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    drawn: list = []
    monkeypatch.setattr(
        rateprobe.figures.distributions, "save", lambda fig, path: drawn.append(fig)
    )
    manifests = {
        split: pd.DataFrame({"cps": np.linspace(8.0, 20.0, n)})
        for split, n in (("train", 1440), ("dev", 480), ("test", 960))
    }
    rateprobe.figures.distributions.cps_histogram(manifests, tmp_path / "hist.pdf")
    fig = drawn[0]
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    box, frame = legend.get_window_extent(renderer), fig.bbox
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (box, frame)


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="needs poppler's pdfinfo")
def test_each_figure_is_drawn_at_the_width_the_paper_prints_it(figures: tuple[Path, dict]) -> None:
    out, study = figures
    for key, name in figure_files(study["cfg"]["probes"]["targets"]).items():
        info = subprocess.run(
            ["pdfinfo", str(out / name)], capture_output=True, text=True, check=True
        ).stdout
        width_pt = float(re.search(r"Page size:\s+([\d.]+) x", info).group(1))  # type: ignore[union-attr]
        assert width_pt == pytest.approx(72 * figure_width_in(key), abs=0.5), key


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="needs poppler's pdffonts")
def test_figures_use_one_times_face_embedded_as_truetype(figures: tuple[Path, dict]) -> None:
    out, _ = figures
    for pdf in out.glob("*.pdf"):
        fonts = subprocess.run(
            ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
        ).stdout.splitlines()[2:]
        assert fonts and all(" CID TrueType " in line for line in fonts), pdf.name
        assert {line.split()[0].split("+")[-1].split("-")[0] for line in fonts} <= {
            "STIXGeneral"
        }, pdf.name


def test_captions_name_the_rule_and_script_that_draw_the_figures() -> None:
    rules = (REPO / "rules" / "figures.smk").read_text(encoding="utf-8")
    rule = re.search(rf"^rule {FIGURE_RULE}:\n(.*?)(?=^\S|\Z)", rules, re.M | re.S)
    assert rule is not None
    assert f'script:\n        "../{FIGURE_SCRIPT}"' in rule.group(1)
    assert (REPO / FIGURE_SCRIPT).is_file()
