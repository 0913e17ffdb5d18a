"""Operations from an OpenAPI (3.x) or Swagger (2.0) document: which declare a security requirement, which none.

Only what is needed to call an operation is read: its method, its path with each `{parameter}` filled with a
harmless value of the declared type, and its effective `security` (the operation's own, else the document's).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["SAFE_METHODS", "Operation", "operations"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SAMPLES = {"integer": "1", "number": "1", "boolean": "true"}


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation: `path` is the template, `concrete_path` a path to request."""

    method: str
    path: str
    concrete_path: str
    secured: bool
    optional: bool = False  # a requirement with an empty alternative ({}): anonymous requests allowed by design

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _secured(requirements: object) -> bool:
    # An empty object in the list ({}) means "anonymous allowed": the operation is optional-auth, not secured.
    if not isinstance(requirements, list) or not requirements:
        return False
    return all(isinstance(requirement, Mapping) and requirement for requirement in requirements)


def _sample(parameter: Mapping[str, Any]) -> str:
    schema = parameter.get("schema", parameter)  # Swagger 2.0 puts `type` on the parameter itself
    if isinstance(schema, Mapping):
        if "example" in schema:
            return quote(str(schema["example"]), safe="")
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return quote(str(enum[0]), safe="")
        return _SAMPLES.get(str(schema.get("type")), "probe")
    return "probe"


def _concrete(path: str, parameters: list[Any]) -> str:
    for parameter in parameters:
        if isinstance(parameter, Mapping) and parameter.get("in") == "path" and isinstance(parameter.get("name"), str):
            path = path.replace("{" + parameter["name"] + "}", _sample(parameter))
    while "{" in path and "}" in path.partition("{")[2]:  # a template parameter the document did not describe
        head, _, rest = path.partition("{")
        path = head + "probe" + rest.partition("}")[2]
    return path


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def operations(document: Mapping[str, Any]) -> Iterator[Operation]:
    """Every operation of `document`, in its order; anything malformed is skipped rather than guessed at."""
    paths = document.get("paths")
    if not isinstance(paths, Mapping):
        return
    default_security = document.get("security")
    for path, item in paths.items():
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(item, Mapping):
            continue
        shared = _list(item.get("parameters"))
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, Mapping):
                continue
            own = _list(operation.get("parameters"))
            security = operation.get("security", default_security)
            optional = isinstance(security, list) and any(requirement == {} for requirement in security)
            yield Operation(method.upper(), path, _concrete(path, [*own, *shared]), _secured(security), optional)
