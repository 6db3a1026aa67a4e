"""Prometheus metrics, cheap on the request path.

prometheus-client's labelled children take a lock and look up their labels on
every ``inc``/``observe``; here a request costs two dict lookups, a bisect and a
few integer additions, all on the event loop thread (no locks needed), and the
Prometheus families are built only when ``/metrics`` is scraped. The exposition
format is prometheus-client's own.

Metrics (all per model and version):

- ``modelry_requests_total{model,version,endpoint,status}``: requests answered.
- ``modelry_request_duration_seconds{model,version,endpoint}``: latency histogram,
  from routing to the response body being ready.
- ``modelry_batch_size{model,version}``: rows per predict call (1 for a lone
  one-instance request; larger when batching joins requests).
- ``modelry_batch_requests{model,version}``: requests joined per predict call.

Requests that name no known model are counted under ``model=""``, so that
clients cannot grow the label set with made-up names.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Histogram:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            out.append((repr(float(bound)), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


class ServiceMetrics(Collector):
    """Request counts, latencies and batch sizes, exposed in Prometheus format."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, int], int] = {}
        self.latency: dict[tuple[str, str, str], _Histogram] = {}
        self.batch_rows: dict[tuple[str, str], _Histogram] = {}
        self.batch_requests: dict[tuple[str, str], _Histogram] = {}
        self.registry = CollectorRegistry()
        self.registry.register(self)
        ProcessCollector(registry=self.registry)

    def observe_request(
        self, model: str, version: str, endpoint: str, status: int, seconds: float
    ) -> None:
        key = (model, version, endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get(key[:3])
        if hist is None:
            hist = self.latency[key[:3]] = _Histogram(LATENCY_BUCKETS)
        hist.observe(seconds)

    def observe_batch(self, name: str, version: int, rows: int, requests: int) -> None:
        key = (name, str(version))
        hist = self.batch_rows.get(key)
        if hist is None:
            hist = self.batch_rows[key] = _Histogram(BATCH_BUCKETS)
            self.batch_requests[key] = _Histogram(BATCH_BUCKETS)
        hist.observe(rows)
        self.batch_requests[key].observe(requests)

    def collect(self) -> Iterable[Metric]:
        counter = CounterMetricFamily(
            "modelry_requests",
            "Requests answered.",
            labels=["model", "version", "endpoint", "status"],
        )
        for (model, version, endpoint, status), count in list(self.requests.items()):
            counter.add_metric([model, version, endpoint, str(status)], count)
        yield counter
        yield self._histograms(
            "modelry_request_duration_seconds",
            "Time from routing to a ready response body.",
            ["model", "version", "endpoint"],
            self.latency.items(),
        )
        yield self._histograms(
            "modelry_batch_size",
            "Rows per predict call.",
            ["model", "version"],
            self.batch_rows.items(),
        )
        yield self._histograms(
            "modelry_batch_requests",
            "Requests joined in one predict call.",
            ["model", "version"],
            self.batch_requests.items(),
        )

    @staticmethod
    def _histograms(
        name: str, doc: str, labels: list[str], series: Iterable[tuple[tuple[str, ...], _Histogram]]
    ) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=labels)
        for key, hist in list(series):
            family.add_metric(list(key), hist.cumulative(), hist.total)
        return family

    def exposition(self) -> bytes:
        """The text a Prometheus scrape receives."""
        return generate_latest(self.registry)
