"""Figures that set the models side by side: R² at the best tap and at the embedding, and the
speaker-verification EER."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from rateprobe.conventions import figure_width_in, target_axis_label
from rateprobe.figures.style import (
    BASELINE_COLOUR,
    CONTROL_COLOUR,
    MLP_COLOUR,
    MODEL_COLOUR,
    legend_below,
    panels,
    save,
)


def model_comparison(summary: dict[str, Any], path: Path) -> None:
    targets = summary["run"]["targets"]
    names = list(summary["models"])
    # One row of panels, one per target, the model names once on the left.
    fig, axes = panels(len(targets), 3, height=0.3 * len(names) + 0.9, sharey=True)
    y = np.arange(len(names))
    for ax, target in zip(axes, targets, strict=False):
        for offset, (key, label, colour) in enumerate(
            [("best", "лучший слой", MODEL_COLOUR), ("deepest", "эмбеддинг", MLP_COLOUR)]
        ):
            entries = [summary["models"][n]["layers"][target][key] or {} for n in names]
            values = np.array([e.get("r2") if e.get("r2") is not None else np.nan for e in entries])
            cis = np.array([e.get("r2_ci") or [np.nan, np.nan] for e in entries], dtype=float)
            errors = np.abs(np.stack([values - cis[:, 0], cis[:, 1] - values]))
            ax.barh(
                y + (offset - 0.5) * 0.38,
                values,
                height=0.36,
                xerr=errors,
                color=colour,
                label=label,
                error_kw={"linewidth": 0.8},
            )
        baseline = summary["baselines"][target]["mean"]["r2"]
        if baseline is not None:
            ax.axvline(baseline, color=BASELINE_COLOUR, linestyle=":", label="среднее")
        ax.set_yticks(y, names)
        ax.set_title(target_axis_label(target))
        ax.set_xlabel("R² на тесте")
    axes[0].invert_yaxis()
    legend_below(fig, axes)
    save(fig, path)


def verification_figure(summary: dict[str, Any], path: Path) -> None:
    names = list(summary["models"])
    fig, ax = plt.subplots(figsize=(figure_width_in("verification"), 0.22 * len(names) + 0.9))
    y = np.arange(len(names))
    eer = np.array(
        [
            summary["models"][n]["eer"] if summary["models"][n]["eer"] is not None else np.nan
            for n in names
        ],
        dtype=float,
    )
    cis = np.array(
        [summary["models"][n].get("eer_ci") or [np.nan, np.nan] for n in names], dtype=float
    )
    errors = np.abs(np.stack([eer - cis[:, 0], cis[:, 1] - eer]))
    colours = [
        MODEL_COLOUR if summary["models"][n]["pretrained"] else CONTROL_COLOUR for n in names
    ]
    ax.barh(y, 100 * eer, xerr=100 * errors, color=colours, error_kw={"linewidth": 0.8})
    ax.axvline(50, color=BASELINE_COLOUR, linestyle=":", label="случайное угадывание")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("EER верификации дикторов, %")
    ax.set_xlim(0, 100)
    legend_below(fig, [ax])  # inside the axes, the label sat on the bars
    save(fig, path)
