"""Figures of curves along the network, one point per tap: what the probes read (R² and its
differences), the canonical correlations, and the slopes under rate interventions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from rateprobe.figures.style import (
    BASELINE_COLOUR,
    CONTROL_COLOUR,
    MLP_COLOUR,
    MODEL_COLOUR,
    PANEL_HEIGHT_IN,
    TEXT_WIDTH_IN,
    curve,
    layer_axis,
    legend_below,
    panels,
    save,
)

# Two rows of panels per studied model (R² by tap, and the differences under it) with the
# rotated stage names and the legend: the body's one figure, kept short for the 4-page budget.
LAYER_CURVES_ROW_HEIGHT_IN = 2.2
# The lower panels' differences: styles of their own, apart from the upper panels' probes.
VERSUS_CONTROLS_STYLE = {"color": "tab:green", "linestyle": "-", "marker": "s"}
BEYOND_DURATION_STYLE = {"color": "tab:purple", "linestyle": "-."}
INTERVENTION_LABELS = {
    "rate": "темп синтеза",
    "pause": "паузы",
    "stretch": "растяжение",
    "pad": "тишина по краям",
}


def _chosen_r2(entry: dict[str, Any]) -> float:
    """Test R² of a tap's dev-chosen probe (NaN when its fits failed)."""
    probe = entry["best_probe"]
    value = entry[probe]["r2"] if probe is not None else None
    return np.nan if value is None else float(value)


def _control_band(summary: dict[str, Any], name: str, target: str, n_taps: int) -> np.ndarray:
    """(2, n_taps): lowest and highest R² of the model's controls at each tap."""
    curves = [
        [_chosen_r2(e) for e in summary["models"][c]["layers"][target]["per_tap"]]
        for c in summary["models"][name]["controls"]
    ]
    if not curves:
        return np.full((2, n_taps), np.nan)
    stacked = np.array(curves, dtype=float)
    return np.stack([np.nanmin(stacked, axis=0), np.nanmax(stacked, axis=0)])


def _r2_panel(ax: Any, summary: dict[str, Any], name: str, target: str) -> list[float]:
    """One model's test R² by tap (ridge, MLP, the band of its random controls, the mean
    predictor); returns the R² values drawn, which set the panels' shared lower limit."""
    model = summary["models"][name]
    per_tap = model["layers"][target]["per_tap"]
    x = np.arange(len(per_tap))
    curve(
        ax, x, [e["ridge"] for e in per_tap], "r2", color=MODEL_COLOUR, label="гребневая регрессия"
    )
    curve(ax, x, [e["mlp"] for e in per_tap], "r2", color=MLP_COLOUR, linestyle="--", label="MLP")
    band = _control_band(summary, name, target, len(per_tap))
    if np.isfinite(band).any():
        ax.fill_between(
            x,
            band[0],
            band[1],
            color=CONTROL_COLOUR,
            alpha=0.35,
            linewidth=0,
            label="случайные копии (разброс)",
        )
    baseline = summary["baselines"][target]["mean"]["r2"]
    if baseline is not None:
        ax.axhline(baseline, color=BASELINE_COLOUR, linestyle=":", label="предсказание средним")
    layer_axis(ax, model["taps"], with_label=False)
    ax.tick_params(labelbottom=False)
    ax.set_ylabel("R² на тесте")
    ax.set_title(name)
    drawn = [e[p]["r2"] for e in per_tap for p in ("ridge", "mlp") if e[p]["r2"] is not None]
    return drawn + [float(v) for v in band[0] if np.isfinite(v)]


def _difference_panel(ax: Any, model: dict[str, Any], target: str) -> None:
    """One model's paired differences by tap: from its controls' mean, and beyond duration."""
    per_tap = model["layers"][target]["per_tap"]
    x = np.arange(len(per_tap))
    if model["controls"]:
        differences = [e["minus_controls"] or {} for e in per_tap]
        curve(ax, x, differences, "delta_r2", label="ΔR² к случайным копиям",
              **VERSUS_CONTROLS_STYLE)  # fmt: skip
    beyond = [e.get("conditional") or {} for e in per_tap]
    curve(ax, x, beyond, "delta_r2_over_duration", label="ΔR² сверх длительности",
          **BEYOND_DURATION_STYLE)  # fmt: skip
    ax.axhline(0.0, color=BASELINE_COLOUR, linestyle=":")
    # "from input to embedding" is said by the caption, which has the room
    layer_axis(ax, model["taps"], with_label=False)
    ax.set_ylabel("ΔR²")


