"""Where torch computes: the `device` settings of the config (`auto`, `cpu` or `cuda`)."""

from __future__ import annotations

import torch


def resolve_device(setting: str, key: str) -> torch.device:
    """'auto' is the GPU when PyTorch sees one, else the CPU; `key` names the setting in errors."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{key} is 'cuda' but PyTorch sees no CUDA device")
    return torch.device(setting)
