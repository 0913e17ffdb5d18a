"""Attacks on the structure: tampered claims and headers, `crit`, JWE shapes, duplicate members, bad JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from .encoding import b64, json_bytes, with_raw_member
from .keys import ALL_ALGS, attacker_key, seed, sign_token, signature_of
from .token import DROP, FAR_FUTURE, LONG_AGO, Battery, Forgery

__all__ = [
    "claim_types",
    "claims_tampering",
    "crit_and_b64",
    "duplicate_members",
    "header_tampering",
    "json_encoding",
    "jwe_and_nested",
    "malformed_compact",
    "non_canonical_base64",
    "not_json_objects",
    "oversized",
]


def claims_tampering(b: Battery) -> Iterator[Forgery]:
    """Claims an attacker wants, under the original signature; the re-signed ones are wrong on their own."""
    if b.original.payload is None:
        return
    reference = "RFC 7515 section 5.2; RFC 7519 section 7.2"
    claims = b.claims
    aud = claims.get("aud")
    other_aud: object = ["https://attacker.invalid"] if isinstance(aud, list) else "https://attacker.invalid"
    signature_only: dict[str, dict[str, Any]] = {
        "role-admin": {**claims, "role": "admin", "roles": ["admin"], "admin": True},
        "scope-widened": {**claims, "scope": f"{claims.get('scope', '')} admin".strip()},
        "sub-changed": {**claims, "sub": "admin"},
        "exp-far-future": {**claims, "exp": FAR_FUTURE},
        "exp-removed": {k: v for k, v in claims.items() if k != "exp"},
        "aud-appended": {**claims, "aud": [*(aud if isinstance(aud, list) else [aud]), "https://attacker.invalid"]},
        "same-claims-reencoded": claims,  # the same JSON with other whitespace: the signature covers bytes
    }
    invalid_anyway: dict[str, dict[str, Any]] = {
        "aud-changed": {**claims, "aud": other_aud},
        "iss-changed": {**claims, "iss": "https://attacker.invalid"},
        "exp-past": {**claims, "exp": LONG_AGO},
        "nbf-future": {**claims, "nbf": FAR_FUTURE},
    }
    header = b.original.header
    for detail, payload in signature_only.items():
        body = json.dumps(payload, indent=1).encode() if detail == "same-claims-reencoded" else json_bytes(payload)
        yield b.kept(f"claims-{detail}", "claims-tampering", reference, header, body)
    for detail, payload in invalid_anyway.items():
        yield from b.both(f"claims-{detail}", "claims-tampering", reference, header, json_bytes(payload))


def header_tampering(b: Battery) -> Iterator[Forgery]:
    """An `alg` that is missing, malformed or swapped for another, under the original signature."""
    reference = "RFC 7515 section 4.1.1; RFC 8725 section 3.1"
    t = b.original
    malformed: dict[str, object] = {"missing": DROP, "empty": "", "null": None, "list": [t.alg], "unknown": "XS256"}
    malformed |= {"lowercase": t.alg.lower(), "padded": f" {t.alg} ", "object": {"name": t.alg}}
    for detail, alg in malformed.items():
        yield from b.both(
            f"header-alg-{detail}", "header-tampering", reference, t.header_with(alg=alg), t.payload_bytes
        )
    for alg in ALL_ALGS:
        if alg != t.alg:
            yield b.kept(
                f"header-alg-swapped-{alg}", "header-tampering", reference, t.header_with(alg=alg), t.payload_bytes
            )
    if "kid" in t.header:
        yield b.kept("header-kid-removed", "header-tampering", reference, t.header_with(kid=DROP), t.payload_bytes)
    yield b.kept("header-typ-changed", "header-tampering", reference, t.header_with(typ="at+jwt"), t.payload_bytes)


def crit_and_b64(b: Battery) -> Iterator[Forgery]:
    """Critical extensions a verifier does not understand must fail it (RFC 7515 section 4.1.11, RFC 7797)."""
    reference = "RFC 7515 section 4.1.11"
    t = b.original
    crit: dict[str, dict[str, Any]] = {
        "unknown": t.header_with(crit=["x-unknown"], **{"x-unknown": True}),
        "unknown-absent": t.header_with(crit=["x-unknown"]),
        "empty-list": t.header_with(crit=[]),
        "names-alg": t.header_with(crit=["alg"]),
        "not-a-list": t.header_with(crit="x-unknown", **{"x-unknown": True}),
        "non-string": t.header_with(crit=[1]),
    }
    for detail, header in crit.items():
        yield from b.both(f"crit-{detail}", "crit-extension", reference, header, t.payload_bytes)
    # RFC 7797: with b64 false the payload travels (and is signed) as is. A verifier that does not support it
    # must reject it; one that ignores `b64` would check the signature over the wrong bytes.
    reference = "RFC 7797 section 6"
    b64_headers = {"b64-false": t.header_with(b64=False, crit=["b64"]), "b64-false-no-crit": t.header_with(b64=False)}
    # RFC 7797 section 5.2: an unencoded payload in the compact form must not contain a dot.
    raw = t.payload_bytes.decode("ascii", "replace").replace(".", "%2E")
    for detail, header in b64_headers.items():
        head = b64(json_bytes(header))
        shapes = {"detached": "", "unencoded": raw, "encoded": t.payload_b64}
        for shape, payload in shapes.items():
            yield Forgery(f"{detail}-{shape}", "b64-false", reference, f"{head}.{payload}.{t.signature_b64}")
            if b.signing_key is not None:
                # Signed the RFC 7797 way, over the payload as is: right for a verifier that supports b64.
                signed = raw.encode() if shape == "unencoded" else t.payload_bytes
                signature = b64(signature_of(t.alg, b.signing_key, f"{head}.".encode() + signed))
                yield Forgery(f"{detail}-{shape}-resigned", "b64-false", reference, f"{head}.{payload}.{signature}")


def jwe_and_nested(b: Battery) -> Iterator[Forgery]:
    """Five-segment JWE shapes (RFC 7516 section 9) and a token nested in another (RFC 7519 section 5.2)."""
    t = b.original
    reference = "RFC 7516 section 9; RFC 8725 section 3.12"
    filler = b64(seed("jwe", 16))
    jwe_headers = {
        "dir": {"alg": "dir", "enc": "A256GCM"},
        "rsa-oaep": {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
        "none": {"alg": "none", "enc": "A256GCM"},
        "zip": {"alg": "dir", "enc": "A256GCM", "zip": "DEF"},  # the "JWT bomb" shape, CVE-2024-33664
    }
    for detail, header in jwe_headers.items():
        token = f"{b64(json_bytes(header))}.{filler}.{filler}.{t.payload_b64}.{filler}"
        yield Forgery(f"jwe-{detail}", "jwe-confusion", reference, token)
    yield Forgery("jwe-original-segments", "jwe-confusion", reference, f"{t.text}.{filler}.{filler}")

    reference = "RFC 7519 section 5.2; RFC 8725 section 2.8"
    inner = t.text.encode()
    outer = {"alg": "none", "cty": "JWT"}
    yield Forgery("nested-outer-none", "nested-jwt", reference, f"{b64(json_bytes(outer))}.{b64(inner)}.")
    key = attacker_key(t.alg)
    yield Forgery(
        "nested-outer-attacker-signed",
        "nested-jwt",
        reference,
        sign_token({**t.header, "cty": "JWT"}, inner, t.alg, key),
    )
    yield b.kept("nested-outer-original-signature", "nested-jwt", reference, t.header_with(cty="JWT"), inner)
    # A genuine outer signature over an unsigned inner token carrying the attacker's claims.
    admin = f"{b64(json_bytes({'alg': 'none'}))}.{b64(json_bytes({**b.claims, 'sub': 'admin'}))}."
    yield from b.both("nested-inner-none", "nested-jwt", reference, t.header_with(cty="JWT"), admin.encode())


def oversized(b: Battery) -> Iterator[Forgery]:
    """Tokens that cost a careless parser memory or stack: 64 KiB members, 20,000-deep nesting (CWE-400)."""
    reference = "CWE-400; RFC 8725 section 3.1"
    t = b.original
    pad = "A" * 65536
    yield b.kept("oversized-header", "oversized", reference, t.header_with(**{"x-pad": pad}), t.payload_bytes)
    yield b.kept("oversized-payload", "oversized", reference, t.header, json_bytes({**b.claims, "x-pad": pad}))
    yield Forgery("oversized-signature", "oversized", reference, f"{t.signing_input}.{b64(bytes(49152))}")
    deep = "[" * 20000 + "]" * 20000
    yield from b.both(
        "deeply-nested-header", "oversized", reference, with_raw_member(t.header, "x", deep), t.payload_bytes
    )
    yield from b.both("deeply-nested-payload", "oversized", reference, t.header, with_raw_member(b.claims, "x", deep))


def duplicate_members(b: Battery) -> Iterator[Forgery]:
    """Duplicate JSON member names: parsers disagree on which wins (RFC 7515 section 5.2, RFC 8259 section 4)."""
    reference = "RFC 7515 section 5.2; RFC 8259 section 4"
    t = b.original
    headers = {
        "alg-none-first": b'{"alg":"none",' + json_bytes(t.header)[1:],
        "alg-none-last": json_bytes(t.header)[:-1] + b',"alg":"none"}',
        "alg-hs256-last": json_bytes(t.header)[:-1] + b',"alg":"HS256"}',
        "kid-last": json_bytes(t.header)[:-1] + b',"kid":"../../../../dev/null"}',
    }
    for detail, header in headers.items():
        yield b.kept(f"duplicate-header-{detail}", "duplicate-members", reference, header, t.payload_bytes)
    if t.payload is None:
        return
    claims = json_bytes(b.claims)[:-1]
    duplicates = {
        "sub": b',"sub":"admin"}',
        "exp": f',"exp":{FAR_FUTURE}}}'.encode(),
        "aud": b',"aud":"https://attacker.invalid"}',
        "iss": b',"iss":"https://attacker.invalid"}',
        "role": b',"role":"user","role":"admin"}',
    }
    for detail, tail in duplicates.items():
        yield b.kept(f"duplicate-claim-{detail}", "duplicate-members", reference, t.header, claims + tail)
    first = b'{"sub":"admin",' + json_bytes(b.claims)[1:]
    yield b.kept("duplicate-claim-sub-first", "duplicate-members", reference, t.header, first)


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _non_canonical(segment: str) -> str | None:
    """`segment` with its last character's unused low bits changed: the same bytes to a lenient decoder."""
    unused = {2: 4, 3: 2}.get(len(segment) % 4)
    if unused is None:
        return None
    index = _B64_ALPHABET.index(segment[-1])
    return segment[:-1] + _B64_ALPHABET[index ^ 1]


