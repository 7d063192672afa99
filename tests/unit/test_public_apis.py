"""The portal uses the public parts of its libraries only.

An underscore name of Starlette, Jinja2, jinja2-fragments, Tortoise, aiosqlite or Babel can
change in any release without a word: an upgrade would break the portal silently. This test
reads the syntax trees of the portal, its tests and its bench, and fails on an import of a
private module of those libraries, on a use of one of their underscore names, and on an
override of one by a subclass.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("starlette", "jinja2", "jinja2_fragments", "tortoise", "aiosqlite", "babel")
OURS = ("portal", "tests", "bench", "migrations")
SOURCES = ("portal", "tests", "bench")

# What Tortoise lacks and its issue tracker asks for: SQLite transactions that take the write
# lock at BEGIN (https://github.com/tortoise/tortoise-orm/issues/1675). Tortoise offers no
# public hook to choose the transaction class: the SQLite client overrides this one method.
ALLOWED = frozenset({("portal/sqlite_backend.py", "_in_transaction")})


def _private(name: str) -> bool:
    # "_" alone is gettext's usual name, public everywhere.
    return len(name) > 1 and name.startswith("_") and not name.startswith("__")


def _library_files(library: str) -> list[Path]:
    spec = importlib.util.find_spec(library)
    assert spec is not None and spec.submodule_search_locations, library
    return [
        path for folder in spec.submodule_search_locations for path in Path(folder).rglob("*.py")
    ]


@cache
def library_private_names() -> frozenset[str]:
    """Every underscore name the libraries define: functions, classes, attributes, globals."""
    names: set[str] = set()
    for library in LIBRARIES:
        for path in _library_files(library):
            for node in ast.walk(ast.parse(path.read_bytes())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif isinstance(node, ast.alias):
                    names.add(node.asname or node.name.split(".")[-1])
    return frozenset(name for name in names if _private(name))


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class Reader(ast.NodeVisitor):
    """The findings of one file of ours."""

    def __init__(self, root: Path, path: str, tree: ast.Module, theirs: frozenset[str]) -> None:
        self.root = root
        self.path = path
        self.theirs = theirs
        self.findings: list[Finding] = []
        self.from_libraries: set[str] = set()  # local names bound to a library's objects
        self.from_ours: set[str] = set()  # local names bound to our own modules (not classes)
        self.own: set[str] = set()  # underscore names this file defines for itself
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._bind(node)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and self._extends_a_library(node):
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                self.own.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.own.add(node.id)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and self._extends_a_library(node):
                # A subclass's own attributes and methods, minus what overrides the library.
                for inner in ast.walk(node):
                    if (
                        isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef)
                        and _private(inner.name)
                        and inner.name in theirs
                        and (path, inner.name) not in ALLOWED
                    ):
                        self.flag(inner, f"overrides {inner.name} of {node.name}'s base")

    def _bind(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                bound = alias.asname or top
                if top in LIBRARIES:
                    self.from_libraries.add(bound)
                    if any(_private(part) for part in alias.name.split(".")):
                        self.flag(node, f"imports the private module {alias.name}")
                elif top in OURS:
                    self.from_ours.add(bound)
            return
        module = node.module or ""
        top = module.split(".")[0]
        if node.level or top in OURS:
            for alias in node.names:
                place = self.root.joinpath(*module.split("."), alias.name)
                if place.is_dir() or place.with_suffix(".py").exists():
                    self.from_ours.add(alias.asname or alias.name)
            return
        if top not in LIBRARIES:
            return
        self.from_libraries.update(alias.asname or alias.name for alias in node.names)
        if any(_private(part) for part in module.split(".")):
            self.flag(node, f"imports from the private module {module}")
        for alias in node.names:
            if _private(alias.name):
                self.flag(node, f"imports {alias.name} from {module}")

    def _extends_a_library(self, node: ast.ClassDef) -> bool:
        return any(_root(base) in self.from_libraries for base in node.bases)

    def flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0), what))

    def _theirs(self, name: str) -> bool:
        return _private(name) and name in self.theirs and (self.path, name) not in ALLOWED

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if (
            self._theirs(node.attr)
            and node.attr not in self.own
            and _root(node.value) not in self.from_ours
        ):
            self.flag(node, f"uses {node.attr}")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self._extends_a_library(node):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Attribute) and self._theirs(inner.attr):
                    self.flag(inner, f"uses {inner.attr} of {node.name}'s base")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        # getattr(x, "_name"), setattr(…), obj.__dict__["_name"] reach the same names.
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr"}
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
        ):
            name = node.args[1].value
            if isinstance(name, str) and self._theirs(name) and name not in self.own:
                self.flag(node, f"{node.func.id} of {name}")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        key = node.slice
        if (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and self._theirs(key.value)
            and key.value not in self.own
        ):
            self.flag(node, f"reaches {key.value} through a mapping")
        self.generic_visit(node)


def findings(root: Path = ROOT) -> Iterator[Finding]:
    theirs = library_private_names()
    for folder in SOURCES:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_bytes(), filename=relative)
            reader = Reader(root, relative, tree, theirs)
            reader.visit(tree)
            yield from reader.findings


def test_no_private_name_of_a_library_is_used() -> None:
    found = sorted(set(findings()), key=lambda finding: (finding.path, finding.line))
    assert not found, "\n".join(str(finding) for finding in found)


def test_the_reader_finds_each_kind_of_private_use(tmp_path: Path) -> None:
    """The test above would pass on any code if the reader saw nothing: show it sees."""
    (tmp_path / "portal").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "bench").mkdir()
    (tmp_path / "portal" / "bad.py").write_text(
        "import jinja2\n"
        "from starlette._utils import get_route_path\n"
        "from tortoise import Model\n"
        "from babel.dates import _get_time\n"
        "class Env(jinja2.Environment):\n"
        "    def _parse(self, source, name, filename):\n"
        "        return super()._parse(source, name, filename)\n"
        "def build(model):\n"
        "    obj = model.__new__(model)\n"
        "    obj.__dict__['_saved_in_db'] = True\n"
        "    return model._meta, getattr(obj, '_partial')\n"
    )
    (tmp_path / "portal" / "fine.py").write_text(
        "from portal import helpers\n"
        "from portal.models import Thing\n"
        "class Throttle:\n"
        "    def __init__(self):\n"
        "        self._meta = 1\n"
        "    def _parse(self):\n"
        "        return self._meta\n"
        "def f():\n"
        "    return helpers._parse()\n"
    )
    (tmp_path / "portal" / "helpers.py").write_text("def _parse():\n    return 1\n")
    (tmp_path / "portal" / "models.py").write_text("class Thing:\n    pass\n")
    (tmp_path / "portal" / "uses_models.py").write_text(
        "from portal.models import Thing\nfields = Thing._meta.fields_map\n"
    )
    found = [str(finding) for finding in findings(tmp_path)]
    assert [f for f in found if f.startswith("portal/fine.py")] == []
    bad = "\n".join(found)
    for what in (
        "private module starlette._utils",
        "imports _get_time from babel.dates",
        "overrides _parse of Env's base",
        "uses _parse of Env's base",
        "reaches _saved_in_db through a mapping",
        "uses _meta",
        "getattr of _partial",
        "portal/uses_models.py:2: uses _meta",
    ):
        assert what in bad, (what, bad)
