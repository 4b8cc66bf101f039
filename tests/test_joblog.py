import logging
import sys
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
