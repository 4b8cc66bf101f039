"""Small fake manifests and activation files in the formats of docs/interfaces.md.

Taps: `noise` (pure noise), `signal` (noise plus a planted linear function of cps) and
`embedding` (a per-speaker direction plus noise, plus a weaker cps signal), so probes must find
cps where it was planted and nothing where it was not, and verification must tell speakers apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rateprobe.conventions import ANALYSES

SPLIT_SPEAKERS = {"train": 12, "dev": 4, "test": 20}
TAPS = ("noise", "signal", "embedding")


def fake_manifests(
    root: Path, utts_per_speaker: int = 8, seed: int = 0, with_sex: bool = True
) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    paths = {}
    speaker = 100
    for split, n_speakers in SPLIT_SPEAKERS.items():
        rows = []
        for s in range(n_speakers):
            speaker += 1
            speaker_rate = rng.normal(12.0, 1.5)
            for u in range(utts_per_speaker):
                duration = float(rng.uniform(2.0, 6.0))
                cps = float(speaker_rate + rng.normal(0.0, 2.0))
                n_chars = max(1, round(cps * duration))
                voiced = duration * float(rng.uniform(0.7, 0.95))
                rows.append(
                    {
                        "utt_id": f"{speaker}-1-{u:04d}",
                        "speaker_id": str(speaker),
                        "chapter_id": "1",
                        "sex": ("F" if s % 2 == 0 else "M") if with_sex else "",
                        "path": f"audio/{speaker}-1-{u:04d}.flac",
                        "text": "x" * n_chars,
                        "n_chars": n_chars,
                        "duration_s": duration,
                        "cps": n_chars / duration,
                        "voiced_duration_s": voiced,
                        "articulation_rate": n_chars / voiced,
                    }
                )
        frame = pd.DataFrame(rows).sort_values("utt_id")
        paths[split] = root / "manifests" / f"{split}.csv"
        paths[split].parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(paths[split], index=False)
        (root / "manifests" / f"{split}.bad.json").write_text(
            json.dumps({"split": split, "policy": "fail", "skipped": {}, "files": []})
        )
    return paths


def fake_activations(
    root: Path,
    model: str,
    manifests: dict[str, Path],
    signal_strength: float = 1.0,
    speaker_strength: float = 3.0,
    dim: int = 12,
    seed: int = 1,
) -> dict[str, Path]:
    """Activation files of one fake model; zero strengths give a model that knows nothing."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    speaker_vectors: dict[str, np.ndarray] = {}
    paths = {}
    for split, manifest_path in manifests.items():
        frame = pd.read_csv(manifest_path, dtype={"utt_id": str, "speaker_id": str})
        n = len(frame)
        cps = frame["cps"].to_numpy() - 12.0
        for spk in frame["speaker_id"]:
            speaker_vectors.setdefault(spk, rng.normal(size=dim) * speaker_strength)
        speaker_part = np.stack([speaker_vectors[s] for s in frame["speaker_id"]])
        taps = {
            "noise": rng.normal(size=(n, dim)),
            "signal": rng.normal(size=(n, dim)) * 0.3 + signal_strength * np.outer(cps, direction),
            "embedding": speaker_part
            + rng.normal(size=(n, dim))
            + 0.3 * signal_strength * np.outer(cps, direction),
        }
        meta = {
            "model": model,
            "arch": "fake",
            "source": "random",
            "pooling": ["mean", "std"],
            "n_params": 1234,
            "frontend": "fake",
            "dtype": "float32",
        }
        arrays = {
            "utt_id": frame["utt_id"].to_numpy(dtype=str),
            "layer_names": np.array(TAPS),
            "meta_json": np.array(json.dumps(meta)),
            **{f"tap/{name}": values.astype(np.float32) for name, values in taps.items()},
        }
        paths[split] = root / "activations" / model / f"{split}.npz"
        paths[split].parent.mkdir(parents=True, exist_ok=True)
        np.savez(paths[split], **arrays)
    return paths