def layer_curves(summary: dict[str, Any], target: str, path: Path) -> None:
    """Per studied model: test R² by tap (ridge, MLP, the band of its random controls), and
    below it the paired difference from the controls' mean at each tap."""
    names = summary["studied_models"]
    columns = min(2, len(names))
    rows = -(-len(names) // columns)
    # Side by side, two to a row: stacked full-width strips shrank to unreadable at 4 pages.
    fig, grid = plt.subplots(
        2 * rows,
        columns,
        figsize=(TEXT_WIDTH_IN, LAYER_CURVES_ROW_HEIGHT_IN * rows),
        squeeze=False,
        gridspec_kw={"height_ratios": [2.2, 1.0] * rows},
    )
    upper_axes, lower_axes, lowest = [], [], [0.0]
    for slot in range(rows * columns):
        top, bottom = (
            grid[2 * (slot // columns), slot % columns],
            grid[2 * (slot // columns) + 1, slot % columns],
        )
        if slot >= len(names):
            top.set_visible(False)
            bottom.set_visible(False)
            continue
        lowest += _r2_panel(top, summary, names[slot], target)
        upper_axes.append(top)
        _difference_panel(bottom, summary["models"][names[slot]], target)
        lower_axes.append(bottom)
    # Probes on uninformative taps can score far below 0; the readable range is what matters.
    bottom_limit = max(min(lowest) - 0.05, -1.0)
    for ax in upper_axes:
        ax.set_ylim(bottom_limit, 1.0)
    # The target is named in the caption; a title here would only cost height in the body.
    legend_below(fig, [*upper_axes, *lower_axes], rows=2)
    save(fig, path)


def cca_figure(summary: dict[str, Any], path: Path) -> None:
    names = list(summary["models"])
    fig, axes = panels(len(names), 3, height=PANEL_HEIGHT_IN - 0.2)
    for ax, name in zip(axes, names, strict=False):
        cca = summary["models"][name]["cca"]
        rows = cca[cca["headline_target"]]
        x = np.arange(len(rows))
        for key, label, style in [
            ("in_sample", "на обучении, без регуляризации", {"color": BASELINE_COLOUR}),
            ("in_sample_pca", "на обучении, PCA", {"color": CONTROL_COLOUR, "linestyle": "--"}),
            ("heldout", "на тесте, PCA", {"color": MODEL_COLOUR}),
        ]:
            values = [r[key] if r[key] is not None else np.nan for r in rows]
            ax.plot(x, values, marker="o", markersize=2.5, label=label, **style)
        layer_axis(ax, [r["tap"] for r in rows], with_label=ax in axes[-3:])
        ax.set_ylim(-0.1, 1.05)
        ax.set_ylabel("кан. корреляция")
        ax.set_title(name)
    legend_below(fig, axes)
    save(fig, path)


def interventions_figure(
    summary: dict[str, Any], interventions: Mapping[str, dict[str, Any]], path: Path
) -> None:
    """Per studied model: the slope of the natural-speech probe's prediction against the
    manipulated rate at every tap, one curve per intervention, with intervals."""
    names = [n for n in summary["studied_models"] if n in interventions]
    target = summary["interventions"]["target"]
    fig, axes = panels(len(names), 2)
    for ax, name in zip(axes, names, strict=False):
        entries = interventions[name]["slopes"][target]
        x = np.arange(len(entries))
        kinds = list(entries[0]["interventions"])
        for kind, colour in zip(kinds, (MODEL_COLOUR, MLP_COLOUR, CONTROL_COLOUR), strict=False):
            slopes = [e["interventions"][kind]["slope"] for e in entries]
            points = [
                {"value": s["value"], "value_ci": [s["ci_low"], s["ci_high"]]} for s in slopes
            ]
            curve(ax, x, points, "value", color=colour, label=INTERVENTION_LABELS.get(kind, kind))
        ax.axhline(1.0, color=BASELINE_COLOUR, linestyle=":", label="следует полностью")
        ax.axhline(0.0, color=CONTROL_COLOUR, linestyle=":")
        layer_axis(ax, [e["tap"] for e in entries])
        ax.set_ylabel("наклон")
        ax.set_title(name)
    legend_below(fig, axes)
    save(fig, path)
