"""One line that gives a FastAPI app's OpenAPI document the middleware's security, derived from its own rules.

    app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer=..., audience=..., exempt=[*DOCS_EXEMPT])
    install_security(app)   # after add_middleware: validates its configuration now, at import time

Each operation's `security` is what the middleware enforces for that method and path: required paths list the
scheme, optional paths the scheme or `{}`, exempt paths nothing; scopes from `Security(..., scopes=[...])` appear
in the requirement. Route templates (`/items/{id}`) are judged against every pattern that could match one of their
real paths, so `/items/*` covers them, and a template that is exempt for some paths only is documented as optional.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..errors import ConfigurationError
from ..keys.discovery import discovery_url
from ..middleware import JWTMiddleware
from ..rules import Access, Rules
from .dependencies import NEEDS_TOKEN, AuthRefusal

__all__ = ["RouteSecurity", "install_security", "route_security"]

logger = logging.getLogger("jwt_middleware")

_PARAMETER = re.compile(r"{([^}:]+)(?::([^}]+))?}")


@dataclass(frozen=True, slots=True)
class RouteSecurity:
    """What the middleware enforces for one method of one route, and what the route's dependencies ask for."""

    access: Access | None  # None: some of the template's real paths are exempt and some are not
    needs_token: bool  # a dependency needs claims (verified_claims, current_user, claims_as(...))
    reads_claims: bool  # any of our dependencies, optional_claims included
    scopes: tuple[str, ...]


