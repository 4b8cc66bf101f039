"""Benchmark the probes at the full study's size, on random features.

Sizes: LibriSpeech train-clean-100 / dev-clean / test-clean (28,539 / 2,703 / 2,620 utterances)
and every tap of SimAM-ResNet100 as the probing stage reads it (`taps`: the encoder's own list and
widths): the stem (64 channels), 6 blocks of 64, 16 of 128, 24 of 256 and 3 of 512 channels, each
pooled to the mean and standard deviation of its channels, the attentive statistics pooling's
output (10,240: mean and deviation of 512 channels x 10 frequency bands) and the embedding (256).

Ridge (standardisation, one decomposition per cross-validation fold of the training speakers and
one of them all, every alpha of the default grid scored, test predictions and their
speaker-bootstrap metrics) runs on every tap, and so does the conditional probe (ridge on the
tap residualised on a duration basis, as the probing stage fits it too); target: <= 5 min on 2
cores. Both are timed twice per tap, back to back: as the library fits them now (one call, the
conditional probe's folds and refit taken from ridge's decompositions, so that it decomposes
nothing of its own) and as it fitted them before (`ridge_and_conditional_before`:
ridge, then the conditional probe with K + 1 decompositions of its own), and the chosen
penalties and predictions are checked to agree. A ridge fit's cost is not proportional to the
number of utterances (its eigendecompositions do not depend on it where the utterances outnumber
the dimensions), so `--probes ridge` at `--scale 1` measures the full
size. The MLP probes (3 seeds x the configured targets) of every tap are timed for
`--mlp-epochs` epochs with early stopping out of reach (the most an epoch can cost), three ways:
each tap alone (how the probing stage trained them at first: "per-tap"), all taps together as
fit_mlps trained them before its gradient was written by hand (autograd's gradients, the
minibatches indexed by (tap, row) pairs, the dev set scored by all probes at once:
"batched-before"), and as fit_mlps trains them now ("batched"); the two batched ways'
predictions are checked to agree. On a small machine, run them on a fraction `--scale` of the
utterances: an epoch's cost is proportional to the number of training minibatches (and dev
utterances, scaled alike), so the full-size time of an epoch is the measured one times 1/scale;
the one-off costs are reported apart. The whole probing stage at the full size:
bench/bench_probing_stage.py. Usage:

    .venv/bin/python bench/bench_probes.py [--threads 2] [--mlp-epochs 2] [--scale 1.0]
        [--probes ridge mlp] [--mlp-modes per-tap batched-before batched] [--device auto]
        [--one-tap-per-width]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import shlex
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from rateprobe.activations import extract_taps
from rateprobe.bootstrap import SpeakerBootstrap, speaker_bootstrap
from rateprobe.config import DEFAULTS
from rateprobe.devices import resolve_device
from rateprobe.encoders import build_encoder
from rateprobe.features import Standardiser
from rateprobe.frontend import SAMPLE_RATE
from rateprobe.metrics import regression_metrics
from rateprobe.probing import mlp
from rateprobe.probing.conditional import Residualiser, fit_ridge_and_conditional
from rateprobe.probing.mlp import MLPFit, MLPSettings, fit_mlps
from rateprobe.probing.mlp_network import forward
from rateprobe.probing.ridge import PenaltySearch, RidgeFit, fit_ridge
from rateprobe.probing.selection import dev_halves, speaker_folds

SPLIT_SIZES = {"train": 28_539, "dev": 2_703, "test": 2_620}
TRAIN_SPEAKERS = 251
TEST_SPEAKERS = 40
DEV_SPEAKERS = 40
# Epoch counts the MLP times are extrapolated to: the 30 epochs the 1.4 h of the issue were
# measured at, and the configured maximum.
REPORTED_EPOCHS = (30,)
# The widest encoder of the full study, whose taps the benchmarks probe.
ARCH = "samresnet100"
# The configured targets; ridge fits one more column, the control task of the headline target
# (rateprobe.probing.control_task), as the probing stage does.
N_TARGETS = len(DEFAULTS["probes"]["targets"])
# Ridge and the conditional probe fitted as the library does now and as it did before.
HOWS = ("now", "before")
MLP_MODES = ("per-tap", "batched-before", "batched")
# Edge of the large float32 product whose rate bounds the MLP probes' products.
PRODUCT_SIZE = 4096


@functools.cache
def taps(arch: str = ARCH) -> list[tuple[str, int]]:
    """(name, width) of every tap the probing stage reads for `arch`, in network order: the
    encoder's own tap list, each as wide as the extraction pools it, from the extraction of a
    second of noise by a randomly initialised encoder."""
    encoder = build_encoder(arch)
    names = encoder.tap_names()
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, SAMPLE_RATE).astype(np.float32)
    pooled = extract_taps(
        encoder, lambda _: noise, [1.0], names,
        tuple(DEFAULTS["activations"]["pooling"]), batch_seconds=1.0, device=torch.device("cpu"),
    )  # fmt: skip
    return [(name, pooled[name].shape[1]) for name in names]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} | {cpu} | {os.cpu_count()} logical CPUs | {platform.platform()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mlp-epochs", type=int, default=2, help="epochs timed per MLP tap")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of utterances")
    parser.add_argument("--probes", nargs="+", choices=["ridge", "mlp"], default=["ridge", "mlp"])
    parser.add_argument("--mlp-modes", nargs="+", choices=MLP_MODES, default=list(MLP_MODES))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument(
        "--one-tap-per-width",
        action="store_true",
        help="ridge: time the first tap of each width and count it for all taps of that width",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # The BLAS bounded as the probing stage bounds it (rateprobe.probing.run.probe_model).
    threadpool_limits(limits=args.threads)
    probes = DEFAULTS["probes"]

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine())
    device = resolve_device(args.device, "--device")
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, threads {args.threads} "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
        f"MLP device {device}{gpu}"
    )
    blas = ", ".join(
        f"{pool['internal_api']} {pool['version']} ({pool['num_threads']} threads)"
        for pool in threadpool_info()
    )
    print(f"BLAS: {blas}; load average before: {os.getloadavg()}")
    sizes = {split: max(50, round(n * args.scale)) for split, n in SPLIT_SIZES.items()}
    all_taps = taps()
    print(
        f"sizes {sizes}; {len(all_taps)} taps, {sum(d for _, d in all_taps)} dims in all; "
        f"{len(probes['ridge_alphas'])} alphas; {N_TARGETS} targets (+1 control task for ridge)"
    )

    rng = np.random.default_rng(0)
    y = {split: rng.normal(12.0, 2.0, size=(n, N_TARGETS + 1)) for split, n in sizes.items()}
    speakers = rng.integers(0, TEST_SPEAKERS, size=sizes["test"]).astype(str)
    boot = speaker_bootstrap(speakers, probes["bootstrap"]["n"], probes["bootstrap"]["seed"])
    halves = dev_halves(rng.integers(0, DEV_SPEAKERS, size=sizes["dev"]).astype(str), 0)

    def features(dim: int) -> dict[str, np.ndarray]:
        return {s: rng.standard_normal((n, dim), dtype=np.float32) for s, n in sizes.items()}

    if "ridge" in args.probes:
        train_speakers = rng.integers(0, TRAIN_SPEAKERS, size=sizes["train"]).astype(str)
        search = PenaltySearch(
            tuple(probes["ridge_alphas"]),
            speaker_folds(train_speakers, probes["cv_folds"], 0, "train"),
            probes["ridge_widenings"],
        )
        bench_ridge(all_taps, features, y, boot, search, args.one_tap_per_width)
    if "mlp" in args.probes:
        tap_features = {name: features(dim) for name, dim in all_taps}
        scale = sizes["train"] / SPLIT_SIZES["train"]
        targets = {split: values[:, :N_TARGETS] for split, values in y.items()}
        bench_mlp(
            tap_features, targets, halves, probes, args.mlp_epochs, args.mlp_modes, device, scale
        )


Features = Callable[[int], dict[str, np.ndarray]]


def conditional_before(
    x: dict[str, np.ndarray],
    basis: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    search: PenaltySearch,
) -> RidgeFit:
    """The conditional probe as the library fitted it before it shared ridge's folds (the
    "before" of this benchmark): ridge of the residualised targets on the residualised tap,
    with K + 1 decompositions of its own."""
    on_tap = Residualiser.fit(basis["train"], x["train"])
    on_targets = Residualiser.fit(basis["train"], targets["train"])
    residual = {split: x[split] - on_tap.fitted(basis[split]) for split in x}
    base = {split: on_targets.fitted(basis[split]) for split in x}
    fit = fit_ridge(residual, {split: targets[split] - base[split] for split in x}, search)
    return replace(
        fit,
        dev_predictions=fit.dev_predictions + base["dev"].T,
        test_predictions=fit.test_predictions + base["test"].T,
    )


def ridge_and_conditional_before(
    x: dict[str, np.ndarray],
    basis: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    search: PenaltySearch,
) -> tuple[RidgeFit, RidgeFit]:
    """Ridge and the conditional probe fitted apart, as the library fitted them before; the
    conditional probe fits the targets, not the control task (the last column)."""
    targets = {split: values[:, :N_TARGETS] for split, values in y.items()}
    return fit_ridge(x, y, search), conditional_before(x, basis, targets, search)


# Now: as the probing stage fits them, the conditional probe's folds and refit from ridge's.
FITS = {
    "now": functools.partial(fit_ridge_and_conditional, n_conditional=N_TARGETS),
    "before": ridge_and_conditional_before,
}


def _agreement(now: RidgeFit, before: RidgeFit) -> float:
    """The largest relative difference of dev and test predictions; the chosen penalties must
    be the same."""
    if not np.array_equal(now.chosen_alpha, before.chosen_alpha):
        raise AssertionError(f"penalties differ: {now.chosen_alpha} vs {before.chosen_alpha}")
    return max(
        float(np.max(np.abs(getattr(now, f) - getattr(before, f)) / np.abs(getattr(before, f))))
        for f in ("dev_predictions", "test_predictions")
    )


def bench_ridge(
    all_taps: list[tuple[str, int]],
    features: Features,
    y: dict[str, np.ndarray],
    boot: SpeakerBootstrap,
    search: PenaltySearch,
    one_per_width: bool,
) -> None:
    """Per tap, standardise, then fit ridge and the conditional probe the library's way and
    the previous way, back to back (alternating which goes first). With `one_per_width`, only
    the first tap of each width is fitted and counts for every tap of that width."""
    widths = Counter(dim for _, dim in all_taps)
    timed = [(name, dim) for name, dim in all_taps if not one_per_width or widths.pop(dim, 0)]
    taps_alike = Counter(dim for _, dim in all_taps) if one_per_width else Counter()
    rng = np.random.default_rng(1)
    basis = {split: rng.normal(1.5, 0.4, size=(len(v), 2)) for split, v in y.items()}
    wall: defaultdict[str, float] = defaultdict(float)
    cpu: defaultdict[str, float] = defaultdict(float)
    worst = 0.0
    for index, (name, dim) in enumerate(timed):
        weight = taps_alike[dim] or 1
        raw = features(dim)
        start = time.perf_counter()
        standardiser = Standardiser.fit(raw["train"])
        x = {split: standardiser.transform(raw[split]) for split in raw}
        wall["standardise"] += weight * (time.perf_counter() - start)
        fits: dict[str, tuple[RidgeFit, RidgeFit]] = {}
        for how in HOWS if index % 2 == 0 else HOWS[::-1]:
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            fits[how] = FITS[how](x, basis, y, search=search)
            wall[how] += weight * (time.perf_counter() - start_wall)
            cpu[how] += weight * (time.process_time() - start_cpu)
        for now, before in zip(fits["now"], fits["before"], strict=True):
            worst = max(worst, _agreement(now, before))
        start = time.perf_counter()
        for t in range(N_TARGETS):
            regression_metrics(y["test"][:, t], fits["now"][0].test_predictions[t], boot)
        wall["metrics"] += weight * (time.perf_counter() - start)
        print(
            f"  {name:9s} dim {dim:5d} (x{weight}): now {wall['now']:6.1f} s, "
            f"before {wall['before']:6.1f} s so far (wall)",
            flush=True,
        )
    how_many = f"{len(timed)} taps, one per width, counted for" if one_per_width else "all"
    print(f"{how_many} {len(all_taps)} taps (wall / CPU seconds of all threads):")
    print(
        f"  ridge and the conditional probe, with their alpha search: now {wall['now']:.1f} / "
        f"{cpu['now']:.1f} s, before {wall['before']:.1f} / {cpu['before']:.1f} s (before / "
        f"now, wall: {wall['before'] / wall['now']:.2f}, CPU: {cpu['before'] / cpu['now']:.2f})"
    )
    print(f"  standardisation {wall['standardise']:.1f} s (once per tap, shared)")
    print(f"  speaker-bootstrap metrics ({boot.counts.shape[0]} resamples, ridge): "
          f"{wall['metrics']:.1f} s")  # fmt: skip
    total = wall["standardise"] + wall["now"]
    print(
        f"RIDGE + conditional ridge + standardisation now: {total:.1f} s ({total / 60:.2f} min; "
        f"target <= 5 min); every penalty the same, predictions within {worst:.1e} relative"
    )


def previous_gradients(
    self: Any, orders: torch.Tensor, batch: slice, targets: torch.Tensor
) -> None:
    """A minibatch's gradient as the library took it before (the "batched-before" mode):
    indexed by (tap, row) pairs, autograd's backward, each gradient a fresh tensor each step."""
    rows = orders[self.seed_of_probe[self.active], batch]
    inputs = self.features["train"][self.tap_of_probe[self.active][:, None], rows]
    leaves = [param.detach().requires_grad_() for param in self.params]
    errors = forward(leaves, inputs) - targets[:, rows].transpose(0, 1)
    (errors**2).mean(dim=2).sum().backward()
    for param, leaf in zip(self.params, leaves, strict=True):
        param.grad = leaf.grad


