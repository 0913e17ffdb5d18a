"""One probe run: offline checks, the baseline, the battery class by class, the OpenAPI operations; a `Report`.

    report = await run(ProbeOptions(url="https://api.example.com/orders", token=token, jwks_url=jwks_url))
    report.worst  # Severity.CRITICAL, or None when nothing was found

Every answer is compared with the baseline: a hostile token that gets the valid token's 2xx was accepted; a 5xx
means it reached code that crashed; any other answer is a refusal, whose status, `WWW-Authenticate` and body are
checked too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .battery import Battery, Forgery, build_battery, equivalent, expired
from .client import Answer, BudgetExhausted, PoliteClient, origin_of
from .findings import Example, Finding, Severity, check
from .offline import decode_unverified, lifetime_issues, personal_claims, weak_secret
from .openapi import SAFE_METHODS, Operation, operations
from .redact import redact

__all__ = ["BaselineFailed", "ProbeOptions", "Progress", "Report", "UsageError", "run"]

# At most this many examples of one attack class in one finding: the rest are counted.
EXAMPLES_PER_CLASS = 3
# Text that only a library's exception, a traceback or a debug page puts in a response.
LIBRARY_TEXT = (
    "Traceback (most recent call last)",
    "Signature verification failed",
    "Signature has expired",
    "Not enough segments",
    "Invalid header padding",
    "Invalid payload padding",
    "Invalid crypto padding",
    "Invalid header string",
    "Invalid payload string",
    "alg value is not allowed",
    "Unable to find a signing key",
    "Error decoding token headers",
    "Expecting value: line",
    "Expecting property name",
    "line 1 column",
    "codec can't decode",
    "Incorrect padding",
    "object has no attribute",
    "NoneType",
    "jwt.exceptions",
    "jose.exceptions",
    "DecodeError",
    "InvalidSignatureError",
    "ExpiredSignatureError",
    "InvalidTokenError",
    "InvalidAudienceError",
    "InvalidIssuerError",
    "JWTError",
    "JWSError",
)
# A token segment shorter than this could appear in a body by chance (`{"alg":"HS256"}` is 20 characters).
_MIN_ECHO = 16

Progress = Callable[[int, int, str], None]


class UsageError(Exception):
    """The command line cannot be run as given (exit 2)."""


class BaselineFailed(Exception):
    """The target does not behave as a protected endpoint with the valid token, so nothing can be compared (exit 2)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeOptions:
    """What to probe and how politely; the command line's options, validated."""

    url: str
    token: str
    method: str = "GET"
    jwks_url: str | None = None
    public_key: bytes | None = None
    openapi_url: str | None = None
    discover_openapi: bool = True
    expired_tokens: tuple[str, ...] = ()
    foreign_tokens: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    unsafe_methods: bool = False
    rate: float = 25.0
    max_requests: int = 1000
    timeout: float = 10.0


@dataclass(slots=True, kw_only=True)
class Report:
    """What a run found and what it did."""

    target: str
    findings: list[Finding] = field(default_factory=list)
    baseline_status: int = 0
    missing_status: int = 0
    requests: int = 0
    no_answer: int = 0
    throttled: int = 0  # answers 429 Too Many Requests: not a verdict on the token
    forgeries_sent: int = 0
    skipped: int = 0
    operations: int = 0
    complete: bool = True
    duration: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def worst(self) -> Severity | None:
        return max((finding.severity for finding in self.findings), default=None)

    def counts(self) -> dict[str, int]:
        """Findings per severity, every severity listed, worst first."""
        levels = sorted(Severity, reverse=True)
        return {level.label: sum(f.severity is level for f in self.findings) for level in levels}


