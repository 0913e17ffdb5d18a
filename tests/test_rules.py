"""Access rules on plain ASGI scope dicts: which requests need a token, may carry one, or are exempt."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_middleware import ConfigurationError
from jwt_middleware.rules import Access, Rules, route_path

REQ, OPT, EXE = Access.REQUIRED, Access.OPTIONAL, Access.EXEMPT


def scope(method: str, path: str, root_path: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": [], **extra}


RULES = Rules(
    exempt=["/health", "/docs/*", "GET,HEAD /items/*", "POST /hooks", "/public/*"],
    optional=["/catalog/*", "/public/*", "/public/me/*"],
)


@pytest.mark.parametrize(
    ("method", "path", "access"),
    [
        ("GET", "/health", EXE),
        ("GET", "/health/x", REQ),
        ("GET", "/healthz", REQ),
        ("GET", "/docs", EXE),
        ("GET", "/docs/a/b", EXE),
        ("GET", "/docsx", REQ),
        ("GET", "/items/1", EXE),
        ("HEAD", "/items", EXE),
        ("DELETE", "/items/1", REQ),
        ("get", "/items/1", REQ),  # methods are matched as sent: a lowercase method is never exempted by "GET"
        ("POST", "/hooks", EXE),
        ("GET", "/hooks", REQ),
        ("GET", "/catalog/1", OPT),
        ("GET", "/public/me/x", OPT),  # the longest prefix wins
        ("GET", "/public/other", EXE),  # exempt wins over optional for the same pattern
        ("GET", "/orders", REQ),
        ("OPTIONS", "/orders", REQ),  # a CORS preflight is no exception
    ],
)
def test_access_by_method_and_path(method: str, path: str, access: Access) -> None:
    assert RULES.access(scope(method, path)) is access


def test_no_header_changes_the_answer() -> None:
    preflight = scope("OPTIONS", "/orders", headers=[(b"access-control-request-method", b"GET"), (b"origin", b"x")])
    assert RULES.access(preflight) is REQ


def test_websocket_scopes_match_as_get() -> None:
    assert RULES.access({"type": "websocket", "path": "/items/1", "root_path": "", "headers": []}) is EXE


def test_on_an_exact_path_the_first_matching_rule_wins_exempt_before_optional() -> None:
    rules = Rules(exempt=["/x", "POST /y"], optional=["GET /x", "/y"])
    assert [rules.access(scope(m, "/x")) for m in ("GET", "POST")] == [EXE, EXE]
    assert [rules.access(scope(m, "/y")) for m in ("GET", "POST")] == [OPT, EXE]


def test_longest_prefix_first_whatever_the_order() -> None:
    rules = Rules(exempt=["/a/*"], optional=["/a/b/*"])
    assert rules.access(scope("GET", "/a/b/c")) is OPT
    assert rules.access(scope("GET", "/a/c")) is EXE


def test_without_patterns_everything_is_required() -> None:
    assert Rules((), ()).access(scope("GET", "/anything")) is REQ


@pytest.mark.parametrize(
    ("path", "root_path", "inside"),
    [
        ("/api/health", "/api", "/health"),
        ("/api", "/api", "/"),
        ("/apix/health", "/api", "/apix/health"),
        ("/h", "", "/h"),
    ],
)
def test_route_path_strips_the_root_path(path: str, root_path: str, inside: str) -> None:
    assert route_path(scope("GET", path, root_path)) == inside
    assert RULES.access(scope("GET", "/api/health", "/api")) is EXE


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (7, "must be strings"),
        ("FETCH /x", "unknown methods"),
        ("GET /x extra", "must be 'PATH' or 'METHOD"),
        ("x", "must start with '/'"),
        ("/a*/b", "only allowed as a final"),
        ("/a*", "only allowed as a final"),
    ],
)
def test_bad_patterns_name_the_argument(pattern: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"exempt .*{message}|exempt patterns {message}"):
        Rules(exempt=[pattern], optional=[])