def install_security(
    app: FastAPI,
    *,
    scheme_name: str = "bearerAuth",
    openid_connect: bool | None = None,
    detail_errors: bool = False,
) -> None:
    """Document the middleware in `app`'s OpenAPI (Swagger's Authorize button and padlocks), and check the app.

    >>> app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer=..., audience=..., exempt=[*DOCS_EXEMPT])
    >>> install_security(app)

    Call it after `add_middleware(JWTMiddleware, ...)`. It builds the middleware once, so a configuration mistake
    raises `ConfigurationError` now, at import time, instead of when the server sends its first event. At startup
    it refuses (the lifespan fails, so uvicorn exits) when a route needs claims on a path the middleware exempts.
    The scheme is HTTP bearer (`bearerFormat: JWT`); with `oidc_discovery=True` an OpenID Connect scheme naming
    the discovery URL is offered beside it (`openid_connect=False` leaves it out). Refusals raised by the
    dependencies get the middleware's RFC 6750 body, or FastAPI's `{"detail": ...}` shape with
    `detail_errors=True`; their `WWW-Authenticate` header is kept either way.
    """
    if not isinstance(scheme_name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", scheme_name):
        raise ConfigurationError("scheme_name must be letters, digits, '.', '_' or '-', e.g. scheme_name='bearerAuth'")
    middleware = _built_middleware(app)
    settings = middleware.settings
    rules = Rules(settings.exempt, settings.optional)
    candidates = _pattern_paths([*settings.exempt, *settings.optional])
    schemes: dict[str, dict[str, Any]] = {
        scheme_name: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JSON Web Token verified by jwt_middleware: paste the token itself, without 'Bearer '.",
        }
    }
    discovering = [p for p in settings.providers if p.discovery and p.issuer is not None]
    if openid_connect or (openid_connect is None and discovering):
        if not discovering:
            raise ConfigurationError("openid_connect=True needs the middleware's oidc_discovery=True (or providers)")
        for index, provider in enumerate(discovering):
            assert provider.issuer is not None
            name = f"{scheme_name}-oidc" + (f"-{index + 1}" if index else "")
            schemes[name] = {"type": "openIdConnect", "openIdConnectUrl": discovery_url(provider.issuer)}

    def security_of(route: APIRoute | APIWebSocketRoute, method: str) -> RouteSecurity:
        return route_security(route, method, rules, candidates)

    original_openapi = app.openapi
    documented: list[object] = []  # the last schema we added security to (FastAPI regenerates on route changes)

    def openapi() -> dict[str, Any]:
        schema = original_openapi()
        if not documented or documented[0] is not schema:
            _check_routes(app, security_of)
            _document(app, schema, schemes, security_of)
            documented[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.router.lifespan_context = _checked_lifespan(app, app.router.lifespan_context, security_of)
    app.add_exception_handler(AuthRefusal, _refusal_handler(detail_errors))


def _built_middleware(app: FastAPI) -> JWTMiddleware:
    entries = [m for m in app.user_middleware if isinstance(m.cls, type) and issubclass(m.cls, JWTMiddleware)]
    if len(entries) != 1:
        found = "no" if not entries else "more than one"
        raise ConfigurationError(
            f"install_security(app) found {found} JWTMiddleware: call it once, after "
            "app.add_middleware(JWTMiddleware, ...)"
        )
    entry = entries[0]

    async def unused(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover - never called
        raise RuntimeError("only built to validate the configuration")

    middleware = entry.cls(unused, *entry.args, **entry.kwargs)
    assert isinstance(middleware, JWTMiddleware)
    return middleware


def route_security(
    route: APIRoute | APIWebSocketRoute, method: str, rules: Rules, candidates: Sequence[tuple[str, bool]] = ()
) -> RouteSecurity:
    """Judge `route` for `method` as the middleware judges its real paths, and read its dependencies' needs.

    `candidates` are the pattern paths (path, is_prefix) that may cover some of the template's real paths.
    """
    template = route.path_format
    accesses = {_access(rules, method, template)}
    segments = _template_segments(route.path)
    for path, is_prefix in candidates:
        if _may_cover(segments, path, is_prefix):
            accesses.add(_access(rules, method, path or "/"))
    if len(accesses) == 1:
        access: Access | None = accesses.pop()
    elif Access.EXEMPT in accesses:
        access = None
    else:  # required for some real paths, optional for others: document what a caller may need
        access = Access.OPTIONAL
    needs_token, reads_claims, scopes = _dependency_needs(route.dependant)
    return RouteSecurity(access, needs_token, reads_claims, scopes)


def _access(rules: Rules, method: str, path: str) -> Access:
    return rules.access({"type": "http", "method": method, "path": path, "root_path": "", "headers": []})


def _pattern_paths(patterns: Sequence[str]) -> list[tuple[str, bool]]:
    paths = []
    for pattern in patterns:
        path = pattern.split()[-1]
        paths.append((path[:-2], True) if path.endswith("/*") else (path, False))
    return paths


def _template_segments(template: str) -> list[re.Pattern[str] | None]:
    """One regular expression per segment of a route path; None for a `{name:path}` that takes the rest."""
    segments: list[re.Pattern[str] | None] = []
    for segment in template.strip("/").split("/"):
        if any(m.group(2) == "path" for m in _PARAMETER.finditer(segment)):
            segments.append(None)
            break
        pieces, last = [], 0
        for match in _PARAMETER.finditer(segment):
            pieces += [re.escape(segment[last : match.start()]), "[^/]+"]
            last = match.end()
        pieces.append(re.escape(segment[last:]))
        segments.append(re.compile("".join(pieces)))
    return segments


def _may_cover(segments: list[re.Pattern[str] | None], path: str, is_prefix: bool) -> bool:
    """Whether the pattern path (or, for a prefix, anything below it) matches a real path of the template."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    if not parts:
        return is_prefix or segments == [re.compile("")]
    for index, part in enumerate(parts):
        if index >= len(segments):
            return False
        segment = segments[index]
        if segment is None:
            return True
        if not segment.fullmatch(part):
            return False
    return is_prefix or len(parts) == len(segments)


def _dependency_needs(dependant: Dependant) -> tuple[bool, bool, tuple[str, ...]]:
    needs_token, reads_claims, scopes = False, False, []
    for node, inherited in _walk(dependant, []):
        marker = getattr(node.call, NEEDS_TOKEN, None)
        if marker is None:
            continue
        reads_claims = True
        needs_token = needs_token or bool(marker)
        scopes += [*inherited, *_own_scopes(node)]
    return needs_token, reads_claims, tuple(dict.fromkeys(scopes))


def _own_scopes(node: Dependant) -> list[str]:
    # FastAPI >= 0.120 keeps a node's own Security(scopes=...) apart from its parents'; older ones accumulate.
    if hasattr(node, "own_oauth_scopes"):
        return list(node.own_oauth_scopes or [])
    return list(getattr(node, "security_scopes", None) or [])  # pragma: no cover - older FastAPI


def _walk(dependant: Dependant, inherited: list[str]) -> Iterator[tuple[Dependant, list[str]]]:
    for node in dependant.dependencies:
        yield node, inherited
        yield from _walk(node, [*inherited, *_own_scopes(node)] if hasattr(node, "own_oauth_scopes") else inherited)


def _api_routes(app: FastAPI) -> Iterator[APIRoute | APIWebSocketRoute]:
    for route in app.routes:
        if isinstance(route, (APIRoute, APIWebSocketRoute)):
            yield route


def _methods(route: APIRoute | APIWebSocketRoute) -> list[str]:
    return sorted(route.methods or ()) if isinstance(route, APIRoute) else ["GET"]


def _check_routes(app: FastAPI, security_of: Callable[[APIRoute | APIWebSocketRoute, str], RouteSecurity]) -> None:
    """Refuse routes whose dependencies read claims where the middleware reads no token at all."""
    for route in _api_routes(app):
        for method in _methods(route):
            security = security_of(route, method)
            if security.reads_claims and security.access in (Access.EXEMPT, None):
                raise ConfigurationError(
                    f"{method} {route.path} reads the token's claims through a dependency, but the middleware's "
                    "exempt=[...] patterns make it exempt (for some or all of its paths), so no token is read "
                    "there: take it out of exempt, or list it under optional=[...] to allow anonymous requests"
                )


def _checked_lifespan(
    app: FastAPI,
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]],
    security_of: Callable[[APIRoute | APIWebSocketRoute, str], RouteSecurity],
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def checked(asgi_app: Any) -> AsyncIterator[Any]:
        _check_routes(app, security_of)  # a failure here fails the startup: the server exits, serving nothing
        async with lifespan(asgi_app) as state:
            yield state

    return checked


def _document(
    app: FastAPI,
    schema: dict[str, Any],
    schemes: dict[str, dict[str, Any]],
    security_of: Callable[[APIRoute | APIWebSocketRoute, str], RouteSecurity],
) -> None:
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(schemes)
    # OpenAPI 3.0 allows scopes on oauth2/openIdConnect requirements only; 3.1 lets them name roles for any scheme.
    scopes_on_http = not str(schema.get("openapi", "")).startswith("3.0")
    paths = schema.get("paths", {})
    for route in _api_routes(app):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in _methods(route):
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            security = security_of(route, method)
            others = [r for r in operation.get("security", []) if not set(r) & set(schemes)]
            ours: list[dict[str, list[str]]] = []
            if security.access is not Access.EXEMPT:
                scopes = list(security.scopes)
                ours = [
                    {name: (scopes if scopes_on_http or s["type"] != "http" else [])} for name, s in schemes.items()
                ]
                if security.access is not Access.REQUIRED and not security.needs_token:
                    ours.append({})
            if ours or others:
                operation["security"] = [*ours, *others]
            else:
                operation.pop("security", None)


def _refusal_handler(detail_shape: bool) -> Callable[[HTTPConnection, Exception], Response]:
    def answer(connection: HTTPConnection, exc: Exception) -> Response:
        assert isinstance(exc, AuthRefusal)
        headers = {**(exc.headers or {}), "Cache-Control": "no-store"}
        return JSONResponse(exc.body(detail_shape=detail_shape), exc.status_code, headers=headers)

    return answer