def previous_dev_squared_errors(self: Any, dev_targets: torch.Tensor) -> torch.Tensor:
    """The dev set scored as before (the "batched-before" mode): by all probes at once."""
    inputs = self.features["dev"][self.tap_of_probe[self.active]]
    return (forward(self.params, inputs) - dev_targets[None]) ** 2


@contextmanager
def previous_mlp_steps() -> Iterator[None]:
    """fit_mlps with the gradient and the dev scoring as before."""
    with (
        mock.patch.object(mlp._Group, "write_gradients", previous_gradients),
        mock.patch.object(mlp._Group, "_dev_squared_errors", previous_dev_squared_errors),
    ):
        yield


def bench_mlp(
    taps: dict[str, dict[str, np.ndarray]],
    y: dict[str, np.ndarray],
    halves: np.ndarray,
    probes: dict[str, Any],
    timed_epochs: int,
    modes: list[str],
    device: torch.device,
    scale: float,
) -> None:
    """Time the MLP probes of all taps in each mode; features are already standard normal,
    so they skip the standardisation. An epoch's cost is the difference between fits of 1 and
    1 + `timed_epochs` epochs over `timed_epochs`, which leaves out the one-off costs
    (initialisation, the final predictions)."""

    def fit(features: dict[str, dict[str, np.ndarray]], epochs: int) -> dict[str, MLPFit]:
        # Patience beyond the epochs: every network trains every epoch, the most it can cost.
        settings = MLPSettings.from_config(
            {**probes["mlp"], "max_epochs": epochs, "patience": epochs + 1}
        )
        return fit_mlps(features, y["train"], y["dev"], settings, halves, device)

    def timed(mode: str, epochs: int) -> tuple[float, float, dict[str, MLPFit]]:
        """(wall, CPU) seconds of fitting all taps in `mode` for `epochs` epochs, and the fits."""
        wall, cpu = time.perf_counter(), time.process_time()
        if mode == "per-tap":
            fits = {name: fit({name: features}, epochs)[name] for name, features in taps.items()}
        elif mode == "batched-before":
            with previous_mlp_steps():
                fits = fit(taps, epochs)
        else:
            fits = fit(taps, epochs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - wall, time.process_time() - cpu, fits

    # One untimed fit first: torch's one-off start-up cost is not a probe's.
    fit(
        {"warm-up": {split: values[:, :8] for split, values in next(iter(taps.values())).items()}},
        1,
    )
    n_train, batch_size = len(y["train"]), int(probes["mlp"]["batch_size"])
    print(
        f"MLP: {len(probes['mlp']['seeds'])} seeds x {N_TARGETS} targets per tap, hidden "
        f"{probes['mlp']['hidden']}, batch {batch_size}: {-(-n_train // batch_size)} steps per "
        f"epoch at {n_train} train utterances; epochs timed: {timed_epochs}. CPU time counts "
        "every thread; wall time includes waiting for cores other jobs hold."
    )
    per_epoch, predictions = {}, {}
    for mode in modes:
        once = timed(mode, 1)
        *more, fits = timed(mode, 1 + timed_epochs)
        wall, cpu = ((b - a) / timed_epochs for a, b in zip(once[:2], more, strict=True))
        per_epoch[mode] = wall
        predictions[mode] = np.stack([fit.test_predictions for fit in fits.values()])
        print(
            f"MLP {mode:16s} all {len(taps)} taps, per epoch: wall {wall:.2f} s, CPU {cpu:.2f} s "
            f"(one-off: wall {once[0] - wall:.1f} s, CPU {once[1] - cpu:.1f} s)",
            flush=True,
        )
        epochs = (*REPORTED_EPOCHS, probes["mlp"]["max_epochs"])
        for clock, seconds in (("wall", wall), ("CPU", cpu)):
            full = ", ".join(f"{e} epochs {seconds / scale * e / 60:.1f} min" for e in epochs)
            print(
                f"    extrapolated x{1 / scale:.1f} to the full size ({clock}): "
                f"{seconds / scale:.1f} s per epoch; {full} (no early stopping)"
            )
    if {"batched-before", "batched"} <= set(modes):
        before, now = predictions["batched-before"], predictions["batched"]
        print(
            f"MLP batched-before / batched, wall per epoch: "
            f"{per_epoch['batched-before'] / per_epoch['batched']:.2f}x; test predictions "
            f"{'bit-identical' if np.array_equal(before, now) else 'DIFFER'} (largest "
            f"difference {np.max(np.abs(before - now)):.1e})"
        )
    if "batched" in modes:
        print_arithmetic_rate(taps, len(y["train"]), probes["mlp"], per_epoch["batched"])


def print_arithmetic_rate(
    taps: dict[str, dict[str, np.ndarray]], n_train: int, settings: dict[str, Any], wall: float
) -> None:
    """The first layers' float32 multiply-adds per epoch (forward and weight gradient), the
    rate the batched epoch reaches over them, and what one large matrix product reaches here:
    how much of an epoch is arithmetic that equal results cannot skip."""
    dims = sum(features["train"].shape[1] for features in taps.values())
    flop = first_layer_flop(n_train, settings, dims)
    print(
        f"MLP first layers: {flop / 1e9:.0f} GFLOP per epoch at these sizes; the batched epoch "
        f"runs {flop / wall / 1e9:.0f} GFLOP/s over them (Adam and everything else included), "
        f"one {PRODUCT_SIZE}x{PRODUCT_SIZE} float32 matrix product "
        f"{product_rate() / 1e9:.0f} GFLOP/s"
    )


def first_layer_flop(n_train: int, settings: dict[str, Any], dims: int) -> int:
    """The MLP probes' first-layer float32 FLOP per epoch (forward and weight gradient) over
    taps of `dims` dimensions in all."""
    width = N_TARGETS * int(settings["hidden"])
    return 2 * 2 * n_train * len(settings["seeds"]) * dims * width


def product_rate() -> float:
    """FLOP/s of one large float32 matrix product, best of three: the rate the MLP probes'
    products could reach at most."""
    a, b = torch.randn(PRODUCT_SIZE, PRODUCT_SIZE), torch.randn(PRODUCT_SIZE, PRODUCT_SIZE)
    a @ b
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * PRODUCT_SIZE**3 / best


if __name__ == "__main__":
    main()