def non_canonical_base64(b: Battery) -> Iterator[Forgery]:
    """Base64url that only a lenient decoder takes: padding, the +/ alphabet, unused bits set (RFC 7515 s. 2)."""
    reference = "RFC 7515 section 2; RFC 4648 section 3.5"
    t = b.original
    segments = {"header": t.header_b64, "payload": t.payload_b64, "signature": t.signature_b64}

    def replaced(which: str, value: str) -> str:
        return ".".join(value if name == which else segment for name, segment in segments.items())

    for which, segment in segments.items():
        padded = segment + "=" * (-len(segment) % 4)
        yield Forgery(f"base64-padded-{which}", "non-canonical-base64", reference, replaced(which, padded))
        yield Forgery(
            f"base64-extra-padding-{which}", "non-canonical-base64", reference, replaced(which, padded + "==")
        )
        standard = segment.replace("-", "+").replace("_", "/")
        yield Forgery(f"base64-standard-alphabet-{which}", "non-canonical-base64", reference, replaced(which, standard))
        trailing = _non_canonical(segment)
        if trailing is not None:
            yield Forgery(f"base64-trailing-bits-{which}", "non-canonical-base64", reference, replaced(which, trailing))
        yield Forgery(
            f"base64-percent-encoded-{which}",
            "non-canonical-base64",
            reference,
            replaced(which, segment.replace("-", "%2D").replace("_", "%5F") + "%3D"),
        )
    padded_all = ".".join(s + "=" * (-len(s) % 4) for s in segments.values())
    yield Forgery("base64-padded-all", "non-canonical-base64", reference, padded_all)


