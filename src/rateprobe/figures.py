"""The paper's figures: vector PDFs in one style, Russian labels, sized for a 4-page paper.

Every figure is drawn from results/summary.json plus the per-model analysis JSON (t-SNE
coordinates), test predictions and the manifests; none computes a result of its own.

One typographic scale with the text: each figure is drawn at the width the paper prints it at
(`conventions.figure_width_in`) and included at natural size, in a Times face like the
paper's Tempora: STIX, which matplotlib ships (so every machine draws the same figures), has
Cyrillic and embeds as TrueType (Tempora's OpenType outlines embed in a form poppler flags).
Text is 8 pt, tick labels 7 pt, against the body's 10 pt and the captions' 9 pt.
Legends sit outside the axes, never over data.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import ScalarFormatter

from rateprobe.conventions import (
    PAPER_TEXT_WIDTH_IN,
    SPLIT_NAMES,
    figure_files,
    figure_width_in,
    label_key,
    target_axis_label,
)
from rateprobe.io import write_atomic

TEXT_WIDTH_IN = PAPER_TEXT_WIDTH_IN
PANEL_HEIGHT_IN = 1.9
STYLE: dict[str, Any] = {
    "font.family": "serif",
    "font.serif": ["STIXGeneral"],
    "mathtext.fontset": "stix",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.2,
    "pdf.fonttype": 42,  # embedded outline fonts: text stays text in the PDF
    # The saved page is exactly the figure size (no tight bounding box), the width it prints at.
    "figure.constrained_layout.use": True,
    "legend.frameon": False,
}
# Two rows of panels per studied model (R² by tap, and the differences under it) with the
# rotated stage names and the legend: the body's one figure, kept short for the 4-page budget.
LAYER_CURVES_ROW_HEIGHT_IN = 2.2
MODEL_COLOUR = "tab:blue"
MLP_COLOUR = "tab:orange"
CONTROL_COLOUR = "tab:gray"
BASELINE_COLOUR = "tab:red"
# The lower panels' differences: styles of their own, apart from the upper panels' probes.
VERSUS_CONTROLS_STYLE = {"color": "tab:green", "linestyle": "-", "marker": "s"}
BEYOND_DURATION_STYLE = {"color": "tab:purple", "linestyle": "-."}


def stage_ticks(taps: list[str]) -> tuple[list[int], list[str]]:
    """Tick positions and labels at the first tap of each stage (`layer3.0` starts `layer3`),
    so that ~50 taps of a deep network stay readable."""
    positions, labels = [], []
    previous = None
    for index, tap in enumerate(taps):
        stage = tap.split(".")[0]
        if stage != previous:
            positions.append(index)
            labels.append(stage)
            previous = stage
    return positions, labels


class DecimalCommaFormatter(ScalarFormatter):
    """Matplotlib's tick numbers with the decimal comma the Russian text prints."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        text = super().__call__(x, pos)
        # Inside mathtext a bare comma is punctuation and gets a space after it.
        return text.replace(".", "{,}" if text.startswith("$") else ",")


def decimal_comma(text: str) -> str:
    """A number formatted for a label, with the decimal comma."""
    return text.replace(".", ",")


def _decimal_commas(fig: plt.Figure) -> None:
    """Every numeric axis of `fig` (colour bars included) labelled with decimal commas."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(DecimalCommaFormatter())


def _save(fig: plt.Figure, path: Path) -> None:
    _decimal_commas(fig)
    buffer = io.BytesIO()
    # No creation date in the file: the same results give the same bytes.
    fig.savefig(buffer, format="pdf", metadata={"CreationDate": None})
    plt.close(fig)
    write_atomic(path, lambda handle: handle.write(buffer.getvalue()))


def _panels(
    n: int, columns: int, height: float = PANEL_HEIGHT_IN, **subplots: Any
) -> tuple[plt.Figure, list[Any]]:
    """A text-wide figure of `n` panels in rows of `columns`, and its first `n` axes."""
    columns = min(columns, n)
    rows = -(-n // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(TEXT_WIDTH_IN, height * rows), squeeze=False, **subplots
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _legend_below(fig: plt.Figure, axes: list[Any], rows: int = 1) -> None:
    """One legend for all panels (each entry once), in rows under them, outside the data."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    columns = -(-len(entries) // rows)
    fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=columns)


def _curve(ax: Any, x: np.ndarray, entries: list[dict[str, Any]], key: str, **style: Any) -> None:
    value = np.array([e.get(key, np.nan) if e.get(key) is not None else np.nan for e in entries])
    cis = [e.get(f"{key}_ci") or [np.nan, np.nan] for e in entries]
    low, high = np.array([c[0] for c in cis], float), np.array([c[1] for c in cis], float)
    ax.plot(x, value, **{"marker": "o", "markersize": 2.5, **style})
    ax.fill_between(x, low, high, color=style.get("color"), alpha=0.18, linewidth=0)


def _layer_axis(ax: Any, taps: list[str], with_label: bool = True) -> None:
    """Ticks at stage boundaries only (every tap has a minor tick), upright labels."""
    positions, labels = stage_ticks(taps)
    ax.set_xticks(positions, labels, rotation=90)
    ax.set_xticks(range(len(taps)), minor=True)
    ax.set_xlim(-0.5, len(taps) - 0.5)
    if with_label:
        ax.set_xlabel("слой (от входа к эмбеддингу)")


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


