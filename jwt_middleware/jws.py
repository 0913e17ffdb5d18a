"""Compact JWS (RFC 7515): strict decoding, the header policy, and the signature check. No claim is read here.

    jws = parse_compact(token, policy, max_bytes)   # shape, strict base64url, the header against the policy
    key = verify_signature(jws, keys)               # the key among `keys` whose signature check passes
    claims = decode_payload(jws)                    # only then: strict JSON, an object

Stricter than PyJWT on purpose: padded or `+/` base64, non-canonical last characters, duplicate JSON members,
non-UTF-8 JSON, lone surrogates and NaN are all refused, so that no two spellings of a token verify alike.
"""

from __future__ import annotations

import functools
import json
import sys
from binascii import Error as Base64Error
from binascii import a2b_base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ErrorCode, KeyNotFound
from .keys import KeySet, PreparedKey

__all__ = [
    "CompactJWS",
    "Header",
    "HeaderPolicy",
    "b64url_decode",
    "decode_json_object",
    "decode_payload",
    "normalise_typ",
    "parse_compact",
    "verify_signature",
]

# RFC 7515 compact serialization is base64url without padding and dots; 8725bis: nothing else may appear.
_JWS_CHARACTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
# Python 3.11's strict a2b_base64 refuses any character outside the standard alphabet, so one translate per segment
# does both jobs: "-_" become "+/", and "+", "/" and "=" (not base64url) become "*", which strict mode refuses. That
# replaces a scan of the whole token for its alphabet (~4k instructions for an HS256 token, more for RS256).
# Python 3.10 has no strict mode: there, parse_compact scans the token first.
_STRICT = sys.version_info >= (3, 11)
if sys.version_info >= (3, 11):
    _TO_STANDARD_ALPHABET = bytes.maketrans(b"-_+/=", b"+/***")
    _a2b: Callable[[bytes], bytes] = functools.partial(a2b_base64, strict_mode=True)
else:  # pragma: no cover - measured on 3.10 in CI, not in the coverage run
    _TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
    _a2b = a2b_base64
_PADDING = (b"", b"", b"==", b"=")
# The last character of an unpadded segment carries 2 or 4 unused bits, which must be zero: otherwise several
# spellings decode to one value, and a token that is not the one signed would pass the signature check.
_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(),
    frozenset(),
    frozenset(b"AQgw"),
    frozenset(b"AEIMQUYcgkosw048"),
)
_MAX_KID_LENGTH = 256
_JSON_WHITESPACE = (b" ", b"\t", b"\n", b"\r")
_HEADER_CACHE_SIZE = 256


def b64url_decode(segment: bytes) -> bytes:
    """Strict base64url (RFC 7515 section 2): its alphabet only, no padding, a canonical last character."""
    remainder = len(segment) & 3
    if remainder == 1 or (remainder and segment[-1] not in _CANONICAL_LAST[remainder]):
        raise ErrorCode.TOKEN_MALFORMED.refusal("The token is not valid base64url.")
    try:
        return _a2b(segment.translate(_TO_STANDARD_ALPHABET) + _PADDING[remainder])
    except Base64Error as exc:  # a character outside the alphabet (3.11+; on 3.10 parse_compact found it first)
        raise ErrorCode.TOKEN_MALFORMED.refusal("The token is not a compact JWS.") from exc


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # {"alg":"none","alg":"HS256"}: parsers disagree on which wins, so the only safe answer is neither.
        raise ValueError("duplicate member name")
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


_decoder = json.JSONDecoder(object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant)
# The C scanner, without decode()'s two whitespace regexes around it; typeshed does not declare the attribute.
_scan_once: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


