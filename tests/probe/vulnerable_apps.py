"""A gallery of deliberately vulnerable APIs, each reproducing one real mistake in calling a JWT library.

Every app serves `GET /orders` (the probe's target) and is otherwise correct: 401 with a `WWW-Authenticate`
challenge, a fixed error text, no crash. So each should produce exactly the finding(s) of its one mistake. The
Starlette apps share `_guarded`; the FastAPI ones (fastapi_apps.py) are written as FastAPI tutorials write them.
Never run any of these outside the tests.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, Protocol

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..conftest import AUDIENCE, ISSUER

__all__ = [
    "CHALLENGE",
    "WEAK_SECRET",
    "Signer",
    "algorithm_from_header",
    "claims_unchecked",
    "exception_echoed",
    "exp_unchecked",
    "garbage_crashes",
    "no_signature_check",
    "no_www_authenticate",
    "strict",
    "weak_secret",
]


class Signer(Protocol):
    """What the gallery needs of a test signer (tests/conftest.py's today): only these, so a new kit fits too."""

    alg: str
    public: Any
    public_pem: bytes | None

    def token(self, **claims: Any) -> str: ...


# A tutorial placeholder that people paste and ship; long enough that PyJWT does not warn about it.
WEAK_SECRET = "your-very-secure-secret-at-least-32-chars-long"
CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _refusal(detail: str = "Invalid token.", *, challenge: bool = True) -> Response:
    return JSONResponse({"detail": detail}, status_code=401, headers=CHALLENGE if challenge else None)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _guarded(
    verify: Callable[[str], dict[str, Any]],
    *,
    catch: tuple[type[Exception], ...] = (jwt.PyJWTError,),
    refuse: Callable[[Exception | None], Response] = lambda exc: _refusal(),
) -> Starlette:
    """`GET /orders` behind `verify(token) -> claims`; an exception in `catch` is refused with `refuse(exc)`."""

    async def orders(request: Request) -> Response:
        token = _bearer(request)
        if token is None:
            return refuse(None)
        try:
            claims = verify(token)
        except catch as exc:
            return refuse(exc)
        return JSONResponse({"orders": [], "for": claims.get("sub")})

    return Starlette(routes=[Route("/orders", orders)])


def strict(signer: Signer) -> Callable[[str], dict[str, Any]]:
    """The correct call, for the apps whose mistake is elsewhere."""
    return lambda token: jwt.decode(token, signer.public, algorithms=[signer.alg], audience=AUDIENCE, issuer=ISSUER)


def no_signature_check(signer: Signer) -> Starlette:
    """`verify_signature: False` left in from debugging: every forgery that is still a JWS passes."""
    return _guarded(lambda token: jwt.decode(token, options={"verify_signature": False}))


def algorithm_from_header(signer: Signer) -> Starlette:
    """The algorithm taken from the token, one key for all: an HS256 token signed with the public PEM passes.

    PyJWT >= 2.4 refuses a PEM as an HMAC secret, so the HMAC branch is written out, as PyJWT < 2.4 and
    python-jose < 3.3.1 did it inside `decode` (CVE-2022-29217, CVE-2024-33663).
    """
    pem = signer.public_pem
    assert pem is not None
    hashes = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}

    def verify(token: str) -> dict[str, Any]:
        alg = jwt.get_unverified_header(token).get("alg")
        if alg in hashes:
            signing_input, _, signature = token.rpartition(".")
            expected = hmac.new(pem, signing_input.encode(), hashes[alg]).digest()
            if not hmac.compare_digest(jwt.utils.base64url_encode(expected).decode(), signature):
                raise jwt.InvalidSignatureError("bad signature")
            options = {"verify_signature": False, "verify_exp": True, "verify_aud": True, "verify_iss": True}
            return jwt.decode(token, options=options, audience=AUDIENCE, issuer=ISSUER)  # type: ignore[arg-type]
        return jwt.decode(token, signer.public, algorithms=[str(alg)], audience=AUDIENCE, issuer=ISSUER)

    return _guarded(verify)


def claims_unchecked(signer: Signer) -> Starlette:
    """`iss` and `aud` never checked: a token minted for another API by the same key holder passes."""
    return _guarded(
        lambda token: jwt.decode(token, signer.public, algorithms=[signer.alg], options={"verify_aud": False})
    )


def exp_unchecked(signer: Signer) -> Starlette:
    """`verify_exp: False`: a leaked token works forever."""
    return _guarded(
        lambda token: jwt.decode(
            token,
            signer.public,
            algorithms=[signer.alg],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"verify_exp": False},
        )
    )


def exception_echoed(signer: Signer) -> Starlette:
    """The library's exception text sent back to the client."""
    return _guarded(strict(signer), refuse=lambda exc: _refusal(str(exc) if exc else "Not authenticated."))


def garbage_crashes(signer: Signer) -> Starlette:
    """Only the two 'expected' errors caught: anything else (a malformed token) becomes a 500."""
    return _guarded(strict(signer), catch=(jwt.ExpiredSignatureError, jwt.InvalidSignatureError))


def no_www_authenticate(signer: Signer) -> Starlette:
    """A 401 with no `WWW-Authenticate` challenge (RFC 6750 section 3 requires one)."""
    return _guarded(strict(signer), refuse=lambda exc: _refusal(challenge=False))


def weak_secret(signer: Signer) -> Starlette:
    """HS256 with a secret copied from a README: the check is right, the secret is public."""
    return _guarded(
        lambda token: jwt.decode(token, WEAK_SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    )
