"""Access rules on plain ASGI scope dicts: which requests need a token, may carry one, or are exempt."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_middleware import ConfigurationError
from jwt_middleware.rules import Access, Rules, route_path

R, O, E = Access.REQUIRED, Access.OPTIONAL, Access.EXEMPT


def scope(method: str, path: str, root_path: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": [], **extra}


RULES = Rules(
    exempt=["/health", "/docs/*", "GET,HEAD /items/*", "POST /hooks", "/public/*"],
    optional=["/catalog/*", "/public/*", "/public/me/*"],
)


@pytest.mark.parametrize(
    ("method", "path", "access"),
    [
        ("GET", "/health", E),
        ("GET", "/health/x", R),
        ("GET", "/healthz", R),
        ("GET", "/docs", E),
        ("GET", "/docs/a/b", E),
        ("GET", "/docsx", R),
        ("GET", "/items/1", E),
        ("HEAD", "/items", E),
        ("DELETE", "/items/1", R),
        ("get", "/items/1", R),  # methods are matched as sent: a lowercase method is never exempted by "GET"
        ("POST", "/hooks", E),
        ("GET", "/hooks", R),
        ("GET", "/catalog/1", O),
        ("GET", "/public/me/x", O),  # the longest prefix wins
        ("GET", "/public/other", E),  # exempt wins over optional for the same pattern
        ("GET", "/orders", R),
        ("OPTIONS", "/orders", R),  # a CORS preflight is no exception
    ],
)
def test_access_by_method_and_path(method: str, path: str, access: Access) -> None:
    assert RULES.access(scope(method, path)) is access


def test_no_header_changes_the_answer() -> None:
    preflight = scope("OPTIONS", "/orders", headers=[(b"access-control-request-method", b"GET"), (b"origin", b"x")])
    assert RULES.access(preflight) is R


def test_websocket_scopes_match_as_get() -> None:
    assert RULES.access({"type": "websocket", "path": "/items/1", "root_path": "", "headers": []}) is E


def test_longest_prefix_first_whatever_the_order() -> None:
    rules = Rules(exempt=["/a/*"], optional=["/a/b/*"])
    assert rules.access(scope("GET", "/a/b/c")) is O
    assert rules.access(scope("GET", "/a/c")) is E


def test_without_patterns_everything_is_required() -> None:
    assert Rules((), ()).access(scope("GET", "/anything")) is R


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
    assert RULES.access(scope("GET", "/api/health", "/api")) is E


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
