"""OpenTelemetry metrics (`pip install jwt_middleware[otel]`): instruments on the global meter provider by default.

    >>> from jwt_middleware.metrics.otel import OpenTelemetryMetrics
    >>> app.add_middleware(JWTMiddleware, ..., metrics=OpenTelemetryMetrics())

Only `opentelemetry-api` is imported; the SDK (or another implementation) is the application's choice, and
without one nothing is recorded. The instruments, with the default `prefix="jwt_middleware"`:

    jwt_middleware.accepted               counter    {cache: hit|miss}
    jwt_middleware.refused                counter    {code, status}: every code, from 0
    jwt_middleware.verifications          counter    {result: cached|fresh|refused}
    jwt_middleware.verification.time      counter    {result}, seconds spent verifying (divide by the above)
    jwt_middleware.verification.duration  histogram  {result}, seconds: only from OpenTelemetryHistogramMetrics
    jwt_middleware.key.fetches            counter    {provider, result: updated|unchanged|failed}
    jwt_middleware.keys                   gauge      {provider}: keys held now
    jwt_middleware.key.age                gauge      {provider}: seconds since a fetch confirmed them (remote only)
    jwt_middleware.key.staleness          gauge      {provider}: seconds past their expiry
    jwt_middleware.ready                  gauge      1 when every provider's tokens can be verified

The counters are asynchronous (observed from `OutcomeCounts` when the reader collects), because a synchronous
`add()` or `record()` in the SDK costs about 15 us (timeit, Python 3.11), more than verifying a cached token.
OpenTelemetry has no asynchronous histogram, so the per-request histogram is opt-in, at that cost:
`OpenTelemetryHistogramMetrics`. Without it, the sum and count above give the mean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from .. import __version__
from ..errors import ErrorCode
from . import DEFAULT_BUCKETS, OutcomeCounts

if TYPE_CHECKING:
    from ..health import ProviderHealth

__all__ = ["OpenTelemetryHistogramMetrics", "OpenTelemetryMetrics"]

_Callback = Callable[[CallbackOptions], Iterable[Observation]]


class OpenTelemetryMetrics(OutcomeCounts):
    """The `Metrics` seam on an OpenTelemetry meter (from `meter_provider`, else the global provider).

    >>> reader = InMemoryMetricReader()   # opentelemetry.sdk.metrics.export, in tests
    >>> metrics = OpenTelemetryMetrics(MeterProvider(metric_readers=[reader]))
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        *,
        prefix: str = "jwt_middleware",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(buckets)
        self._meter = meter = metrics.get_meter("jwt_middleware", __version__, meter_provider=meter_provider)
        self._prefix = prefix
        counters: list[tuple[str, str, _Callback]] = [
            ("accepted", "{request}", self._observe_accepted),
            ("refused", "{request}", self._observe_refused),
            ("verifications", "{request}", self._observe_verifications),
            ("verification.time", "s", self._observe_verification_time),
            ("key.fetches", "{fetch}", self._observe_fetches),
        ]
        for name, unit, callback in counters:
            meter.create_observable_counter(f"{prefix}.{name}", callbacks=[callback], unit=unit)
        gauges: list[tuple[str, str, Callable[[ProviderHealth], float | None]]] = [
            ("keys", "{key}", lambda p: p.keys),
            ("key.age", "s", lambda p: p.age),
            ("key.staleness", "s", lambda p: p.staleness),
        ]
        for name, unit, reading in gauges:
            meter.create_observable_gauge(f"{prefix}.{name}", callbacks=[self._per_provider(reading)], unit=unit)
        meter.create_observable_gauge(f"{prefix}.ready", callbacks=[self._observe_ready])

    def _observe_accepted(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(self.cached.count, {"cache": "hit"})
        yield Observation(self.fresh.count, {"cache": "miss"})

    def _observe_refused(self, options: CallbackOptions) -> Iterable[Observation]:
        for code, count in self.refused_by_code.items():
            yield Observation(count, {"code": code.value, "status": code.status})

    def _observe_verifications(self, options: CallbackOptions) -> Iterable[Observation]:
        for result, tally in self.durations():
            yield Observation(tally.count, {"result": result})

    def _observe_verification_time(self, options: CallbackOptions) -> Iterable[Observation]:
        for result, tally in self.durations():
            yield Observation(tally.total, {"result": result})

    def _observe_fetches(self, options: CallbackOptions) -> Iterable[Observation]:
        for (provider, result), count in self.fetches.items():
            yield Observation(count, {"provider": provider, "result": result})

    def _per_provider(self, reading: Callable[[ProviderHealth], float | None]) -> _Callback:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            for health in self.health:
                for provider in health().providers:
                    value = reading(provider)
                    if value is not None:
                        yield Observation(value, {"provider": provider.provider})

        return observe

    def _observe_ready(self, options: CallbackOptions) -> Iterable[Observation]:
        for health in self.health:
            yield Observation(1 if health().ready else 0)


class OpenTelemetryHistogramMetrics(OpenTelemetryMetrics):
    """`OpenTelemetryMetrics`, plus a histogram of each request's verification time, recorded synchronously.

    >>> metrics = OpenTelemetryHistogramMetrics(meter_provider)

    Each request pays the SDK's `Histogram.record()`: about 15 us, or ~60k instructions (`make bench-metrics`).
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        *,
        prefix: str = "jwt_middleware",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(meter_provider, prefix=prefix, buckets=buckets)
        self._histogram = self._meter.create_histogram(
            f"{prefix}.verification.duration",
            unit="s",
            description="Time spent verifying a request's token",
            explicit_bucket_boundaries_advisory=self.bounds,
        )
        self._results = {result: {"result": result} for result in ("cached", "fresh", "refused")}

    def accepted(self, *, cached: bool, seconds: float) -> None:
        super().accepted(cached=cached, seconds=seconds)
        self._histogram.record(seconds, self._results["cached" if cached else "fresh"])

    def refused(self, code: ErrorCode, seconds: float) -> None:
        super().refused(code, seconds)
        self._histogram.record(seconds, self._results["refused"])
