"""The paper's figures: vector PDFs in one style (rateprobe.figures.style), Russian labels,
sized for a 4-page paper.

Every figure is drawn from results/summary.json plus the per-model analysis JSON (t-SNE
coordinates), test predictions and the manifests; none computes a result of its own. One module
per kind of figure: curves along the network (layers), models side by side (comparisons), single
utterances (distributions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rateprobe.conventions import figure_files
from rateprobe.figures.comparisons import model_comparison, verification_figure
from rateprobe.figures.distributions import cps_histogram, prediction_figure, tsne_figure
from rateprobe.figures.layers import cca_figure, interventions_figure, layer_curves
from rateprobe.figures.style import STYLE


def make_figures(
    summary_path: str | Path,
    tsne_paths: Mapping[str, str | Path],
    prediction_paths: Mapping[str, str | Path],
    manifest_paths: Mapping[str, str | Path],
    out_dir: str | Path,
    intervention_paths: Mapping[str, str | Path] | None = None,
) -> None:
    """Draw every figure listed by `figure_files` into `out_dir`."""
    summary = json.loads(Path(summary_path).read_text())
    tsne = {name: json.loads(Path(p).read_text())["tsne"] for name, p in tsne_paths.items()}
    predictions = {}
    for name, p in prediction_paths.items():
        with np.load(p, allow_pickle=False) as archive:
            predictions[name] = {key: archive[key] for key in archive.files}
    manifests = {
        split: pd.read_csv(p, usecols=["utt_id", "cps"], dtype={"utt_id": str})
        for split, p in manifest_paths.items()
    }
    out = Path(out_dir)
    targets = summary["run"]["targets"]
    interventions = {
        name: json.loads(Path(p).read_text()) for name, p in (intervention_paths or {}).items()
    }
    files = {key: out / name for key, name in figure_files(targets, bool(interventions)).items()}
    with plt.style.context(STYLE):
        cps_histogram(manifests, files["cps_histogram"])
        tsne_figure(summary, tsne, manifests["test"]["cps"].to_numpy(float), files["tsne"])
        model_comparison(summary, files["model_comparison"])
        cca_figure(summary, files["cca"])
        verification_figure(summary, files["verification"])
        for target in targets:
            layer_curves(summary, target, files[f"layer_curves_{target}"])
            prediction_figure(summary, predictions, target, files[f"prediction_{target}"])
        if interventions:
            interventions_figure(summary, interventions, files["interventions"])
