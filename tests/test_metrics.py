"""Metrics after a scripted mix of requests and a JWKS outage, read back from the real libraries.

Prometheus: the registry is scraped (`generate_latest`) and parsed as a server would read it. OpenTelemetry: the
SDK's `InMemoryMetricReader`. Both backends run the same script against a real JWKS server on 127.0.0.1, and the
counts are exact: the refresh loop is idle (the default 300 s interval; a failed fetch waits 0.75 s or more
before its retry), so only the script's requests cause fetches (each unknown kid, past a 0.05 s cooldown).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message

from jwt_middleware import ErrorCode
from jwt_middleware.metrics.otel import OpenTelemetryHistogramMetrics, OpenTelemetryMetrics
from jwt_middleware.metrics.prometheus import PrometheusMetrics
from jwt_middleware.observe import Metrics
from jwt_middleware.testing import LocalServer

from .conftest import ISSUER, Signer, bearer, client_for, make_app
from .helpers import jwk_of, keyed_signer, status, status_becomes

pytestmark = pytest.mark.anyio

# A reading: (metric, labels) -> value, or None when there is no such sample.
Reading = Callable[[str, dict[str, str]], "float | None"]


class PrometheusReadout:
    """Scrapes a fresh registry as Prometheus would; metric names are the suffix after `jwt_middleware_`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics: Metrics = PrometheusMetrics(self.registry)

    def read(self) -> Reading:
        text = generate_latest(self.registry).decode()
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        names = {
            "accepted": "jwt_middleware_accepted_total",
            "refused": "jwt_middleware_refused_total",
            "duration_count": "jwt_middleware_verification_seconds_count",
            "fetches": "jwt_middleware_key_fetches_total",
            "keys": "jwt_middleware_keys",
            "age": "jwt_middleware_key_age_seconds",
            "staleness": "jwt_middleware_key_staleness_seconds",
            "ready": "jwt_middleware_ready",
        }

        def value(metric: str, labels: dict[str, str]) -> float | None:
            return samples.get((names[metric], tuple(sorted(labels.items()))))

        return value


class OpenTelemetryReadout:
    """Reads the SDK's in-memory reader; data points are matched on their attributes."""

    def __init__(self, *, record_durations: bool = False) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        kind = OpenTelemetryHistogramMetrics if record_durations else OpenTelemetryMetrics
        self.metrics = kind(self.provider)
        self.record_durations = record_durations

    def read(self) -> Reading:
        data = self.reader.get_metrics_data()
        assert data is not None
        points: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        key = (metric.name, tuple(sorted((k, str(v)) for k, v in (point.attributes or {}).items())))
                        if isinstance(point, HistogramDataPoint):
                            points[key] = point.count
                        else:
                            assert isinstance(point, NumberDataPoint)
                            points[key] = point.value
        names = {
            "accepted": "jwt_middleware.accepted",
            "refused": "jwt_middleware.refused",
            # The opt-in histogram's count, else the asynchronous counter of verifications: the same number.
            "duration_count": (
                "jwt_middleware.verification.duration" if self.record_durations else "jwt_middleware.verifications"
            ),
            "fetches": "jwt_middleware.key.fetches",
            "keys": "jwt_middleware.keys",
            "age": "jwt_middleware.key.age",
            "staleness": "jwt_middleware.key.staleness",
            "ready": "jwt_middleware.ready",
        }

        def value(metric: str, labels: dict[str, str]) -> float | None:
            return points.get((names[metric], tuple(sorted(labels.items()))))

        return value


Readout = PrometheusReadout | OpenTelemetryReadout


@pytest.fixture(params=["prometheus", "opentelemetry", "opentelemetry-histogram"])
def readout(request: pytest.FixtureRequest) -> Iterator[Readout]:
    if request.param == "prometheus":
        yield PrometheusReadout()
    else:
        otel = OpenTelemetryReadout(record_durations=request.param.endswith("histogram"))
        yield otel
        otel.provider.shutdown()


def expired(signer: Signer) -> str:
    return signer.token(exp=int(time.time()) - 3600)


