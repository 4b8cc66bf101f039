"""Seeded t-SNE map of final embeddings, to be coloured by speech rate."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.manifold import TSNE


def tsne_map(embeddings: np.ndarray, perplexity: float, seed: int) -> dict[str, Any]:
    """2-D t-SNE coordinates; t-SNE needs perplexity < n_points, so a larger requested value is
    lowered to (n_points - 1) / 3 and both values are recorded."""
    n_points = len(embeddings)
    if n_points < 4:
        return {
            "coords": None,
            "coords_reason": f"t-SNE needs >= 4 points, got {n_points}",
            "perplexity_requested": perplexity,
            "perplexity": None,
            "seed": seed,
            "n_points": n_points,
        }
    used = float(min(perplexity, (n_points - 1) / 3.0))
    coords = TSNE(
        n_components=2, perplexity=used, init="pca", random_state=seed, n_jobs=1
    ).fit_transform(np.asarray(embeddings, dtype=np.float64))
    return {
        "coords": coords,
        "perplexity_requested": perplexity,
        "perplexity": used,
        "seed": seed,
        "n_points": n_points,
    }
