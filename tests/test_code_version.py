"""The code version of a stage: its script and every rateprobe module it imports, transitively,
read with ast (nothing imported), digested without absolute paths (rateprobe.provenance)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from rateprobe.provenance import LibraryCode

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
# Rules with a script but no code version, each for the reason its rules file gives.
WITHOUT_CODE_VERSION = {"download_subset", "fetch_model", "fetch_wheel_member", "overleaf_push"}


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    """A copy of src/rateprobe and scripts/ that a test may edit."""
    shutil.copytree(REPO / "src" / "rateprobe", tmp_path / "src" / "rateprobe")
    shutil.copytree(SCRIPTS, tmp_path / "scripts")
    return tmp_path


def library(root: Path) -> LibraryCode:
    return LibraryCode(root / "src" / "rateprobe")


def closure_files(root: Path, script: str) -> set[str]:
    lib = library(root)
    return {lib.relative_path(m) for m in lib.closure([root / "scripts" / script])}


def all_digests(root: Path) -> dict[str, str]:
    lib = library(root)
    return {p.name: lib.digest([p]) for p in sorted((root / "scripts").glob("*.py"))}


def test_the_probes_follow_ridge_and_not_the_claims() -> None:
    probes = closure_files(REPO, "probe_model.py")
    assert "rateprobe/probing/ridge.py" in probes
    # the packages above a module run first when it is imported
    assert {"rateprobe/__init__.py", "rateprobe/probing/__init__.py"} <= probes
    assert "rateprobe/paper/prose/__init__.py" not in probes


def test_the_paper_follows_the_claims() -> None:
    paper = closure_files(REPO, "render_paper.py")
    assert {"rateprobe/paper/prose/__init__.py", "rateprobe/paper/prose/experiments.py"} <= paper


def test_an_edit_changes_the_digest_of_every_script_importing_it_and_no_other(
    copy: Path,
) -> None:
    importing = {
        name
        for name in all_digests(copy)
        if "rateprobe/probing/ridge.py" in closure_files(copy, name)
    }
    assert {"probe_model.py", "summarize.py"} <= importing
    before = all_digests(copy)
    ridge = copy / "src" / "rateprobe" / "probing" / "ridge.py"
    ridge.write_text(ridge.read_text() + "\n# an edit\n")
    after = all_digests(copy)
    assert {name for name in before if before[name] != after[name]} == importing


def test_an_edit_of_the_script_itself_changes_its_digest(copy: Path) -> None:
    before = library(copy).digest([copy / "scripts" / "render_paper.py"])
    script = copy / "scripts" / "render_paper.py"
    script.write_text(script.read_text() + "\n# an edit\n")
    assert library(copy).digest([script]) != before


def test_a_moved_copy_has_the_same_digests(copy: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(copy, moved)
    assert all_digests(moved) == all_digests(copy) == all_digests(REPO)


def test_every_import_form_and_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    files = {
        "__init__.py": "",
        "a.py": "import pkg.b\nfrom pkg.sub import c\n",
        "b.py": "from pkg import a\n",  # a cycle: a -> b -> a
        "sub/__init__.py": "from . import helpers\n",
        "sub/helpers.py": "",
        "sub/c.py": "from .d import something\nfrom ..e import other\n",
        "sub/d.py": "def something(): ...\n",
        "e.py": "def other():\n    from pkg import f  # inside a function\n    return f\n",
        "f.py": "import numpy\nfrom os import path\n",
        "unused.py": "",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    script = tmp_path / "script.py"
    script.write_text("from pkg.a import anything\n")

    lib = LibraryCode(package)
    expected = ["pkg", "pkg.a", "pkg.b", "pkg.e", "pkg.f", "pkg.sub", "pkg.sub.c", "pkg.sub.d"]
    assert lib.closure([script]) == sorted([*expected, "pkg.sub.helpers"])
    assert lib.closure(modules=["pkg.b"]) == lib.closure([script])
    assert lib.closure(modules=["pkg.sub.d"]) == ["pkg", "pkg.sub", "pkg.sub.d", "pkg.sub.helpers"]
    with pytest.raises(ValueError, match="not a module"):
        lib.closure(modules=["pkg.nothing"])


def test_every_rule_that_runs_library_code_has_the_code_version_of_its_script() -> None:
    rule = re.compile(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)+)", re.MULTILINE)
    checked = set()
    for rules_file in sorted((REPO / "rules").glob("*.smk")):
        for name, body in rule.findall(rules_file.read_text()):
            script = re.search(r"script:\n\s+\"([^\"]+)\"", body)
            if script is None or name in WITHOUT_CODE_VERSION:
                continue
            code = re.search(r"code=code_version\(([^)]*)\)", body)
            assert code is not None, f"{rules_file.name}: rule {name} has no code version"
            assert f'"{script.group(1)}"' in code.group(1), f"rule {name}: not its own script"
            checked.add(name)
    assert {"probe_model", "paper_render", "extract_activations", "summary"} <= checked