async def test_a_scripted_mix_and_an_outage_are_counted_exactly(
    server: LocalServer, k1: Signer, readout: Readout
) -> None:
    k2, k9 = keyed_signer("k2"), keyed_signer("k9")  # k9 is never published
    server.jwks = {"keys": [jwk_of(k1)]}
    app = make_app(algorithms=["ES256"], jwks_url=server.jwks_url, jwks_cooldown=0.05, metrics=readout.metrics)
    token_a, token_b = k1.token(sub="a"), k1.token(sub="b")
    with anyio.fail_after(15):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert [await status(client, token_a) for _ in range(3)] == [200, 200, 200]  # 1 miss, 2 hits
            assert await status(client, token_b) == 200  # a miss
            assert [await status(client, expired(k1)) for _ in range(2)] == [401, 401]
            assert (await client.get("/whoami")).status_code == 401  # missing_token
            assert await status(client, k9.token()) == 401  # an unknown kid: one fetch, the same keys
            # A rotation: k2 is published, and its first token fetches it.
            server.jwks = {"keys": [jwk_of(k1), jwk_of(k2)]}
            await anyio.sleep(0.06)  # past the cooldown
            assert await status(client, k2.token()) == 200  # a miss, after a fetch that brought k2
            # The outage: the endpoint answers 500; an unknown kid's fetch fails, cached tokens still pass.
            server.mode = "500"
            await anyio.sleep(0.06)
            assert await status(client, k9.token()) == 401
            assert await status(client, token_a) == 200  # a hit
            assert (await client.get("/whoami", params={"q": "1"})).status_code == 401  # missing_token
            value = readout.read()

    assert value("accepted", {"cache": "hit"}) == 3
    assert value("accepted", {"cache": "miss"}) == 3
    for code, count in {"token_expired": 2, "missing_token": 2, "key_not_found": 2}.items():
        assert value("refused", {"code": code, "status": "401"}) == count, code
    # Every code is shown from 0, so that rate() works before the first refusal.
    assert value("refused", {"code": "signature_invalid", "status": "401"}) == 0
    assert value("duration_count", {"result": "cached"}) == 3
    assert value("duration_count", {"result": "fresh"}) == 3
    assert value("duration_count", {"result": "refused"}) == 6
    assert value("fetches", {"provider": ISSUER, "result": "updated"}) == 2
    assert value("fetches", {"provider": ISSUER, "result": "unchanged"}) == 1
    assert value("fetches", {"provider": ISSUER, "result": "failed"}) == 1
    assert value("keys", {"provider": ISSUER}) == 2
    assert value("staleness", {"provider": ISSUER}) == 0
    age = value("age", {"provider": ISSUER})
    assert age is not None
    assert 0 <= age < 15
    assert value("ready", {}) == 1


async def test_no_keys_is_503_counted_as_keys_unavailable_and_not_ready(
    server: LocalServer, k1: Signer, readout: Readout
) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    server.mode = "500"
    app = make_app(algorithms=["ES256"], jwks_url=server.jwks_url, metrics=readout.metrics)
    with anyio.fail_after(15):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            response = await client.get("/whoami", headers=bearer(k1.token()))
            assert response.status_code == 503
            # Every fetch so far failed; the loop retries after 0.75 s or more, so this is 1 unless the machine
            # stalled: compare with what the server counted rather than assume it.
            fetched_before = server.hits["/jwks.json"]
            during = readout.read()
            fetched_after = server.hits["/jwks.json"]
            server.mode = "ok"
            await status_becomes(client, k1.token(), 200)  # the loop retries within about a second
            after = readout.read()

    assert during("refused", {"code": "keys_unavailable", "status": "503"}) == 1
    failed = during("fetches", {"provider": ISSUER, "result": "failed"})
    assert failed is not None
    assert fetched_before <= failed <= fetched_after
    assert fetched_before >= 1
    assert during("keys", {"provider": ISSUER}) == 0
    assert during("age", {"provider": ISSUER}) is None  # never fetched: no age to report
    assert during("ready", {}) == 0
    assert after("fetches", {"provider": ISSUER, "result": "updated"}) == 1
    assert after("ready", {}) == 1


async def test_anonymous_requests_on_optional_paths_are_neither_accepted_nor_refused(k1: Signer) -> None:
    metrics = PrometheusMetrics(registry=None)  # unregistered: read through collect() directly
    app = make_app(algorithms=["ES256"], key=k1.public, optional=["/open"], metrics=metrics)
    async with client_for(app) as client:
        assert (await client.get("/open")).status_code == 200
        assert (await client.get("/open", headers=bearer(k1.token()))).status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in metrics.collect()
        for sample in family.samples
    }
    assert samples[("jwt_middleware_accepted_total", (("cache", "miss"),))] == 1
    assert samples[("jwt_middleware_verification_seconds_count", (("result", "fresh"),))] == 1
    assert samples[("jwt_middleware_verification_seconds_count", (("result", "refused"),))] == 0
    assert sum(v for (name, _), v in samples.items() if name == "jwt_middleware_refused_total") == 0


async def test_a_lifespan_scope_without_state_still_starts_the_keys(k1: Signer) -> None:
    from jwt_middleware import JWTMiddleware

    sent: list[str] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message["type"])

    async def no_lifespan(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("no lifespan support")

    middleware = JWTMiddleware(no_lifespan, algorithms=["ES256"], issuer=ISSUER, audience="a", key=k1.public)
    await middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_the_histogram_is_cumulative_and_its_inf_bucket_is_the_count() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry, buckets=(0.001, 0.01))
    for seconds in (0.0005, 0.001, 0.005, 0.5):  # a bound itself falls in its bucket (le: less or equal)
        metrics.accepted(cached=False, seconds=seconds)
    metrics.refused(ErrorCode.TOKEN_EXPIRED, 0.02)
    text = generate_latest(registry).decode()
    buckets = {
        (sample.labels["result"], sample.labels["le"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "jwt_middleware_verification_seconds_bucket"
    }
    assert [buckets["fresh", le] for le in ("0.001", "0.01", "+Inf")] == [2, 3, 4]
    assert [buckets["refused", le] for le in ("0.001", "0.01", "+Inf")] == [0, 0, 1]
    assert [buckets["cached", le] for le in ("0.001", "0.01", "+Inf")] == [0, 0, 0]
    assert 'jwt_middleware_verification_seconds_sum{result="fresh"} 0.5065' in text
