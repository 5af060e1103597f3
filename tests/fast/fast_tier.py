"""The fast tier: `pytest -m fast` runs the pure tests (no process, no socket) in seconds.

A pytest plugin of this repository (pyproject: `pythonpath = ["tests/fast"]`, `-p fast_tier`).
Nobody marks a test `fast` by hand: a test is in the tier when nothing it can reach starts a
process or opens a socket, it carries no `slow` marker and it is not a Hypothesis test.

`Purity` decides per collected test, after import: the test function, its class, its fixtures
and, transitively, the project's functions and classes they name must not reach `IMPURE`
(a process, a socket, an HTTP or SMTP client or server, Locust, a browser). It reads names, not
behaviour, so it is conservative: a test that names `cli.main` is out even if it only lists.
The reading is checked while the test runs: a fast test that starts a process or opens a
socket fails (`no_process_no_socket`), naming what it did, so the tier stays pure.

`may_hold_pure_tests` is the same rule read from a test file's syntax before it is imported, so
that `pytest -m fast` does not pay for importing the files that cannot hold a pure test; it
only needs to be right in one direction (a file it keeps is still decided by `Purity`).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import importlib
import inspect
import os
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALLED = ("site-packages", "/.venv/", "/.tox/")
IMPURE = ("subprocess", "multiprocessing", "concurrent.futures.process", "socket", "socketserver", "ssl",
          "http.client", "http.server", "urllib.request", "smtplib", "aiosmtplib", "aiosmtpd.controller",
          "requests", "tornado.httpserver", "tornado.httpclient", "tornado.tcpserver", "tornado.tcpclient",
          "tornado.netutil", "tornado.process", "tornado.testing", "locust", "gevent", "playwright",
          "mailpit", "schemathesis")
IMPURE_CALLS = frozenset({"fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen",
                          "execv", "execve", "execvp", "spawnv", "spawnve"})    # os.*
NOT_PURE_MARKERS = ("slow",)
GUARD = "_fast_tier_stays_pure"     # the autouse fixture at the end, which every test uses


def impure_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in IMPURE)


def in_repo(obj: Any) -> bool:
    """Code of this project (tests included), as opposed to the stdlib and installed packages."""
    try:
        path = inspect.getsourcefile(obj) or ""
    except TypeError:
        return False
    if path.startswith(str(REPO)) and not any(m in path for m in INSTALLED):
        return True
    # the project itself, installed (tox installs the package, not an editable link to the repo)
    module = getattr(inspect.getmodule(obj), "__name__", "") or ""
    return module == "mfa_harness" or module.startswith("mfa_harness.")


class Purity:
    """Why an object is not pure (the names on the path to a process or a socket), cached."""

    def __init__(self) -> None:
        self._seen: dict[int, str | None] = {}

    def reason(self, obj: Any) -> str | None:
        key = id(obj)
        if key not in self._seen:
            self._seen[key] = None              # a cycle reads as pure; its other paths still count
            self._seen[key] = self._reason(obj)
        return self._seen[key]

    def _reason(self, obj: Any) -> str | None:
        if isinstance(obj, types.ModuleType):
            return obj.__name__ if impure_module(obj.__name__) else None
        module = getattr(obj, "__module__", None)
        if isinstance(module, str) and impure_module(module):
            return f"{module}.{getattr(obj, '__qualname__', '')}"
        if inspect.isclass(obj):
            return self._class_reason(obj) if in_repo(obj) else None
        func = inspect.unwrap(obj) if callable(obj) else None
        if inspect.isfunction(func) and in_repo(func):
            return self._code_reason(func.__code__, func.__globals__)
        return None

    def _class_reason(self, cls: type) -> str | None:
        for base in cls.__mro__[1:]:            # a test case class may inherit a server (tornado.testing)
            if why := self.reason(base):
                return why
        for value in vars(cls).values():
            func = value.__func__ if isinstance(value, staticmethod | classmethod) else \
                value.fget if isinstance(value, property) else value
            if inspect.isfunction(func) and (why := self.reason(func)):
                return f"{cls.__qualname__} -> {why}"
        return None

    def _code_reason(self, code: types.CodeType, globs: dict[str, Any]) -> str | None:
        """The names a function's code uses: globals, modules it imports inside, their attributes."""
        modules = [globs[n] for n in code.co_names if isinstance(globs.get(n), types.ModuleType)]
        for dotted in (n for n in code.co_names if "." in n and n not in globs):   # an import inside
            try:
                modules.append(importlib.import_module(dotted))
            except Exception:  # noqa: BLE001 - not importable here: nothing to read
                continue
        modules = [m for m in modules if in_repo(m)]
        for name in code.co_names:
            if name in IMPURE_CALLS:
                return f"os.{name}"
            found = [globs[name]] if name in globs else [sys.modules[name]] if name in sys.modules else []
            found += [getattr(m, name) for m in modules if not found and hasattr(m, name)]
            for obj in found:
                if obj is not getattr(builtins, name, None) and (why := self.reason(obj)):
                    return why if why.startswith(name) else f"{name} -> {why}"
        for const in code.co_consts:            # lambdas, inner functions, comprehensions
            if isinstance(const, types.CodeType) and (why := self._code_reason(const, globs)):
                return why
        return None


def impurity(item: Any, purity: Purity) -> str | None:
    """Why a collected test is not in the fast tier, or None when it is."""
    for marker in NOT_PURE_MARKERS:
        if item.get_closest_marker(marker):
            return f"marked {marker}"
    if not hasattr(item, "obj") or not hasattr(item, "_fixtureinfo"):
        return "not a Python test function"
    if getattr(item.obj, "is_hypothesis_test", False):
        return "Hypothesis: as many generated examples as its settings ask"
    if why := purity.reason(item.cls) if item.cls else None:
        return why
    if why := purity.reason(item.obj):
        return why
    for name, defs in item._fixtureinfo.name2fixturedefs.items():
        for fixturedef in defs:
            if name != GUARD and in_repo(fixturedef.func) and (why := purity.reason(fixturedef.func)):
                return f"fixture {name} -> {why}"
    return None