class _Collector:
    """Groups observations into one finding per check, keeping a few examples of each attack class."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self._by_id: dict[tuple[str, str], Finding] = {}

    def add(self, check_id: str, example: Example, *, target: str | None = None) -> None:
        target = target or self._report.target
        kind = check(check_id)  # several forgery classes may share the generic check
        finding = self._by_id.get((kind.id, target))
        if finding is None:
            finding = Finding(check=kind, target=target)
            self._by_id[(kind.id, target)] = finding
            self._report.findings.append(finding)
        finding.count += 1
        if sum(e.attack == example.attack for e in finding.examples) < EXAMPLES_PER_CLASS:
            finding.examples.append(example)


def _leaks(answer: Answer, token: str | None) -> list[tuple[str, str]]:
    text = answer.body + "\n" + "\n".join(answer.headers.values())
    problems = []
    quoted = next((phrase for phrase in LIBRARY_TEXT if phrase in text), None)
    if quoted is not None:
        problems.append(("error-text-leaked", f"the response contains {quoted!r}, a library's exception text"))
    if token is not None:
        names = ("header", "payload", "signature")
        echoed = [names[i] for i, part in enumerate(token.split(".")[:3]) if len(part) >= _MIN_ECHO and part in text]
        if echoed:
            problems.append(("token-echoed", f"the response contains the token's {', '.join(echoed)} segment"))
    return problems


def _scrub(text: str, token: str) -> str:
    """`text` with any long segment of `token` replaced: a server's message may quote it, our output must not."""
    for part in token.split("."):
        if len(part) >= _MIN_ECHO:
            text = text.replace(part, "<token>")
    return text


def _refusal_problems(answer: Answer, token: str | None, baseline_status: int) -> list[tuple[str, str]]:
    """What is wrong with an answer that did not accept the token (status, challenge, body)."""
    problems: list[tuple[str, str]] = []
    if answer.status >= 500:
        problems.append(("server-error", f"the server answered {answer.status}: the token reached code that failed"))
    elif answer.status not in (400, 401):
        expected = "401 (or 400 for a malformed request)"
        note = f", not the valid token's {baseline_status}" if 200 <= answer.status < 300 else ""
        problems.append(("wrong-refusal-status", f"answered {answer.status}{note}; RFC 6750 expects {expected}"))
    elif "www-authenticate" not in answer.headers:
        problems.append(("www-authenticate-missing", f"a {answer.status} without a WWW-Authenticate challenge"))
    return problems + _leaks(answer, token)


