"""Programs from Debian packages that some stages run, checked before the stage does any work.

`bin/setup` installs their packages when it runs as root or with passwordless sudo; otherwise it
sets up the Python environment anyway and lists the missing packages with the stages that need
them. The stage that needs one then stops here, naming the program and its package.
"""

from __future__ import annotations

import shutil

# program -> the Debian package that provides it (bin/setup's list; tests/test_setup.py checks)
DEBIAN_PACKAGE = {
    "espeak-ng": "espeak-ng",
    "rubberband": "rubberband-cli",
    "latexmk": "latexmk",
}


class MissingProgramError(RuntimeError):
    """A stage needs a program that is not on PATH."""


def require_program(program: str, needed_for: str) -> str:
    """The program's path; raises MissingProgramError naming its Debian package when absent."""
    path = shutil.which(program)
    if path is None:
        raise MissingProgramError(
            f"missing {program}: install Debian package {DEBIAN_PACKAGE[program]} "
            f"(bin/setup lists it); {needed_for} needs it"
        )
    return path
