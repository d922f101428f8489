"""A queue item that is not a kombu message is logged, counted ("queue_rejected") and dropped; the worker goes on.

Works around https://github.com/celery/celery/issues/1113 (kombu's side, the same for SQS:
https://github.com/celery/kombu/issues/2421). kombu's Redis channel pops an item (BRPOP) and turns it into a message
before any Celery hook sees it: an item that is not JSON raises JSONDecodeError, JSON that is not an envelope raises
KeyError/TypeError, an envelope without delivery_info.exchange raises KeyError when kombu records it as unacked. Out
of the event loop, that stops the worker ("Unrecoverable error") or drops and rebuilds its broker connection.

kombu has no hook before that decoding, so this consumer bootstep checks the BRPOP reply one step earlier, where
redis-py hands it over: a response callback (redis-py's public `Redis.set_response_callback`) on the client the
task consumer's channel BRPOPs with. An item that is not a well-formed envelope is answered as "nothing popped",
which kombu treats like a BRPOP timeout. The item is off the list already, and nothing could ever have processed it,
so nothing is lost. The step runs on every (re)connection (a new channel has a new client).

Well-formed envelopes pass unchanged; Celery refuses the bad ones among them itself (pickle content, an
undecodable body, an unknown task: worker/rejections.py counts those, the body one through the consumer's public
`on_decode_error` method, wrapped here on the consumer instance).

The BRPOP guard is installed on the Redis transport only (driver_type "redis"). On RabbitMQ every delivery is an
AMQP message with its own content type and headers, so garbage reaches Celery's refusals above (and is counted)
instead of breaking the transport; the on_decode_error count applies to both brokers.
"""

import binascii
import json
import logging
from base64 import b64decode
from typing import Any

from celery import bootsteps
from kombu.utils.encoding import bytes_to_str, str_to_bytes

from worker.rejections import count_rejected_message

logger = logging.getLogger("worker.queue_guard")


def is_envelope(message: Any) -> bool:
    """The shape kombu's virtual Message and its Redis QoS need: a dict whose properties carry a delivery tag and
    a delivery_info with exchange and routing key, whose headers (if any) are a dict, and whose body decodes."""
    if not isinstance(message, dict) or not isinstance(message.get("properties"), dict):
        return False
    properties = message["properties"]
    delivery_info = properties.get("delivery_info")
    if "delivery_tag" not in properties or not isinstance(delivery_info, dict):
        return False
    if not {"exchange", "routing_key"} <= delivery_info.keys():
        return False
    if not isinstance(message.get("headers") or {}, dict):
        return False
    body = message.get("body")
    if body and properties.get("body_encoding") == "base64":
        try:
            b64decode(str_to_bytes(body))
        except (binascii.Error, TypeError, ValueError):
            return False
    return True


def _rejected(reason: str, raw: Any) -> None:
    logger.warning("queue item that is not a kombu message dropped (%s): %.200r", reason, raw)
    count_rejected_message()


def checking_brpop_reply(parse):
    """A BRPOP response callback: `parse` (redis-py's own), then None for an item that is not a kombu envelope."""

    def check(response, **options):
        reply = parse(response, **options)
        if not reply:
            return reply
        _queue, item = reply
        try:
            message = json.loads(bytes_to_str(item))
        except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
            _rejected(f"not JSON: {exc}", item)
            return None
        if not is_envelope(message):
            _rejected("not an envelope", item)
            return None
        return reply

    check.queue_guard = True  # type: ignore[attr-defined]
    return check


def counting(on_decode_error):
    def on_decode_error_counted(message, exc):
        on_decode_error(message, exc)  # Celery's: logs and acks
        count_rejected_message()

    on_decode_error_counted.queue_guard = True  # type: ignore[attr-defined]
    return on_decode_error_counted


class QueueGuard(bootsteps.StartStopStep):
    """Consumer step: guards the task consumer's channel after every (re)connection."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        super().__init__(c, **kwargs)
        # Celery's task handler looks the consumer's on_decode_error up at each call: count on the way through.
        c.on_decode_error = counting(c.on_decode_error)

    def start(self, c):
        if c.connection.transport.driver_type != "redis":
            return
        client = c.task_consumer.channel.client
        parse = client.response_callbacks.get("BRPOP", lambda response, **options: response)
        if not getattr(parse, "queue_guard", False):
            client.set_response_callback("BRPOP", checking_brpop_reply(parse))