class _Run:
    """The state of one run: the options, the client, the report being filled, and each step as a method."""

    def __init__(self, options: ProbeOptions, client: PoliteClient, progress: Progress | None) -> None:
        self.options = options
        self.client = client
        self.progress = progress
        self.report = Report(target=f"{options.method} {options.url}")
        self.collector = _Collector(self.report)
        self.path = httpx.URL(options.url).raw_path.decode("ascii", "replace")

    def sent(self, token: str | None, method: str | None = None, path: str | None = None) -> str:
        what = f"Bearer {redact(token)}" if token is not None else "no Authorization header"
        return f"{method or self.options.method} {path or self.path} with {what}"

    async def send(self, token: str | None) -> Answer | None:
        return await self.client.send(self.options.method, self.options.url, token=token)

    # --- before any request -----------------------------------------------------------------------------

    def offline(self) -> None:
        try:
            _, claims = decode_unverified(self.options.token)
        except ValueError as exc:
            raise UsageError(f"--token is not a JWT: {exc}") from exc
        sent = f"nothing (offline check of --token {redact(self.options.token)})"
        secret = weak_secret(self.options.token)
        if secret is not None:
            shown = secret.decode("utf-8", "replace") or "<the empty string>"
            why = f"the token's HMAC verifies with the published secret {shown!r}: anyone can mint tokens"
            self.collector.add(
                "weak-secret", Example(name="weak-secret", attack="offline", sent=sent, status=None, why=why)
            )
        for issue in lifetime_issues(claims):
            self.collector.add(
                issue.check_id, Example(name=issue.check_id, attack="offline", sent=sent, status=None, why=issue.why)
            )
        personal = personal_claims(claims)
        if personal:
            why = f"readable by anyone who sees the token: {', '.join(personal)}"
            self.collector.add(
                "personal-data", Example(name="personal-data", attack="offline", sent=sent, status=None, why=why)
            )

    # --- keys, baseline, OpenAPI document ----------------------------------------------------------------

    async def fetch_json(self, url: str, *, what: str) -> Any:
        """A 200 JSON answer from `url` (a key set or discovery document), or a UsageError naming `what`."""
        answer = await self.client.send("GET", url)
        if answer is None:
            raise UsageError(f"{what}: no answer from {url}")
        if answer.status != 200:
            raise UsageError(f"{what}: {url} answered {answer.status}")
        try:
            return json.loads(answer.body)
        except ValueError as exc:
            raise UsageError(f"{what}: {url} did not answer JSON (or it is over 64 KiB)") from exc

    async def key_set(self) -> Mapping[str, Any] | None:
        """The JWKS from `--jwks-url`, following one OIDC discovery document's `jwks_uri` on the same host."""
        url = self.options.jwks_url
        if url is None:
            return None
        document = await self.fetch_json(url, what="--jwks-url")
        if isinstance(document, dict) and "keys" not in document and isinstance(document.get("jwks_uri"), str):
            jwks_uri = document["jwks_uri"]
            if origin_of(jwks_uri) != origin_of(url):
                raise UsageError(f"--jwks-url: the discovery document's jwks_uri is on another host: {jwks_uri}")
            document = await self.fetch_json(jwks_uri, what="--jwks-url (jwks_uri)")
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise UsageError(f"--jwks-url: {url} is neither a JWK Set nor a discovery document with a jwks_uri")
        return document

    async def baseline(self) -> None:
        valid = await self.send(self.options.token)
        if valid is None:
            raise BaselineFailed(f"no answer from {self.options.url} with the valid token")
        if not 200 <= valid.status < 300:
            challenge = _scrub(valid.headers.get("www-authenticate", ""), self.options.token)
            why = f" (WWW-Authenticate: {challenge[:200]})" if challenge else ""
            raise BaselineFailed(
                f"the valid token got {valid.status}{why}, not a 2xx: is it still valid, and meant for this endpoint?"
            )
        self.report.baseline_status = valid.status
        missing = await self.send(None)
        if missing is None:
            raise BaselineFailed(f"no answer from {self.options.url} without a token")
        if 200 <= missing.status < 300:
            raise BaselineFailed(
                f"a request without a token also got {missing.status}: {self.options.url} is not protected, "
                "so forgeries cannot be told from valid tokens"
            )
        self.report.missing_status = missing.status
        for check_id, why in _refusal_problems(missing, None, valid.status):
            example = Example(name="no-token", attack="no-token", sent=self.sent(None), status=missing.status, why=why)
            self.collector.add(check_id, example)

    async def openapi_document(self) -> Mapping[str, Any] | None:
        explicit = self.options.openapi_url
        if explicit is None and not self.options.discover_openapi:
            return None
        url = explicit or str(httpx.URL(self.options.url).copy_with(raw_path=b"/openapi.json", fragment=None))
        for token in (None, self.options.token):  # some apps protect their own document
            answer = await self.client.send("GET", url, token=token)
            if answer is not None and answer.status == 200:
                try:
                    document = json.loads(answer.body)
                except ValueError:
                    break
                if isinstance(document, dict) and isinstance(document.get("paths"), dict):
                    return document
                break
        if explicit is not None:
            raise UsageError(f"--openapi: {explicit} did not answer 200 with an OpenAPI document (JSON, under 64 KiB)")
        self.report.notes.append(f"no OpenAPI document at {url}; use --openapi URL to enumerate operations")
        return None

    # --- the hostile requests -------------------------------------------------------------------------------

    def judge(self, token: str, answer: Answer, *, name: str, attack: str, accepted_check: str) -> None:
        if answer.status == 429:  # a rate limiter answered, not the verifier: nothing to judge
            self.report.throttled += 1
            return
        if answer.status == self.report.baseline_status:
            if accepted_check.startswith("forgery-accepted.") and equivalent(token, self.options.token):
                accepted_check = "token-malleable"
            why = f"answered {answer.status}, as the valid token was: the token was accepted"
            self.collector.add(
                accepted_check, Example(name=name, attack=attack, sent=self.sent(token), status=answer.status, why=why)
            )
            return
        for check_id, why in _refusal_problems(answer, token, self.report.baseline_status):
            self.collector.add(
                check_id, Example(name=name, attack=attack, sent=self.sent(token), status=answer.status, why=why)
            )

    async def replays(self) -> None:
        for token in self.options.expired_tokens:
            answer = await self.send(token)
            if answer is not None:
                self.judge(
                    token, answer, name="expired-token", attack="expired-token", accepted_check="expired-token-accepted"
                )
        for token in self.options.foreign_tokens:
            answer = await self.send(token)
            if answer is not None:
                self.judge(
                    token, answer, name="foreign-token", attack="foreign-token", accepted_check="foreign-token-accepted"
                )

    async def fire(self, battery: Battery) -> None:
        done, total = 0, battery.size
        for attack, forgeries in battery.classes.items():
            for forgery in forgeries:
                answer = await self.send(forgery.token)
                done += 1
                self.report.forgeries_sent += 1
                if self.progress is not None:
                    self.progress(done, total, attack)
                if answer is not None:
                    self.judge(
                        forgery.token,
                        answer,
                        name=forgery.name,
                        attack=attack,
                        accepted_check=f"forgery-accepted.{attack}",
                    )

    async def operations(self, document: Mapping[str, Any], forged: Forgery | None) -> None:
        base = httpx.URL(self.options.url)
        unprotected: list[Operation] = []
        for operation in operations(document):
            self.report.operations += 1
            if not operation.secured:
                unprotected.append(operation)
                continue
            if operation.method not in SAFE_METHODS and not self.options.unsafe_methods:
                continue
            url = str(base.copy_with(raw_path=operation.concrete_path.encode(), fragment=None))
            for token in (None, *((forged.token,) if forged is not None else ())):
                answer = await self.client.send(operation.method, url, token=token)
                if answer is not None and 200 <= answer.status < 300:
                    why = f"answered {answer.status} although the operation declares a security requirement"
                    sent = self.sent(token, operation.method, operation.concrete_path)
                    example = Example(
                        name=operation.label, attack=operation.label, sent=sent, status=answer.status, why=why
                    )
                    self.collector.add("unprotected-operation", example, target=f"{operation.method} {url}")
                    break
        for operation in unprotected:
            why = (
                "declares authentication optional (an empty {} alternative): anonymous requests are allowed"
                if operation.optional
                else "declares no security requirement: public by design, or protected without saying so"
            )
            example = Example(
                name=operation.label,
                attack=operation.label,
                sent="nothing (read from the OpenAPI document)",
                status=None,
                why=why,
            )
            self.collector.add("operation-without-security", example)


