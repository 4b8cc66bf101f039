"""Probe every tap of one model, and run the analyses, in one job.

Per tap: one standardisation and one Gram eigendecomposition serve ridge (all alphas, all
targets) and CCA; the MLP networks of all taps, seeds and targets train together. The final
embedding also gets the speaker-verification check, a t-SNE map and the classification probes
(repeated on the best speech-rate tap). Outputs:

- a tidy CSV of test metrics (model, tap, index, target, probe, metric, value, ci_low, ci_high),
  the nuisance baselines included as probes `baseline_<name>` (tap `none`, index -1) and the
  conditional probes (tap plus duration basis) as probe `conditional`;
- a JSON of everything else the summary needs (dev selection, CCA, verification, t-SNE,
  classification);
- an .npz of test predictions, for paired comparisons between taps and models.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from rateprobe.analysis.cca import cca_scores
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
from rateprobe.conventions import (
    EMBEDDING_TAP,
    PRIMARY_TARGET,
    SPLITS,
    baseline_key,
    label_key,
    prediction_key,
)
from rateprobe.devices import resolve_device
from rateprobe.io import write_atomic, write_json, write_npz
from rateprobe.metrics import (
    REGRESSION_METRICS,
    SpeakerBootstrap,
    regression_metrics,
    speaker_bootstrap,
)
from rateprobe.probing.conditional import (
    Residualiser,
    allowed_baselines,
    baseline_features,
    conditions_on_duration,
    duration_basis,
    fit_baseline,
    fit_conditional,
)
from rateprobe.probing.data import (
    SplitActivations,
    assert_speaker_disjoint,
    open_activations,
    read_manifest,
    target_matrix,
)
from rateprobe.probing.health import fit_failure
from rateprobe.probing.mlp import MLPFit, MLPSettings, fit_mlps
from rateprobe.probing.ridge import RidgeFit, Standardiser, fit_ridge, gram_eigen
from rateprobe.probing.selection import dev_halves

CSV_COLUMNS = ("model", "tap", "index", "target", "probe", "metric", "value", "ci_low", "ci_high")
PROBES = ("ridge", "mlp")
# Ridge on [duration basis, tap]: what the tap adds beyond duration (probing/conditional.py).
CONDITIONAL = "conditional"
# The EER's speaker resamples and jackknife, kept with the predictions for paired comparisons.
EER_DRAWS_KEY = "eer/draws"
EER_JACKKNIFE_KEY = "eer/jackknife"

# Labels per split (None when unavailable), class names, and the reason when unavailable.
LabelSet = tuple[dict[str, np.ndarray] | None, tuple[str, ...], str]


def _csv_rows(
    model: str, tap: str, index: int, target: str, probe: str, metrics: dict[str, Any]
) -> list[dict[str, Any]]:
    return [
        {
            "model": model,
            "tap": tap,
            "index": index,
            "target": target,
            "probe": probe,
            "metric": name,
            **metrics[name],
        }
        for name in REGRESSION_METRICS
    ]


def probe_model(
    model: str,
    activation_paths: Mapping[str, str | Path],
    manifest_paths: Mapping[str, str | Path],
    cfg: dict[str, Any],
    out_csv: str | Path,
    out_json: str | Path,
    out_predictions: str | Path,
    threads: int = 2,
) -> None:
    """Probe and analyse all taps of `model`; `cfg` is the resolved config.

    `threads` bounds torch and the BLAS alike: the thread count changes the order of floating
    point sums, so a fixed count keeps the outputs identical from run to run.
    """
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        _probe_model(
            model, activation_paths, manifest_paths, cfg, out_csv, out_json, out_predictions
        )


def _probe_model(
    model: str,
    activation_paths: Mapping[str, str | Path],
    manifest_paths: Mapping[str, str | Path],
    cfg: dict[str, Any],
    out_csv: str | Path,
    out_json: str | Path,
    out_predictions: str | Path,
) -> None:
    probes_cfg, analysis_cfg = cfg["probes"], cfg["analysis"]
    targets = list(probes_cfg["targets"])
    manifests = {split: read_manifest(manifest_paths[split]) for split in SPLITS}
    assert_speaker_disjoint(manifests)
    y = {split: target_matrix(manifests[split], targets) for split in SPLITS}
    test_speakers = manifests["test"]["speaker_id"].to_numpy(dtype=str)
    boot = speaker_bootstrap(
        test_speakers, probes_cfg["bootstrap"]["n"], probes_cfg["bootstrap"]["seed"]
    )
    mlp_settings = MLPSettings.from_config(probes_cfg["mlp"])
    label_sets, edges = _classification_labels(manifests, y, targets, cfg)

    rows: list[dict[str, Any]] = []
    predictions: dict[str, np.ndarray] = {
        "utt_id": manifests["test"]["utt_id"].to_numpy(dtype=str),
        "speaker_id": test_speakers,
    }
    halves = dev_halves(manifests["dev"]["speaker_id"].to_numpy(dtype=str), int(cfg["seed"]))
    basis = {split: duration_basis(manifests[split]) for split in SPLITS}
    baselines = _baselines(manifests, y, basis, targets, probes_cfg["ridge_alphas"], halves)
    mean_mse = {}
    for t, target in enumerate(targets):
        predictions[label_key(target)] = y["test"][:, t]
        for name, predicted in baselines[target].items():
            predictions[baseline_key(target, name)] = predicted[None]
            metrics = regression_metrics(y["test"][:, t], predicted, boot)
            rows += _csv_rows(model, "none", -1, target, f"baseline_{name}", metrics)
        mean_mse[target] = float(np.mean((y["test"][:, t] - baselines[target]["mean"]) ** 2))

    selection: dict[str, list[dict[str, Any]]] = {target: [] for target in targets}
    cca: dict[str, list[dict[str, Any]]] = {target: [] for target in targets}
    conditioned = [t for t, target in enumerate(targets) if conditions_on_duration(target)]
    with open_activations(activation_paths, manifests) as acts:
        taps = acts["train"].layer_names
        # All taps' MLP probes train together (probing/mlp.py), reading each tap once more.
        mlp_fits = fit_mlps(
            _StandardisedTaps(acts, taps),
            y["train"],
            y["dev"],
            mlp_settings,
            halves,
            resolve_device(probes_cfg["device"], "probes.device"),
            progress=f"MLP probes {model}",
        )
        tap_dims = []
        for index, tap in enumerate(tqdm(taps, desc=f"probing {model}", unit="tap")):
            raw = {split: acts[split].tap(tap) for split in SPLITS}
            tap_dims.append(int(raw["train"].shape[1]))
            x = _standardised(raw)
            eigen = gram_eigen(x["train"], y["train"])
            fits: dict[str, RidgeFit | MLPFit] = {
                "ridge": fit_ridge(
                    eigen, x["dev"], y["dev"], x["test"], probes_cfg["ridge_alphas"], halves
                ),
                "mlp": mlp_fits.pop(tap),
            }
            conditional = fit_conditional(x, basis, y, probes_cfg["ridge_alphas"], halves)
            for t in conditioned:
                target, test_runs = targets[t], conditional.test_runs(t)
                predictions[prediction_key(target, CONDITIONAL, tap)] = test_runs
                metrics = regression_metrics(y["test"][:, t], test_runs, boot)
                rows += _csv_rows(model, tap, index, target, CONDITIONAL, metrics)
            scores = cca_scores(
                eigen,
                x["train"],
                y["train"],
                x["test"],
                y["test"],
                analysis_cfg["cca"]["pca_components"],
            )
            for t, target in enumerate(targets):
                entry = {"tap": tap, "index": index, "dim": tap_dims[-1]}
                for probe, fit in fits.items():
                    test_runs = fit.test_runs(t)
                    predictions[prediction_key(target, probe, tap)] = test_runs
                    metrics = regression_metrics(y["test"][:, t], test_runs, boot)
                    rows += _csv_rows(model, tap, index, target, probe, metrics)
                    entry[probe] = {
                        **_selection_fields(fit, t, y["dev"][:, t]),
                        "test_r2_sd": _run_spread(y["test"][:, t], test_runs),
                        "failure": fit_failure(y["test"][:, t], test_runs, mean_mse[target]),
                    }
                healthy = [p for p in PROBES if entry[p]["failure"] is None]
                # Ties go to the simpler probe (PROBES lists ridge first).
                entry["best_probe"] = max(
                    healthy,
                    key=lambda p: (entry[p]["selection_r2"], -PROBES.index(p)),
                    default=None,
                )
                selection[target].append(entry)
                cca[target].append({"tap": tap, "index": index, **scores[t]})
            del raw, x, eigen

        best = {target: _best_by_dev(selection[target]) for target in targets}
        embedding = {split: acts[split].tap(EMBEDDING_TAP) for split in SPLITS}
        analyses = _embedding_analyses(
            acts, embedding, best.get(PRIMARY_TARGET), label_sets, boot, cfg
        )
        meta = acts["train"].meta
    test = manifests["test"]
    chapters = test["chapter_id"].to_numpy(dtype=str) if "chapter_id" in test.columns else None
    verification_result = verification(embedding["test"], boot, chapters)
    for key, field in ((EER_DRAWS_KEY, "eer_draws"), (EER_JACKKNIFE_KEY, "eer_jackknife")):
        values = verification_result.pop(field, None)
        if values is not None:
            predictions[key] = values
    analyses["verification"] = verification_result
    if PRIMARY_TARGET in targets:
        # Does verification use rate? The EER once the CPS subspace fitted on train is erased.
        erased = eer_after_erasure(
            embedding["train"], y["train"][:, targets.index(PRIMARY_TARGET)], embedding["test"],
            boot, chapters,
        )  # fmt: skip
        for field in ("eer_draws", "eer_jackknife"):
            erased.pop(field, None)
        analyses["erasure"] = erased

    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format="%.10g")
    write_npz(out_predictions, predictions)
    write_json(
        out_json,
        {
            "model": model,
            "meta": meta,
            "taps": taps,
            "tap_dims": tap_dims,
            "targets": targets,
            "n_utterances": {split: len(manifests[split]) for split in SPLITS},
            "selection": selection,
            "best": best,
            "cca": cca,
            "cps_tercile_edges": edges,
            **analyses,
        },
    )
    write_atomic(out_csv, lambda handle: handle.write(buffer.getvalue().encode("utf-8")))


def _standardised(raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each split's features standardised as the training split's."""
    standardiser = Standardiser.fit(raw["train"])
    return {split: standardiser.transform(raw[split]) for split in SPLITS}


