"""Metrics backends for the `Metrics` seam (`jwt_middleware.observe.Metrics`), each an optional extra.

    prometheus.py   PrometheusMetrics, on prometheus_client       pip install jwt_middleware[prometheus]
    otel.py         OpenTelemetryMetrics, on opentelemetry-api    pip install jwt_middleware[otel]

This package imports neither library; import the module of the backend you use.
"""

from __future__ import annotations

__all__ = ["DEFAULT_BUCKETS"]

# Histogram bounds in seconds: a cached verdict takes microseconds, a fresh RSA check tens of them, an unknown
# kid's fetch up to the timeout.
DEFAULT_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1, 1.0, 5.0)