def malformed_compact(b: Battery) -> Iterator[Forgery]:
    """The compact serialization bent out of shape: segment counts, empty segments, stray dots and blanks."""
    reference = "RFC 7515 section 7.1; RFC 7519 section 7.2"
    t = b.original
    h, p, s = t.header_b64, t.payload_b64, t.signature_b64
    shapes = {
        "four-segments": f"{h}.{p}.{s}.{s}",
        "four-segments-empty-last": f"{h}.{p}.{s}.",
        "leading-dot": f".{h}.{p}.{s}",
        "double-dot": f"{h}..{p}.{s}",
        "empty-header": f".{p}.{s}",
        "empty-payload": f"{h}..{s}",
        "only-dots": "..",
        "one-segment": h,
        "header-only": f"{h}.",
        "space-after-dot": f"{h}. {p}.{s}",
        "space-before-dot": f"{h} .{p}.{s}",
        "tab-inside": f"{h}.{p}\t.{s}",
        "newline-inside": f"{h}.{p}\n.{s}",
        "space-inside-signature": f"{h}.{p}.{s[:8]} {s[8:]}",
        "leading-newline": f"\n{t.text}",
        "trailing-newline": f"{t.text}\n",
        "trailing-nul": f"{t.text}\x00",
        "comma-separated": f"{t.text},{t.text}",
        "twice": f"{t.text} {t.text}",
        "header-and-signature-swapped": f"{s}.{p}.{h}",
    }
    for detail, token in shapes.items():
        yield Forgery(f"compact-{detail}", "malformed-compact", reference, token)


