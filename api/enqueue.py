"""Sending work to the Celery queues by task name (the API never imports task code)."""

from __future__ import annotations

from typing import Any


def send_task(task: str, *args: Any) -> None:
    """Publish one task; a broker that stays down raises after a short retry, so callers can answer 503."""
    from worker.app import celery_app

    celery_app.send_task(
        task, args=list(args), retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}
    )