class _StandardisedTaps(Mapping[str, dict[str, np.ndarray]]):
    """Standardised features per split of each tap, read from the activation files when asked
    (so the MLP probes hold only the taps they train at a time)."""

    def __init__(self, acts: Mapping[str, SplitActivations], taps: list[str]) -> None:
        self.acts, self.taps = acts, taps

    def __getitem__(self, tap: str) -> dict[str, np.ndarray]:
        return _standardised({split: self.acts[split].tap(tap) for split in SPLITS})

    def __iter__(self) -> Iterator[str]:
        return iter(self.taps)

    def __len__(self) -> int:
        return len(self.taps)


def _baselines(
    manifests: Mapping[str, pd.DataFrame],
    y: Mapping[str, np.ndarray],
    basis: Mapping[str, np.ndarray],
    targets: list[str],
    alphas: list[float],
    halves: np.ndarray,
) -> dict[str, dict[str, np.ndarray]]:
    """Per target, the test predictions of each nuisance baseline it allows: the training
    mean, each duration feature alone (fitted as the probes are), and the whole duration basis
    by least squares (the reference of the conditional probes)."""
    out: dict[str, dict[str, np.ndarray]] = {
        target: {"mean": np.full(len(y["test"]), y["train"][:, t].mean())}
        for t, target in enumerate(targets)
    }
    features = {split: baseline_features(manifests[split]) for split in SPLITS}
    for name in features["train"]:
        fit = fit_baseline({s: features[s][name] for s in SPLITS}, y, alphas, halves)
        for t, target in enumerate(targets):
            if name in allowed_baselines(target):
                out[target][name] = fit.test_predictions[t]
    on_basis = Residualiser.fit(basis["train"], y["train"]).fitted(basis["test"])
    for t, target in enumerate(targets):
        if conditions_on_duration(target):
            out[target]["duration_basis"] = on_basis[:, t]
    return out


