"""The validated, frozen configuration built from `JWTMiddleware`'s keyword arguments.

The keywords and their defaults are written once, in `JWTMiddleware.__init__`'s signature (the remote-key ones
in `JWKSOptions`); `Settings.build` checks each before the first request, and a mistake raises
`ConfigurationError` with a message that names the argument to change. Checks that are turned off are logged
once as a warning.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from . import checks
from .claims import DEFAULT_SCOPE_CLAIMS, ScopeSource
from .errors import ConfigurationError
from .keys.discovery import discovery_url
from .keys.fetch import MAX_INTERVAL, JWKSOptions, url_problem

__all__ = ["DEFAULT_SCOPE_CLAIMS", "REQUIRED", "JWKSOptions", "Provider", "Required", "ScopeSource", "Settings"]

logger = logging.getLogger("jwt_middleware")

MAX_LEEWAY = 300.0
# Remote keys: the lower bounds let tests run in milliseconds; the defaults are what production wants.
_MIN_REMOTE_SECONDS = 0.05
_MAX_STALE = 30 * 24 * 3600.0
_MAX_TIMEOUT = 60.0


class Required(enum.Enum):
    """The type of `REQUIRED`: an enum member, so type checkers can tell it from every real value."""

    REQUIRED = "REQUIRED"

    def __repr__(self) -> str:
        return "REQUIRED"


# The default of `issuer` and `audience`: leaving them out is an error, passing None is an explicit opt-out.
REQUIRED: Final = Required.REQUIRED


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """One token issuer: who issues, for which audience, and where its keys are.

    >>> Provider(issuer="https://login.example.com/", audience="orders-api", key=public_pem)
    >>> Provider(issuer="https://login.example.com/", audience="orders-api", discovery=True)

    Exactly one of `key` (keys in code), `jwks_url` (a JWKS fetched and refreshed) and `discovery=True` (the
    JWKS that the issuer's OIDC discovery document names) says where the keys are.
    """

    issuer: str | Literal[Required.REQUIRED] | None = REQUIRED
    audience: str | Sequence[str] | Literal[Required.REQUIRED] | None = REQUIRED
    key: object = None
    jwks_url: str | None = None
    discovery: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSettings:
    """A `Provider` once checked: `issuer`/`audiences` None means "not checked" (an explicit, warned opt-out)."""

    issuer: str | None
    audiences: frozenset[str] | None
    key: object
    jwks_url: str | None
    discovery: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the middleware checks, validated once; read-only after construction."""

    algorithms: frozenset[str]
    providers: tuple[ProviderSettings, ...]
    exempt: tuple[str, ...]
    optional: tuple[str, ...]
    leeway: float
    required_claims: tuple[str, ...]
    scope_claims: tuple[ScopeSource, ...]
    max_age: float | None
    typ: str | None
    realm: str
    require_tls: bool
    max_token_bytes: int
    cache_size: int
    jwks: JWKSOptions

    @classmethod
    def build(
        cls,
        *,
        algorithms: Sequence[str] | None,
        issuer: str | Literal[Required.REQUIRED] | None,
        audience: str | Sequence[str] | Literal[Required.REQUIRED] | None,
        key: object,
        jwks_url: str | None,
        oidc_discovery: bool,
        providers: Sequence[Provider] | None,
        exempt: Sequence[str],
        optional: Sequence[str],
        leeway: float,
        required_claims: Sequence[str],
        scope_claims: Sequence[ScopeSource],
        max_age: float | None,
        typ: str | None,
        realm: str,
        allow_preflight: bool,
        require_tls: bool,
        max_token_bytes: int,
        cache_size: int,
        jwks: JWKSOptions | None,
        jwks_keywords: dict[str, Any],
    ) -> Settings:
        """`jwks_keywords` holds the `jwks_*` (and `allow_insecure_http`) keywords that were given, by field."""
        checks.refuse_preflight_pass_through(allow_preflight)
        remote = _jwks_options(jwks, jwks_keywords)
        settings = cls(
            algorithms=checks.algorithms(algorithms),
            providers=_providers(
                issuer, audience, key, jwks_url, checks.flag("oidc_discovery", oidc_discovery), providers, remote
            ),
            exempt=checks.patterns("exempt", exempt),
            optional=checks.patterns("optional", optional),
            leeway=checks.seconds("leeway", leeway, upper=MAX_LEEWAY),
            required_claims=checks.claim_names(required_claims),
            scope_claims=checks.scope_claims(scope_claims),
            max_age=None if max_age is None else checks.seconds("max_age", max_age, upper=math.inf, positive=True),
            typ=checks.typ(typ),
            realm=checks.realm(realm),
            require_tls=checks.flag("require_tls", require_tls),
            max_token_bytes=checks.positive_int("max_token_bytes", max_token_bytes, lower=256),
            cache_size=checks.positive_int("cache_size", cache_size, lower=0),
            jwks=remote,
        )
        settings._warn_about_disabled_checks()
        return settings

    def _warn_about_disabled_checks(self) -> None:
        for provider in self.providers:
            if provider.issuer is None:
                logger.warning("issuer=None, so the iss claim is not checked (RFC 8725 section 3.8)")
            if provider.audiences is None:
                logger.warning("audience=None, so the aud claim is not checked (RFC 8725 section 3.9)")
        if "exp" not in self.required_claims:
            logger.warning("required_claims has no 'exp', so tokens without expiry are accepted")


def _jwks_options(jwks: JWKSOptions | None, given: dict[str, Any]) -> JWKSOptions:
    if jwks is not None and not isinstance(jwks, JWKSOptions):
        raise ConfigurationError(f"jwks must be a JWKSOptions(...), got {jwks!r}")
    options = dataclasses.replace(jwks or JWKSOptions(), **given)  # a keyword of its own wins over the object

    def name(field: str) -> str:  # the spelling the user wrote
        if field in given:
            return "allow_insecure_http" if field == "allow_insecure_http" else f"jwks_{field}"
        return f"jwks.{field}"

    def interval(field: str, *, lower: float, upper: float) -> float:
        return checks.interval(name(field), getattr(options, field), lower=lower, upper=upper)

    return JWKSOptions(
        cooldown=interval("cooldown", lower=_MIN_REMOTE_SECONDS, upper=MAX_INTERVAL),
        refresh_interval=interval("refresh_interval", lower=_MIN_REMOTE_SECONDS, upper=MAX_INTERVAL),
        max_stale=interval("max_stale", lower=0.0, upper=_MAX_STALE),
        timeout=interval("timeout", lower=_MIN_REMOTE_SECONDS, upper=_MAX_TIMEOUT),
        required_at_startup=checks.flag(name("required_at_startup"), options.required_at_startup),
        allow_insecure_http=checks.flag(name("allow_insecure_http"), options.allow_insecure_http),
    )


def _providers(
    issuer: str | Literal[Required.REQUIRED] | None,
    audience: str | Sequence[str] | Literal[Required.REQUIRED] | None,
    key: object,
    jwks_url: str | None,
    discovery: bool,
    providers: Sequence[Provider] | None,
    remote: JWKSOptions,
) -> tuple[ProviderSettings, ...]:
    single_form = (
        key is not None or jwks_url is not None or discovery or issuer is not REQUIRED or audience is not REQUIRED
    )
    if providers is not None:
        if single_form:
            raise ConfigurationError(
                "providers replaces issuer/audience/key/jwks_url/oidc_discovery: "
                "pass either providers=[...] or the single form"
            )
        if isinstance(providers, Provider) or not providers:
            raise ConfigurationError("providers must be a non-empty list of Provider(...)")
        checked = tuple(_provider(p, f"providers[{i}].", remote) for i, p in enumerate(providers))
        issuers = [p.issuer for p in checked]
        if None in issuers:
            raise ConfigurationError("with several providers each needs an issuer: it is how a token picks one")
        if len(set(issuers)) != len(issuers):
            raise ConfigurationError("providers must have distinct issuers")
        return checked
    single = Provider(issuer=issuer, audience=audience, key=key, jwks_url=jwks_url, discovery=discovery)
    return (_provider(single, "", remote),)


def _provider(provider: Provider, prefix: str, remote: JWKSOptions) -> ProviderSettings:
    if not isinstance(provider, Provider):
        raise ConfigurationError(f"{prefix.rstrip('.')} must be a Provider(...)")
    issuer, audience = provider.issuer, provider.audience
    if issuer is REQUIRED:
        raise ConfigurationError(
            f"{prefix}issuer is required, e.g. issuer='https://login.example.com/' (issuer=None skips the check)"
        )
    if issuer is not None and (not isinstance(issuer, str) or not issuer):
        raise ConfigurationError(f"{prefix}issuer must be a non-empty string or None")
    if audience is REQUIRED:
        raise ConfigurationError(f"{prefix}audience is required, e.g. audience='orders-api' (None skips the check)")
    if isinstance(audience, str):
        audience = (audience,)
    if audience is not None:
        if not isinstance(audience, Sequence) or not audience or not all(isinstance(a, str) and a for a in audience):
            raise ConfigurationError(f"{prefix}audience must be a non-empty string, a list of them, or None")
        audience = tuple(audience)
    discovery_name = f"{prefix}discovery" if prefix else "oidc_discovery"
    if [provider.key is not None, provider.jwks_url is not None, bool(provider.discovery)].count(True) != 1:
        raise ConfigurationError(
            f"pass exactly one of {prefix}key (keys in code), {prefix}jwks_url (a remote JWKS) "
            f"or {discovery_name}=True (the JWKS named by the issuer's OIDC discovery document)"
        )
    if provider.jwks_url is not None:
        _check_url(f"{prefix}jwks_url", provider.jwks_url, remote)
    if provider.discovery:
        if issuer is None:
            raise ConfigurationError(f"{discovery_name}=True needs {prefix}issuer: discovery starts from it")
        _check_url(f"{prefix}issuer (with {discovery_name}=True)", discovery_url(issuer), remote)
    return ProviderSettings(
        issuer=issuer,
        audiences=None if audience is None else frozenset(audience),
        key=provider.key,
        jwks_url=provider.jwks_url,
        discovery=provider.discovery,
    )


def _check_url(name: str, url: str, remote: JWKSOptions) -> None:
    problem = url_problem(url, allow_insecure_http=remote.allow_insecure_http)
    if problem is not None:
        raise ConfigurationError(f"{name} {problem}, got {url!r}")
    if url.startswith("http:") and url_problem(url, allow_insecure_http=False) is not None:
        logger.warning("%s uses plain http (allow_insecure_http=True): keys can be swapped in transit", name)