async def run(
    options: ProbeOptions,
    *,
    progress: Progress | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Report:
    """Probe `options.url`; raises UsageError or BaselineFailed when the run cannot be compared (exit 2)."""
    started = time.monotonic()
    allowed = [options.url, *([options.jwks_url] if options.jwks_url else [])]
    if options.openapi_url is not None and origin_of(options.openapi_url) not in {origin_of(u) for u in allowed}:
        raise UsageError("--openapi must be on the target's host (or the key URL's): the probe sends nothing elsewhere")
    for token in options.expired_tokens:
        try:
            expired(token)
        except ValueError as exc:
            raise UsageError(f"--expired-token: {exc}") from exc
    for token in options.foreign_tokens:
        try:
            decode_unverified(token)
        except ValueError as exc:
            raise UsageError(f"--foreign-token is not a JWT: {exc}") from exc
    async with PoliteClient(
        allowed=allowed,
        rate=options.rate,
        max_requests=options.max_requests,
        timeout=options.timeout,
        extra_headers=options.headers,
        transport=transport,
    ) as client:
        probe = _Run(options, client, progress)
        probe.offline()
        try:
            jwks = await probe.key_set()
            try:
                battery = build_battery(options.token, public_key=options.public_key, jwks=jwks)
            except ValueError as exc:
                raise UsageError(f"--token cannot be forged from: {exc}") from exc
            probe.report.skipped = battery.skipped
            await probe.baseline()
            document = await probe.openapi_document()
            await probe.replays()
            await probe.fire(battery)
            if document is not None:
                # One forgery per operation: the valid token with a bit of its signature flipped, which no
                # verifier may accept, so a 2xx means the route checked nothing.
                tampered = battery.classes.get("signature-tampering", [])
                flipped = next((f for f in tampered if f.name == "signature-bit-flip-last"), None)
                await probe.operations(document, flipped)
        except BudgetExhausted:
            probe.report.complete = False
            probe.report.notes.append(f"stopped after --max-requests {options.max_requests} requests")
        probe.report.requests = client.sent
        probe.report.no_answer = client.failures
        if probe.report.throttled:
            probe.report.notes.append(
                f"{probe.report.throttled} answers were 429 Too Many Requests and could not be judged: lower --rate"
            )
    probe.report.duration = time.monotonic() - started
    return probe.report
