"""Prometheus metrics: request figures from this process, plus queue depth and task figures read at scrape time.

Queue depth comes from the broker and task durations from the database, so one scrape of the API
covers every worker on every machine without a metrics push from each of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from callscope.storage import store

REGISTRY = CollectorRegistry()
REQUESTS = Histogram(
    "callscope_http_request_seconds", "HTTP request latency", ["route", "method", "status"], registry=REGISTRY
)
TASK_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, float("inf"))


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).observe(seconds)


def queue_depths() -> dict[str, int]:
    """Messages waiting per Celery queue (Redis lists named after the queues)."""
    from worker.app import QUEUES, celery_app

    with celery_app.connection_for_read() as conn:
        client = conn.default_channel.client
        return {name: int(client.llen(name)) for name in QUEUES}


class _StateCollector(Collector):
    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Any]:
        statuses = GaugeMetricFamily("callscope_interactions", "Stored interactions by status", labels=["status"])
        counts = store.status_counts(self.session)
        for status, count in counts.items():
            statuses.add_metric([status], count)
        yield statuses
        failed = CounterMetricFamily("callscope_task_errors", "Interactions that ended failed")
        failed.add_metric([], counts.get("failed", 0))
        yield failed
        yield self._durations()
        depth = GaugeMetricFamily("callscope_queue_depth", "Tasks waiting in the broker", labels=["queue"])
        try:
            for name, count in queue_depths().items():
                depth.add_metric([name], count)
        except Exception:  # broker down: report no depth rather than fail the scrape
            pass
        yield depth

    def _durations(self) -> HistogramMetricFamily:
        """Processing time (first start to finish) of the last 1,000 finished interactions."""
        seconds = store.recent_processing_s(self.session)
        buckets = [(str(b) if b != float("inf") else "+Inf", sum(s <= b for s in seconds)) for b in TASK_BUCKETS]
        family = HistogramMetricFamily("callscope_task_duration_seconds", "Processing time of recent interactions")
        family.add_metric([], buckets, sum(seconds))
        return family


def render(session: Session) -> tuple[bytes, str]:
    """Request figures of every API process (prometheus-client's multiprocess mode when `callscope serve` runs
    several; `PROMETHEUS_MULTIPROC_DIR`), then the state read from the database and broker."""
    requests = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        requests = CollectorRegistry()
        multiprocess.MultiProcessCollector(requests)
    state = CollectorRegistry()
    state.register(_StateCollector(session))
    return generate_latest(requests) + generate_latest(state), CONTENT_TYPE_LATEST
