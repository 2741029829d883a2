"""A mixed load posted through the load balancer while faults happen, and the reckoning afterwards.

Each post carries an Idempotency-Key and an external id of its own. A client retries, with the same key, whatever
did not get a final answer (a 503 with Retry-After, a 502/504, a connection refused or reset, a timeout), as a
contact-center platform would; an accepted post is one answered 202 (or 200: the same contact again). Afterwards
the database and the object store are read directly: every accepted contact must end `done`, once, with one
recording per call.
"""

from __future__ import annotations

import itertools
import json
import random
import string
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

TEXTS = [
    "I lost my card yesterday and need a new one",
    "my transfer to my landlord has not arrived",
    "why was I charged a fee on my statement",
    "I want to change the address on my account",
    "the cash machine kept my card",
    "how do I activate my new card",
]
RETRYABLE = {429, 502, 503, 504}


@dataclass
class Post:
    external_id: str
    kind: str  # text | call
    answers: list[int] = field(default_factory=list)  # every status seen (0: no answer at all)
    errors: list[str] = field(default_factory=list)  # what "no answer" was
    contact_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.contact_id is not None


class Load:
    """Posts `texts` text contacts and `calls` stereo calls from `clients` threads, spread over `spread_s` seconds."""

    def __init__(self, url: str, key: str, *, texts: int, calls: int, call_audio: Path, clients: int = 8,
                 spread_s: float = 30.0, give_up_s: float = 300.0) -> None:  # fmt: skip
        self.url, self.key, self.give_up_s = url, key, give_up_s
        self.call_audio = call_audio.read_bytes()
        run = "".join(random.choice(string.ascii_lowercase) for _ in range(8))  # letters: no id looks like PII
        kinds = ["call"] * calls + ["text"] * texts
        # calls spread among the texts, so that each fault finds calls being transcribed
        order = sorted(range(len(kinds)), key=lambda i: (i * 7919) % len(kinds)) if kinds else []
        self.posts = [Post(f"post-{run}-{i}", kinds[i]) for i in order]
        self.clients, self.spread_s = clients, spread_s
        self._next = itertools.count()
        self._threads: list[threading.Thread] = []
        self.started = self.finished = 0.0

    def start(self) -> Load:
        self.started = time.monotonic()
        for _ in range(self.clients):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def wait(self) -> None:
        for thread in self._threads:
            thread.join()
        self.finished = time.monotonic()

    def _client(self) -> None:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60) as client:
            while (index := next(self._next)) < len(self.posts):
                due = self.started + self.spread_s * index / max(1, len(self.posts))
                time.sleep(max(0.0, due - time.monotonic()))
                self._send(client, self.posts[index])

    def _send(self, client: httpx.Client, post: Post) -> None:
        deadline = time.monotonic() + self.give_up_s
        while time.monotonic() < deadline:
            headers = {"Idempotency-Key": post.external_id}
            try:
                if post.kind == "call":
                    meta = json.dumps({"external_id": post.external_id, "agent_channel": "left"})
                    answer = client.post("/v1/interactions", headers=headers, data={"metadata": meta},
                                         files={"file": ("call.wav", self.call_audio, "audio/wav")})  # fmt: skip
                else:
                    said = TEXTS[int(post.external_id.split("-")[2]) % len(TEXTS)]
                    body = {"channel": "chat", "external_id": post.external_id,
                            "messages": [{"role": "customer", "text": said},
                                         {"role": "agent", "text": "I can help you with that today"}]}
                    answer = client.post("/v1/interactions", headers=headers, json=body)
            except httpx.HTTPError as exc:
                post.answers.append(0)
                post.errors.append(exc.__class__.__name__)
                time.sleep(0.5)
                continue
            post.answers.append(answer.status_code)
            if answer.status_code in (200, 202):
                post.contact_id = answer.json()["id"]
                return
            if answer.status_code not in RETRYABLE:
                return  # a final refusal: counted, not retried
            time.sleep(min(5.0, float(answer.headers.get("retry-after", "1"))))

    def errors(self) -> Counter[str]:
        return Counter(error for post in self.posts for error in post.errors)

    def answers(self) -> Counter[int]:
        return Counter(status for post in self.posts for status in post.answers)


@dataclass
class Reckoning:
    accepted: int
    done: int
    failed: int
    waiting: int
    lost: int  # accepted, and not done (nor failed) at the end
    doubled: int  # a post that became more than one contact, or a recording stored more than once
    refused: int  # posts that never got a 202 (a final 4xx, or still unanswered when the client gave up)
    retried: int  # answers a client had to retry: 503s, gateway errors, connections refused or cut
    reruns: int  # steps run again after a fault (idempotent: the work is repeated, the result is not)
    recordings: int
    drain_s: float
    stuck: list[str] = field(default_factory=list)  # what the contacts not final were doing, to see why

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def reckon(load: Load, *, database_url: str, objects: dict[str, str], tenant: str, drain_from: float,
           timeout_s: float) -> Reckoning:  # fmt: skip
    """Wait until every accepted contact is final (or `timeout_s`), then count; `drain_s` runs from `drain_from`."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    accepted = {p.contact_id for p in load.posts if p.accepted}
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, status, external_id, attempts, channel, enqueued "
                                         "FROM interactions WHERE tenant = :t"), {"t": tenant}).all()  # fmt: skip
            status = {row.id: row.status for row in rows}
            pending = [cid for cid in accepted if status.get(cid) not in ("done", "failed")]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        drain_s = time.monotonic() - drain_from
        mine = {p.external_id for p in load.posts}
        per_post = Counter(row.external_id for row in rows if row.external_id in mine)
        with engine.connect() as conn:
            keys = {key for row in conn.execute(text(
                "SELECT a.object_key, a.original_key FROM audio_blobs a JOIN interactions i ON i.id = a.interaction_id "
                "WHERE i.tenant = :t"), {"t": tenant}) for key in row if key}  # fmt: skip
    finally:
        engine.dispose()
    ours = {row.id for row in rows if row.external_id in mine}
    stored = [key for key in _objects(objects, prefix=f"{tenant}/") if key.split("/")[1] in ours]
    orphans = len(set(stored) - keys)  # a recording stored again by a repeated step, and left behind
    calls_ids = {p.contact_id for p in load.posts if p.kind == "call" and p.accepted}
    return Reckoning(
        accepted=len(accepted),
        done=sum(1 for cid in accepted if status.get(cid) == "done"),
        failed=sum(1 for cid in accepted if status.get(cid) == "failed"),
        waiting=len(pending),
        lost=len(pending) + sum(1 for cid in accepted if cid not in status),
        doubled=sum(n - 1 for n in per_post.values() if n > 1) + orphans,
        refused=sum(1 for p in load.posts if not p.accepted),
        retried=sum(1 for p in load.posts for s in p.answers if s in RETRYABLE or s == 0),
        reruns=sum(max(0, row.attempts - (2 if row.id in calls_ids else 1)) for row in rows if row.id in accepted),
        recordings=len(stored),  # one per call
        drain_s=round(drain_s, 1),
        stuck=[f"{row.channel} {row.status} attempts={row.attempts} enqueued={row.enqueued}" for row in rows
               if row.id in set(pending)][:20],
    )


def _objects(objects: dict[str, str], *, prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=objects["endpoint"], aws_access_key_id=objects["key_id"],
                          aws_secret_access_key=objects["secret"], region_name="us-east-1")  # fmt: skip
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=objects["bucket"], Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys
