import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from rateprobe.joblog import job_log


def test_job_log_copies_stderr_and_logging_to_file_and_terminal(tmp_path: Path, capsys) -> None:
    log = tmp_path / "logs" / "job.log"
    with job_log([str(log)]):
        logging.getLogger("rateprobe.test").info("labelled %d files", 3)
        print("progress 50%", file=sys.stderr)
    text = log.read_text()
    assert "labelled 3 files" in text
    assert "progress 50%" in text
    terminal = capsys.readouterr().err
    assert "labelled 3 files" in terminal and "progress 50%" in terminal
    logging.getLogger("rateprobe.test").info("after the job")
    assert "after the job" not in log.read_text()


def test_job_log_records_the_failure(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    with pytest.raises(RuntimeError), job_log([str(log)]):
        raise RuntimeError("manifest row 7 has no audio")
    assert "manifest row 7 has no audio" in log.read_text()


def test_job_log_without_log_file_is_a_no_op() -> None:
    with job_log([]):
        pass


def test_sigterm_becomes_an_exit_inside_the_job_only(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as raised, job_log([str(tmp_path / "job.log")]):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this
    assert raised.value.code == 128 + signal.SIGTERM
    assert "job failed" in (tmp_path / "job.log").read_text()
    assert signal.getsignal(signal.SIGTERM) is before
