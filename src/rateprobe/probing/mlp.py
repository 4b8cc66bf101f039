"""MLP probes: one hidden layer, one output neuron, MSE loss, Adam, early-stopped on dev.

Every (seed, target) pair is its own network with its own single output neuron. They are
trained side by side as one batched computation: the networks share no parameter, and the MSE
sum and Adam (with its weight decay) act element by element, so each network follows exactly
the trajectory it would follow alone, at a fraction of the Python overhead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rateprobe.probing.selection import crossfit_mse, half_sums


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


def _init_layer(generator: torch.Generator, fan_in: int, shape: tuple[int, ...]) -> torch.Tensor:
    # torch.nn.Linear's default: uniform in +-1/sqrt(fan_in).
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound


class _Networks:
    """Parameters of n_seeds x n_targets one-hidden-layer networks.

    The hidden layers of one seed's networks sit side by side, so the first layer of all of
    them is one batched matrix product: w1 (S, d, T*h), b1 (S, 1, T*h), w2 (S, T, h),
    b2 (S, T, 1).
    """

    def __init__(self, n_features: int, n_targets: int, settings: MLPSettings) -> None:
        self.shape = (len(settings.seeds), n_targets, settings.hidden)
        layers: list[list[torch.Tensor]] = [[], [], [], []]
        for seed in settings.seeds:
            generator = torch.Generator().manual_seed(seed)
            for _ in range(n_targets):
                layers[0].append(_init_layer(generator, n_features, (n_features, settings.hidden)))
                layers[1].append(_init_layer(generator, n_features, (settings.hidden,)))
                layers[2].append(_init_layer(generator, settings.hidden, (settings.hidden,)))
                layers[3].append(_init_layer(generator, settings.hidden, (1,)))
        n_seeds, _, hidden = self.shape
        w1 = torch.stack(layers[0]).reshape(n_seeds, n_targets, n_features, hidden)
        self.params = [
            w1.permute(0, 2, 1, 3).reshape(n_seeds, n_features, n_targets * hidden),
            torch.stack(layers[1]).reshape(n_seeds, 1, n_targets * hidden),
            torch.stack(layers[2]).reshape(n_seeds, n_targets, hidden),
            torch.stack(layers[3]).reshape(n_seeds, n_targets, 1),
        ]
        for p in self.params:
            p.requires_grad_(True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (n_seeds, n, d) -> predictions (n_seeds, n_targets, n)."""
        w1, b1, w2, b2 = self.params
        n_seeds, n_targets, hidden = self.shape
        units = torch.relu(torch.baddbmm(b1, features, w1))
        units = units.view(n_seeds, -1, n_targets, hidden)
        return (units * w2[:, None]).sum(dim=-1).transpose(1, 2) + b2

    def _by_network(self, params: list[torch.Tensor]) -> list[torch.Tensor]:
        """Views of `params` with the (seed, target) axes apart: (S, ., T, .) or (S, T, .)."""
        n_seeds, n_targets, hidden = self.shape
        w1, b1, w2, b2 = params
        return [
            w1.view(n_seeds, -1, n_targets, hidden),
            b1.view(n_seeds, 1, n_targets, hidden),
            w2,
            b2,
        ]

    def keep_where(self, kept: list[torch.Tensor], improved: torch.Tensor) -> None:
        """Copy the current parameters of the networks marked in `improved` (S, T) to `kept`."""
        masks = [improved[:, None, :, None]] * 2 + [improved[:, :, None]] * 2
        current = self._by_network([p.detach() for p in self.params])
        for target, source, mask in zip(self._by_network(kept), current, masks, strict=True):
            target.copy_(torch.where(mask, source, target))


def fit_mlp(
    train_features: np.ndarray,
    train_targets: np.ndarray,
    dev_features: np.ndarray,
    dev_targets: np.ndarray,
    test_features: np.ndarray,
    settings: MLPSettings,
    dev_halves: np.ndarray,
) -> MLPFit:
    """Train one network per (seed, target) on standardised features; targets (n, n_targets);
    `dev_halves` splits dev by speaker for the cross-fitted score.

    Each network keeps the parameters of its epoch of least dev MSE and is finished once it
    has not improved for `patience` epochs; training ends when all are, or at `max_epochs`.
    """
    y_train = np.asarray(train_targets, dtype=np.float64).reshape(len(train_features), -1)
    y_dev = np.asarray(dev_targets, dtype=np.float64).reshape(len(dev_features), -1)
    # Targets on the unit scale, so lr and weight decay mean the same for every target.
    y_mean, y_scale = y_train.mean(axis=0), y_train.std(axis=0)
    y_scale[y_scale == 0] = 1.0
    n_seeds, n_targets = len(settings.seeds), y_train.shape[1]

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)

    x_train, x_dev, x_test = tensor(train_features), tensor(dev_features), tensor(test_features)
    t_train = tensor(((y_train - y_mean) / y_scale).T)  # (T, n)
    t_dev = tensor(((y_dev - y_mean) / y_scale).T)

    nets = _Networks(x_train.shape[1], n_targets, settings)
    # fused: one pass over the parameters per step instead of a dozen (the CPU bottleneck).
    optimiser = torch.optim.Adam(
        nets.params, lr=settings.lr, weight_decay=settings.weight_decay, fused=True
    )
    shufflers = [torch.Generator().manual_seed(seed) for seed in settings.seeds]
    best = [p.detach().clone() for p in nets.params]
    best_dev = torch.full((n_seeds, n_targets), math.inf)
    best_epoch = torch.zeros((n_seeds, n_targets), dtype=torch.long)
    # A network whose patience ran out is finished, as if trained alone: later epochs of the
    # others must not replace its parameters.
    finished = torch.zeros((n_seeds, n_targets), dtype=torch.bool)
    n_train = x_train.shape[0]
    # Per epoch, each network's dev error on each dev half (+inf once it has finished).
    half_sse: list[np.ndarray] = []
    epoch = 0
    for epoch in range(1, settings.max_epochs + 1):
        orders = torch.stack([torch.randperm(n_train, generator=g) for g in shufflers])
        for start in range(0, n_train, settings.batch_size):
            batch = orders[:, start : start + settings.batch_size]  # (S, B)
            predictions = nets.forward(x_train[batch])  # (S, T, B)
            errors = predictions - t_train[:, batch].permute(1, 0, 2)
            loss = (errors**2).mean(dim=2).sum()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            dev_pred = nets.forward(x_dev.expand(n_seeds, -1, -1))
            squared_errors = (dev_pred - t_dev[None]) ** 2
            dev_mse = squared_errors.mean(dim=2)
            sums = half_sums(squared_errors.double().numpy(), dev_halves)
            half_sse.append(np.where(finished.numpy()[..., None], np.inf, sums))
            improved = (dev_mse < best_dev) & ~finished
            best_dev = torch.where(improved, dev_mse, best_dev)
            best_epoch[improved] = epoch
            nets.keep_where(best, improved)
        finished |= epoch - best_epoch >= settings.patience
        if bool(finished.all()):
            break

    with torch.no_grad():
        nets.params = best

        def predict(features: torch.Tensor) -> np.ndarray:
            unit = nets.forward(features.expand(n_seeds, -1, -1)).double().numpy()
            return unit * y_scale[None, :, None] + y_mean[None, :, None]

        return MLPFit(
            dev_predictions=predict(x_dev),
            test_predictions=predict(x_test),
            best_epoch=best_epoch.numpy(),
            epochs_run=epoch,
            # Back from the unit scale to the target's own units.
            crossfit_dev_mse=crossfit_mse(np.stack(half_sse), len(y_dev)) * y_scale**2,
        )