# Raw JSON values for every registered claim, each wrong in type or not JSON at all. Valid-looking extremes
# (exp = 1e30) are only kept under the original signature: RFC 7519 allows any JSON number as a NumericDate.
_NUMERIC_DATE_JUNK = {
    "string": '"9999999999"',
    "bool": "true",
    "null": "null",
    "list": "[9999999999]",
    "object": '{"$date":9999999999}',
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
}


_NUMERIC_DATE_EXTREMES = {"1e30": "1e30", "bigint": "1" + "0" * 400, "negative": "-1", "fraction": "0.5"}


_STRING_JUNK = {"number": "1", "null": "null", "list": '["admin"]', "object": '{"sub":"admin"}', "bool": "true"}


_AUD_JUNK = {"number": "1", "list-with-number": "[1]", "empty-list": "[]", "null": "null", "object": "{}"}


_CLAIM_JUNK: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # claim: (must be rejected even when genuinely signed, only kept under the original signature)
    "exp": (_NUMERIC_DATE_JUNK, _NUMERIC_DATE_EXTREMES),
    "nbf": (_NUMERIC_DATE_JUNK | {"1e30": "1e30", "bigint": _NUMERIC_DATE_EXTREMES["bigint"]}, {}),
    "iat": (_NUMERIC_DATE_JUNK, _NUMERIC_DATE_EXTREMES),
    "iss": (_STRING_JUNK, {}),
    "sub": (_STRING_JUNK, {}),
    "jti": (_STRING_JUNK, {}),
    "aud": (_AUD_JUNK, {}),
}


