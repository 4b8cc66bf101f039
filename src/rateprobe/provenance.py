"""Which code and which configuration computed a set of results, and when.

The build stamp: summary.json carries it as `build`, and the paper prints it on its first page
and in the PDF's metadata, so a PDF found on a shared drive leads back to the commit and the
configuration. The stamp describes the summary job: a paper re-rendered later from the same
summary keeps it.

The code version: a digest of a stage's script and of every rateprobe module it imports,
directly or not (LibraryCode). Each rule that runs library code has it as a param, so an edit of
any of those modules reruns the rule, while a moved checkout (same bytes, other absolute paths)
reruns nothing. The imports are read with `ast`, never executed: the job graph is planned
without torch, matplotlib or sklearn.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

CONFIG_HASH_CHARS = 8
CODE_VERSION_CHARS = 16


def config_hash(cfg: dict[str, Any]) -> str:
    """A short hash of the resolved configuration (key order does not matter)."""
    canonical = json.dumps(cfg, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:CONFIG_HASH_CHARS]


def _git(repo_dir: Path, *args: str) -> str | None:
    """The output of a git command in repo_dir; None outside a git checkout or without git."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=repo_dir, capture_output=True, text=True, check=False
        )
    except OSError:  # git is not installed
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def build_stamp(
    cfg: dict[str, Any], repo_dir: str | Path = ".", today: dt.date | None = None
) -> dict[str, Any]:
    """{commit, dirty, config_hash, date}: commit and dirty are null outside a git checkout
    (an unpacked archive); dirty is true when tracked files differ from the commit."""
    repo_dir = Path(repo_dir)
    commit = _git(repo_dir, "rev-parse", "--short=10", "HEAD")
    changes = _git(repo_dir, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "dirty": None if commit is None or changes is None else bool(changes),
        "config_hash": config_hash(cfg),
        "date": (today or dt.datetime.now(dt.UTC).date()).isoformat(),
    }


def _statements(body: list[Any]) -> Iterator[ast.AST]:
    """Every statement in body and in the blocks nested in it (functions, classes, if, try,
    with, match, ...): imports are statements, so expressions need no visit."""
    for node in body:
        yield node
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                blocks = (ast.stmt, ast.excepthandler, ast.match_case)
                yield from _statements([item for item in value if isinstance(item, blocks)])


class LibraryCode:
    """The modules of one package (package_dir, e.g. src/rateprobe) and what each imports of it.

    A module's imports are parsed once per instance: a workflow makes one, a test that edits a
    module makes another.
    """

    def __init__(self, package_dir: str | Path) -> None:
        self.package_dir = Path(package_dir)
        self.package = self.package_dir.name
        self._imports: dict[str, frozenset[str]] = {}
        self._paths: dict[str, Path | None] = {}

    def module_path(self, module: str) -> Path | None:
        """The file of a module of the package (a package's is its __init__.py); None when
        `module` is not one. Looked up once per name: every import of every script asks."""
        if module not in self._paths:
            self._paths[module] = self._find(module)
        return self._paths[module]

    def _find(self, module: str) -> Path | None:
        head, *parts = module.split(".")
        if head != self.package:
            return None
        base = self.package_dir.joinpath(*parts)
        for path in (base.with_suffix(".py") if parts else None, base / "__init__.py"):
            if path is not None and path.is_file():
                return path
        return None

    def _with_parents(self, module: str) -> set[str]:
        """The module and every package above it: importing a.b.c runs a and a.b first."""
        parts = module.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}

    def imports_of(self, path: Path, module: str | None = None) -> frozenset[str]:
        """The package's modules that the file imports anywhere in it (functions included):
        `import p.x`, `from p.x import y` (y a name or a submodule), `from p import x`, and
        imports relative to `module`, the file's own dotted name (None for a script)."""
        key = str(path)
        if key in self._imports:
            return self._imports[key]
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in _statements(ast.parse(path.read_bytes(), filename=str(path)).body):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node, module, is_package)
                if base is None:
                    continue
                # `from base import y`: y is a submodule or a name defined in base.
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                for candidate in self._with_parents(name):
                    if self.module_path(candidate) is not None:
                        found.add(candidate)
        self._imports[key] = frozenset(found)
        return self._imports[key]

    @staticmethod
    def _absolute(node: ast.ImportFrom, module: str | None, is_package: bool) -> str | None:
        """The absolute module a `from ... import` names; None for a relative import outside
        any package (a script) or one that climbs above the top package."""
        if node.level == 0:
            return node.module
        if module is None:
            return None
        parts = module.split(".")
        here = parts if is_package else parts[:-1]
        if node.level - 1 >= len(here):
            return None
        anchor = here[: len(here) - (node.level - 1)]
        return ".".join([*anchor, node.module] if node.module else anchor)

    def closure(self, scripts: Iterable[str | Path] = (), modules: Iterable[str] = ()) -> list[str]:
        """Every module of the package that the scripts and the named modules import,
        transitively (the named modules included), sorted."""
        pending: set[str] = set()
        for name in modules:
            if self.module_path(name) is None:
                raise ValueError(f"{name} is not a module of {self.package_dir}")
            pending |= self._with_parents(name)
        for script in scripts:
            pending |= self.imports_of(Path(script))
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            seen.add(name)
            path = self.module_path(name)
            assert path is not None
            pending |= self.imports_of(path, name) - seen
        return sorted(seen)

    def relative_path(self, module: str) -> str:
        """The module's file relative to the package's parent: `rateprobe/probing/ridge.py`."""
        path = self.module_path(module)
        assert path is not None
        return path.relative_to(self.package_dir.parent).as_posix()

    def digest(self, scripts: Iterable[str | Path] = (), modules: Iterable[str] = ()) -> str:
        """A short digest of the scripts' bytes (under their file names) and of the closure's
        module files (under their paths relative to the package): no absolute path enters it."""
        script_paths = [Path(script) for script in scripts]
        entries: list[tuple[str, Path]] = [(f"<script>/{p.name}", p) for p in script_paths]
        for module in self.closure(script_paths, modules):
            path = self.module_path(module)
            assert path is not None
            entries.append((path.relative_to(self.package_dir.parent).as_posix(), path))
        digest = hashlib.sha256()
        for name, file in sorted(entries):
            for part in (name.encode(), file.read_bytes()):
                digest.update(len(part).to_bytes(8, "big"))
                digest.update(part)
        return digest.hexdigest()[:CODE_VERSION_CHARS]
