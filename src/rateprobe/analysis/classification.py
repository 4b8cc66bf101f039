"""Classification probes: speaker sex (where known) and speech-rate terciles.

Logistic regression on standardised features; its inverse regularisation strength is chosen
on dev by macro-F1, and precision, recall and macro-F1 are reported on test with 95%
studentised speaker-bootstrap intervals, together with macro-F1's excess over chance. Macro-F1
has one definition throughout, `rateprobe.metrics.macro_f1`: the mean F1 over the classes
present in the true labels. Tercile edges come from the training split only.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from rateprobe.bootstrap import Estimate, SpeakerBootstrap, cluster_estimates
from rateprobe.metrics import (
    classification_from_confusion,
    classification_metrics,
    confusion_cells,
    macro_f1,
)

INVERSE_REGULARISATION = (0.01, 0.1, 1.0, 10.0)
TERCILE_NAMES = ("slow", "normal", "fast")
SEX_NAMES = ("F", "M")


def tercile_labels(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """0 (slow), 1 (normal) or 2 (fast) by the two edges."""
    return np.searchsorted(np.asarray(edges), np.asarray(values), side="right")


def tercile_edges(train_values: np.ndarray) -> np.ndarray:
    return np.quantile(np.asarray(train_values, dtype=np.float64), [1 / 3, 2 / 3])


def sex_labels(column: np.ndarray) -> np.ndarray:
    """0 for F, 1 for M, -1 when unknown."""
    column = np.asarray(column).astype(str)
    return np.select([column == "F", column == "M"], [0, 1], default=-1)


def classify(
    features: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    class_names: tuple[str, ...],
    boot: SpeakerBootstrap,
    seed: int,
) -> dict[str, Any]:
    """Fit on train, choose C on dev, score on test. Features are standardised; labels are
    class indices, -1 for unknown (such utterances are left out). Returns metric records and
    `above_chance` (macro-F1 minus chance, paired per resample, with its p-value), or
    `macro_f1: None` with a reason when a split lacks the classes to fit or score."""
    known = {split: labels[split] >= 0 for split in labels}
    for split in ("train", "dev"):
        present = np.unique(labels[split][known[split]])
        if len(present) < 2:
            return {"macro_f1": None, "macro_f1_reason": f"fewer than two classes in {split}"}
    if not known["test"].any():
        return {"macro_f1": None, "macro_f1_reason": "no test utterance has a known label"}

    def fit(c: float) -> LogisticRegression:
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return model.fit(features["train"][known["train"]], labels["train"][known["train"]])

    scored = []
    for c in INVERSE_REGULARISATION:
        model = fit(c)
        dev_pred = model.predict(features["dev"])
        scored.append((macro_f1(labels["dev"], dev_pred, len(class_names)), c, model))
    dev_f1, chosen_c, model = max(scored, key=lambda item: (item[0], -item[1]))
    predicted = model.predict(features["test"])
    metrics = classification_metrics(labels["test"], predicted, len(class_names), boot)
    test_counts = np.bincount(labels["test"][known["test"]], minlength=len(class_names))
    return {
        "classes": list(class_names),
        "C": chosen_c,
        "dev_macro_f1": float(dev_f1),
        "chance_macro_f1": float(chance_macro_f1(test_counts)),
        "test_class_counts": test_counts.tolist(),
        "metrics": metrics,
        "above_chance": above_chance(
            labels["test"], predicted, len(class_names), boot
        ).comparison_record(),
    }


def above_chance(
    true: np.ndarray, predicted: np.ndarray, n_classes: int, boot: SpeakerBootstrap
) -> Estimate:
    """Macro-F1 minus the chance macro-F1 of the same class counts, in the point, every
    resample and every jackknife value alike (chance moves with the class shares a resample
    draws)."""

    def excess(confusion: np.ndarray) -> dict[str, np.ndarray]:
        f1 = classification_from_confusion(confusion)["macro_f1"]
        return {"above_chance": f1 - chance_macro_f1(confusion.sum(axis=-1))}

    per_speaker = boot.speaker_sums(confusion_cells(true, predicted, n_classes))
    return cluster_estimates(per_speaker, boot, excess)["above_chance"]


def chance_macro_f1(class_counts: np.ndarray) -> np.ndarray:
    """Expected macro-F1 of guessing uniformly among the classes present: class k with share
    p_k gets F1 = 2 p_k q / (p_k + q), q = 1 / n_classes present. Counts [..., n_classes] give
    one value per leading index (NaN where no class is present)."""
    counts = np.asarray(class_counts, dtype=np.float64)
    present = counts > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = counts / counts.sum(axis=-1, keepdims=True)
        guess = 1.0 / present.sum(axis=-1, keepdims=True)
        # An absent class has share 0 and so adds 0 to the sum.
        f1 = 2 * shares * guess / (shares + guess)
        return f1.sum(axis=-1) / present.sum(axis=-1)
