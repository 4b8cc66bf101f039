"""docs/bad-input.md names, for every bad-input case, the test that holds it: each named test
exists, so the table cannot promise what no test checks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "docs" / "bad-input.md"
# `tests/test_x.py::test_name`, or `::test_name` for another test of the file named before it
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(test_\w+)`")


def functions_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_case_of_the_bad_input_table_names_tests_that_exist() -> None:
    rows = [line for line in TABLE.read_text().splitlines() if line.startswith("| ")][2:]
    assert len(rows) >= 10
    for row in rows:
        references = TEST_REFERENCE.findall(row)
        assert references, f"{TABLE.name}: no test named for the case {row[:80]!r}"
        current = None
        for file, name in references:
            current = REPO / file if file else current
            assert current is not None and current.is_file(), f"{TABLE.name}: {row[:80]!r}"
            assert name in functions_of(current), f"{TABLE.name}: {current.name} has no {name}"
