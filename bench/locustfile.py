"""Locust users posting SMS and chat contacts (each with its own Idempotency-Key, so none is doubled)."""

import os
import random
import uuid

from locust import FastHttpUser, constant, task

TEXTS = [
    "my card has not arrived yet", "I was charged twice for the same coffee", "how do I change my PIN",
    "I lost my card on the train", "my transfer to my landlord has not arrived", "why was my card declined",
]  # fmt: skip


class ContactCenter(FastHttpUser):
    wait_time = constant(0)

    auth = {"Authorization": f"Bearer {os.environ.get('CALLSCOPE_LOAD_KEY', '')}"}

    @task
    def post_contact(self) -> None:
        text = random.choice(TEXTS)
        body = (
            {"channel": "sms", "direction": "inbound", "text": text}
            if random.random() < 0.5
            else {"channel": "chat", "messages": [{"role": "customer", "text": text}]}
        )
        with self.client.post(
            "/v1/interactions",
            json=body,
            headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"status {response.status_code}")
