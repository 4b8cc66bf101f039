"""Log files of Snakemake jobs that keep the terminal informative.

Every rule names a `log:` file (on a cluster, the terminal of a job is nobody's screen). Inside a
job, `job_log(snakemake.log)` copies everything written to stderr — log records, warnings and
tqdm progress bars — into that file while still showing it where the job runs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
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


@contextmanager
def job_log(log_paths: Sequence[str]) -> Iterator[None]:
    """Send stderr and INFO-level logging to the job's first log file as well as the terminal."""
    if not log_paths:
        yield
        return
    path = Path(log_paths[0])
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
