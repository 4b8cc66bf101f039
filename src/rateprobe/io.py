"""Atomic writes of every output: a temporary file beside it, then a rename."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` on a temporary file beside `path` and rename it into place, so an
    interrupted run leaves either the old file or none, never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        # mkstemp makes the file private; give it the permissions of any new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plain(value: Any, digits: int | None = None) -> Any:
    """JSON-ready copy: numpy scalars and arrays to Python, non-finite floats to None, and
    floats rounded to `digits` significant digits when given."""
    if isinstance(value, dict):
        return {str(k): plain(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, digits) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), digits)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}") if digits else value
    return value


def write_json(path: str | Path, data: Any, digits: int | None = None) -> None:
    text = json.dumps(plain(data, digits), sort_keys=True, indent=2, ensure_ascii=False)
    write_atomic(path, lambda handle: handle.write((text + "\n").encode("utf-8")))


def write_npz(path: str | Path, arrays: dict[str, Any]) -> None:
    write_atomic(path, lambda handle: np.savez(handle, **arrays))
