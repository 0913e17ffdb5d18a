"""Prometheus metrics (`pip install jwt_middleware[prometheus]`), collected from plain counters at scrape time.

    >>> from prometheus_client import make_asgi_app
    >>> from jwt_middleware.metrics.prometheus import PrometheusMetrics
    >>> app.add_middleware(JWTMiddleware, ..., metrics=PrometheusMetrics(), exempt=["GET /metrics"])
    >>> app.mount("/metrics", make_asgi_app())

The request path only adds to integers and a float (`OutcomeCounts`, about 0.3 us a request); the families are
built when the registry is scraped. The names, with the default `namespace="jwt_middleware"`:

    jwt_middleware_accepted_total{cache="hit"|"miss"}           tokens accepted; hit: the verdict was cached
    jwt_middleware_refused_total{code, status}                  refusals by stable code (every code, from 0)
    jwt_middleware_verification_seconds{result}                 histogram; result: cached, fresh, refused
    jwt_middleware_key_fetches_total{provider, result}          result: updated, unchanged, failed
    jwt_middleware_keys{provider}                               keys held now
    jwt_middleware_key_age_seconds{provider}                    since a fetch last confirmed the keys (remote only)
    jwt_middleware_key_staleness_seconds{provider}              past their expiry; 0 while fresh
    jwt_middleware_provider_ready{provider}                     1 when the provider's tokens can be verified now
    jwt_middleware_ready                                        1 when every provider's can

`provider` is the issuer (or the provider's index when its issuer is not checked): labels come from the
configuration and the closed list of codes, never from a request. One `PrometheusMetrics` per middleware.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from . import DEFAULT_BUCKETS, OutcomeCounts

__all__ = ["PrometheusMetrics"]


_HELP = {
    "accepted": "Tokens accepted; cache=hit: the verdict came from the cache",
    "refused": "Requests refused, by stable error code",
    "seconds": "Time spent verifying a request's token",
    "fetches": "Key set fetches, by provider and result",
    "age": "Seconds since a fetch last confirmed the keys",
    "stale": "Seconds the keys are past their expiry",
    "usable": "1 when this provider's tokens can be verified",
}


class PrometheusMetrics(OutcomeCounts):
    """The `Metrics` seam on a `prometheus_client` registry (the default one unless `registry` is given).

    >>> metrics = PrometheusMetrics(registry=CollectorRegistry())
    >>> JWTMiddleware(app, ..., metrics=metrics)
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = REGISTRY,
        *,
        namespace: str = "jwt_middleware",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(buckets)
        self._namespace = namespace
        if registry is not None:
            registry.register(self)  # a Collector by its collect() method

    def collect(self) -> Iterator[Metric]:
        """The families, built from the counts at scrape time (`prometheus_client` calls this)."""
        ns = self._namespace
        accepted = CounterMetricFamily(f"{ns}_accepted", _HELP["accepted"], labels=["cache"])
        accepted.add_metric(["hit"], self.cached.count)
        accepted.add_metric(["miss"], self.fresh.count)
        yield accepted

        refused = CounterMetricFamily(f"{ns}_refused", _HELP["refused"], labels=["code", "status"])
        for code, count in self.refused_by_code.items():
            refused.add_metric([code.value, str(code.status)], count)
        yield refused

        seconds = HistogramMetricFamily(f"{ns}_verification_seconds", _HELP["seconds"], labels=["result"])
        for result, tally in self.durations():
            seconds.add_metric([result], self._cumulative(tally.counts), tally.total)
        yield seconds

        fetches = CounterMetricFamily(f"{ns}_key_fetches", _HELP["fetches"], labels=["provider", "result"])
        for (provider, result), count in sorted(self.fetches.items()):
            fetches.add_metric([provider, result], count)
        yield fetches

        yield from self._key_families()

    describe = collect  # names for the registry's clash check (no provider is watched yet at registration)

    def _cumulative(self, counts: list[int]) -> list[tuple[str, float]]:
        snapshot = list(counts)  # one copy, so that the buckets and +Inf agree even under a concurrent request
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, snapshot, strict=False):
            running += count
            buckets.append((repr(float(bound)), running))
        buckets.append(("+Inf", running + snapshot[-1]))
        return buckets

    def _key_families(self) -> Iterator[Metric]:
        ns = self._namespace
        keys = GaugeMetricFamily(f"{ns}_keys", "Verification keys held now", labels=["provider"])
        age = GaugeMetricFamily(f"{ns}_key_age_seconds", _HELP["age"], labels=["provider"])
        stale = GaugeMetricFamily(f"{ns}_key_staleness_seconds", _HELP["stale"], labels=["provider"])
        usable = GaugeMetricFamily(f"{ns}_provider_ready", _HELP["usable"], labels=["provider"])
        ready = GaugeMetricFamily(f"{ns}_ready", "1 when every provider's tokens can be verified")
        for health in self.health:
            state = health()
            ready.add_metric([], 1.0 if state.ready else 0.0)
            for provider in state.providers:
                keys.add_metric([provider.provider], provider.keys)
                if provider.age is not None:
                    age.add_metric([provider.provider], provider.age)
                stale.add_metric([provider.provider], provider.staleness)
                usable.add_metric([provider.provider], 1.0 if provider.usable else 0.0)
        yield from (keys, age, stale, usable, ready)
