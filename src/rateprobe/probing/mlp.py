"""MLP probes: one hidden layer, one output neuron, MSE loss, Adam, early-stopped on dev.

Every (tap, seed, target) triple is its own network with its own single output neuron. They
are trained side by side as one batched computation: the networks share no parameter, and the
MSE sum and Adam (with its weight decay) act element by element, so each network follows the
trajectory it would follow alone (up to the order of float sums inside the batched products),
at a fraction of the Python overhead.

Layout: a probe is one (tap, seed) pair and holds that tap's networks of all targets side by
side. Taps of one width form a group whose probes are stacked on a leading axis, so one batched
matrix product serves them all. A probe whose networks have all stopped leaves the batch (its
best parameters are kept), so later epochs cost only what is still training. Taps are taken in
chunks whose features fit a memory budget; each chunk trains as one batch. The stacked
networks' arithmetic (initialisation, forward pass, the gradient written by hand into buffers
kept across steps) is probing/mlp_network.py's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from rateprobe.conventions import SPLITS
from rateprobe.probing.mlp_network import by_network, forward, init_probe, write_gradients
from rateprobe.probing.selection import crossfit_mse, half_sums

# Features of the taps trained together, as float32 on the device, at most about this many
# bytes (the last tap of a chunk may overshoot): bounds the probing job's memory.
CHUNK_BYTES = 2 * 1024**3
# Dev features copied per probe for one slice of the dev evaluation, at most about this many
# bytes: all probes at once would copy the chunk's dev features once per seed, every epoch.
EVALUATION_BYTES = 32 * 1024**2


@dataclass(frozen=True)
class MLPSettings:
    hidden: int
    seeds: tuple[int, ...]
    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int

    @classmethod
    def from_config(cls, mlp: dict[str, Any]) -> MLPSettings:
        return cls(
            hidden=int(mlp["hidden"]),
            seeds=tuple(int(s) for s in mlp["seeds"]),
            lr=float(mlp["lr"]),
            weight_decay=float(mlp["weight_decay"]),
            batch_size=int(mlp["batch_size"]),
            max_epochs=int(mlp["max_epochs"]),
            patience=int(mlp["patience"]),
        )


@dataclass(frozen=True)
class MLPFit:
    """Predictions (n_seeds, n_targets, n) at each network's best dev epoch, and each network's
    cross-fitted dev MSE over the epochs it trained (rateprobe.probing.selection)."""

    dev_predictions: np.ndarray
    test_predictions: np.ndarray
    best_epoch: np.ndarray  # (n_seeds, n_targets), 1-based
    epochs_run: int
    crossfit_dev_mse: np.ndarray  # (n_seeds, n_targets)

    def test_runs(self, t: int) -> np.ndarray:
        """Test predictions of target column `t`, one run per seed: (n_seeds, n_test)."""
        return self.test_predictions[:, t]


def fit_mlps(
    features: Mapping[str, Mapping[str, np.ndarray]],
    train_targets: np.ndarray,
    dev_targets: np.ndarray,
    settings: MLPSettings,
    dev_halves: np.ndarray,
    device: torch.device | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    progress: str | None = None,
) -> dict[str, MLPFit]:
    """Train one network per (tap, seed, target); `features` maps each tap to its standardised
    features per split (train, dev, test), targets are (n, n_targets), `dev_halves` splits dev
    by speaker for the cross-fitted score. Returns the fits in the order of `features`.

    `features[tap]` is read once per tap, in order, so a lazy mapping that loads a tap when
    asked keeps only one chunk of taps (about `chunk_bytes` of float32) in memory at a time.
    With `progress`, a bar per chunk counts its epochs under that label.

    Each network keeps the parameters of its epoch of least dev MSE and is finished once it
    has not improved for `patience` epochs; it trains at most `max_epochs`.
    """
    device = device or torch.device("cpu")
    y_train = np.asarray(train_targets, dtype=np.float64).reshape(len(train_targets), -1)
    y_dev = np.asarray(dev_targets, dtype=np.float64).reshape(len(dev_targets), -1)
    # Targets on the unit scale, so lr and weight decay mean the same for every target.
    y_mean, y_scale = y_train.mean(axis=0), y_train.std(axis=0)
    y_scale[y_scale == 0] = 1.0
    scaled = _Targets(
        train=_tensor(((y_train - y_mean) / y_scale).T, device),  # (T, n)
        dev=_tensor(((y_dev - y_mean) / y_scale).T, device),
        mean=y_mean,
        scale=y_scale,
        dev_halves=np.asarray(dev_halves),
    )
    fits: dict[str, MLPFit] = {}
    chunk: dict[str, dict[str, torch.Tensor]] = {}
    chunk_size = 0
    for tap in features:
        loaded = features[tap]
        for split, n in (("train", len(y_train)), ("dev", len(y_dev))):
            if len(loaded[split]) != n:
                raise ValueError(
                    f"MLP probes, tap '{tap}': {len(loaded[split])} {split} feature rows "
                    f"for {n} {split} targets"
                )
        chunk[tap] = {split: _tensor(loaded[split], torch.device("cpu")) for split in SPLITS}
        chunk_size += sum(values.nbytes for values in chunk[tap].values())
        if chunk_size >= chunk_bytes:
            fits.update(_fit_chunk(chunk, scaled, settings, device, progress))
            chunk, chunk_size = {}, 0
    if chunk:
        fits.update(_fit_chunk(chunk, scaled, settings, device, progress))
    return fits


@dataclass(frozen=True)
class _Targets:
    train: torch.Tensor  # (n_targets, n_train) on the unit scale
    dev: torch.Tensor  # (n_targets, n_dev)
    mean: np.ndarray  # (n_targets,): back to the targets' own units
    scale: np.ndarray
    dev_halves: np.ndarray


def _tensor(values: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(values), dtype=torch.float32).to(device)


class _Group:
    """The probes of a chunk's taps of one width, stacked: probe p is (tap p // n_seeds, seed
    p % n_seeds). `params` holds the probes still training (`active`, indices into all
    probes); `best` holds every probe's parameters of its best dev epoch so far."""

    def __init__(
        self,
        taps: list[str],
        features: list[dict[str, torch.Tensor]],
        n_targets: int,
        settings: MLPSettings,
        device: torch.device,
    ) -> None:
        self.taps, self.n_targets = taps, n_targets
        self.n_seeds = len(settings.seeds)
        self.features = {
            split: torch.stack([tap[split] for tap in features]).to(device) for split in SPLITS
        }  # (K, n, d)
        n_features = self.features["train"].shape[2]
        probes = [
            init_probe(seed, n_features, n_targets, settings.hidden)
            for _ in taps
            for seed in settings.seeds
        ]
        self.params = _with_gradients(
            [torch.stack(layer).to(device) for layer in zip(*probes, strict=True)]
        )
        self.best = [p.clone() for p in self.params]
        n_probes = len(probes)
        self.tap_of_probe = torch.arange(len(taps), device=device).repeat_interleave(self.n_seeds)
        self.seed_of_probe = torch.arange(self.n_seeds, device=device).repeat(len(taps))
        self.active = torch.arange(n_probes, device=device)
        self.best_dev = torch.full((n_probes, n_targets), math.inf, device=device)
        self.best_epoch = torch.zeros((n_probes, n_targets), dtype=torch.long, device=device)
        # A network whose patience ran out is finished, as if trained alone: later epochs of
        # the others must not replace its parameters.
        self.finished = torch.zeros((n_probes, n_targets), dtype=torch.bool, device=device)
        # Per epoch, each network's dev error on each dev half (+inf once it has finished).
        self.half_sse: list[np.ndarray] = []
        self.epochs_run = np.zeros(len(taps), dtype=np.int64)  # 0: still training

    def write_gradients(self, orders: torch.Tensor, batch: slice, targets: torch.Tensor) -> None:
        """The gradient of the active probes' summed minibatch MSE, into their `.grad`;
        orders (n_seeds, n_train) per seed."""
        rows = orders[self.seed_of_probe[self.active], batch]  # (P, B)
        train = self.features["train"]  # (K, n, d)
        # index_select on the taps' rows laid end to end: several times cheaper than indexing
        # (K, n, d) by (tap, row) pairs.
        flat_rows = self.tap_of_probe[self.active][:, None] * train.shape[1] + rows
        inputs = train.view(-1, train.shape[2]).index_select(0, flat_rows.view(-1))
        write_gradients(self.params, inputs.view(*rows.shape, -1), targets[:, rows].transpose(0, 1))

    def _dev_squared_errors(self, dev_targets: torch.Tensor) -> torch.Tensor:
        """The active probes' squared errors on dev (P, T, n_dev), a few probes at a time:
        each probe needs its own copy of its tap's dev features (the batched product reads
        one per probe), and made a few at a time the copies stay small."""
        dev = self.features["dev"]
        per_part = max(1, EVALUATION_BYTES // (dev.shape[1] * dev.shape[2] * dev.element_size()))
        errors = []
        for start in range(0, len(self.active), per_part):
            part = slice(start, start + per_part)
            inputs = dev.index_select(0, self.tap_of_probe[self.active[part]])
            predictions = forward([p[part] for p in self.params], inputs)
            errors.append((predictions - dev_targets[None]) ** 2)
        return torch.cat(errors)

    def evaluate(self, epoch: int, targets: _Targets, patience: int) -> None:
        """Score the active probes on dev, keep improved networks' parameters, stop the
        impatient."""
        active = self.active
        squared_errors = self._dev_squared_errors(targets.dev)
        dev_mse = squared_errors.mean(dim=2)
        finished = self.finished[active]
        sums = np.full((len(self.finished), self.n_targets, 2), np.inf)
        active_sums = half_sums(squared_errors.double().cpu().numpy(), targets.dev_halves)
        sums[active.cpu().numpy()] = np.where(
            finished.cpu().numpy()[..., None], np.inf, active_sums
        )
        self.half_sse.append(sums)
        improved = (dev_mse < self.best_dev[active]) & ~finished
        self.best_dev[active] = torch.where(improved, dev_mse, self.best_dev[active])
        self.best_epoch[active] = torch.where(improved, epoch, self.best_epoch[active])
        masks = [improved[:, None, :, None]] * 2 + [improved[:, :, None]] * 2
        current = by_network(self.params)
        best = by_network(self.best)
        for kept, source, mask in zip(best, current, masks, strict=True):
            kept[active] = torch.where(mask, source, kept[active])
        self.finished[active] = finished | (epoch - self.best_epoch[active] >= patience)
        done = self.finished.view(len(self.taps), -1).all(dim=1).cpu().numpy()
        self.epochs_run[done & (self.epochs_run == 0)] = epoch

    def still_training(self) -> torch.Tensor:
        """Mask over the active probes: those with a network not yet finished."""
        return ~self.finished[self.active].all(dim=1)

    def fits(self, targets: _Targets, epochs_done: int) -> dict[str, MLPFit]:
        """Each tap's fit from its networks' best parameters."""
        n_dev = targets.dev.shape[1]
        out = {}
        for k, tap in enumerate(self.taps):
            probes = slice(k * self.n_seeds, (k + 1) * self.n_seeds)
            params = [p[probes] for p in self.best]

            def predict(split: str, params: list[torch.Tensor] = params, k: int = k) -> np.ndarray:
                inputs = self.features[split][k].expand(self.n_seeds, -1, -1)
                unit = forward(params, inputs).double().cpu().numpy()
                return unit * targets.scale[None, :, None] + targets.mean[None, :, None]

            epochs = int(self.epochs_run[k]) or epochs_done
            sums = np.stack(self.half_sse[:epochs])[:, probes]
            out[tap] = MLPFit(
                dev_predictions=predict("dev"),
                test_predictions=predict("test"),
                best_epoch=self.best_epoch[probes].cpu().numpy(),
                epochs_run=epochs,
                # Back from the unit scale to the target's own units.
                crossfit_dev_mse=crossfit_mse(sums, n_dev) * targets.scale**2,
            )
        return out


def _with_gradients(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """The parameters, each with a `.grad` buffer that every step overwrites."""
    for param in params:
        param.grad = torch.empty_like(param)
    return params


def _adam(
    groups: list[_Group], settings: MLPSettings, state: dict[torch.Tensor, dict[str, Any]]
) -> torch.optim.Adam:
    """Adam over the active probes' parameters, resuming from `state` (per parameter)."""
    params = [p for group in groups if len(group.active) for p in group.params]
    # fused: one pass over the parameters per step instead of a dozen (the CPU bottleneck).
    optimiser = torch.optim.Adam(
        params, lr=settings.lr, weight_decay=settings.weight_decay, fused=True
    )
    for p in params:
        if p in state:
            optimiser.state[p] = state[p]
    return optimiser


def _drop_finished(
    groups: list[_Group], optimiser: torch.optim.Adam, settings: MLPSettings
) -> torch.optim.Adam:
    """Take the probes whose networks have all finished out of the batch, with their rows of
    Adam's moments (the step count is shared: all started together)."""
    state: dict[torch.Tensor, dict[str, Any]] = dict(optimiser.state)
    for group in groups:
        keep = group.still_training()
        if bool(keep.all()):
            continue
        kept = _with_gradients([p[keep] for p in group.params])
        for old, new in zip(group.params, kept, strict=True):
            moments = state.pop(old, {})
            state[new] = {
                name: value[keep].clone() if value.dim() else value.clone()
                for name, value in moments.items()
            }
        group.params, group.active = kept, group.active[keep]
    return _adam(groups, settings, state)


def _fit_chunk(
    chunk: dict[str, dict[str, torch.Tensor]],
    targets: _Targets,
    settings: MLPSettings,
    device: torch.device,
    progress: str | None,
) -> dict[str, MLPFit]:
    by_width: dict[int, list[str]] = {}
    for tap, values in chunk.items():
        by_width.setdefault(values["train"].shape[1], []).append(tap)
    n_targets = targets.train.shape[0]
    order = list(chunk)
    # Each group stacks its taps' features; popping them from the chunk frees the copies.
    groups = [
        _Group(taps, [chunk.pop(tap) for tap in taps], n_targets, settings, device)
        for taps in by_width.values()
    ]
    optimiser = _adam(groups, settings, {})
    # One shuffler per seed, shared by that seed's probes of every tap: the minibatch order a
    # tap's probe of that seed would see alone.
    shufflers = [torch.Generator().manual_seed(seed) for seed in settings.seeds]
    n_train = targets.train.shape[1]
    epoch = 0
    bar = tqdm(
        total=settings.max_epochs,
        desc=f"{progress}: {len(order)} taps",
        unit="epoch",
        disable=progress is None,
    )
    for epoch in range(1, settings.max_epochs + 1):
        bar.update()
        orders = torch.stack([torch.randperm(n_train, generator=g) for g in shufflers]).to(device)
        training = [group for group in groups if len(group.active)]
        for start in range(0, n_train, settings.batch_size):
            batch = slice(start, start + settings.batch_size)
            for group in training:
                group.write_gradients(orders, batch, targets.train)
            optimiser.step()
        for group in training:
            group.evaluate(epoch, targets, settings.patience)
        if all(bool(group.finished.all()) for group in groups):
            break
        if any(not bool(group.still_training().all()) for group in training):
            optimiser = _drop_finished(groups, optimiser, settings)
        bar.set_postfix(training=f"{sum(len(group.active) for group in groups)} probes")
    bar.close()
    fits: dict[str, MLPFit] = {}
    for group in groups:
        fits.update(group.fits(targets, epoch))
    return {tap: fits[tap] for tap in order}