def layer_curves(summary: dict[str, Any], target: str, path: Path) -> None:
    """Per studied model: test R² by tap (ridge, MLP, the band of its random controls), and
    below it the paired difference from the controls' mean at each tap."""
    models = summary["models"]
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
    baseline = summary["baselines"][target]["mean"]["r2"]
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
        name = names[slot]
        per_tap = models[name]["layers"][target]["per_tap"]
        x = np.arange(len(per_tap))
        _curve(
            top,
            x,
            [e["ridge"] for e in per_tap],
            "r2",
            color=MODEL_COLOUR,
            label="гребневая регрессия",
        )
        _curve(
            top, x, [e["mlp"] for e in per_tap], "r2", color=MLP_COLOUR, linestyle="--", label="MLP"
        )
        band = _control_band(summary, name, target, len(per_tap))
        if np.isfinite(band).any():
            top.fill_between(
                x,
                band[0],
                band[1],
                color=CONTROL_COLOUR,
                alpha=0.35,
                linewidth=0,
                label="случайные копии (разброс)",
            )
        if baseline is not None:
            top.axhline(
                baseline, color=BASELINE_COLOUR, linestyle=":", label="предсказание средним"
            )
        _layer_axis(top, models[name]["taps"], with_label=False)
        top.tick_params(labelbottom=False)
        top.set_ylabel("R² на тесте")
        top.set_title(name)
        upper_axes.append(top)
        lowest += [e[p]["r2"] for e in per_tap for p in ("ridge", "mlp") if e[p]["r2"] is not None]
        lowest += [float(v) for v in band[0] if np.isfinite(v)]
        lower_axes.append(bottom)
        if models[name]["controls"]:
            differences = [e["minus_controls"] or {} for e in per_tap]
            _curve(bottom, x, differences, "delta_r2", label="ΔR² к случайным копиям",
                   **VERSUS_CONTROLS_STYLE)  # fmt: skip
        beyond = [e.get("conditional") or {} for e in per_tap]
        _curve(bottom, x, beyond, "delta_r2_over_duration", label="ΔR² сверх длительности",
               **BEYOND_DURATION_STYLE)  # fmt: skip
        bottom.axhline(0.0, color=BASELINE_COLOUR, linestyle=":")
        # "from input to embedding" is said by the caption, which has the room
        _layer_axis(bottom, models[name]["taps"], with_label=False)
        bottom.set_ylabel("ΔR²")
    # Probes on uninformative taps can score far below 0; the readable range is what matters.
    bottom_limit = max(min(lowest) - 0.05, -1.0)
    for ax in upper_axes:
        ax.set_ylim(bottom_limit, 1.0)
    # The target is named in the caption; a title here would only cost height in the body.
    _legend_below(fig, [*upper_axes, *lower_axes], rows=2)
    _save(fig, path)


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
    _save(fig, path)


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
    _save(fig, path)


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
        _save(fig, path)
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
    _save(fig, path)


def model_comparison(summary: dict[str, Any], path: Path) -> None:
    targets = summary["run"]["targets"]
    names = list(summary["models"])
    # One row of panels, one per target, the model names once on the left.
    fig, axes = _panels(len(targets), 3, height=0.3 * len(names) + 0.9, sharey=True)
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
    _legend_below(fig, axes)
    _save(fig, path)


def cca_figure(summary: dict[str, Any], path: Path) -> None:
    names = list(summary["models"])
    fig, axes = _panels(len(names), 3, height=PANEL_HEIGHT_IN - 0.2)
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
        _layer_axis(ax, [r["tap"] for r in rows], with_label=ax in axes[-3:])
        ax.set_ylim(-0.1, 1.05)
        ax.set_ylabel("кан. корреляция")
        ax.set_title(name)
    _legend_below(fig, axes)
    _save(fig, path)


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
    _legend_below(fig, [ax])  # inside the axes, the label sat on the bars
    _save(fig, path)


INTERVENTION_LABELS = {
    "rate": "темп синтеза",
    "pause": "паузы",
    "stretch": "растяжение",
    "pad": "тишина по краям",
}


def interventions_figure(
    summary: dict[str, Any], interventions: Mapping[str, dict[str, Any]], path: Path
) -> None:
    """Per studied model: the slope of the natural-speech probe's prediction against the
    manipulated rate at every tap, one curve per intervention, with intervals."""
    names = [n for n in summary["studied_models"] if n in interventions]
    target = summary["interventions"]["target"]
    fig, axes = _panels(len(names), 2)
    for ax, name in zip(axes, names, strict=False):
        entries = interventions[name]["slopes"][target]
        x = np.arange(len(entries))
        kinds = list(entries[0]["interventions"])
        for kind, colour in zip(kinds, (MODEL_COLOUR, MLP_COLOUR, CONTROL_COLOUR), strict=False):
            slopes = [e["interventions"][kind]["slope"] for e in entries]
            points = [
                {"value": s["value"], "value_ci": [s["ci_low"], s["ci_high"]]} for s in slopes
            ]
            _curve(ax, x, points, "value", color=colour, label=INTERVENTION_LABELS.get(kind, kind))
        ax.axhline(1.0, color=BASELINE_COLOUR, linestyle=":", label="следует полностью")
        ax.axhline(0.0, color=CONTROL_COLOUR, linestyle=":")
        _layer_axis(ax, [e["tap"] for e in entries])
        ax.set_ylabel("наклон")
        ax.set_title(name)
    _legend_below(fig, axes)
    _save(fig, path)


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
