"""Thin Celery tasks: each takes an id, opens a session, calls one `callscope.interactions` step, declares retries."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from callscope.errors import AudioError, InvalidInput
from callscope.interactions import jobs
from callscope.interactions.analyze import Batch
from callscope.pipeline.webhooks import deliver, encode, message_id
from callscope.reports import rollups, themes
from callscope.settings import get_settings
from callscope.storage.db import Webhook, get_sessionmaker
from callscope.storage.store import get_interaction, interaction_view, webhooks_for
from callscope.tenants import intents as tenant_intents
from callscope.tenants import learning
from worker.app import celery_app

log = logging.getLogger("callscope.worker")


def _session() -> Any:
    return get_sessionmaker(get_settings().resolved_database_url)()


DB_OUTAGE_RETRIES = 30  # about an hour of backoff capped at two minutes


def _retry_or_fail(task: Task, interaction_id: str, exc: Exception) -> None:
    """Bounded retries with exponential backoff; then the contact ends `failed` with the reason.

    A database outage is not the contact's fault: it is retried for much longer and never marks it failed
    (the sweeper queues it again if even that runs out).
    """
    settings = get_settings()
    if isinstance(exc, OperationalError):
        log.warning("database unavailable while processing %s; retrying", interaction_id)
        if task.request.retries < DB_OUTAGE_RETRIES:
            raise task.retry(exc=exc, countdown=min(120, 2 ** min(task.request.retries, 7)))
        return
    permanent = isinstance(exc, AudioError | SoftTimeLimitExceeded)  # the same input would take as long again
    if not permanent and task.request.retries < settings.task_max_retries:
        raise task.retry(exc=exc, countdown=settings.task_retry_backoff_s * 2**task.request.retries)
    with _session() as session:
        row = jobs.fail(session, interaction_id, reason=f"{exc.__class__.__name__}: {exc}")
    if row is not None:
        notify_webhooks(row.tenant, interaction_id)
    log.warning("interaction %s failed: %s", interaction_id, exc.__class__.__name__)


@celery_app.task(name="callscope.transcribe", bind=True, max_retries=None)
def transcribe_interaction(self: Task, interaction_id: str) -> None:
    try:
        with _session() as session:
            more = jobs.transcribe_step(session, interaction_id, settings=get_settings())
    except Exception as exc:
        _retry_or_fail(self, interaction_id, exc)
        return
    if more:
        analyze_interaction.delay(interaction_id)


@celery_app.task(name="callscope.analyze", bind=True, max_retries=None)
def analyze_interaction(self: Task, interaction_id: str) -> None:
    try:
        with _session() as session:
            row = jobs.analyze_step(session, interaction_id, batch=Batch.from_settings(get_settings()))
    except Exception as exc:
        _retry_or_fail(self, interaction_id, exc)
        return
    if row is not None:
        notify_webhooks(row.tenant, interaction_id)


@celery_app.task(name="callscope.analyze_many")
def analyze_many(interaction_ids: list[str]) -> None:
    """The API's batched ingest sends one task per batch; a contact that fails here goes on alone, with the
    retries of `callscope.analyze`. Each step is idempotent, so a batch redelivered after a lost worker only
    finishes what was left."""
    settings = get_settings()
    batch = Batch.from_settings(settings)  # each tenant's resources loaded once for the batch
    try:
        with _session() as session:
            jobs.claim_batch(session, interaction_ids)  # a lost worker's batch is found by its heartbeat
            batch.prepare(session, interaction_ids)  # intents and entities of the whole batch, one pass each
    except Exception as exc:  # each contact is then analyzed on its own, as before
        log.warning("a batch could not be prepared (%s): its contacts go one by one", exc.__class__.__name__)
    beat = time.monotonic()
    for done, interaction_id in enumerate(interaction_ids):
        try:
            with _session() as session:
                if time.monotonic() - beat >= settings.heartbeat_interval_s:
                    beat = time.monotonic()
                    jobs.claim_batch(session, interaction_ids[done:])
                row = jobs.analyze_step(session, interaction_id, batch=batch)
        except SoftTimeLimitExceeded:  # the batch is out of time: each contact left goes on alone, with its own
            log.warning("a batch ran out of time at %s: %d contacts go on alone", interaction_id,
                        len(interaction_ids) - done)  # fmt: skip
            for left in interaction_ids[done:]:
                analyze_interaction.delay(left)
            return
        except Exception as exc:
            log.warning("interaction %s analyzed on its own after %s", interaction_id, exc.__class__.__name__)
            analyze_interaction.delay(interaction_id)
            continue
        if row is not None:
            notify_webhooks(row.tenant, interaction_id)


def notify_webhooks(tenant: str, interaction_id: str) -> None:
    with _session() as session:
        for hook in webhooks_for(session, tenant=tenant):
            deliver_webhook.delay(hook.id, interaction_id)


@celery_app.task(name="callscope.deliver_webhook", bind=True, max_retries=None)
def deliver_webhook(self: Task, webhook_id: int, interaction_id: str) -> None:
    settings = get_settings()
    with _session() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None:
            return
        view = interaction_view(get_interaction(session, tenant=hook.tenant, interaction_id=interaction_id))
        url, secret = hook.url, hook.secret
    event = f"interaction.{view['status']}"
    body = encode(event, view)
    try:
        deliver(url, body, secret=secret, message_id=message_id(webhook_id, interaction_id, event),
                timeout_s=settings.webhook_timeout_s, allowed=settings.webhook_allowed_hosts)  # fmt: skip
    except InvalidInput as exc:  # the name now resolves to an internal address: never posted there
        log.warning("webhook %s refused for interaction %s: %s", webhook_id, interaction_id, exc)
        return
    except Exception as exc:
        if self.request.retries >= settings.webhook_max_retries:
            log.warning("webhook %s gave up for interaction %s: %s", webhook_id, interaction_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(600, 2 * 4**self.request.retries)) from exc


@celery_app.task(name="callscope.retrain", bind=True, max_retries=3)
def retrain_handle_time(self: Task, tenant: str) -> dict[str, Any]:
    """Fit a new handling-time version for one tenant; it answers only if not worse on recent outcomes."""
    settings = get_settings()
    with _session() as session:
        result = learning.retrain(session, tenant=tenant, min_rows=settings.retrain_min_outcomes)
    log.info("retrain for tenant %s: %s %s", tenant, result["status"], result.get("version", ""))
    return result


@celery_app.task(name="callscope.refresh_rollups")
def refresh_rollups() -> dict[str, int]:
    """The scheduled rollup refresh (Celery beat): every tenant's stale days and monthly histograms."""
    with _session() as session:
        return rollups.refresh(session)