def _selection_fields(fit: RidgeFit | MLPFit, t: int, y_dev: np.ndarray) -> dict[str, Any]:
    """Dev numbers of one probe for target column `t`: its own tuning and the cross-fitted
    score (`selection_r2`) that compares probes and taps."""
    variance = float(np.var(y_dev))
    if isinstance(fit, RidgeFit):
        fields: dict[str, Any] = {"selection_r2": 1.0 - fit.crossfit_dev_mse[t] / variance}
        chosen = int(np.searchsorted(fit.alphas, fit.chosen_alpha[t]))
        fields["alpha"] = float(fit.chosen_alpha[t])
        # A choice at the end of the grid may want a value beyond it.
        at_edge = len(fit.alphas) > 1 and chosen in (0, len(fit.alphas) - 1)
        fields["alpha_at_edge"] = ("low" if chosen == 0 else "high") if at_edge else None
        fields["dev_r2"] = 1.0 - float(fit.dev_mse[chosen, t]) / variance
        return fields
    dev_mse = ((fit.dev_predictions[:, t] - y_dev) ** 2).mean(axis=1)
    return {
        "selection_r2": 1.0 - float(fit.crossfit_dev_mse[:, t].mean()) / variance,
        "n_seeds": len(dev_mse),
        "dev_r2": 1.0 - float(dev_mse.mean()) / variance,
        "best_epochs": fit.best_epoch[:, t].tolist(),
    }


