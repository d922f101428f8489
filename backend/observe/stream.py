"""The live event stream: Server-Sent Events fed from the pub/sub channel the relay publishes every event on
(settings.EVENTS_CHANNEL).

gunicorn's sync workers give one worker to one request for its whole length, so a stream is bounded: it ends
after OBSERVE_SSE_MAX_SECONDS (below gunicorn's --timeout, which would otherwise kill the worker) or
OBSERVE_SSE_MAX_EVENTS events, whichever comes first, with a final `end` event; the browser's EventSource then
reconnects by itself after `retry` ms. A comment line every KEEPALIVE_SECONDS finds a client that went away (the
write fails and the generator is closed), and the subscription is always closed on the way out.
"""

import json
import logging
import time

from django.conf import settings

logger = logging.getLogger("observe.stream")

KEEPALIVE_SECONDS = 5.0
RETRY_MS = 1000


def _event(name: str, data: dict, event_id=None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def events(pubsub, *, max_seconds: float, max_events: int, clock=time.monotonic):
    """Yield SSE frames for the messages `pubsub` (subscribed already) receives; closes it when done."""
    sent, ended = 0, "max_seconds"
    deadline = clock() + max_seconds
    try:
        yield f"retry: {RETRY_MS}\n" + _event("open", {"max_seconds": max_seconds, "max_events": max_events})
        while True:
            left = deadline - clock()
            if left <= 0:
                break
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=min(left, KEEPALIVE_SECONDS))
            if message is None:
                yield ": keepalive\n\n"
                continue
            try:
                payload = json.loads(message["data"])
            except (TypeError, ValueError):
                logger.warning("event stream: a message that is not JSON was skipped: %.200r", message["data"])
                continue
            sent += 1
            yield _event("outbox", payload, payload.get("id") if isinstance(payload, dict) else None)
            if sent >= max_events:
                ended = "max_events"
                break
        yield _event("end", {"reason": ended, "events": sent})
    finally:
        pubsub.close()


def subscribe():
    from django_redis import get_redis_connection

    pubsub = get_redis_connection("default").pubsub()
    pubsub.subscribe(settings.EVENTS_CHANNEL)
    return pubsub


def open_stream():
    return events(subscribe(), max_seconds=settings.OBSERVE_SSE_MAX_SECONDS, max_events=settings.OBSERVE_SSE_MAX_EVENTS)
