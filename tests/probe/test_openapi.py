"""OpenAPI enumeration: the document parsed, and secured operations that answer without a token reported."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware.probe.openapi import operations

from ..conftest import make_app, signer_for
from ..live_server import serve
from . import fastapi_apps
from .helpers import probe, run_probe

pytestmark = pytest.mark.anyio


def test_operations_and_their_security() -> None:
    document: dict[str, Any] = {
        "security": [{"bearer": []}],
        "paths": {
            "/items/{item_id}": {
                "parameters": [{"name": "item_id", "in": "path", "schema": {"type": "integer"}}],
                "get": {},
                "delete": {"security": []},
            },
            "/users/{name}/{tab}": {
                "get": {"parameters": [{"name": "q", "in": "query"}, {"name": "name", "in": "path", "type": "string"}]}
            },
            "/reports/{kind}": {"get": {"parameters": [{"name": "kind", "in": "path", "schema": {"enum": ["a b"]}}]}},
            "/docs/{page}": {"get": {"parameters": [{"name": "page", "in": "path", "schema": {"example": "x/y"}}]}},
            "/optional": {"get": {"security": [{}]}},
            "/odd": {"get": {"parameters": [{"name": "x", "in": "path", "schema": "nope"}]}, "post": "nope"},
            "relative": {"get": {}},
        },
    }
    found = [(o.method, o.concrete_path, o.secured) for o in operations(document)]
    assert found == [
        ("GET", "/items/1", True),
        ("DELETE", "/items/1", False),
        ("GET", "/users/probe/probe", True),
        ("GET", "/reports/a%20b", True),
        ("GET", "/docs/x%2Fy", True),
        ("GET", "/optional", False),  # [{}]: anonymous allowed
        ("GET", "/odd", True),
    ]
    assert list(operations({"paths": []})) == []
    assert [o.optional for o in operations(document)] == [False, False, False, False, False, True, False]


async def test_unsafe_methods_are_only_sent_when_asked() -> None:
    signer = signer_for("RS256")
    runs = [
        await probe(fastapi_apps.forgot_dependency(signer), "--token", signer.token(), "--format", "json", *flag)
        for flag in ([], ["--unsafe-methods"])
    ]
    operations_found = [
        sorted(f["classes"][0] for f in run.report["findings"] if f["id"] == "unprotected-operation") for run in runs
    ]
    assert operations_found == [
        ["GET /admin/reports/{report_id}"],
        ["GET /admin/reports/{report_id}", "POST /admin/reports/{report_id}/archive"],
    ]
    [info] = [f for f in runs[0].report["findings"] if f["id"] == "operation-without-security"]
    assert info["classes"] == ["GET /health"]
    assert runs[0].report["summary"]["operations"] == 4


async def test_an_explicit_openapi_url_must_answer() -> None:
    signer = signer_for("HS256")
    run = await probe(
        make_app(algorithms=["HS256"], key=signer.public),
        "--token",
        signer.token(),
        "--openapi",
        "http://127.0.0.1:9/x",
    )
    assert run.code == 2
    assert "--openapi must be on the target's host" in run.stderr


async def test_a_document_behind_the_token_is_read_with_it() -> None:
    signer = signer_for("HS256")
    document = {"openapi": "3.1.0", "paths": {"/orders": {"get": {"security": [{"bearer": []}]}}}}
    app = make_app(algorithms=["HS256"], key=signer.public)
    app.router.routes.insert(0, Route("/openapi.json", lambda request: JSONResponse(document)))
    run = await probe(app, "--token", signer.token(), "--format", "json")
    assert (run.code, run.finding_ids) == (0, set()), run.stdout
    assert run.report["summary"]["operations"] == 1


async def test_an_explicit_openapi_url_that_fails_exits_2() -> None:
    signer = signer_for("HS256")
    async with serve(make_app(algorithms=["HS256"], key=signer.public, exempt=["/nope.json"])) as base:
        run = await run_probe(f"{base}/orders", "--token", signer.token(), "--openapi", f"{base}/nope.json")
    assert run.code == 2
    assert "did not answer 200 with an OpenAPI document" in run.stderr