@celery_app.task(name="callscope.retrain_all")
def retrain_all() -> None:
    """The scheduled retraining (Celery beat): one task per tenant that has outcomes."""
    with _session() as session:
        for tenant in learning.tenants_with_outcomes(session):
            retrain_handle_time.delay(tenant)


@celery_app.task(name="callscope.fit_intents", bind=True, max_retries=3)
def fit_intents(self: Task, tenant: str, base: str) -> dict[str, Any]:
    """Fit a version of the tenant's own intent model; it answers only if it is not worse than the active one."""
    with _session() as session:
        result = tenant_intents.fit_version(session, tenant=tenant, base=base)
    log.info("intent fit for tenant %s: %s %s", tenant, result["status"], result.get("version", ""))
    return result


@celery_app.task(name="callscope.discover_themes")
def discover_themes(tenant: str, days: int) -> int:
    """Group the tenant's unnamed contacts of the period into themes (on demand, and on the schedule below)."""
    with _session() as session:
        run = themes.discover(session, tenant=tenant, days=days)
    log.info("themes for tenant %s: %d themes from %d contacts", tenant, len(run.themes), run.contacts)
    return len(run.themes)


@celery_app.task(name="callscope.discover_themes_all")
def discover_themes_all() -> None:
    """The scheduled run (Celery beat): one task per tenant with contacts in the period."""
    days = get_settings().themes_days
    with _session() as session:
        for tenant in themes.tenants_with_contacts(session, days=days):
            discover_themes.delay(tenant, days)