def _run_spread(y: np.ndarray, runs: np.ndarray) -> float | None:
    """Standard deviation of test R² over runs (MLP seeds); None for a single run."""
    if len(runs) < 2:
        return None
    r2 = 1.0 - ((runs - y[None]) ** 2).mean(axis=1) / np.var(y)
    return float(np.std(r2, ddof=1))


def _best_by_dev(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The (tap, probe) of highest cross-fitted dev R² among healthy fits; ties go to the
    shallower tap. None when every fit failed."""
    scored = [
        (e[e["best_probe"]]["selection_r2"], -e["index"], e)
        for e in entries
        if e["best_probe"] is not None
    ]
    if not scored:
        return None
    selection_r2, _, entry = max(scored, key=lambda item: (item[0], item[1]))
    return {
        "tap": entry["tap"],
        "index": entry["index"],
        "probe": entry["best_probe"],
        "selection_r2": selection_r2,
    }


def _embedding_analyses(
    acts: Mapping[str, Any],
    embedding: Mapping[str, np.ndarray],
    best_rate_tap: dict[str, Any] | None,
    label_sets: dict[str, LabelSet],
    boot: SpeakerBootstrap,
    cfg: dict[str, Any],
) -> dict[str, Any]:
    tsne_cfg = cfg["analysis"]["tsne"]
    tsne = tsne_map(embedding["test"], float(tsne_cfg["perplexity"]), int(tsne_cfg["seed"]))
    classification_taps = {EMBEDDING_TAP: embedding}
    if best_rate_tap is not None and best_rate_tap["tap"] != EMBEDDING_TAP:
        name = best_rate_tap["tap"]
        classification_taps[name] = {split: acts[split].tap(name) for split in SPLITS}
    classification: dict[str, dict[str, Any]] = {}
    for tap, raw in classification_taps.items():
        standardiser = Standardiser.fit(raw["train"])
        features = {split: standardiser.transform(raw[split]) for split in SPLITS}
        classification[tap] = {
            name: classify(features, labels, class_names, boot, int(cfg["seed"]))
            if labels is not None
            else {"macro_f1": None, "macro_f1_reason": reason}
            for name, (labels, class_names, reason) in label_sets.items()
        }
    return {"tsne": tsne, "classification": classification}


def _classification_labels(
    manifests: Mapping[str, pd.DataFrame],
    y: Mapping[str, np.ndarray],
    targets: list[str],
    cfg: dict[str, Any],
) -> tuple[dict[str, LabelSet], list[float] | None]:
    """Per classification target: labels per split (or None), class names, and why not;
    and the CPS tercile edges (from train) when CPS is a target."""
    label_sets: dict[str, LabelSet] = {}
    edges = None
    if PRIMARY_TARGET in targets:
        column = targets.index(PRIMARY_TARGET)
        edges = tercile_edges(y["train"][:, column])
    for name in cfg["analysis"]["classification"]["targets"]:
        if name == "sex":
            if all("sex" in manifests[s].columns for s in SPLITS):
                labels = {s: sex_labels(manifests[s]["sex"].to_numpy()) for s in SPLITS}
                label_sets[name] = (labels, SEX_NAMES, "")
            else:
                label_sets[name] = (None, SEX_NAMES, "the manifests have no sex column")
        elif name == "cps_tercile":
            if edges is None:
                label_sets[name] = (None, TERCILE_NAMES, "cps is not among probes.targets")
                continue
            labels = {s: tercile_labels(y[s][:, column], edges) for s in SPLITS}
            label_sets[name] = (labels, TERCILE_NAMES, "")
        else:
            raise ValueError(
                f"analysis.classification.targets: unknown target '{name}' "
                "(known: sex, cps_tercile)"
            )
    return label_sets, None if edges is None else edges.tolist()