def claim_types(b: Battery) -> Iterator[Forgery]:
    """Every registered claim with a value of the wrong JSON type (RFC 7519 section 4.1)."""
    if b.original.payload is None:
        return
    reference = "RFC 7519 section 4.1; RFC 8259 section 6"
    header = b.original.header
    for claim, (invalid, extremes) in _CLAIM_JUNK.items():
        for detail, raw in invalid.items():
            payload = with_raw_member(b.claims, claim, raw)
            yield from b.both(f"claim-{claim}-{detail}", "claim-type", reference, header, payload)
        for detail, raw in extremes.items():
            yield b.kept(
                f"claim-{claim}-{detail}", "claim-type", reference, header, with_raw_member(b.claims, claim, raw)
            )


def not_json_objects(b: Battery) -> Iterator[Forgery]:
    """A header or claims set that is JSON but not an object, or not JSON (RFC 7515 s. 4, RFC 7519 s. 7.2)."""
    reference = "RFC 7515 section 4; RFC 7519 section 7.2"
    t = b.original
    shapes: dict[str, Callable[[dict[str, Any]], bytes]] = {
        "array": lambda obj: json_bytes([obj]),
        "string": lambda obj: json_bytes(json.dumps(obj)),
        "number": lambda obj: b"1",
        "null": lambda obj: b"null",
        "true": lambda obj: b"true",
        "empty": lambda obj: b"",
        "truncated": lambda obj: json_bytes(obj)[:-1],
        "trailing-garbage": lambda obj: json_bytes(obj) + b"x",
        "two-objects": lambda obj: json_bytes(obj) + json_bytes(obj),
        "single-quoted": lambda obj: json_bytes(obj).replace(b'"', b"'"),
    }
    for detail, shape in shapes.items():
        yield from b.both(f"header-{detail}", "not-a-json-object", reference, shape(t.header), t.payload_bytes)
        if t.payload is not None:
            yield from b.both(f"payload-{detail}", "not-a-json-object", reference, t.header, shape(t.payload))


_ENCODINGS: dict[str, Callable[[str], bytes]] = {
    "utf-16": lambda text: text.encode("utf-16"),  # with a byte order mark
    "utf-16-be": lambda text: text.encode("utf-16-be"),
    "utf-32": lambda text: text.encode("utf-32"),
    "utf-8-bom": lambda text: b"\xef\xbb\xbf" + text.encode(),
    "latin-1-byte": lambda text: text[:-1].encode() + ',"x":"\xff"}'.encode("latin-1"),
    "overlong-utf-8": lambda text: text[:-1].encode() + b',"x":"\xc0\xaf"}',
    "cesu-surrogate": lambda text: text[:-1].encode() + b',"x":"\xed\xa0\x80"}',
}


def json_encoding(b: Battery) -> Iterator[Forgery]:
    """JSON that is not UTF-8 (RFC 8259 section 8.1), and a lone surrogate escape (RFC 8259 section 8.2)."""
    reference = "RFC 8259 section 8.1; RFC 7515 section 5.2"
    t = b.original
    header_text = json_bytes(t.header).decode()
    for detail, encode in _ENCODINGS.items():
        yield from b.both(f"header-{detail}", "json-encoding", reference, encode(header_text), t.payload_bytes)
        if t.payload is not None:
            yield from b.both(
                f"payload-{detail}", "json-encoding", reference, t.header, encode(json_bytes(t.payload).decode())
            )
    if t.payload is not None:
        # "\ud800" is grammatical JSON but no Unicode string (RFC 7493 section 2.1 forbids it); it crashes
        # apps that later encode the claim, so it must not reach them. Signed, it is policy, so not re-signed.
        reference = "RFC 8259 section 8.2; RFC 7493 section 2.1"
        for claim in ("sub", "iss", "x"):
            payload = with_raw_member(b.claims, claim, '"admin\\ud800"')
            yield b.kept(f"lone-surrogate-{claim}", "json-encoding", reference, t.header, payload)
