"""The side analyses of one model, each its own job with its own settings and output.

Probing (rateprobe.probing.run) answers how well each tap predicts each target; these answer
the questions around it, so that changing, say, the t-SNE perplexity redraws the map and
re-probes nothing:

- `verification`: the speaker-verification EER of the final embedding (is the encoder a
  working one?) and the EER once the CPS subspace is erased (does verification use rate?);
- `tsne`: a 2-D map of the test embeddings;
- `classification`: sex and CPS-tercile classifiers on the embedding and on the dev-chosen
  best CPS tap (read from the probing result);
- `cca`: the held-out and in-sample canonical correlation of every tap with every target.

Each writes one JSON object whose top-level keys name its sections; the summary reads their
union. Speaker resamples of the test split are those of probes.bootstrap, as in probing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from rateprobe.analysis.cca import cca_scores, svcca
from rateprobe.analysis.classification import (
    SEX_NAMES,
    TERCILE_NAMES,
    classify,
    sex_labels,
    tercile_edges,
    tercile_labels,
)
from rateprobe.analysis.erasure import eer_after_erasure
from rateprobe.analysis.tsne import tsne_map
from rateprobe.analysis.verification import verification
from rateprobe.conventions import CLASSIFICATION_TARGETS, EMBEDDING_TAP, PRIMARY_TARGET
from rateprobe.features import Standardiser, gram_eigen
from rateprobe.inputs import (
    bootstrap_of_test_speakers,
    open_activations,
    read_manifests,
    target_matrix,
)
from rateprobe.io import write_json

Paths = Mapping[str, str | Path]
# Labels per split (None when unavailable), class names, and the reason when unavailable.
LabelSet = tuple[dict[str, np.ndarray] | None, tuple[str, ...], str]


def _chapters(test: pd.DataFrame) -> np.ndarray | None:
    return test["chapter_id"].to_numpy(dtype=str) if "chapter_id" in test.columns else None


def run_verification(
    activation_paths: Paths, manifest_paths: Paths, bootstrap: dict[str, Any], out_json: str | Path
) -> None:
    """EER of the test embeddings, and after erasing the train-fitted CPS subspace (LEACE).

    The EER's speaker resamples and jackknife are kept (`eer_draws`, `eer_jackknife`), so the
    summary can compare two models' EERs paired on the same resamples."""
    manifests = read_manifests(manifest_paths)
    boot = bootstrap_of_test_speakers(manifests, bootstrap)
    chapters = _chapters(manifests["test"])
    with open_activations(activation_paths, manifests) as acts:
        embedding = {split: acts[split].tap(EMBEDDING_TAP) for split in ("train", "test")}
    original = verification(embedding["test"], boot, chapters)
    erased = eer_after_erasure(
        embedding["train"],
        target_matrix(manifests["train"], [PRIMARY_TARGET])[:, 0],
        embedding["test"],
        original,
        boot,
        chapters,
    )
    for field in ("eer_draws", "eer_jackknife"):
        erased.pop(field, None)
    result = {"verification": original, "erasure": erased}
    write_json(out_json, result)


def run_tsne(
    activation_paths: Paths, manifest_paths: Paths, settings: dict[str, Any], out_json: str | Path
) -> None:
    """A t-SNE map of the test embeddings."""
    manifests = read_manifests(manifest_paths)
    with open_activations(activation_paths, manifests) as acts:
        embedding = acts["test"].tap(EMBEDDING_TAP)
    tsne = tsne_map(embedding, float(settings["perplexity"]), int(settings["seed"]))
    write_json(out_json, {"tsne": tsne})


