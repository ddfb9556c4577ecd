"""No test sends a literal date to a live server.

A live server (gunicorn, `live_server` or `LiveServer(...)`) runs on the real
clock, unlike the test app, whose clock stands still at conftest.NOW. A test
that books 2027-03-02 there passes until that day and fails for everyone from
then on. Live-server tests take their dates relative to today
(conftest.tomorrow_at, faultkit's Load).

The check reads every test module's source (ast): in each function that
takes the `live_server` fixture or starts a `LiveServer`, a date literal
(YYYY-MM-DD in a string or f-string), a `datetime(2027, ...)`/`date(...)`
with a literal year, or a module constant (or a conftest one, such as NOW)
holding either, is reported. Helpers a test calls are not followed: pass
them relative dates.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
DATE = __import__("re").compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")
LIVE_FIXTURES = {"live_server"}
DATE_CALLS = {"datetime", "date"}


def _module_constants(tree: ast.Module) -> dict[str, ast.AST]:
    constants: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            constants[node.target.id] = node.value
    return constants


def _conftest_constants() -> dict[str, ast.AST]:
    return _module_constants(ast.parse((TESTS / "conftest.py").read_text()))


def _imported_from_conftest(tree: ast.Module) -> set[str]:
    return {alias.asname or alias.name for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "conftest"
            for alias in node.names}


def _is_live(function: ast.FunctionDef) -> bool:
    if {a.arg for a in function.args.args} & LIVE_FIXTURES:
        return True
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
               and n.func.id == "LiveServer" for n in ast.walk(function))


def _dates_in(node: ast.AST, constants: dict[str, ast.AST], seen: set[str]) -> list[str]:
    """Every literal date reachable from `node`, constants followed."""
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            found += DATE.findall(sub.value)
        elif (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)
              and sub.func.id in DATE_CALLS and sub.args
              and isinstance(sub.args[0], ast.Constant) and isinstance(sub.args[0].value, int)):
            found.append(ast.unparse(sub))
        elif isinstance(sub, ast.Name) and sub.id in constants and sub.id not in seen:
            seen.add(sub.id)
            found += [f"{sub.id} = {d}" for d in _dates_in(constants[sub.id], constants, seen)]
    return found


def literal_dates(source: str, conftest: dict[str, ast.AST] | None = None
                  ) -> list[tuple[str, str]]:
    """(function, what) for each literal date a live-server test in `source` uses."""
    tree = ast.parse(source)
    constants = _module_constants(tree)
    conftest = _conftest_constants() if conftest is None else conftest
    for name in _imported_from_conftest(tree):
        if name in conftest:
            constants.setdefault(name, conftest[name])
    return [(node.name, date)
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_live(node)
            for date in _dates_in(node, constants, set())]


TEST_FILES = sorted(p for p in TESTS.rglob("*.py") if p.name != Path(__file__).name)


@pytest.mark.parametrize("path", TEST_FILES, ids=[str(p.relative_to(TESTS)) for p in TEST_FILES])
def test_no_live_server_test_uses_a_literal_date(path):
    found = literal_dates(path.read_text())
    assert found == [], (f"{path.name}: a live server runs on the real clock; use dates "
                         f"relative to today (conftest.tomorrow_at): {found}")


# -- the check itself can fail ----------------------------------------------------------

EXPIRING = '''
from conftest import NOW
DAY = "2027-03-02"
BODY = {"start_time": f"{DAY}T10:00"}

def test_books_a_fixed_day(live_server):
    post(live_server.url, BODY)

def test_books_by_datetime(database_url, tmp_path):
    server = LiveServer(database_url, tmp_path)
    post(server.url, {"start_time": datetime(2027, 3, 2, 10).isoformat()})

def test_books_conftests_now(live_server):
    post(live_server.url, {"start_time": (NOW + delta).isoformat()})

def test_the_frozen_app_may(client):
    client.post("/api/bookings", json=BODY)

def test_relative(live_server):
    post(live_server.url, {"start_time": tomorrow_at("Europe/Berlin", 10).isoformat()})
'''


def test_the_check_finds_literal_dates_only_where_a_live_server_is_asked():
    conftest = {"NOW": ast.parse("datetime(2027, 3, 1, 8)").body[0].value}
    found = literal_dates(EXPIRING, conftest)
    assert [name for name, _ in found] == ["test_books_a_fixed_day", "test_books_by_datetime",
                                           "test_books_conftests_now"]
    assert found[0] == ("test_books_a_fixed_day", "BODY = DAY = 2027-03-02")
