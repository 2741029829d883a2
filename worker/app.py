"""The Celery app: configuration only. Tasks are in `worker.tasks`; domain logic in `callscope`."""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from callscope.access import scrub
from callscope.settings import Settings, get_settings
from callscope.storage.broker import celery_broker

QUEUES = ("transcribe", "analyze", "webhooks")


def make_celery() -> Celery:
    scrub.install()  # no webhook credential, key or PII number in any log line of a worker
    settings = get_settings()
    settings.check_secrets()
    if not settings.broker_url:
        raise RuntimeError(
            "CALLSCOPE_BROKER_URL is empty: start the embedded broker with `callscope serve`, "
            "or point workers at a Redis server (redis://host:6379/0)"
        )
    broker_url, transport_options = celery_broker(settings.broker_url)  # through Sentinel where the URL says so
    app = Celery("callscope", broker=broker_url, include=["worker.tasks"])
    app.conf.update(
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        task_default_queue="analyze",
        task_default_exchange="analyze",
        task_default_routing_key="analyze",
        task_routes={
            "callscope.transcribe": {"queue": "transcribe"},
            "callscope.analyze": {"queue": "analyze"},
            "callscope.analyze_many": {"queue": "analyze"},
            "callscope.deliver_webhook": {"queue": "webhooks"},
            "callscope.retrain": {"queue": "analyze"},
            "callscope.retrain_all": {"queue": "analyze"},
            "callscope.fit_intents": {"queue": "analyze"},
            "callscope.discover_themes": {"queue": "analyze"},
            "callscope.discover_themes_all": {"queue": "analyze"},
            "callscope.refresh_rollups": {"queue": "analyze"},
        },
        # A task is acknowledged only after it ran: a worker killed mid-task leaves it for another worker.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # Redelivery of unacknowledged tasks waits this long: it must exceed the longest task.
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_s, **transport_options},
        worker_hijack_root_logger=False,
        # Retraining from stored outcomes on a schedule; run exactly one `callscope beat` (or a worker with --beat).
        beat_schedule={
            "retrain-handle-time": {"task": "callscope.retrain_all", "schedule": settings.retrain_interval_s},
            "discover-themes": {"task": "callscope.discover_themes_all", "schedule": settings.themes_interval_s},
            "refresh-rollups": {"task": "callscope.refresh_rollups", "schedule": settings.rollup_interval_s},
        },
        beat_schedule_filename=str((settings.data_dir / "celerybeat-schedule").resolve()),
        worker_send_task_events=False,
        # No task runs unbounded: a soft limit raises inside it (the contact is marked failed), the hard limit
        # ends the process 60 s later.
        task_annotations={name: _limits(seconds) for name, seconds in _time_limits(settings).items()},
    )
    return app


def _limits(soft_s: float) -> dict[str, float]:
    return {"soft_time_limit": soft_s, "time_limit": soft_s + 60}


def _time_limits(settings: Settings) -> dict[str, float]:
    contact, training = settings.task_time_limit_s, settings.training_time_limit_s
    return {
        "callscope.transcribe": settings.transcribe_time_limit_s,
        "callscope.analyze": contact,
        "callscope.analyze_many": 2 * contact,
        "callscope.deliver_webhook": contact,
        "callscope.refresh_rollups": contact,
        "callscope.retrain": training,
        "callscope.retrain_all": training,
        "callscope.fit_intents": training,
        "callscope.discover_themes": training,
        "callscope.discover_themes_all": training,
    }


celery_app = make_celery()
