"""OpenTelemetry metrics (`pip install jwt_middleware[otel]`): instruments on the global meter provider by default.

    >>> from jwt_middleware.metrics.otel import OpenTelemetryMetrics
    >>> app.add_middleware(JWTMiddleware, ..., metrics=OpenTelemetryMetrics())

Only `opentelemetry-api` is imported; the SDK (or any other implementation) is the application's choice, and
without one every call is a no-op. The instruments, with the default `prefix="jwt_middleware"`:

    jwt_middleware.accepted               counter    {cache: hit|miss}
    jwt_middleware.refused                counter    {code, status}
    jwt_middleware.verification.duration  histogram  {result: cached|fresh|refused}, in seconds
    jwt_middleware.key.fetches            counter    {provider, result: updated|unchanged|failed}
    jwt_middleware.keys                   gauge      {provider}: keys held now
    jwt_middleware.key.age                gauge      {provider}: seconds since a fetch confirmed them (remote only)
    jwt_middleware.key.staleness          gauge      {provider}: seconds past their expiry
    jwt_middleware.ready                  gauge      1 when every provider's tokens can be verified

Each synchronous instrument goes through the SDK's aggregation (a lock and a dict lookup per call), so this
backend costs more per request than `PrometheusMetrics`; `make bench` publishes both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from .. import __version__
from ..errors import ErrorCode
from . import DEFAULT_BUCKETS

if TYPE_CHECKING:
    from ..health import Health, ProviderHealth

__all__ = ["OpenTelemetryMetrics"]


class OpenTelemetryMetrics:
    """The `Metrics` seam on an OpenTelemetry meter (from `meter_provider`, else the global provider).

    >>> reader = InMemoryMetricReader()   # opentelemetry.sdk.metrics.export, in tests
    >>> metrics = OpenTelemetryMetrics(MeterProvider(metric_readers=[reader]))
    """

    def __init__(self, meter_provider: MeterProvider | None = None, *, prefix: str = "jwt_middleware") -> None:
        meter = metrics.get_meter("jwt_middleware", __version__, meter_provider=meter_provider)
        self._accepted = meter.create_counter(f"{prefix}.accepted", unit="{request}", description="Tokens accepted")
        self._refused = meter.create_counter(f"{prefix}.refused", unit="{request}", description="Requests refused")
        self._duration = meter.create_histogram(
            f"{prefix}.verification.duration",
            unit="s",
            description="Time spent verifying a request's token",
            explicit_bucket_boundaries_advisory=DEFAULT_BUCKETS,
        )
        self._fetches = meter.create_counter(f"{prefix}.key.fetches", unit="{fetch}", description="Key set fetches")
        # Attribute sets built once: the request path passes the same dict each time.
        self._hit, self._miss = {"cache": "hit"}, {"cache": "miss"}
        self._cached, self._fresh = {"result": "cached"}, {"result": "fresh"}
        self._refused_result = {"result": "refused"}
        self._codes = {code: {"code": code.value, "status": code.status} for code in ErrorCode}
        self._health: list[Callable[[], Health]] = []
        for name, unit, reading in (
            ("keys", "{key}", lambda p: p.keys),
            ("key.age", "s", lambda p: p.age),
            ("key.staleness", "s", lambda p: p.staleness),
        ):
            meter.create_observable_gauge(f"{prefix}.{name}", callbacks=[self._per_provider(reading)], unit=unit)
        meter.create_observable_gauge(f"{prefix}.ready", callbacks=[self._observe_ready])

    def accepted(self, *, cached: bool, seconds: float) -> None:
        self._accepted.add(1, self._hit if cached else self._miss)
        self._duration.record(seconds, self._cached if cached else self._fresh)

    def refused(self, code: ErrorCode, seconds: float) -> None:
        self._refused.add(1, self._codes[code])
        self._duration.record(seconds, self._refused_result)

    def key_fetch(self, provider: str, result: str) -> None:
        self._fetches.add(1, {"provider": provider, "result": result})

    def watch(self, health: Callable[[], Health]) -> None:
        self._health.append(health)

    def _per_provider(
        self, reading: Callable[[ProviderHealth], float | None]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            for health in self._health:
                for provider in health().providers:
                    value = reading(provider)
                    if value is not None:
                        yield Observation(value, {"provider": provider.provider})

        return observe

    def _observe_ready(self, options: CallbackOptions) -> Iterable[Observation]:
        for health in self._health:
            yield Observation(1 if health().ready else 0)
