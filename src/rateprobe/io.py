"""Atomic writes of every output: a temporary file beside it, then a rename.

A temporary is named `.{name}.<random>.tmp` beside its target. An interrupted write removes its
own (SIGTERM, which Snakemake and SLURM send, becomes an exception in every job: see
rateprobe.joblog); one killed outright (SIGKILL) is removed by the next write of the same path.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np


def current_umask() -> int:
    """The process's umask: new files get 0o666 and new folders 0o777 less it, so co-authors
    on a shared filesystem can read the outputs (mkstemp and mkdtemp make private ones)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def remove_leftovers(folder: Path, pattern: str) -> None:
    """Remove the files or folders in `folder` matching `pattern` that a killed writer left.

    Snakemake runs one job per output at a time, so a match is never another live job's.
    """
    for leftover in folder.glob(pattern):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` on a temporary file beside `path` and rename it into place, so an
    interrupted run leaves either the old file or none, never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp's random part has 8 characters: the temporaries of `x.csv` are not those of `x`.
    remove_leftovers(path.parent, f".{glob.escape(path.name)}.{'?' * 8}.tmp")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    write_atomic(path, lambda handle: handle.write(data))


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


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
    write_text(path, text + "\n")


def write_npz(path: str | Path, arrays: dict[str, Any]) -> None:
    write_atomic(path, lambda handle: np.savez(handle, **arrays))