def decode_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Strict JSON (RFC 8259): UTF-8 only, no duplicate members, no NaN, no lone surrogates, an object."""
    if raw[:1] != b"{" and raw[:1] not in _JSON_WHITESPACE:
        # Not an object, whatever follows: refused before a UTF-8 decoding error is built for it (a flood of
        # random bytes costs ~3k instructions a token less).
        raise ErrorCode.TOKEN_MALFORMED.refusal(f"The token {what} is not a JSON object.")
    try:
        text = raw.decode("utf-8")
        try:
            value, end = _scan_once(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):  # whitespace around the value, or something after it: let decode() judge
            value = _decoder.decode(text)
        if "\\u" in text:
            # An escaped lone surrogate decodes to a str that is not valid Unicode; encoding it back finds it.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as exc:  # UnicodeError and JSONDecodeError are ValueErrors
        raise ErrorCode.TOKEN_MALFORMED.refusal(f"The token {what} is not a strict JSON object.") from exc
    if type(value) is not dict:
        raise ErrorCode.TOKEN_MALFORMED.refusal(f"The token {what} is not a JSON object.")
    return value


def normalise_typ(typ: str) -> str:
    """RFC 7515 section 4.1.9: compare case-insensitively, with an optional 'application/' prefix."""
    typ = typ.lower()
    return typ[len("application/") :] if typ.startswith("application/") else typ


@dataclass(frozen=True, slots=True)
class Header:
    """The parts of a validated JOSE header that verification uses."""

    alg: str
    kid: str | None


class HeaderPolicy:
    """Checks a JOSE header against configuration, remembering the headers it has accepted.

    >>> HeaderPolicy(frozenset({"RS256"}), typ=None).check(b"eyJhbGciOiJSUzI1NiJ9")
    Header(alg='RS256', kid=None)
    """

    def __init__(self, algorithms: frozenset[str], typ: str | None) -> None:
        self._algorithms = algorithms
        self._typ = None if typ is None else normalise_typ(typ)
        self._seen: dict[bytes, Header] = {}

    def check(self, segment: bytes) -> Header:
        header = self._seen.get(segment)
        if header is None:
            header = self._check(decode_json_object(b64url_decode(segment), "header"))
            if len(self._seen) >= _HEADER_CACHE_SIZE:
                self._seen.clear()  # bounded: a flood of distinct headers only costs re-parsing
            self._seen[segment] = header
        return header

    def _check(self, header: dict[str, Any]) -> Header:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            # Covers "none" in every casing: configuration refuses it, so it is never in the allow-list.
            raise ErrorCode.ALGORITHM_NOT_ALLOWED.refusal()
        if "enc" in header:
            raise ErrorCode.TOKEN_ENCRYPTED.refusal()
        crit = header.get("crit")
        if crit is not None:
            if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
                raise ErrorCode.HEADER_INVALID.refusal("The token's crit header is malformed.")
            raise ErrorCode.CRIT_UNSUPPORTED.refusal()  # we implement no extension, so every crit names one
        if header.get("b64", True) is not True:
            raise ErrorCode.CRIT_UNSUPPORTED.refusal("Unencoded payloads (RFC 7797) are not accepted.")
        kid = header.get("kid")
        if "kid" in header and (not isinstance(kid, str) or not kid or len(kid) > _MAX_KID_LENGTH):
            raise ErrorCode.HEADER_INVALID.refusal("The token's kid header is malformed.")
        if self._typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or normalise_typ(typ) != self._typ:
                raise ErrorCode.TYP_INVALID.refusal()
        # jku, x5u, jwk and x5c are deliberately never read: key material never comes from the token.
        return Header(alg=alg, kid=kid)


@dataclass(slots=True)  # not frozen: a frozen dataclass is built through object.__setattr__ (~2k instr. more)
class CompactJWS:
    """A compact JWS whose shape and header passed; its signature is decoded, its payload not yet."""

    header: Header
    signing_input: bytes
    payload_segment: bytes
    signature: bytes


def parse_compact(token: bytes, policy: HeaderPolicy, max_bytes: int) -> CompactJWS:
    """Split the compact serialization and check its shape, then its header against `policy`."""
    if len(token) > max_bytes:
        raise ErrorCode.TOKEN_TOO_LARGE.refusal()
    segments = token.split(b".")
    # translate() with only a deletion table drops every allowed character; anything left is not allowed. Python
    # 3.11+ leaves that to the strict decoding of each segment (see _TO_STANDARD_ALPHABET).
    if len(segments) != 3 or b"" in segments or (not _STRICT and token.translate(None, _JWS_CHARACTERS)):
        if len(segments) == 5:
            raise ErrorCode.TOKEN_ENCRYPTED.refusal()
        raise ErrorCode.TOKEN_MALFORMED.refusal("The token is not a compact JWS.")
    header_segment, payload_segment, signature_segment = segments
    signing_input = token[: len(header_segment) + 1 + len(payload_segment)]
    header = policy.check(header_segment)
    return CompactJWS(header, signing_input, payload_segment, b64url_decode(signature_segment))


def verify_signature(jws: CompactJWS, keys: KeySet) -> PreparedKey:
    """The key that verifies the signature; `KeyNotFound` if none fits, `InvalidToken` if none verifies."""
    candidates = keys.for_token(jws.header.alg, jws.header.kid)
    if not candidates:
        raise KeyNotFound()
    for key in candidates:
        if key.check(jws.signing_input, jws.signature):
            return key
    raise ErrorCode.SIGNATURE_INVALID.refusal()


def decode_payload(jws: CompactJWS) -> dict[str, Any]:
    """The payload as a strict JSON object; call it after `verify_signature` unless the payload must choose keys."""
    return decode_json_object(b64url_decode(jws.payload_segment), "payload")