class NotPure(AssertionError):
    """A test of the fast tier started a process or opened a socket."""


def _refuse(what: str):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotPure(f"a fast-tier test must not {what}; if it needs to, it does not belong in the tier "
                      "(tests/fast_tier.py says how the tier is chosen)")
    return refuse


@contextlib.contextmanager
def no_process_no_socket() -> Iterator[None]:
    """Inside, starting a process or binding/connecting a socket raises NotPure."""
    saved = [(subprocess.Popen, "_execute_child"), (socket.socket, "bind"), (socket.socket, "connect")]
    saved += [(os, name) for name in ("fork", "posix_spawn", "posix_spawnp", "system") if hasattr(os, name)]
    own = [(owner, name, owner.__dict__.get(name)) for owner, name in saved]   # None: inherited
    try:
        for owner, name in saved:
            setattr(owner, name, _refuse(f"call {getattr(owner, '__name__', owner)}.{name}"))
        yield
    finally:
        for owner, name, original in own:
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


# --- before import: the same rule on a test file's syntax -------------------------------------

def _refs(node: ast.AST) -> set[str]:
    """Every bare name a piece of syntax reads (locals included: conservative)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in node.decorator_list)


def _names_a_marker(expr: ast.AST) -> bool:
    """`pytest.mark.slow` (not the word inside a string), or Hypothesis' `given`."""
    return any(isinstance(n, ast.Attribute) and n.attr in NOT_PURE_MARKERS for n in ast.walk(expr))


def _not_pure_by_decorator(node: ast.AST) -> bool:
    targets = [d.func if isinstance(d, ast.Call) else d for d in getattr(node, "decorator_list", [])]
    return any(_names_a_marker(t) or ast.unparse(t).split(".")[-1] == "given" for t in targets)


@functools.cache
def _module_facts(path: Path) -> tuple[frozenset[str], dict[str, ast.AST]]:
    """(the module-level names of the file that reach IMPURE, its module-level definitions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    impure: set[str] = set()
    defs: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            impure |= {(a.asname or a.name).split(".")[0] for a in node.names if impure_module(a.name)}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            helper = _helper_file(path, node.module)
            helper_impure = _module_facts(helper)[0] if helper else frozenset()
            impure |= {a.asname or a.name for a in node.names
                       if impure_module(node.module) or a.name in helper_impure}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign):
            names = [node.name] if hasattr(node, "name") else \
                [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            defs.update(dict.fromkeys(names, node))
    changed = True
    while changed:                              # a definition is impure if it reads an impure name
        changed = False
        for name, node in defs.items():
            if name not in impure and _refs(node) & impure:
                impure.add(name)
                changed = True
    return frozenset(impure), defs


def _helper_file(importer: Path, module: str) -> Path | None:
    """A test helper module (`portal_testkit`, `histories`): a file beside the importer or in tests/."""
    for folder in (importer.parent, REPO / "tests"):
        candidate = folder / f"{module}.py"
        if candidate.is_file():
            return candidate
    return None


def _impure_fixtures(path: Path) -> set[str]:
    """Fixtures of the conftest.py files above `path` (and of the file itself) that reach IMPURE."""
    names: set[str] = set()
    for source in [*(p / "conftest.py" for p in path.parents if p.is_relative_to(REPO / "tests")), path]:
        if source.is_file():
            impure, defs = _module_facts(source)
            names |= {n for n, node in defs.items()
                      if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_fixture(node) and n in impure}
    return names


def may_hold_pure_tests(path: Path) -> bool:
    """False when no test of the file can be pure: each reads an impure name or fixture, or is marked."""
    impure, defs = _module_facts(path)
    marks = defs.get("pytestmark")
    if marks is not None and _names_a_marker(marks):
        return False
    fixtures = _impure_fixtures(path)
    tests: list[tuple[ast.AST, ast.AST | None]] = []
    for node in defs.values():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            tests.append((node, None))
        elif isinstance(node, ast.ClassDef):
            tests += [(m, node) for m in node.body
                      if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef) and m.name.startswith("test")]
    for test, cls in tests:
        if cls is not None and (_not_pure_by_decorator(cls) or set().union(*map(_refs, cls.bases)) & impure):
            continue
        params = {a.arg for a in test.args.args}
        if not _not_pure_by_decorator(test) and not (_refs(test) & impure) and not (params & fixtures):
            return True
    return False


# --- the plugin's hooks ----------------------------------------------------------------------

def _fast_only(config: pytest.Config) -> bool:
    return (config.option.markexpr or "").strip() == "fast"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m fast`, a test file none of whose tests can be pure is not even imported, nor a
    folder without such a file (nor, then, its conftest.py: the browser tests need Playwright)."""
    if not _fast_only(config):
        return None
    if collection_path.is_dir():
        files: Iterator[Path] = collection_path.rglob("test_*.py")
    elif collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        files = iter([collection_path])
    else:
        return None
    return True if not any(may_hold_pure_tests(f) for f in files) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    purity = Purity()
    for item in items:
        if impurity(item, purity) is None:
            item.add_marker(pytest.mark.fast)


@pytest.fixture(autouse=True)
def _fast_tier_stays_pure(request: pytest.FixtureRequest) -> Iterator[None]:
    """While a fast test runs, starting a process or opening a socket fails it."""
    if not request.node.get_closest_marker("fast"):
        yield
        return
    with no_process_no_socket():
        yield
