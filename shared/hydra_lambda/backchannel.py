"""OpenID Connect Back-Channel Logout 1.0: a logout token (a JWT our keys sign, ``typ: logout+jwt``)
POSTed as ``logout_token=`` to each participating client's ``backchannel_logout_uri``.

The user's request never waits for a relying party. On Lambda (``BACKCHANNEL_LOGOUT_QUEUE_URL`` set)
each delivery is one SQS message (client, subject, sid: no token); the logout consumer function
(functions/logout/app.py) signs a fresh token and POSTs it with a deadline; a failure is reported
back (ReportBatchItemFailures), so SQS delivers it again after the visibility timeout, and after
``maxReceiveCount`` receives the queue's redrive policy moves it to the dead-letter queue (the
template: an alarm says one arrived). Locally (no queue) the same ``deliver`` runs in a background
thread with the same number of attempts and a doubling backoff; a delivery that still fails is
logged as dead-lettered (the client, never the token) and kept in ``dead_letters``.

Outbound POSTs go through fetch.py: https only, public addresses only, no redirects, one deadline.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from hydra_lambda import clock, fetch, keys, subjects
from hydra_lambda.clients.registry import get_client
from hydra_lambda.config import get_settings
from hydra_lambda.observability import logger

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TYPE = "logout+jwt"
TOKEN_LIFESPAN = 120  # seconds: a logout token is used at once (section 2.4 recommends a short one)
DEADLINE = 5.0  # seconds for one POST, connection included
MAX_ATTEMPTS = 5  # the template's maxReceiveCount says the same for the queue
BACKOFF = 2.0  # seconds before the second attempt in-process, doubled each time (the queue: its visibility timeout)
SQS_BATCH = 10

dead_letters: deque[Delivery] = deque(maxlen=1000)  # in-process deliveries that failed every attempt
_threads: list[threading.Thread] = []
_lock = threading.Lock()


class DeliveryFailed(Exception):
    """The relying party did not acknowledge the logout token (its status or why no answer came)."""


@dataclass(frozen=True)
class Delivery:
    client_id: str
    subject: str  # the local subject; the token carries the client's view of it (pairwise or not)
    sid: str

    def message(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_message(cls, body: str) -> Delivery:
        data = json.loads(body)
        return cls(str(data["client_id"]), str(data["subject"]), str(data["sid"]))


def logout_token(client: Any, subject: str, sid: str) -> str:
    """The logout token for ``client`` (Back-Channel Logout 1.0, section 2.4): iss, aud, iat, exp, jti,
    sub (pairwise for a pairwise client), sid, events; never a nonce. Signed with the algorithm the
    client registered for ID tokens (they are verified with the same keys)."""
    now = clock.now_int()
    claims = {"iss": get_settings().issuer, "aud": client.id, "iat": now, "exp": now + TOKEN_LIFESPAN,
              "jti": uuid.uuid4().hex, "sub": subjects.pairwise_subject(client, subject) or subject,
              "sid": sid, "events": {EVENT: {}}}
    return keys.sign(claims, client.id_token_signed_response_alg or None, typ=TOKEN_TYPE)


def deliver(delivery: Delivery) -> None:
    """One attempt: sign and POST. A client deleted since, or without a back-channel URI any more, is
    done (nothing to tell). DeliveryFailed when the relying party did not answer 200 (or 204)."""
    client = get_client(delivery.client_id)
    if client is None or not client.backchannel_logout_uri:
        return
    token = logout_token(client, delivery.subject, delivery.sid)
    try:
        status = fetch.post_form(client.backchannel_logout_uri, {"logout_token": token}, timeout=DEADLINE)
    except fetch.FetchError as exc:
        raise DeliveryFailed(str(exc)) from None
    if status not in (200, 204):
        raise DeliveryFailed(f"the back-channel logout URI answered HTTP {status}")


def enqueue(deliveries: list[Delivery]) -> None:
    """Hand the deliveries over without waiting for any relying party."""
    if not deliveries:
        return
    queue = get_settings().backchannel_logout_queue_url
    if queue:
        _send(queue, deliveries)
    else:
        _start_thread(deliveries)


def _send(queue: str, deliveries: list[Delivery]) -> None:
    from hydra_lambda import aws  # lazy: only a logout with back-channel clients sends

    sqs = aws.client("sqs")
    for start in range(0, len(deliveries), SQS_BATCH):
        batch = deliveries[start:start + SQS_BATCH]
        entries = [{"Id": str(index), "MessageBody": item.message()} for index, item in enumerate(batch)]
        answer = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        for failed in answer.get("Failed", []):  # not sent: one more try alone (a second failure raises)
            sqs.send_message(QueueUrl=queue, MessageBody=batch[int(failed["Id"])].message())


def _start_thread(deliveries: list[Delivery]) -> None:
    thread = threading.Thread(target=_deliver_all, args=(deliveries,), name="backchannel-logout", daemon=True)
    with _lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()


def _deliver_all(deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        _with_retries(delivery)


def _with_retries(delivery: Delivery) -> None:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            deliver(delivery)
            return
        except Exception as exc:  # any failure is retried, then dead-lettered
            logger.info("back-channel logout attempt failed",
                        extra={"client_id": delivery.client_id, "attempt": attempt, "reason": type(exc).__name__})
        if attempt < MAX_ATTEMPTS:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
    dead_letters.append(delivery)
    logger.warning("back-channel logout dead-lettered", extra={"client_id": delivery.client_id,
                                                               "attempts": MAX_ATTEMPTS})


def drain(timeout: float = 30.0) -> None:
    """Wait for the in-process deliveries started so far (tests, and a local server's shutdown)."""
    deadline = time.monotonic() + timeout
    with _lock:
        running = list(_threads)
    for thread in running:
        thread.join(max(deadline - time.monotonic(), 0))


def consume(records: list[dict[str, Any]]) -> list[str]:
    """The SQS consumer: deliver each message once; the ids of those that failed (SQS delivers them
    again, then dead-letters them)."""
    failed = []
    for record in records:
        try:
            deliver(Delivery.from_message(record["body"]))
        except Exception as exc:  # reported to SQS, which retries
            logger.warning("back-channel logout delivery failed",
                           extra={"message_id": record.get("messageId"), "reason": type(exc).__name__,
                                  "receive_count": record.get("attributes", {}).get("ApproximateReceiveCount")})
            failed.append(str(record.get("messageId", "")))
    return failed
