"""Probe every tap of one model: ridge, MLP and conditional probes of every target.

Per tap: one standardisation, and one Gram eigendecomposition of the training split and one
per cross-validation fold of its speakers, serve ridge (all alphas, all targets) and the
conditional probes' penalty search, which decompose only their refit on all training speakers;
the MLP networks of all taps, seeds and targets train together. Nuisance baselines (the
training mean, least squares on duration) are fitted once per model. Outputs:

- a tidy CSV of test metrics (model, tap, index, target, probe, metric, value, ci_low, ci_high),
  the nuisance baselines included as probes `baseline_<name>` (tap `none`, index -1) and the
  conditional probes (tap plus duration basis) as probe `conditional`;
- a JSON of the dev selection (per target and tap, each probe's dev scores, each ridge
  penalty and its place on the grid, each fit's failure if any, and the dev-chosen best tap),
  the taps and their widths, and the activations' metadata;
- an .npz of test predictions, for paired comparisons between taps and models, with the ridge
  probe's predictions of the headline target's control task at every tap (its last target
  column: probing/control_task.py) and their penalties in the JSON (`control_task`).

The side analyses (verification, t-SNE, classification, CCA) are their own jobs:
rateprobe.analysis.run.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from rateprobe.bootstrap import SpeakerBootstrap
from rateprobe.conventions import (
    SPLITS,
    baseline_key,
    headline_target,
    label_key,
    prediction_key,
)
from rateprobe.devices import resolve_device
from rateprobe.features import Standardiser
from rateprobe.inputs import (
    SplitActivations,
    bootstrap_of_test_speakers,
    open_activations,
    read_manifests,
    target_matrix,
)
from rateprobe.io import write_atomic, write_json, write_npz
from rateprobe.metrics import REGRESSION_METRICS, regression_metrics
from rateprobe.probing.conditional import (
    baseline_predictions,
    conditions_on_duration,
    duration_basis,
    fit_ridge_and_conditional,
)
from rateprobe.probing.control_task import CONTROL_TASK, control_target, speaker_permuted
from rateprobe.probing.health import fit_failure, prediction_spread
from rateprobe.probing.mlp import MLPFit, MLPSettings, fit_mlps
from rateprobe.probing.names import BASELINE_PREFIX, BASELINE_TAP, CONDITIONAL, PROBES
from rateprobe.probing.ridge import PenaltySearch, RidgeFit
from rateprobe.probing.selection import dev_halves, speaker_folds

CSV_COLUMNS = ("model", "tap", "index", "target", "probe", "metric", "value", "ci_low", "ci_high")


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
    out_table: str | Path,
    out_result: str | Path,
    out_predictions: str | Path,
    threads: int = 2,
) -> None:
    """Probe all taps of `model`; `cfg` holds the resolved `seed` and `probes` sections.

    `threads` bounds torch and the BLAS alike: the thread count changes the order of floating
    point sums, so a fixed count keeps the outputs identical from run to run.
    """
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        manifests = read_manifests(manifest_paths)
        with open_activations(activation_paths, manifests) as acts:
            probed = _probe_taps(model, acts, manifests, cfg)
    frame = pd.DataFrame(probed.rows, columns=list(CSV_COLUMNS))
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format="%.10g")
    write_npz(out_predictions, probed.predictions)
    write_json(out_result, {"model": model, **probed.result})
    write_atomic(out_table, lambda handle: handle.write(buffer.getvalue().encode("utf-8")))


@dataclass
class _Probed:
    """What probing one model produced: CSV rows, test predictions and the result JSON."""

    rows: list[dict[str, Any]]
    predictions: dict[str, np.ndarray]
    result: dict[str, Any]


def _probe_taps(
    model: str,
    acts: Mapping[str, SplitActivations],
    manifests: Mapping[str, pd.DataFrame],
    cfg: dict[str, Any],
) -> _Probed:
    study = _Study.of(manifests, cfg)
    probed = _Probed(
        rows=[],
        predictions={
            "utt_id": manifests["test"]["utt_id"].to_numpy(dtype=str),
            "speaker_id": manifests["test"]["speaker_id"].to_numpy(dtype=str),
        },
        result={},
    )
    mean_mse = _add_baselines(probed, model, manifests, study)
    control = control_target(study.targets[study.control_of])
    probed.predictions[label_key(control)] = study.y_with_control["test"][:, -1]
    taps = acts["train"].layer_names
    # All taps' MLP probes train together (probing/mlp.py), reading each tap once more.
    mlp_fits = fit_mlps(
        _StandardisedTaps(acts, taps),
        study.y["train"],
        study.y["dev"],
        MLPSettings.from_config(study.settings["mlp"]),
        study.halves,
        resolve_device(study.settings["device"], "probes.device"),
        progress=f"MLP probes {model}",
    )
    selection: dict[str, list[dict[str, Any]]] = {target: [] for target in study.targets}
    control_fits: list[dict[str, Any]] = []
    tap_dims = []
    for index, tap in enumerate(tqdm(taps, desc=f"probing {model}", unit="tap")):
        x = _standardised({split: acts[split].tap(tap) for split in SPLITS})
        tap_dims.append(int(x["train"].shape[1]))
        # The conditional probes fit the targets, not the control task (the last column).
        ridge, conditional = fit_ridge_and_conditional(
            x, study.basis, study.y_with_control, len(study.targets), study.search
        )
        fits: dict[str, RidgeFit | MLPFit] = {
            "ridge": ridge,
            "mlp": mlp_fits.pop(tap),
            CONDITIONAL: conditional,
        }
        entries = _probe_tap(model, tap, index, x, fits, study, mean_mse, probed)
        for target, entry in entries.items():
            selection[target].append(entry)
        control_fits.append(_control_task_fit(tap, ridge, study, probed))
    probed.result = {
        "meta": acts["train"].meta,
        "taps": taps,
        "tap_dims": tap_dims,
        "targets": study.targets,
        "n_utterances": {split: len(manifests[split]) for split in SPLITS},
        "selection": selection,
        "best": {target: _best_by_dev(selection[target]) for target in study.targets},
        "control_task": {
            "target": study.targets[study.control_of],
            "kind": CONTROL_TASK,
            "probe": "ridge",
            "per_tap": control_fits,
        },
    }
    return probed


def _control_task_fit(tap: str, ridge: RidgeFit, study: _Study, probed: _Probed) -> dict[str, Any]:
    """Record the ridge probe's test predictions of the control task (its last target column)
    and return its penalty; a penalty at the grid's top is the expected verdict there."""
    column = len(study.targets)
    target = control_target(study.targets[study.control_of])
    probed.predictions[prediction_key(target, "ridge", tap)] = ridge.test_runs(column)
    return {
        "tap": tap,
        "alpha": float(ridge.chosen_alpha[column]),
        "alpha_at_edge": ridge.alpha_at_edge[column],
        "alpha_limit": ridge.alpha_limit[column],
    }


