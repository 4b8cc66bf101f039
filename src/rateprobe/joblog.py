"""Log files of Snakemake jobs that keep the terminal informative.

Every rule names a `log:` file (on a cluster, the terminal of a job is nobody's screen). Inside a
job, `job_log(snakemake.log)` copies everything written to stderr — log records, warnings and
tqdm progress bars — into that file while still showing it where the job runs.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Tee:
    """A text stream that writes to a terminal stream and a log file at once."""

    def __init__(self, terminal: TextIO, log_file: TextIO) -> None:
        self._terminal = terminal
        self._log_file = log_file

    def write(self, text: str) -> int:
        self._log_file.write(text)
        return self._terminal.write(text)

    def flush(self) -> None:
        self._log_file.flush()
        self._terminal.flush()

    def isatty(self) -> bool:
        return self._terminal.isatty()

    def fileno(self) -> int:
        return self._terminal.fileno()


def _raise_on_termination(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # the exit status a shell reports for a killed process


@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM (how Snakemake and SLURM stop a job) into SystemExit while inside, so
    `finally` blocks and `except BaseException` clean-ups run (the atomic writer removes its
    temporary file) instead of the process vanishing mid-write."""
    previous = signal.signal(signal.SIGTERM, _raise_on_termination)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def job_log(log_paths: Sequence[str]) -> Iterator[None]:
    """Send stderr and INFO-level logging to the job's first log file as well as the terminal,
    and clean up on SIGTERM (exit_on_sigterm); every job script runs inside it."""
    with exit_on_sigterm():
        if log_paths:
            with _tee_to_log(Path(log_paths[0])):
                yield
        else:
            yield


@contextmanager
def _tee_to_log(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stderr
    with path.open("w", encoding="utf-8") as log_file:
        tee = _Tee(terminal, log_file)
        handler = logging.StreamHandler(tee)  # type: ignore[arg-type]
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        previous_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        sys.stderr = tee  # type: ignore[assignment]
        try:
            yield
        except BaseException:
            logging.getLogger("rateprobe").exception("job failed")
            raise
        finally:
            sys.stderr = terminal
            root.removeHandler(handler)
            root.setLevel(previous_level)
