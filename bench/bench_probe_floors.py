"""How fast the probing stage of one model could be on this machine with its results unchanged.

The probing stage's two large parts are arithmetic that equal results cannot skip:

- the MLP probes: per epoch, the first layers' float32 multiply-adds (forward and weight
  gradient of 3 seeds x the configured targets' hidden layers, over every tap's dimensions and
  every training utterance), then one Adam step over all their parameters per minibatch;
- ridge and the conditional probes of the widest tap (the attentive statistics pooling's output,
  10,240 dimensions): its Gram matrix over the training utterances and K + 1 eigendecompositions
  of it (one per fold and one of all training speakers; the conditional probes decompose
  nothing of their own).

This script measures each kernel alone at the full study's sizes (bench_probes: every tap of
SimAM-ResNet100, 28,539 training utterances) and adds them up: the MLP part as if its products
ran at the rate of one large float32 matrix product and its Adam steps cost nothing beyond
PyTorch's fused step, ridge as if nothing but its Gram matrix and eigendecompositions cost
anything. The sum is a floor, not an estimate: bench_probing_stage.py measures the stage.
Usage:

    .venv/bin/python bench/bench_probe_floors.py [--threads 2] [--epochs 30]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np
import torch
from bench_probes import (
    N_TARGETS,
    PRODUCT_SIZE,
    SPLIT_SIZES,
    first_layer_flop,
    machine,
    product_rate,
    taps,
)
from threadpoolctl import threadpool_limits

from rateprobe.config import DEFAULTS

# Adam steps timed (after one untimed) to price one step.
ADAM_STEPS = 5


def adam_step_seconds(n_parameters: int, settings: dict) -> float:
    """Seconds of one fused Adam step (with weight decay) over `n_parameters` float32
    parameters, held in one tensor per tap width as the MLP probes hold them."""
    params = [torch.zeros(n_parameters, requires_grad=True)]
    params[0].grad = torch.randn(n_parameters)
    optimiser = torch.optim.Adam(
        params, lr=settings["lr"], weight_decay=settings["weight_decay"], fused=True
    )
    optimiser.step()
    start = time.perf_counter()
    for _ in range(ADAM_STEPS):
        optimiser.step()
    return (time.perf_counter() - start) / ADAM_STEPS


def eigh_seconds(d: int) -> float:
    """Seconds of one eigendecomposition of a d x d Gram matrix (numpy's, as ridge's)."""
    x = np.random.default_rng(0).standard_normal((2 * d, d))
    gram = x.T @ x
    start = time.perf_counter()
    np.linalg.eigh(gram)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30, help="MLP epochs the stage trains")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads)
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine())
    print(f"torch {torch.__version__}, numpy {np.__version__}, threads {args.threads}; "
          f"load average before: {os.getloadavg()}")  # fmt: skip

    probes = DEFAULTS["probes"]
    settings = probes["mlp"]
    widths = [dim for _, dim in taps()]
    n_train, seeds = SPLIT_SIZES["train"], len(settings["seeds"])
    width = N_TARGETS * settings["hidden"]
    steps = -(-n_train // settings["batch_size"])
    flop = first_layer_flop(n_train, settings, sum(widths))
    # w1 (d, T h), b1 (T h), w2 (T h), b2 (T) per probe.
    parameters = seeds * sum((dim + 2) * width + N_TARGETS for dim in widths)

    rate = product_rate()
    adam = adam_step_seconds(parameters, settings)
    products = flop / rate
    epoch = products + steps * adam
    print(
        f"MLP, per epoch: {flop / 1e12:.2f} TFLOP of first-layer products at "
        f"{rate / 1e9:.0f} GFLOP/s (one {PRODUCT_SIZE}x{PRODUCT_SIZE} float32 product) = "
        f"{products:.1f} s; {steps} fused Adam steps over {parameters / 1e6:.1f} M parameters "
        f"at {adam * 1e3:.1f} ms = {steps * adam:.1f} s; floor {epoch:.1f} s per epoch, "
        f"{args.epochs * epoch / 60:.1f} min for {args.epochs} epochs"
    )

    d, folds = max(widths), probes["cv_folds"]
    decomposition = eigh_seconds(d)
    gram = n_train * d * d / rate  # X'X: half the multiply-adds of a general product
    ridge = (folds + 1) * decomposition + gram
    print(
        f"ridge of the widest tap (d = {d}): {folds + 1} eigendecompositions at "
        f"{decomposition:.1f} s + its Gram matrix {gram:.1f} s = {ridge / 60:.1f} min floor"
    )
    total = args.epochs * epoch + ridge
    print(
        f"FLOOR of the probing stage with equal results: {total / 60:.1f} min "
        f"(MLP at {args.epochs} epochs + the widest tap's ridge; every other part left out)"
    )


if __name__ == "__main__":
    main()