@dataclass(frozen=True)
class _Study:
    """What every probe of a model shares: targets per split, the test speakers' resamples,
    the dev halves of cross-fitted selection, the ridge penalty's search over training-speaker
    folds and the duration basis of conditional probes."""

    settings: dict[str, Any]
    targets: list[str]
    y: dict[str, np.ndarray]
    control_of: int  # the column of the target whose control task is probed
    y_with_control: dict[str, np.ndarray]  # y and, as its last column, the control task
    boot: SpeakerBootstrap
    halves: np.ndarray
    search: PenaltySearch
    basis: dict[str, np.ndarray]

    @classmethod
    def of(cls, manifests: Mapping[str, pd.DataFrame], cfg: dict[str, Any]) -> _Study:
        settings = cfg["probes"]
        targets = list(settings["targets"])
        seed = int(cfg["seed"])
        train_speakers = manifests["train"]["speaker_id"].to_numpy(dtype=str)
        y = {split: target_matrix(manifests[split], targets) for split in SPLITS}
        control_of = targets.index(headline_target(targets))
        control = {
            split: speaker_permuted(
                y[split][:, control_of], manifests[split]["speaker_id"].to_numpy(dtype=str), seed
            )
            for split in SPLITS
        }
        return cls(
            settings=settings,
            targets=targets,
            y=y,
            control_of=control_of,
            y_with_control={split: np.column_stack([y[split], control[split]]) for split in SPLITS},
            boot=bootstrap_of_test_speakers(manifests, settings["bootstrap"]),
            halves=dev_halves(manifests["dev"]["speaker_id"].to_numpy(dtype=str), seed),
            search=PenaltySearch(
                alphas=tuple(float(a) for a in settings["ridge_alphas"]),
                folds=speaker_folds(train_speakers, int(settings["cv_folds"]), seed, "train"),
                max_widenings=int(settings["ridge_widenings"]),
            ),
            basis={split: duration_basis(manifests[split]) for split in SPLITS},
        )