def run_classification(
    activation_paths: Paths,
    manifest_paths: Paths,
    probe_result: str | Path,
    settings: dict[str, Any],
    bootstrap: dict[str, Any],
    seed: int,
    out_json: str | Path,
) -> None:
    """Classifiers of each `settings["targets"]` label on the embedding and on the dev-chosen
    best CPS tap of the probing result (when it is another tap)."""
    manifests = read_manifests(manifest_paths)
    boot = bootstrap_of_test_speakers(manifests, bootstrap)
    label_sets = classification_labels(manifests, settings["targets"])
    best = json.loads(Path(probe_result).read_text(encoding="utf-8"))["best"]
    best_rate_tap = best.get(PRIMARY_TARGET)
    taps = [EMBEDDING_TAP]
    if best_rate_tap is not None and best_rate_tap["tap"] != EMBEDDING_TAP:
        taps.append(best_rate_tap["tap"])
    classification: dict[str, dict[str, Any]] = {}
    with open_activations(activation_paths, manifests) as acts:
        for tap in taps:
            raw = {split: acts[split].tap(tap) for split in acts}
            standardiser = Standardiser.fit(raw["train"])
            features = {split: standardiser.transform(values) for split, values in raw.items()}
            classification[tap] = {
                name: classify(features, labels, class_names, boot, seed)
                if labels is not None
                else {"macro_f1": None, "macro_f1_reason": reason}
                for name, (labels, class_names, reason) in label_sets.items()
            }
    write_json(out_json, {"classification": classification})


def classification_labels(
    manifests: Mapping[str, pd.DataFrame], names: list[str]
) -> dict[str, LabelSet]:
    """Per classification target: labels per split (or None), class names, and why not. CPS
    terciles take their edges from train."""
    cps = {
        split: target_matrix(frame, [PRIMARY_TARGET])[:, 0] for split, frame in manifests.items()
    }
    edges = tercile_edges(cps["train"])
    label_sets: dict[str, LabelSet] = {}
    for name in names:
        if name == "sex":
            if all("sex" in frame.columns for frame in manifests.values()):
                labels = {s: sex_labels(frame["sex"].to_numpy()) for s, frame in manifests.items()}
                label_sets[name] = (labels, SEX_NAMES, "")
            else:
                label_sets[name] = (None, SEX_NAMES, "the manifests have no sex column")
        elif name == "cps_tercile":
            labels = {s: tercile_labels(values, edges) for s, values in cps.items()}
            label_sets[name] = (labels, TERCILE_NAMES, "")
        else:
            raise ValueError(
                f"analysis.classification.targets: unknown target '{name}' "
                f"(known: {', '.join(CLASSIFICATION_TARGETS)})"
            )
    return label_sets


def run_cca(
    activation_paths: Paths,
    manifest_paths: Paths,
    targets: list[str],
    settings: dict[str, Any],
    out_json: str | Path,
) -> None:
    """Per target and tap: canonical correlation on test of the top principal components
    fitted on train (`heldout`), and the in-sample values that overfit (rateprobe.analysis.cca)."""
    manifests = read_manifests(manifest_paths)
    y = {split: target_matrix(frame, targets) for split, frame in manifests.items()}
    cca: dict[str, list[dict[str, Any]]] = {target: [] for target in targets}
    with_embedding = []
    k = int(settings["pca_components"])
    with open_activations(activation_paths, manifests) as acts:
        taps = acts["train"].layer_names

        def standardised(tap: str) -> dict[str, np.ndarray]:
            raw = {split: acts[split].tap(tap) for split in ("train", "test")}
            standardiser = Standardiser.fit(raw["train"])
            return {split: standardiser.transform(values) for split, values in raw.items()}

        embedding = standardised(EMBEDDING_TAP)
        for index, tap in enumerate(tqdm(taps, desc="CCA", unit="tap")):
            x = standardised(tap)
            scores = cca_scores(
                gram_eigen(x["train"], y["train"]), x["train"], y["train"], x["test"], y["test"], k
            )
            for t, target in enumerate(targets):
                cca[target].append({"tap": tap, "index": index, **scores[t]})
            pair = svcca((x["train"], embedding["train"]), (x["test"], embedding["test"]), k)
            with_embedding.append({"tap": tap, "index": index, **pair})
    write_json(out_json, {"cca": cca, "svcca_with_embedding": with_embedding})
