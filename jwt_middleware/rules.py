"""Which requests need a token, may carry one, or are exempt: decided from method and path alone.

A pattern is a path, optionally preceded by methods: `"/health"` (exactly this path), `"/public/*"` (this path
and everything below it), `"GET /items/*"` or `"GET,HEAD /items/*"` (only for these methods). Paths are matched
inside the app, so a `root_path` set by the server or a `Mount` is not part of the pattern.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from starlette.types import Scope

from .errors import ConfigurationError

__all__ = ["Access", "Rules", "route_path"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


class Access(enum.Enum):
    """What a request needs."""

    REQUIRED = "required"  # a valid token, or the request is refused
    OPTIONAL = "optional"  # a token is verified if present; without one the user is anonymous
    EXEMPT = "exempt"  # nothing is read or set


_REQUIRED = Access.REQUIRED  # bound once: an enum attribute lookup costs ~1k instructions


class Rules:
    """Compiled exempt/optional patterns; `access(scope)` is a dict lookup and a few prefix tests."""

    __slots__ = ("_exact", "_exact_by_method", "_prefixes")

    def __init__(self, exempt: Sequence[str], optional: Sequence[str]) -> None:
        # An exact path whose rules name no methods is decided by one dict lookup (an exempt /health costs ~1k
        # instructions); a path with method rules keeps all its rules, in order, in the second dict.
        exact: dict[str, list[tuple[frozenset[str] | None, Access]]] = {}
        self._prefixes: list[tuple[str, frozenset[str] | None, Access]] = []
        # Exempt before optional: when both match, the broader permission is the one the user wrote first.
        for access, patterns in ((Access.EXEMPT, exempt), (Access.OPTIONAL, optional)):
            argument = access.value
            for pattern in patterns:
                methods, path = _parse(pattern, argument)
                if path.endswith("/*"):
                    self._prefixes.append((path[:-2], methods, access))
                else:
                    exact.setdefault(path, []).append((methods, access))
        self._exact = {path: rules[0][1] for path, rules in exact.items() if all(m is None for m, _ in rules)}
        self._exact_by_method = {path: rules for path, rules in exact.items() if path not in self._exact}
        # Longest prefix first, so "/public/admin/*" can be listed before or after "/public/*".
        self._prefixes.sort(key=lambda rule: len(rule[0]), reverse=True)

    def access(self, scope: Scope) -> Access:
        """The access a request needs, from its method and path alone.

        No header makes a request exempt: a CORS preflight (OPTIONS + Access-Control-Request-Method) needs a token
        like any other request, so CORSMiddleware must sit outside this middleware and answer it first. Letting
        preflights through once carried unauthenticated requests to handlers that serve OPTIONS (issue 8).
        """
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        access = self._exact.get(path)
        if access is not None:
            return access
        if self._exact_by_method or self._prefixes:  # with exact paths only, a miss is decided (~0.3k instr.)
            method = scope.get("method", "GET")  # websocket scopes have no method: treat them as GET
            for methods, access in self._exact_by_method.get(path, ()):
                if methods is None or method in methods:
                    return access
            for prefix, methods, access in self._prefixes:
                if (path == prefix or (path.startswith(prefix) and path[len(prefix)] == "/")) and (
                    methods is None or method in methods
                ):
                    return access
        return _REQUIRED


def route_path(scope: Scope) -> str:
    """The path inside the app: `scope["path"]` without the `root_path` a server or `Mount` put in front."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and (len(path) == len(root_path) or path[len(root_path)] == "/"):
        return path[len(root_path) :] or "/"
    return path


def _parse(pattern: str, argument: str) -> tuple[frozenset[str] | None, str]:
    if not isinstance(pattern, str):
        raise ConfigurationError(f"{argument} patterns must be strings, got {pattern!r}")
    parts = pattern.split()
    if len(parts) == 1:
        methods, path = None, parts[0]
    elif len(parts) == 2:
        methods = frozenset(m.strip().upper() for m in parts[0].split(",") if m.strip())
        path = parts[1]
        unknown = methods - _METHODS
        if not methods or unknown:
            raise ConfigurationError(f"{argument} pattern {pattern!r} names unknown methods {sorted(unknown)}")
    else:
        raise ConfigurationError(f"{argument} pattern {pattern!r} must be 'PATH' or 'METHOD[,METHOD] PATH'")
    if not path.startswith("/"):
        raise ConfigurationError(f"{argument} pattern {pattern!r}: the path must start with '/'")
    if "*" in path[:-1] or (path.endswith("*") and not path.endswith("/*")):
        raise ConfigurationError(f"{argument} pattern {pattern!r}: '*' is only allowed as a final '/*'")
    return methods, path