def _add_baselines(
    probed: _Probed, model: str, manifests: Mapping[str, pd.DataFrame], study: _Study
) -> dict[str, float]:
    """Record each target's labels and nuisance baselines; return each target's test MSE of
    the mean predictor, the yardstick of failed fits."""
    y = study.y
    baselines = baseline_predictions(manifests, y, study.targets)
    mean_mse = {}
    for t, target in enumerate(study.targets):
        probed.predictions[label_key(target)] = y["test"][:, t]
        for name, predicted in baselines[target].items():
            probed.predictions[baseline_key(target, name)] = predicted[None]
            metrics = regression_metrics(y["test"][:, t], predicted, study.boot)
            probed.rows += _csv_rows(
                model, BASELINE_TAP, -1, target, f"{BASELINE_PREFIX}{name}", metrics
            )
        mean_mse[target] = float(np.mean((y["test"][:, t] - baselines[target]["mean"]) ** 2))
    return mean_mse


def _probe_tap(
    model: str,
    tap: str,
    index: int,
    x: dict[str, np.ndarray],
    fits: dict[str, RidgeFit | MLPFit],
    study: _Study,
    mean_mse: dict[str, float],
    probed: _Probed,
) -> dict[str, dict[str, Any]]:
    """Record the test metrics and predictions of one standardised tap's ridge, MLP and
    conditional probes, and return each target's dev-selection entry."""
    y = study.y
    entries = {}
    for t, target in enumerate(study.targets):
        entry: dict[str, Any] = {"tap": tap, "index": index, "dim": int(x["train"].shape[1])}
        measured = {
            probe: fit
            for probe, fit in fits.items()
            if probe != CONDITIONAL or conditions_on_duration(target)
        }
        for probe, fit in measured.items():
            test_runs = fit.test_runs(t)
            probed.predictions[prediction_key(target, probe, tap)] = test_runs
            metrics = regression_metrics(y["test"][:, t], test_runs, study.boot)
            probed.rows += _csv_rows(model, tap, index, target, probe, metrics)
            entry[probe] = {
                **_selection_fields(fit, t, y),
                "test_r2_sd": _run_spread(y["test"][:, t], test_runs),
                "prediction_spread": prediction_spread(y["test"][:, t], test_runs),
                "failure": _failure(fit, t, y["test"][:, t], test_runs, mean_mse[target]),
            }
        healthy = [p for p in PROBES if entry[p]["failure"] is None]
        # Ties go to the simpler probe (PROBES lists ridge first).
        entry["best_probe"] = max(
            healthy, key=lambda p: (entry[p]["selection_r2"], -PROBES.index(p)), default=None
        )
        entries[target] = entry
    return entries


def _failure(
    fit: RidgeFit | MLPFit, t: int, y_test: np.ndarray, test_runs: np.ndarray, mean_mse: float
) -> str | None:
    """Why the fit of target column `t` failed (probing/health.py), or None. Ridge may choose
    to predict the mean (cross-validation's verdict), but not by a penalty stuck at an end of
    its grid."""
    if isinstance(fit, RidgeFit):
        return fit.edge_failure(t) or fit_failure(y_test, test_runs, mean_mse, may_collapse=True)
    return fit_failure(y_test, test_runs, mean_mse)


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


def _selection_fields(
    fit: RidgeFit | MLPFit, t: int, y: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """Dev numbers of one probe for target column `t`: its own tuning and the score
    (`selection_r2`) that compares probes and taps."""
    y_dev = y["dev"][:, t]
    variance = float(np.var(y_dev))
    if isinstance(fit, RidgeFit):
        chosen = int(np.searchsorted(fit.alphas, fit.chosen_alpha[t]))
        dev_r2 = 1.0 - float(fit.dev_mse[t]) / variance
        return {
            # Alpha came from the training speakers, so dev scores ridge out of sample as it is.
            "selection_r2": dev_r2,
            "dev_r2": dev_r2,
            "cv_r2": 1.0 - float(fit.cv_mse[chosen, t]) / float(np.var(y["train"][:, t])),
            "alpha": float(fit.chosen_alpha[t]),
            "alpha_grid": [float(fit.alphas[0]), float(fit.alphas[-1])],
            "alpha_at_edge": fit.alpha_at_edge[t],
            "alpha_limit": fit.alpha_limit[t],
        }
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
