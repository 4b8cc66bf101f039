"""Figures of single utterances: how their rate is distributed, where they lie on the t-SNE
maps, and how the best probe's predictions meet their true values."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rateprobe.conventions import SPLIT_NAMES, figure_width_in, label_key, target_axis_label
from rateprobe.figures.style import (
    BASELINE_COLOUR,
    MODEL_COLOUR,
    PANEL_HEIGHT_IN,
    TEXT_WIDTH_IN,
    decimal_comma,
    save,
)


def cps_histogram(manifests: Mapping[str, pd.DataFrame], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(figure_width_in("cps_histogram"), PANEL_HEIGHT_IN))
    values = {split: frame["cps"].to_numpy(dtype=float) for split, frame in manifests.items()}
    every = np.concatenate(list(values.values()))
    bins = np.histogram_bin_edges(every, bins=min(30, max(5, len(every) // 10)))
    for split, cps in values.items():
        ax.hist(
            cps,
            bins=bins.tolist(),
            histtype="step",
            density=True,
            linewidth=1.2,
            label=f"{SPLIT_NAMES.get(split, split)} (n={len(cps)})",
        )
    ax.set_xlabel(target_axis_label("cps"))
    ax.set_ylabel("плотность")
    # Above the axes: inside, the legend covered the bars; one column, as two overflow the
    # narrow panel.
    fig.legend(loc="outside upper center", ncol=1)
    save(fig, path)


def tsne_figure(
    summary: dict[str, Any], maps: Mapping[str, dict[str, Any]], cps: np.ndarray, path: Path
) -> None:
    names = summary["studied_models"]
    width = figure_width_in("tsne")
    columns = min(len(names), 3)
    rows = -(-len(names) // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(width, 0.75 * width), squeeze=False)
    for ax in grid.flat[len(names) :]:
        ax.set_visible(False)
    axes = list(grid.flat[: len(names)])
    scatter = None
    for ax, name in zip(axes, names, strict=False):
        tsne = maps[name]
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if tsne["coords"] is None:
            ax.set_title(f"{name}: нет карты")
            continue
        coords = np.asarray(tsne["coords"], dtype=float)
        scatter = ax.scatter(
            coords[:, 0],
            coords[:, 1],
            c=cps,
            s=4,
            cmap="viridis",
            vmin=cps.min(),
            vmax=cps.max(),
            linewidths=0,
        )
        perplexity = decimal_comma(f"{tsne['perplexity']:.3g}")
        ax.set_title(f"{name}\nперплексия {perplexity}")
    if scatter is not None:
        fig.colorbar(scatter, ax=axes, shrink=0.8, label=target_axis_label("cps"))
    save(fig, path)


def prediction_figure(
    summary: dict[str, Any],
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    target: str,
    path: Path,
) -> None:
    """True vs predicted and the error histogram for the best model's best tap."""
    name = summary["comparisons"][target]["best_model"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(TEXT_WIDTH_IN, PANEL_HEIGHT_IN + 0.4))
    if name is None:
        left.set_title("ни одной численно здоровой подгонки")
        save(fig, path)
        return
    best = summary["models"][name]["layers"][target]["best"]
    runs = predictions[name][f"pred/{target}/{best['probe']}/{best['tap']}"]
    predicted = np.asarray(runs, dtype=float).mean(axis=0)
    true = np.asarray(predictions[name][label_key(target)], dtype=float)
    left.scatter(true, predicted, s=5, alpha=0.6, linewidths=0, color=MODEL_COLOUR)
    edges = [min(true.min(), predicted.min()), max(true.max(), predicted.max())]
    left.plot(edges, edges, color=BASELINE_COLOUR, linestyle=":", label="y = x")
    left.set_xlabel(f"истинный {target_axis_label(target)}")
    left.set_ylabel("предсказанный")
    left.legend(loc="upper left")
    r2 = best["r2"]
    probe = "MLP, среднее по сидам" if best["probe"] == "mlp" else "гребневая регрессия"
    left.set_title(f"{name}, слой {best['tap']} ({probe}); R² = {decimal_comma(f'{r2:.3f}')}")
    errors = predicted - true
    right.hist(errors, bins=min(30, max(5, len(errors) // 5)), color=MODEL_COLOUR, alpha=0.8)
    right.axvline(0.0, color=BASELINE_COLOUR, linestyle=":")
    right.set_xlabel("ошибка (предсказание − истина), симв./с")
    right.set_ylabel("число высказываний")
    save(fig, path)
