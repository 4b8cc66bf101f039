"""The figures' one style and the drawing pieces they share.

One typographic scale with the text: each figure is drawn at the width the paper prints it at
(`conventions.figure_width_in`) and included at natural size, in a Times face like the
paper's Tempora: STIX, which matplotlib ships (so every machine draws the same figures), has
Cyrillic and embeds as TrueType (Tempora's OpenType outlines embed in a form poppler flags).
Text is 8 pt, tick labels 7 pt, against the body's 10 pt and the captions' 9 pt.
Legends sit outside the axes, never over data.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import ScalarFormatter

from rateprobe.conventions import PAPER_TEXT_WIDTH_IN
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
MODEL_COLOUR = "tab:blue"
MLP_COLOUR = "tab:orange"
CONTROL_COLOUR = "tab:gray"
BASELINE_COLOUR = "tab:red"


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


def save(fig: plt.Figure, path: Path) -> None:
    """Write `fig` as a PDF at `path` (decimal commas on its numeric axes) and close it."""
    _decimal_commas(fig)
    buffer = io.BytesIO()
    # No creation date in the file: the same results give the same bytes.
    fig.savefig(buffer, format="pdf", metadata={"CreationDate": None})
    plt.close(fig)
    write_atomic(path, lambda handle: handle.write(buffer.getvalue()))


def panels(
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


def legend_below(fig: plt.Figure, axes: list[Any], rows: int = 1) -> None:
    """One legend for all panels (each entry once), in rows under them, outside the data."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    columns = -(-len(entries) // rows)
    fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=columns)


def curve(ax: Any, x: np.ndarray, entries: list[dict[str, Any]], key: str, **style: Any) -> None:
    """The values `key` of `entries` against `x` with their `<key>_ci` band (None: a gap)."""
    value = np.array([e.get(key, np.nan) if e.get(key) is not None else np.nan for e in entries])
    cis = [e.get(f"{key}_ci") or [np.nan, np.nan] for e in entries]
    low, high = np.array([c[0] for c in cis], float), np.array([c[1] for c in cis], float)
    ax.plot(x, value, **{"marker": "o", "markersize": 2.5, **style})
    ax.fill_between(x, low, high, color=style.get("color"), alpha=0.18, linewidth=0)


def layer_axis(ax: Any, taps: list[str], with_label: bool = True) -> None:
    """Ticks at stage boundaries only (every tap has a minor tick), upright labels."""
    positions, labels = stage_ticks(taps)
    ax.set_xticks(positions, labels, rotation=90)
    ax.set_xticks(range(len(taps)), minor=True)
    ax.set_xlim(-0.5, len(taps) - 0.5)
    if with_label:
        ax.set_xlabel("слой (от входа к эмбеддингу)")
