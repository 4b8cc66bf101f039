"""Device settings: `auto` follows what PyTorch sees, and a missing GPU is named by its key.
Only the CPU side can run on a machine without a GPU; the CUDA branch of `auto` is checked
where one is present."""

from __future__ import annotations

import pytest
import torch

from rateprobe.devices import resolve_device


@pytest.mark.parametrize("key", ["activations.device", "probes.device"])
def test_device_auto_uses_cuda_only_when_present(key: str) -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto", key).type == expected
    assert resolve_device("cpu", key).type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match=rf"{key} is 'cuda' but PyTorch sees no CUDA"):
            resolve_device("cuda", key)