def small_config(targets: tuple[str, ...] = ("cps", "articulation_rate")) -> dict:
    """The resolved config sections the probing stage reads, made small and fast."""
    return {
        "seed": 0,
        "corpus": {"kind": "synthetic"},
        "activations": {"pooling": ["mean", "std"], "max_seconds": None},
        "probes": {
            "targets": list(targets),
            "device": "cpu",
            "ridge_alphas": [0.1, 1.0, 10.0, 100.0],
            "cv_folds": 5,
            "ridge_widenings": 3,
            "min_test_speakers": 20,
            "mlp": {
                "hidden": 16,
                "seeds": [0, 1, 2],
                "lr": 0.02,
                "weight_decay": 0.0001,
                "batch_size": 64,
                "max_epochs": 40,
                "patience": 8,
            },
            # p >= 1 / (n + 1): the fake study's 12 claims need n + 1 > 12 / 0.05 under Holm.
            "bootstrap": {"n": 499, "seed": 0},
        },
        "analysis": {
            "cca": {"pca_components": 4},
            "tsne": {"perplexity": 30, "seed": 0},
            "classification": {"targets": ["sex", "cps_tercile"]},
        },
        "models": [
            {
                "name": "good",
                "source": "resemblyzer",
                "source_kind": "resemblyzer",
                "arch": "resemblyzer",
                "controls": ["blank"],
            },
            {
                "name": "blank",
                "source": "random",
                "source_kind": "random",
                "arch": "resemblyzer",
                "seed": 0,
                "controls": [],
            },
        ],
    }


def probe_into(
    out: Path, name: str, activations: dict, manifests: dict, cfg: dict
) -> dict[str, Any]:
    """Probe and analyse one fake model single-threaded, writing its outputs under `out`."""
    from rateprobe.analysis import run
    from rateprobe.probing.run import probe_model

    paths: dict[str, Any] = {
        "table": out / "probes" / f"{name}.csv",
        "result": out / "probes" / f"{name}.json",
        "predictions": out / "probes" / f"{name}.predictions.npz",
        "analyses": [out / "analysis" / name / f"{analysis}.json" for analysis in ANALYSES],
    }
    probe_model(
        name,
        activations,
        manifests,
        {"seed": cfg["seed"], "probes": cfg["probes"]},
        paths["table"],
        paths["result"],
        paths["predictions"],
        threads=1,
    )
    inputs = {"activation_paths": activations, "manifest_paths": manifests}
    verification, tsne, classification, cca = paths["analyses"]
    bootstrap = cfg["probes"]["bootstrap"]
    run.run_verification(**inputs, bootstrap=bootstrap, out_json=verification)
    run.run_tsne(**inputs, settings=cfg["analysis"]["tsne"], out_json=tsne)
    run.run_classification(
        **inputs,
        probe_result=paths["result"],
        settings=cfg["analysis"]["classification"],
        bootstrap=bootstrap,
        seed=cfg["seed"],
        out_json=classification,
    )
    run.run_cca(
        **inputs,
        targets=cfg["probes"]["targets"],
        settings=cfg["analysis"]["cca"],
        out_json=cca,
    )
    return paths


def run_fake_study(root: Path, cfg: dict | None = None) -> dict:
    """Probe the fake models `good` (signal planted) and `blank` (its control, no signal);
    returns the paths the summary and figures read."""
    cfg = cfg or small_config()
    manifests = fake_manifests(root)
    activations = {
        "good": fake_activations(root, "good", manifests),
        "blank": fake_activations(
            root, "blank", manifests, signal_strength=0.0, speaker_strength=0.0, seed=5
        ),
    }
    models = {
        name: probe_into(root, name, paths, manifests, cfg) for name, paths in activations.items()
    }
    return {
        "cfg": cfg,
        "manifests": manifests,
        "bad_reports": {s: root / "manifests" / f"{s}.bad.json" for s in manifests},
        "models": models,
    }
