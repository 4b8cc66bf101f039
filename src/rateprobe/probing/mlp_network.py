"""The MLP probes' networks, stacked: initial parameters, the forward pass, and the gradient
of the summed minibatch MSE written by hand into buffers that live as long as the parameters.

A stack of P probes holds, per probe, the networks of all T targets side by side: w1 (P, d,
T*h), b1 (P, 1, T*h), w2 (P, T, h), b2 (P, T, 1).

Why not autograd: it allocates every gradient afresh on each step, and at the full study's
size the first layer's gradient of a group (tens of MB) comes from fresh pages the kernel must
zero, on each of the hundreds of steps of an epoch. `write_gradients` does autograd's
arithmetic op for op (the same products and sums of the same operands, laid out alike), so the
fits are bit-identical: tests/test_probing.py holds its gradients equal to autograd's, and
bench/bench_probes.py times both ways side by side and compares their predictions.
"""

from __future__ import annotations

import math

import torch


def _init_layer(generator: torch.Generator, fan_in: int, shape: tuple[int, ...]) -> torch.Tensor:
    # torch.nn.Linear's default: uniform in +-1/sqrt(fan_in).
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound


def init_probe(seed: int, n_features: int, n_targets: int, hidden: int) -> list[torch.Tensor]:
    """One probe's initial parameters, drawn from its own generator of `seed` (so the same
    for a tap trained alone or with others): w1 (d, T*h), b1 (1, T*h), w2 (T, h), b2 (T, 1),
    the targets' hidden layers side by side."""
    generator = torch.Generator().manual_seed(seed)
    layers: list[list[torch.Tensor]] = [[], [], [], []]
    for _ in range(n_targets):
        layers[0].append(_init_layer(generator, n_features, (n_features, hidden)))
        layers[1].append(_init_layer(generator, n_features, (hidden,)))
        layers[2].append(_init_layer(generator, hidden, (hidden,)))
        layers[3].append(_init_layer(generator, hidden, (1,)))
    return [
        torch.stack(layers[0], dim=1).reshape(n_features, n_targets * hidden),
        torch.cat(layers[1]).reshape(1, n_targets * hidden),
        torch.stack(layers[2]),
        torch.stack(layers[3]),
    ]


def hidden_units(params: list[torch.Tensor], features: torch.Tensor) -> torch.Tensor:
    """Features (P, n, d) -> the hidden layers' activations (P, n, T*h)."""
    w1, b1 = params[0], params[1]
    return torch.relu(torch.baddbmm(b1, features, w1))


def _by_target(units: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    """Hidden activations (P, n, T*h) as (P, n, T, h): each target's hidden layer apart."""
    return units.view(len(w2), units.shape[1], w2.shape[1], -1)


def outputs(params: list[torch.Tensor], units: torch.Tensor) -> torch.Tensor:
    """Hidden activations (P, n, T*h) -> predictions (P, T, n)."""
    w2, b2 = params[2], params[3]
    return (_by_target(units, w2) * w2[:, None]).sum(dim=-1).transpose(1, 2) + b2


def forward(params: list[torch.Tensor], features: torch.Tensor) -> torch.Tensor:
    """Stacked probes' parameters, features (P, n, d) -> predictions (P, T, n)."""
    return outputs(params, hidden_units(params, features))


def by_network(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Views of stacked parameters with the target axis apart: (P, ., T, .) or (P, T, .)."""
    w1, b1, w2, b2 = params
    n_targets, hidden = w2.shape[1], w2.shape[2]
    return [
        w1.view(len(w1), -1, n_targets, hidden),
        b1.view(len(b1), 1, n_targets, hidden),
        w2,
        b2,
    ]


def _grad(param: torch.Tensor) -> torch.Tensor:
    if param.grad is None:
        raise ValueError("write_gradients needs each parameter's .grad buffer allocated")
    return param.grad


def write_gradients(
    params: list[torch.Tensor], features: torch.Tensor, targets: torch.Tensor
) -> None:
    """The gradient of sum over probes and targets of the minibatch MSE, features (P, B, d)
    and targets (P, T, B), written into each parameter's `.grad` (which must exist)."""
    w2 = params[2]
    units = hidden_units(params, features)
    errors = outputs(params, units) - targets
    # Backward through the mean over the batch and the square: (1/B) * (2 * errors), laid out
    # (P, T, B) as autograd lays it out, so the sums below add in autograd's order.
    d_predictions = errors.new_full(errors.shape, 1.0 / errors.shape[2]) * (2.0 * errors)
    grad_w1, grad_b1, grad_w2, grad_b2 = (_grad(p) for p in params)
    torch.sum(d_predictions, dim=2, keepdim=True, out=grad_b2)
    d_outputs = d_predictions.transpose(1, 2)[..., None]  # (P, B, T, 1), strided as autograd's
    torch.sum(d_outputs * _by_target(units, w2), dim=1, out=grad_w2)
    # ReLU's backward, autograd's own op: through where the unit's output is positive.
    d_units = (d_outputs.contiguous() * w2[:, None]).view(units.shape)
    d_units = torch.ops.aten.threshold_backward(d_units, units, 0)
    torch.sum(d_units, dim=1, keepdim=True, out=grad_b1)
    torch.bmm(features.transpose(1, 2), d_units, out=grad_w1)
